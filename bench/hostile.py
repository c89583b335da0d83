"""A seeded hostile run against a running PAM (docs/security.md, "Input limits").

    python bench/hostile.py --json                 # 10,000 hostile messages
    python bench/hostile.py --json --messages 2000 --seed 7

Starts one ``pam-service`` process on a private vhost and Redis key prefix, logs in a
few agents, then sends the hostile messages (mutated command examples, nesting up to
3,000 deep, invalid UTF-8, junk bytes, required fields left out, unknown types), half
with ``reply_to`` and half without (``--reply-share``), while a prober sends a valid
``GetAgentStatus`` every 20 ms. Prints one JSON object:

- ``alive``: the PAM process still runs at the end;
- ``answered_once`` / ``answered_twice`` / ``unanswered``: replies per hostile message
  with ``reply_to`` (every one must be answered exactly once);
- ``codes``: the reply codes seen (all must be contract codes);
- ``dead_lettered``: messages without ``reply_to`` found in ``pam.dead`` with a reason;
- ``probe_p50_ms`` / ``probe_p99_ms``: latency of the valid commands sent meanwhile;
- ``state_changes``: 1 if the zone (every agent and job, with versions) differs after
  the run, else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import redis
from pamqp.commands import Basic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pam_protocol import messages as m  # noqa: E402
from pam_protocol import topology  # noqa: E402
from pam_protocol.client import PamClient  # noqa: E402
from pam_protocol.examples import hostile_bodies  # noqa: E402

AMQP = os.environ.get("PAM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS = os.environ.get("PAM_REDIS_URL", "redis://127.0.0.1:6379/0")
ZONE = "hostile"
CONTRACT_CODES = {"BadRequest", "UnknownCommand"}


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


async def zone_state(c: PamClient) -> bytes:
    r = await c.send(ZONE, m.GetZoneStatus(zone=ZONE), timeout=30)
    assert isinstance(r, m.Accepted), r
    return m.encoder.encode((r.agents, r.jobs))


async def run(url: str, n: int, seed: int, share: float, say: Any) -> dict[str, Any]:
    c = await PamClient.connect(url)
    try:
        deadline = time.monotonic() + 60
        while True:  # the service declares the zone's queue as it starts
            try:
                await c.send(ZONE, m.GetZoneStatus(zone=ZONE), timeout=5)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        agents = [f"h{i:03d}" for i in range(20)]
        for aid in agents:
            r = await c.send(ZONE, m.Login(agent_id=aid, zone=ZONE, extension=aid, skills=[],
                                           time_zone="UTC", locale="en_US"))
            assert isinstance(r, m.Accepted), r
        before = await zone_state(c)
        bodies = hostile_bodies(random.Random(seed), n)
        say(f"{len(bodies)} hostile messages (seed {seed})")

        # replies to the hostile messages come to a queue of our own, counted per id
        ch = await c.conn.channel(publisher_confirms=True)
        replies = await ch.declare_queue(exclusive=True, auto_delete=True)
        counts: collections.Counter[str] = collections.Counter()
        codes: collections.Counter[str] = collections.Counter()

        expected: set[str] = set()
        all_answered = asyncio.Event()

        async def on_reply(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
            mid = msg.correlation_id or ""
            counts[mid] += 1
            expected.discard(mid)
            if not expected and sending_done.is_set():
                all_answered.set()
            try:
                r = m.reply_decoder.decode(msg.body)
                codes[r.code if isinstance(r, m.Rejected) else "Accepted"] += 1
            except Exception:
                codes["<undecodable reply>"] += 1
        await replies.consume(on_reply, no_ack=True)

        lat: list[float] = []
        stop = asyncio.Event()
        sending_done = asyncio.Event()

        async def probe() -> None:
            i = 0
            while not stop.is_set():
                t0 = time.perf_counter()
                r = await c.send(ZONE, m.GetAgentStatus(agent_id=agents[i % len(agents)]),
                                 timeout=30)
                assert isinstance(r, m.Accepted), r
                lat.append(time.perf_counter() - t0)
                i += 1
                await asyncio.sleep(0.02)
        prober = asyncio.create_task(probe())

        raw = await ch.get_underlay_channel()
        with_reply: list[str] = []
        without: list[str] = []
        t0 = time.monotonic()
        for i, body in enumerate(bodies):
            mid = uuid.uuid4().hex
            wants = int((i + 1) * share) > int(i * share)  # evenly spread
            (with_reply if wants else without).append(mid)
            if wants:
                expected.add(mid)
            props = Basic.Properties(message_id=mid, content_type="application/json",
                                     delivery_mode=2, correlation_id=mid if wants else None,
                                     reply_to=replies.name if wants else None)
            await raw.basic_publish(body, exchange=topology.COMMANDS, routing_key=ZONE,
                                    properties=props, mandatory=True)
            if i % 2000 == 1999:
                say(f"sent {i + 1}")
        sent_s = time.monotonic() - t0
        sending_done.set()
        if not expected:
            all_answered.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_answered.wait(), 120)
        stop.set()
        await prober
        # duplicates would arrive right behind the first replies: a round trip more
        r = await c.send(ZONE, m.GetAgentStatus(agent_id=agents[0]))
        assert isinstance(r, m.Accepted)
        after = await zone_state(c)

        dead = await ch.declare_queue(topology.DEAD, durable=True,
                                      arguments={"x-queue-type": "quorum"})
        found: set[str] = set()
        missing = set(without)
        if missing:
            async with dead.iterator(timeout=30) as it:
                async for msg in it:
                    await msg.ack()
                    if (msg.message_id in missing
                            and (msg.headers or {}).get("x-pam-reason")):
                        found.add(msg.message_id)
                        if len(found) == len(missing):
                            break
        lat.sort()

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else -1.0
        return {
            "messages": len(bodies), "seed": seed, "send_seconds": round(sent_s, 2),
            "with_reply_to": len(with_reply),
            "answered_once": sum(1 for mid in with_reply if counts[mid] == 1),
            "answered_twice": sum(1 for mid in with_reply if counts[mid] > 1),
            "unanswered": sum(1 for mid in with_reply if counts[mid] == 0),
            "codes": dict(codes),
            "non_contract_codes": sum(v for k, v in codes.items() if k not in CONTRACT_CODES),
            "without_reply_to": len(without), "dead_lettered": len(found),
            "probes": len(lat), "probe_p50_ms": pct(0.5), "probe_p99_ms": pct(0.99),
            "probe_max_ms": round(lat[-1] * 1000, 2) if lat else -1.0,
            "state_changes": int(after != before),
        }
    finally:
        await c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1404)
    ap.add_argument("--reply-share", type=float, default=0.5,
                    help="share of the hostile messages sent with reply_to (the rest are "
                    "dead-lettered); default 0.5")
    ap.add_argument("--json", action="store_true", help="print only the JSON object")
    args = ap.parse_args()

    def say(msg: str) -> None:
        if not args.json:
            print(msg, file=sys.stderr)

    vhost = f"pam-hostile-{uuid.uuid4().hex[:8]}"
    prefix = f"pam-hostile-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    url = AMQP.rstrip("/") + "/" + vhost
    proc = subprocess.Popen(
        [sys.executable, "-m", "pam_service", "--zones", ZONE, "--amqp-url", url,
         "--redis-url", REDIS, "--key-prefix", prefix, "--log-level", "error"],
        cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        out = asyncio.run(run(url, args.messages, args.seed, args.reply_share, say))
        out["alive"] = proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        rabbitmqctl("delete_vhost", vhost)
        r = redis.Redis.from_url(REDIS)
        for key in r.scan_iter(match=f"{prefix}:*", count=1000):
            r.delete(key)
    print(json.dumps(out, indent=None if args.json else 2))
    ok = (out["alive"] and out["answered_once"] == out["with_reply_to"]
          and out["non_contract_codes"] == 0 and out["dead_lettered"] == out["without_reply_to"]
          and out["state_changes"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
