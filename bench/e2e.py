"""End-to-end throughput: PAM (durable state in Redis) against a do-nothing echo server.

    python bench/e2e.py --json --seconds 10

Both servers run as their own processes, each on its own private vhost with the same
topology (a quorum queue with single active consumer behind a direct exchange,
persistent messages, replies with publisher confirms). The same driver (the project's
PamClient, several processes, each with a window of outstanding requests) offers more
than either server can take, so the ratio measures the servers. A second PAM phase
paces the load at half of PAM's measured maximum and reports latency there.

A third server is the ceiling: a batched no-op echo on exactly PAM's messaging path
(pam_service.batch's reply and event messages, pam_service.amqp's one write with
confirms, the same batching and multiple-ack, as many events per state change as PAM
publishes on this workload), with no Redis and no state.

Prints one JSON object: pam_cmds_per_s, echo_cmds_per_s, ratio (PAM / naive echo),
ceiling_cmds_per_s, ratio_to_ceiling (PAM / batched echo), pam_cpu_us_per_cmd and
broker_cpu_us_per_cmd (CPU time of the PAM process and of the RabbitMQ node over the
saturated PAM phase, from /proc, per command answered), p50_ms, p99_ms, errors, and the
offered rates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aio_pika
import aiormq
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pam_protocol import messages as m  # noqa: E402
from pam_protocol import runloop, topology  # noqa: E402
from pam_protocol.client import PamClient  # noqa: E402
from pam_service import batch as bs  # noqa: E402
from pam_service.amqp import enqueue_many  # noqa: E402

AMQP = os.environ.get("PAM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS = os.environ.get("PAM_REDIS_URL", "redis://127.0.0.1:6379/0")
ZONE = "bench"


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


# ---------------------------------------------------------------------------
# the echo server: no state, no Redis, one message at a time
# ---------------------------------------------------------------------------


async def echo_server(url: str) -> None:
    conn = await aio_pika.connect_robust(url)
    ch = await conn.channel(publisher_confirms=True)
    await ch.set_qos(prefetch_count=512)
    await topology.declare(ch)
    q = await topology.declare_zone(ch, ZONE)
    reply = m.encoder.encode(m.Accepted())
    async with q.iterator() as it:
        async for msg in it:
            if msg.reply_to:
                await ch.default_exchange.publish(
                    aio_pika.Message(reply, correlation_id=msg.correlation_id,
                                     delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=msg.reply_to)
            await msg.ack()


def run_echo(url: str, loop: str) -> None:
    runloop.run(echo_server(url), loop)


# ---------------------------------------------------------------------------
# the ceiling: PAM's messaging without PAM's work
# ---------------------------------------------------------------------------


async def batched_echo_server(url: str, events_per_write: int, batch_max: int = 256,
                              prefetch: int = 512) -> None:
    """PAM's consumption, batching, reply and publishing path (pam_service.worker:
    one channel per zone, batches of what is waiting up to ``batch_max``, the replies
    and ``events_per_write`` events per state-changing command as one write with
    publisher confirms, then one multiple-ack), with no Redis and no state: the most a
    Python service doing PAM's messaging can do here."""
    conn = await aio_pika.connect_robust(url)
    ch = await conn.channel(publisher_confirms=True)
    await ch.set_qos(prefetch_count=prefetch)
    await topology.declare(ch)
    q = await topology.declare_zone(ch, ZONE)
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    await q.consume(inbox.put, no_ack=False)
    reply = m.encoder.encode(m.Accepted())
    snap = m.AgentSnapshot(agent_id="a00000", zone=ZONE, agent_state=m.AgentState("Ready"),
                           call_state=m.CallState("Idle"), job_state=m.JobState("JobDetached"),
                           version=2, since=datetime.now(UTC))
    # as large as PAM's: the snapshot and the previous one
    event = m.encoder.encode(m.AgentStateChanged(snapshot=snap, previous=snap, cause="Ready",
                                                 step="Ready", zone=ZONE, seq=2))
    raw = cast(aiormq.Channel, await ch.get_underlay_channel())
    previous: asyncio.Task[None] | None = None

    async def finish(last: Any, confirmed: Any, before: asyncio.Task[None] | None) -> None:
        await confirmed
        if before is not None:
            await before
        await last.ack(multiple=True)

    while True:
        msgs = [await inbox.get()]
        while len(msgs) < batch_max and not inbox.empty():
            msgs.append(inbox.get_nowait())
        out = [bs.reply_out(msg, reply) for msg in msgs if msg.reply_to]
        changes = sum(1 for msg in msgs if b'"GetAgentStatus"' not in msg.body)
        out += [bs.event_out(f"agent.{ZONE}.a00000.state", event)] * (changes * events_per_write)
        confirmed = await enqueue_many(raw, out)
        previous = asyncio.create_task(finish(msgs[-1], confirmed, previous))


def run_batched_echo(url: str, loop: str, events_per_write: int) -> None:
    runloop.run(batched_echo_server(url, events_per_write), loop)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """The OS pid of the RabbitMQ node the bench talks to (rabbitmqctl's default node)."""
    try:
        out = subprocess.run(["rabbitmqctl", "-q", "eval", "os:getpid()."], check=True,
                             capture_output=True, text=True, timeout=60).stdout
        return int(out.strip().strip('"'))
    except (subprocess.SubprocessError, ValueError, OSError):
        return None


async def events_per_state_change(url: str) -> int:
    """How many events PAM publishes for one Ready (or NotReady) on this workload."""
    async with await PamClient.connect(url) as c:
        stream = await c.subscribe([f"#.{ZONE}.#", f"telephony.{ZONE}"])
        await c.send(ZONE, m.Login(agent_id="calib", zone=ZONE, extension="c", skills=[],
                                   time_zone="UTC", locale="en_US"))
        with contextlib.suppress(TimeoutError):
            while True:  # the Login's events, until a second passes without one
                await stream.next(timeout=1.0)
        await c.send(ZONE, m.Ready(agent_id="calib"))
        n = 0
        with contextlib.suppress(TimeoutError):
            while True:  # the Ready's
                await stream.next(timeout=1.0)
                n += 1
        await c.send(ZONE, m.Logout(agent_id="calib"))
        await stream.close()
        return max(1, n)


# ---------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------


async def drive(url: str, agents: list[str], seconds: float, window: int, rate: float | None,
                out: Any) -> None:
    """Each of ``window`` workers owns some agents and alternates Ready / NotReady on
    them, with a GetAgentStatus every third command. ``rate`` (commands/s for this
    process) paces the load; None offers as fast as replies come."""
    client = await PamClient.connect(url)
    lat: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    stop_at = time.monotonic() + seconds
    interval = window / rate if rate else 0.0

    async def worker(mine: list[str]) -> None:
        nonlocal sent
        ready = dict.fromkeys(mine, False)
        i = 0
        # Paced workers start at random phases: in step, they would arrive in bursts of
        # `window` requests and measure the burst, not the server.
        next_t = time.monotonic() + (random.uniform(0, interval) if interval else 0.0)
        while time.monotonic() < stop_at:
            aid = mine[i % len(mine)]
            i += 1
            cmd: m.Command
            if i % 3 == 0:
                cmd = m.GetAgentStatus(agent_id=aid)
            elif ready[aid]:
                cmd = m.NotReady(agent_id=aid, reason_code=1)
            else:
                cmd = m.Ready(agent_id=aid)
            if interval:
                next_t += interval
                delay = next_t - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            t0 = time.perf_counter()
            try:
                r = await client.send(ZONE, cmd, timeout=30)
            except Exception as e:
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                continue
            lat.append(time.perf_counter() - t0)
            sent += 1
            if isinstance(r, m.Rejected):
                errors[r.code] = errors.get(r.code, 0) + 1
            elif isinstance(cmd, m.Ready | m.NotReady):
                ready[aid] = isinstance(cmd, m.Ready)

    per = [agents[k::window] for k in range(window)]
    t0 = time.monotonic()
    await asyncio.gather(*(worker(p) for p in per if p))
    elapsed = time.monotonic() - t0
    await client.close()
    out.put({"n": sent, "elapsed": elapsed, "lat": lat, "errors": errors})


def run_driver(url: str, agents: list[str], seconds: float, window: int, rate: float | None,
               out: Any, loop: str) -> None:
    runloop.run(drive(url, agents, seconds, window, rate, out), loop)


def measure(url: str, agents: list[str], seconds: float, procs: int, window: int,
            rate: float | None, echo: bool, loop: str) -> dict[str, Any]:
    q: Any = mp.get_context("spawn").Queue()
    shares = [agents[k::procs] for k in range(procs)]
    ps = [mp.get_context("spawn").Process(
        target=run_driver,
        args=(url, s, seconds, window, rate / procs if rate else None, q, loop))
        for s in shares]
    for p in ps:
        p.start()
    res = [q.get(timeout=seconds + 120) for _ in ps]
    for p in ps:
        p.join(timeout=30)
    n = sum(r["n"] for r in res)
    elapsed = max(r["elapsed"] for r in res)
    lat = sorted(x for r in res for x in r["lat"])
    errors: dict[str, int] = {}
    for r in res:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    if echo:
        errors.pop("UnknownCommand", None)

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else 0.0

    return {"cmds_per_s": round(n / elapsed, 1), "n": n, "p50_ms": pct(0.5),
            "p99_ms": pct(0.99), "max_ms": pct(1.0), "errors": sum(errors.values()),
            "errors_by_code": errors}


async def login_all(url: str, agents: list[str]) -> None:
    async with await PamClient.connect(url) as c:
        for i in range(0, len(agents), 200):
            rs = await asyncio.gather(*(c.send(ZONE, m.Login(
                agent_id=a, zone=ZONE, extension=a, skills=[], time_zone="UTC",
                locale="en_US")) for a in agents[i:i + 200]))
            bad = [r for r in rs if isinstance(r, m.Rejected)]
            if bad:
                raise SystemExit(f"login failed: {bad[0]}")


def wait_for_consumer(url_vhost: str, timeout: float = 30) -> None:
    async def probe() -> None:
        async with await PamClient.connect(url_vhost) as c:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    await c.send(ZONE, m.GetAgentStatus(agent_id="probe"), timeout=2)
                    return
                except Exception:
                    if time.monotonic() > deadline:
                        raise
    asyncio.run(probe())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print only the JSON object")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=2, help="driver processes")
    ap.add_argument("--window", type=int, default=150, help="outstanding requests per process")
    ap.add_argument("--loop", choices=runloop.LOOPS, default="uvloop",
                    help="event loop of every process of the run: PAM, the echo server and "
                         "the drivers alike (default uvloop, PAM's default)")
    ap.add_argument("--profile", metavar="FILE",
                    help="run PAM under cProfile and write its stats here (slower: for "
                         "finding where the time goes, not for the figures)")
    args = ap.parse_args()

    def say(msg: str) -> None:
        if not args.json:
            print(msg, file=sys.stderr)

    tag = uuid.uuid4().hex[:8]
    v_pam, v_echo, v_ceil = f"bench-pam-{tag}", f"bench-echo-{tag}", f"bench-ceil-{tag}"
    prefix = f"bench-{tag}"
    procs: list[subprocess.Popen[bytes]] = []
    for v in (v_pam, v_echo, v_ceil):
        rabbitmqctl("add_vhost", v)
        rabbitmqctl("set_permissions", "-p", v, "guest", ".*", ".*", ".*")
    agents = [f"a{i:05d}" for i in range(args.agents)]
    try:
        pam_url, echo_url, ceil_url = AMQP + v_pam, AMQP + v_echo, AMQP + v_ceil
        profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
        procs.append(subprocess.Popen(
            [sys.executable, *profile, "-m", "pam_service", "--zones", ZONE,
             "--amqp-url", pam_url,
             "--redis-url", REDIS, "--key-prefix", prefix, "--log-level", "warning",
             "--loop", args.loop], cwd=ROOT))
        procs.append(subprocess.Popen(
            [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
             f"from bench.e2e import run_echo; run_echo({echo_url!r}, {args.loop!r})"], cwd=ROOT))
        wait_for_consumer(pam_url)
        wait_for_consumer(echo_url)
        events = asyncio.run(events_per_state_change(pam_url))
        procs.append(subprocess.Popen(
            [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
             f"from bench.e2e import run_batched_echo; "
             f"run_batched_echo({ceil_url!r}, {args.loop!r}, {events})"], cwd=ROOT))
        wait_for_consumer(ceil_url)
        say(f"logging in {len(agents)} agents ({events} event(s) per state change)")
        asyncio.run(login_all(pam_url, agents))
        say("echo: saturating")
        echo = measure(echo_url, agents, args.seconds, args.procs, args.window, None, echo=True,
                       loop=args.loop)
        say(f"echo: {echo['cmds_per_s']} cmds/s; the ceiling (batched echo): saturating")
        ceil = measure(ceil_url, agents, args.seconds, args.procs, args.window, None, echo=True,
                       loop=args.loop)
        say(f"ceiling: {ceil['cmds_per_s']} cmds/s; PAM: saturating")
        broker = broker_pid()
        cpu0 = (cpu_seconds(procs[0].pid), cpu_seconds(broker) if broker else 0.0)
        pam = measure(pam_url, agents, args.seconds, args.procs, args.window, None, echo=False,
                      loop=args.loop)
        cpu1 = (cpu_seconds(procs[0].pid), cpu_seconds(broker) if broker else 0.0)
        half = pam["cmds_per_s"] / 2
        say(f"PAM: {pam['cmds_per_s']} cmds/s; PAM at half rate ({half:.0f}/s)")
        paced = measure(pam_url, agents, args.seconds, args.procs, args.window, half, echo=False,
                        loop=args.loop)
        r = redis.Redis.from_url(REDIS)
        mem = r.memory_usage(f"{prefix}:{{{ZONE}}}:agents") or 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            with contextlib.suppress(Exception):
                p.wait(timeout=20)
        for v in (v_pam, v_echo, v_ceil):
            with contextlib.suppress(Exception):
                rabbitmqctl("delete_vhost", v)
        with contextlib.suppress(Exception):
            r = redis.Redis.from_url(REDIS)
            for k in r.scan_iter(match=f"{prefix}:*", count=1000):
                r.delete(k)
    out = {
        "pam_cmds_per_s": pam["cmds_per_s"],
        "echo_cmds_per_s": echo["cmds_per_s"],
        "ratio": round(pam["cmds_per_s"] / echo["cmds_per_s"], 3) if echo["cmds_per_s"] else None,
        "ceiling_cmds_per_s": ceil["cmds_per_s"],
        "ratio_to_ceiling": (round(pam["cmds_per_s"] / ceil["cmds_per_s"], 3)
                             if ceil["cmds_per_s"] else None),
        "pam_cpu_us_per_cmd": round((cpu1[0] - cpu0[0]) / pam["n"] * 1e6, 1) if pam["n"] else None,
        "broker_cpu_us_per_cmd": (round((cpu1[1] - cpu0[1]) / pam["n"] * 1e6, 1)
                                  if pam["n"] and broker else None),
        "events_per_state_change": events,
        "p50_ms": paced["p50_ms"],
        "p99_ms": paced["p99_ms"],
        "errors": pam["errors"] + paced["errors"] + echo["errors"] + ceil["errors"],
        "offered_at_half_cmds_per_s": round(half, 1),
        "achieved_at_half_cmds_per_s": paced["cmds_per_s"],
        "saturated_p50_ms": pam["p50_ms"], "saturated_p99_ms": pam["p99_ms"],
        "echo_p50_ms": echo["p50_ms"], "echo_p99_ms": echo["p99_ms"],
        "driver": {"processes": args.procs, "window_per_process": args.window},
        "loop": args.loop,
        "agents": args.agents, "seconds": args.seconds,
        "redis_agents_hash_bytes_per_agent": round(mem / len(agents), 1),
        "errors_by_code": {"pam": pam["errors_by_code"], "paced": paced["errors_by_code"],
                           "echo": echo["errors_by_code"], "ceiling": ceil["errors_by_code"]},
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
