"""A Jepsen-style harness for PAM's high availability, shared by ``tests/ha`` and
``bench/chaos.py``.

Pieces, each usable alone:

- :class:`Instance`: one ``pam-service`` process (start, ``kill -9``, SIGSTOP/SIGCONT,
  SIGTERM), its JSON log in a file, and the takeovers it logged;
- :class:`RedisServer`: a private ``redis-server`` (AOF on, like production) that can be
  stopped and started again on the same port;
- :class:`Proxy`: a TCP proxy between PAM and RabbitMQ whose connections can be cut;
- :func:`close_connections`: the broker closes the connections of one vhost by name;
- :class:`Load`: agents logging in, Ready/NotReady cycles, calls of a progressive job
  (CustomerConnected, CustomerDisconnected, WrapupContact) and failover probes. Every
  command has its own ``message_id`` and is re-sent with the same one until answered
  (how a client gets exactly-once); the history of every command is kept;
- :class:`Recorder`: every event on ``pam.events`` (``#``), raw, in arrival order;
- :func:`check`: the final Redis state, the history and the events against each other
  and against the pure state machine (the commands replayed through
  :class:`pam_service.domain.zone.Zone` in the order PAM applied them).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import msgspec
import redis as redis_sync
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

import dispatcher_rs
from pam_protocol import messages as m
from pam_protocol import topology
from pam_protocol.client import PamClient, ReplyTimeout
from pam_service.batch import scope_of
from pam_service.domain import machine as sm
from pam_service.domain.zone import Zone
from pam_service.pool import RustPool

ROOT = Path(__file__).resolve().parents[2]
AMQP_HOST = "127.0.0.1"
AMQP_PORT = 5672
REDIS = os.environ.get("PAM_REDIS_URL", "redis://127.0.0.1:6379/0")
JOB = "J"


def amqp_url(vhost: str, port: int = AMQP_PORT, **query: Any) -> str:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    return f"amqp://guest:guest@{AMQP_HOST}:{port}/{vhost}" + (f"?{q}" if q else "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------
# the broker's tools
# ---------------------------------------------------------------------------


def rabbitmqctl(*args: str, timeout: float = 60) -> str:
    out = subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True,
                         text=True, timeout=timeout)
    return out.stdout


def add_vhost(prefix: str = "pamha") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return name


def delete_vhost(name: str) -> None:
    with contextlib.suppress(Exception):
        rabbitmqctl("delete_vhost", name)


def connections(vhost: str) -> list[tuple[str, str]]:
    """(pid, connection name) of every connection to ``vhost``."""
    out = []
    for line in rabbitmqctl("list_connections", "pid", "vhost", "client_properties").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[1] != vhost:
            continue
        found = re.search(r'\{"connection_name","([^"]*)"\}', parts[2])
        out.append((parts[0], found.group(1) if found else ""))
    return out


def close_connections(vhost: str, name_prefix: str, reason: str = "chaos") -> int:
    """Make the broker close the connections of ``vhost`` whose name starts with
    ``name_prefix`` (never another vhost's). Returns how many it closed."""
    n = 0
    for pid, name in connections(vhost):
        if name.startswith(name_prefix):
            with contextlib.suppress(subprocess.CalledProcessError):
                rabbitmqctl("close_connection", pid, reason)
                n += 1
    return n


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------


class Instance:
    """One ``pam-service`` process; its stderr (JSON logs) goes to a file per start."""

    def __init__(self, name: str, *, zones: str, amqp: str, redis_url: str, prefix: str,
                 logdir: Path, extra: Iterable[str] = ()) -> None:
        self.name = name
        self.extra = list(extra)
        self.zones = zones
        self.amqp = amqp
        self.redis_url = redis_url
        self.prefix = prefix
        self.logdir = logdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.stopped = False

    @property
    def log_path(self) -> Path:
        return self.logdir / f"{self.name}.{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        self.stopped = False
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pam_service", "--zones", self.zones,
                 "--amqp-url", self.amqp, "--redis-url", self.redis_url,
                 "--key-prefix", self.prefix, "--instance", self.name, "--log-level", "info",
                 *self.extra],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ})

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def records(self, start: int | None = None) -> list[dict[str, Any]]:
        """Log records of one start (default: the current one)."""
        path = self.logdir / f"{self.name}.{start or self.starts}.log"
        out = []
        with contextlib.suppress(OSError):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    with contextlib.suppress(ValueError):
                        out.append(json.loads(line))
        return out

    def all_records(self) -> list[dict[str, Any]]:
        return [r for s in range(1, self.starts + 1) for r in self.records(s)]

    def takeovers(self, zone: str | None = None) -> list[int]:
        """Fencing tokens this instance took (current start), of one zone or any."""
        return [int(r["token"]) for r in self.records() if r.get("msg") == "took over zone"
                and (zone is None or r.get("zone") == zone)]

    def started(self) -> bool:
        return any(r.get("msg") == "started" for r in self.records())

    def kill9(self) -> None:
        if self.proc is not None and self.alive:
            if self.stopped:
                os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.stopped = False

    def sigstop(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.stopped = True

    def sigcont(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.stopped = False

    def terminate(self, timeout: float = 20) -> int | None:
        """SIGTERM (a graceful stop), then SIGKILL if it does not exit in time."""
        if self.proc is None:
            return None
        if self.alive:
            if self.stopped:
                self.sigcont()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return self.proc.returncode


class RedisServer:
    """A private redis-server with AOF (data survive a restart, as in production);
    ``extra`` adds options (``--replicaof host port`` for a replica)."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pam-ha-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.extra = list(extra)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20) -> None:
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(self.dir),
             "--daemonize", "no", *self.extra], stdout=log, stderr=log)
        log.close()
        r = redis_sync.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    if r.ping():
                        return
                except redis_sync.exceptions.RedisError:
                    pass
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server on {self.port} did not start")
                time.sleep(0.02)
        finally:
            r.close()

    def stop(self) -> None:
        """SIGTERM: Redis writes its AOF out and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelRedis:
    """Redis as production runs it: a primary, two replicas and a Sentinel watching them
    (quorum 1, a primary is down after 1 s). PAM connects through the Sentinel. Two
    replicas: after a promotion the new primary still has one to WAIT for."""

    NAME = "pam"

    def __init__(self) -> None:
        self.primary = RedisServer()
        self.replicas = [RedisServer(["--replicaof", "127.0.0.1", str(self.primary.port)])
                         for _ in range(2)]
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pam-ha-sentinel-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pam_url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.NAME}"

    def start(self) -> None:
        self.primary.start()
        for r in self.replicas:
            r.start()
        conf = self.dir / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor {self.NAME} 127.0.0.1 {self.primary.port} 1\n"
            f"sentinel down-after-milliseconds {self.NAME} 1000\n"
            f"sentinel failover-timeout {self.NAME} 5000\n")
        log = open(self.dir / "sentinel.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(["redis-server", str(conf), "--sentinel"],
                                     stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 30
        while self.replicas_in_sync() < 2 or self.primary_port() != self.primary.port:
            if time.monotonic() > deadline:
                raise RuntimeError("the Sentinel set-up did not come up in 30 s")
            time.sleep(0.05)

    def primary_port(self) -> int | None:
        r = redis_sync.Redis(port=self.port, socket_timeout=1)
        try:
            addr = r.sentinel_get_master_addr_by_name(self.NAME)
            return int(addr[1]) if isinstance(addr, tuple | list) else None
        except redis_sync.exceptions.RedisError:
            return None
        finally:
            r.close()

    def replicas_in_sync(self) -> int:
        r = redis_sync.Redis(port=self.primary_port() or self.primary.port, socket_timeout=1)
        try:
            info = r.info("replication")
            return sum(1 for k, v in info.items() if k.startswith("slave")
                       and isinstance(v, dict) and v.get("state") == "online")
        except redis_sync.exceptions.RedisError:
            return 0
        finally:
            r.close()

    @property
    def url(self) -> str:
        """The current primary, as Sentinel names it (for the checks)."""
        return f"redis://127.0.0.1:{self.primary_port()}/0"

    def kill_primary(self) -> RedisServer:
        """kill -9 of the current primary (no AOF rewrite, no goodbye)."""
        port = self.primary_port()
        victim = next(r for r in (self.primary, *self.replicas) if r.port == port)
        assert victim.proc is not None
        victim.proc.kill()
        victim.proc.wait(timeout=10)
        return victim

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for r in (self.primary, *self.replicas):
            r.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


class Proxy:
    """TCP proxy 127.0.0.1:<port> -> target. :meth:`cut` closes every proxied
    connection and refuses new ones until :meth:`restore`."""

    def __init__(self, target_port: int = AMQP_PORT) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.socks: set[asyncio.StreamWriter] = set()
        self.cuts = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                 reuse_address=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.socks |= {writer, up_w}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
        finally:
            self.socks -= {writer, up_w}

    async def cut(self) -> None:
        self.cuts += 1
        if self.server is not None:
            self.server.close()
            self.server = None
        for w in list(self.socks):
            w.transport.abort()
        self.socks.clear()

    async def restore(self) -> None:
        if self.server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()


# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------


READ_ONLY = (m.GetAgentStatus, m.GetZoneStatus)


@dataclass
class Op:
    """One command and what became of it."""

    mid: str
    cmd: m.Command
    first_sent: float
    tries: int = 0
    confirmed: bool = False
    reply: m.Accepted | m.Rejected | None = None
    answered: float | None = None
    probe: bool = False


class Load:
    """Agents of one zone on a progressive job, each agent one sequential desktop loop;
    a dialer connects and disconnects customers; a probe asks every ``probe_every`` s.

    Stops generating on :meth:`stop`; then every command already issued is re-sent
    (same message_id) until answered or ``give_up_s`` passes."""

    def __init__(self, client: PamClient, zone: str = "z1", *, agents: int = 16,
                 think_s: float = 0.05, call_every_s: float = 0.04, talk_s: float = 0.3,
                 reply_timeout_s: float = 3.0, probe_every_s: float = 0.025,
                 seed: int = 1) -> None:
        self.client = client
        self.zone = zone
        self.agent_ids = [f"a{i:03d}" for i in range(agents)]
        self.think_s = think_s
        self.call_every_s = call_every_s
        self.talk_s = talk_s
        self.reply_timeout_s = reply_timeout_s
        self.probe_every_s = probe_every_s
        self.rng = random.Random(seed)
        self.ops: list[Op] = []
        self.stopping = False
        self.give_up_at = float("inf")
        self.tasks: list[asyncio.Task[None]] = []
        self.calls = 0
        self.errors: dict[str, int] = defaultdict(int)

    # one command, exactly once ------------------------------------------------
    async def op(self, cmd: m.Command, *, probe: bool = False) -> m.AnyReply | None:
        o = Op(mid=uuid.uuid4().hex, cmd=cmd, first_sent=time.monotonic(), probe=probe)
        self.ops.append(o)
        while time.monotonic() < self.give_up_at:
            o.tries += 1
            try:
                reply = await self.client.send(self.zone, cmd, message_id=o.mid,
                                               timeout=self.reply_timeout_s)
            except ReplyTimeout:
                o.confirmed = True
                self.errors["ReplyTimeout"] += 1
                continue
            except Exception as e:  # the client's connection is being re-established
                self.errors[type(e).__name__] += 1
                await asyncio.sleep(0.2)
                continue
            o.confirmed = True
            o.reply = reply
            o.answered = time.monotonic()
            return reply
        return None

    # the parties ------------------------------------------------------------------
    async def setup(self) -> None:
        r = await self.op(m.JobStarted(
            job_id=JOB, action_name="outbound", zone=self.zone, campaign_type="progressive",
            required_skills=["sales"], completion_codes=["Sale", "NoSale"],
            default_completion_code="NoSale", min_agents=0, max_agents=1_000_000, priority=1,
            licenses=1_000_000, wrapup_seconds=30, wrapup_extensions=0))
        assert isinstance(r, m.Accepted), r

    def decide(self, aid: str, a: m.Agent | None) -> m.Command:
        if a is not None and a.agent_state is sm.A.UNKNOWN:
            # in doubt after a takeover: resync as a real desktop does (either command)
            if self.rng.random() < 0.5:
                return m.SaveAgentForHA(agent_id=aid, data={"desktop": aid})
            return m.GetAgentStatus(agent_id=aid)
        if a is None or a.agent_state is sm.A.LOGOUT:
            return m.Login(agent_id=aid, zone=self.zone, extension=aid,
                           skills=[m.Skill(name="sales", level=1 + int(aid[1:]) % 5)],
                           time_zone="UTC", locale="en_US")
        if a.call_state is sm.C.WRAPUP and a.session_id:
            return m.WrapupContact(agent_id=aid, session_id=a.session_id,
                                   completion_code=self.rng.choice(["Sale", "NoSale"]))
        if a.job_state is sm.J.PENDING_JOB_ATTACH and not a.nailed:
            return m.NailingEstablished(agent_id=aid)
        if a.call_state is sm.C.IDLE and a.agent_state is sm.A.NOT_READY:
            return m.Ready(agent_id=aid)
        if (a.call_state is sm.C.IDLE and a.agent_state is sm.A.READY
                and self.rng.random() < 0.2):
            return m.NotReady(agent_id=aid, reason_code=self.rng.randint(1, 5))
        return m.GetAgentStatus(agent_id=aid)

    async def desktop(self, aid: str) -> None:
        a: m.Agent | None = None
        while not self.stopping:
            r = await self.op(self.decide(aid, a))
            if r is not None and r.agent is not None and r.agent.agent_id == aid:
                a = r.agent
            await asyncio.sleep(self.think_s * (0.5 + self.rng.random()))

    async def dialer(self) -> None:
        talks: set[asyncio.Task[None]] = set()
        while not self.stopping:
            self.calls += 1
            cid = f"call-{self.calls}"
            r = await self.op(m.CustomerConnected(job_id=JOB, call_id=cid, customer={}))
            if isinstance(r, m.Accepted):
                t = asyncio.create_task(self._talk(cid))
                talks.add(t)
                t.add_done_callback(talks.discard)
            await asyncio.sleep(self.call_every_s)
        if talks:
            await asyncio.gather(*talks)

    async def _talk(self, call_id: str) -> None:
        await asyncio.sleep(self.talk_s * (0.5 + self.rng.random()))
        await self.op(m.CustomerDisconnected(call_id=call_id))

    async def prober(self) -> None:
        probes: set[asyncio.Task[Any]] = set()
        while not self.stopping:
            t = asyncio.create_task(self.op(m.GetAgentStatus(agent_id="probe"), probe=True))
            probes.add(t)
            t.add_done_callback(probes.discard)
            await asyncio.sleep(self.probe_every_s)
        if probes:
            await asyncio.gather(*probes)

    # control --------------------------------------------------------------------
    async def start(self) -> None:
        await self.setup()
        self.tasks = [asyncio.create_task(self.desktop(a)) for a in self.agent_ids]
        self.tasks.append(asyncio.create_task(self.dialer()))
        if self.probe_every_s:
            self.tasks.append(asyncio.create_task(self.prober()))

    async def stop(self, give_up_s: float = 60) -> None:
        self.stopping = True
        self.give_up_at = time.monotonic() + give_up_s
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def wait_answers(self, n: int, timeout: float = 30) -> None:
        """Until ``n`` more commands have been answered (the load makes progress)."""
        target = self.answered() + n
        await until(lambda: self.answered() >= target, timeout, f"{n} more answers")

    def answered(self) -> int:
        return sum(1 for o in self.ops if o.answered is not None)

    def longest_stall(self, t0: float, t1: float) -> float | None:
        """The longest time between two consecutive probe answers in [t0, t1]: how long
        the zone answered nothing (probes go out every ``probe_every_s``)."""
        times = sorted(o.answered for o in self.ops
                       if o.probe and o.answered is not None and t0 <= o.answered <= t1)
        if not times:
            return None
        edges = [t0, *times]
        return max(b - a for a, b in itertools.pairwise(edges))

    def first_reply_after(self, t: float) -> float | None:
        """Seconds from ``t`` to the first answer to a probe first sent after ``t``."""
        got = [o.answered - t for o in self.ops
               if o.probe and o.first_sent > t and o.answered is not None]
        return min(got) if got else None


async def until(cond: Any, timeout: float, what: str = "condition") -> Any:
    """Poll real state until ``cond()`` holds; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------


class Recorder:
    """Every event published on ``pam.events``, raw, in arrival order."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, bytes]] = []
        self.conn: AbstractRobustConnection | None = None

    async def start(self, url: str) -> None:
        self.conn = await aio_pika.connect_robust(
            url, client_properties={"connection_name": "ha-recorder"})
        ch = await self.conn.channel()
        ex = await ch.declare_exchange(topology.EVENTS, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await ch.declare_queue(exclusive=True, auto_delete=True)
        await q.bind(ex, routing_key="#")
        await q.consume(self._on, no_ack=True)

    async def _on(self, msg: AbstractIncomingMessage) -> None:
        self.rows.append((msg.routing_key or "", msg.body))

    def max_seq(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, body in self.rows:
            with contextlib.suppress(Exception):
                ev = m.event_decoder.decode(body)
                sc = scope_of(ev)
                out[sc] = max(out.get(sc, 0), ev.seq)
        return out

    async def caught_up(self, state: ZoneState) -> bool:
        """Every seq Redis handed out has arrived."""
        seen = self.max_seq()
        return all(seen.get(sc, 0) >= n for sc, n in state.seq.items())

    async def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()


# ---------------------------------------------------------------------------
# the final state and the checker
# ---------------------------------------------------------------------------


@dataclass
class ZoneState:
    agents: dict[str, m.Agent]
    versions: dict[str, int]
    calls: dict[str, str]
    seq: dict[str, int]
    jobs: dict[str, m.JobTask]
    fence: int
    outbox: int


def read_zone(redis_url: str, prefix: str, zone: str = "z1") -> ZoneState:
    r = redis_sync.Redis.from_url(redis_url)
    base = f"{prefix}:{{{zone}}}"
    try:
        def s(b: Any) -> str:
            return b.decode() if isinstance(b, bytes) else str(b)
        agents = {s(k): msgspec.json.decode(v, type=m.Agent)
                  for k, v in r.hgetall(f"{base}:agents").items()}
        jobs = {s(k): msgspec.json.decode(v, type=m.JobTask)
                for k, v in r.hgetall(f"{base}:jobs").items()}
        return ZoneState(
            agents=agents,
            versions={s(k): int(v) for k, v in r.hgetall(f"{base}:ver").items()},
            calls={s(k): s(v) for k, v in r.hgetall(f"{base}:calls").items()},
            seq={s(k): int(v) for k, v in r.hgetall(f"{base}:seq").items()},
            jobs=jobs, fence=int(r.get(f"{base}:fence") or 0),
            outbox=int(r.xlen(f"{base}:outbox")))
    finally:
        r.close()


def delete_keys(redis_url: str, prefix: str) -> None:
    with contextlib.suppress(Exception):
        r = redis_sync.Redis.from_url(redis_url)
        for k in r.scan_iter(match=f"{prefix}:*", count=1000):
            r.delete(k)
        r.close()


#: Causes of state changes no command claims as its own: PAM's takeover marks agents
#: in doubt (MarkUnknown), and a resync (GetAgentStatus, which is read-only otherwise,
#: or the resync timeout) resolves them (ResolveUnknown). The checker replays them as
#: the internal inputs they are, where they happened.
INTERNAL_CAUSES = {"MarkUnknown": sm.MarkUnknown, "ResolveUnknown": sm.ResolveUnknown}
#: The ``step`` of the first state change a wire command makes to its agent.
CAUSES: dict[type[m.Command], str] = {m.CustomerConnected: "OfferContact",
                                      m.CustomerDisconnected: "CallEnded"}
_STATE_FIELDS = ("agent_state", "call_state", "job_state", "reason_code")
BUSY_CALLS = frozenset(sm.C) - {sm.C.IDLE, sm.C.WRAPUP}


@dataclass
class Report:
    commands: int = 0
    accepted: int = 0
    unanswered: int = 0
    lost: int = 0
    applied_twice: int = 0
    double_assignments: int = 0
    model_mismatches: int = 0
    event_gaps: int = 0
    events: int = 0
    duplicate_events: int = 0
    redis_inconsistencies: int = 0
    details: list[str] = field(default_factory=list)

    def failures(self) -> dict[str, int]:
        keys = ("unanswered", "lost", "applied_twice", "double_assignments",
                "model_mismatches", "event_gaps", "redis_inconsistencies")
        return {k: getattr(self, k) for k in keys if getattr(self, k)}

    def note(self, text: str) -> None:
        if len(self.details) < 30:
            self.details.append(text)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "details"}
        d["details"] = self.details
        return d


def cause_of(cmd: m.Command) -> str:
    return CAUSES.get(type(cmd), type(cmd).__name__)


def step_of(ev: m.AgentStateChanged) -> str:
    """The machine step of a change (``cause`` names the wire command)."""
    return ev.step or ev.cause


def moved(ev: m.AgentStateChanged) -> bool:
    p = ev.previous
    return p is None or any(getattr(p, f) != getattr(ev.snapshot, f) for f in _STATE_FIELDS)


def check(ops: Iterable[Op], rows: list[tuple[str, bytes]], state: ZoneState,
          zone: str = "z1") -> Report:
    """Everything that must hold after a run, whatever faults it went through."""
    rep = Report()
    ops = list(ops)
    rep.commands = len(ops)

    # -- events: de-duplicate by (scope, seq); same seq with another body is a repeat
    body_of: dict[tuple[str, int], bytes] = {}
    changes: dict[tuple[str, int], tuple[int, m.AgentStateChanged]] = {}
    for idx, (_, body) in enumerate(rows):
        ev = m.event_decoder.decode(body)
        key = (scope_of(ev), ev.seq)
        if key in body_of:
            rep.duplicate_events += 1
            if body_of[key] != body:
                rep.event_gaps += 1
                rep.note(f"seq {key} published twice with different bodies")
            continue
        body_of[key] = body
        if isinstance(ev, m.AgentStateChanged):
            ck = (ev.snapshot.agent_id, ev.snapshot.version)
            if ck in changes:
                rep.applied_twice += 1
                rep.note(f"two state changes to version {ck}")
            changes[ck] = (idx, ev)
    rep.events = len(body_of)
    by_scope: dict[str, set[int]] = defaultdict(set)
    for sc, seq in body_of:
        by_scope[sc].add(seq)
    for sc in set(by_scope) | set(state.seq):
        top = max(state.seq.get(sc, 0), max(by_scope.get(sc, {0})))
        missing = [s for s in range(1, top + 1) if s not in by_scope.get(sc, set())]
        if missing:
            rep.event_gaps += len(missing)
            rep.note(f"{sc}: seq missing {missing[:5]}")

    # -- commands: every one answered; each accepted change claims its agent's version
    claims: dict[tuple[str, int], list[Op]] = defaultdict(list)
    for o in ops:
        if o.reply is None:
            rep.unanswered += 1
            rep.note(f"unanswered {type(o.cmd).__name__} {o.mid}")
            continue
        if isinstance(o.reply, m.Accepted):
            rep.accepted += 1
            a = o.reply.agent
            if a is not None and not isinstance(o.cmd, READ_ONLY):
                claims[(a.agent_id, a.version)].append(o)
    versions: dict[str, list[int]] = defaultdict(list)
    for aid, v in claims:
        versions[aid].append(v)
    internal: dict[tuple[str, int], m.AgentStateChanged] = {
        k: ev for k, (_, ev) in changes.items() if step_of(ev) in INTERNAL_CAUSES}
    for aid, v in internal:
        if (aid, v) not in claims:
            versions[aid].append(v)
    # A command accepted without a change reports the version before it, like the one
    # that made that version: the producer of a version is the claim whose command is
    # the cause of the first change after the previous producer's version.
    # (position, op or internal input, agent, lo, hi)
    applied: list[tuple[int, Op | sm.Internal, str, int, int]] = []
    for aid, vs in versions.items():
        final = state.versions.get(aid, 0)
        prev = 0
        for v in sorted(set(vs)):
            step = changes.get((aid, prev + 1))
            if (v == prev + 1 and step is not None and step_of(step[1]) in INTERNAL_CAUSES
                    and not any(step_of(step[1]) == cause_of(o.cmd) for o in claims[(aid, v)])):
                # a change of PAM's own (takeover, resync): replayed as that input
                applied.append((step[0], INTERNAL_CAUSES[step_of(step[1])](agent_id=aid),
                                aid, prev, v))
                prev = v
                continue
            producer = next((o for o in claims[(aid, v)] if v > prev and (
                step is None or step_of(step[1]) == cause_of(o.cmd))), None)
            if producer is None:
                continue  # accepted, changed nothing
            if v > final or (aid, v) not in changes:
                rep.lost += 1
                rep.note(f"{type(producer.cmd).__name__} {producer.mid} said {aid} v{v}, "
                         f"Redis has v{final}")
            pos = changes[(aid, v)][0] if (aid, v) in changes else 1 << 60
            applied.append((pos, producer, aid, prev, v))
            prev = v
        if final > prev:  # changes that no accepted command accounts for
            rep.applied_twice += final - prev
            rep.note(f"{aid}: versions {prev + 1}..{final} no accepted command accounts for")

    # -- double assignments, from the event stream
    holders: dict[str, set[str]] = defaultdict(set)
    for (aid, _), (_, ev) in changes.items():
        if ev.snapshot.session_id and ev.snapshot.call_state in BUSY_CALLS:
            holders[ev.snapshot.session_id].add(aid)
        if step_of(ev) == "OfferContact" and ev.previous is not None and (
                ev.previous.call_state is not sm.C.IDLE):
            rep.double_assignments += 1
            rep.note(f"{aid} offered {ev.snapshot.session_id} while {ev.previous.call_state}")
    for cid, who in holders.items():
        if len(who) > 1:
            rep.double_assignments += 1
            rep.note(f"call {cid} had agents {sorted(who)}")
    connected: dict[str, set[str]] = defaultdict(set)
    for o in ops:
        if isinstance(o.cmd, m.CustomerConnected) and isinstance(o.reply, m.Accepted):
            connected[o.cmd.call_id].add(o.reply.agent_id or "")
    rep.double_assignments += sum(1 for who in connected.values() if len(who) > 1)

    # -- Redis agrees with itself
    owners: dict[str, str] = {}
    for cid, aid in state.calls.items():  # a call stays in the index until wrapped up
        a = state.agents.get(aid)
        if a is None or a.session_id != cid or a.call_state is sm.C.IDLE:
            rep.redis_inconsistencies += 1
            rep.note(f"calls[{cid}] = {aid}, whose record says "
                     f"{a and (a.session_id, a.call_state)}")
        if aid in owners:
            rep.double_assignments += 1
            rep.note(f"{aid} owns calls {owners[aid]} and {cid}")
        owners[aid] = cid
    for aid, a in state.agents.items():
        if state.versions.get(aid) != a.version:
            rep.redis_inconsistencies += 1
            rep.note(f"{aid}: ver {state.versions.get(aid)} != record {a.version}")
        if a.call_state in BUSY_CALLS and state.calls.get(a.session_id or "") != aid:
            rep.redis_inconsistencies += 1
            rep.note(f"{aid} is {a.call_state} on {a.session_id}, not in the call index")
    if state.outbox > 2000:
        rep.redis_inconsistencies += 1
        rep.note(f"outbox holds {state.outbox} entries")

    # -- the model: the accepted commands replayed through the pure zone
    # the same pool PAM runs (the Rust dispatcher: ties within a millisecond go by id)
    model = Zone(zone, RustPool(), dispatcher_rs.Allocator)
    now: datetime | None = None
    job_ops = [o for o in ops if isinstance(o.cmd, m.JobStarted) and o.reply is not None]
    for o in job_ops:
        now = now or datetime.now(UTC)
        model.handle(o.cmd, sm.Context(zone=zone, now=now))
    for _, step_in, aid, lo, hi in sorted(applied, key=lambda x: x[0]):
        # PAM's clock at that command: the time its first moving change took effect
        for v in range(lo + 1, hi + 1):
            ch = changes.get((aid, v))
            if ch is not None and moved(ch[1]):
                now = ch[1].snapshot.since
                break
        assert now is not None
        if isinstance(step_in, sm.Internal):
            model.internal(step_in, sm.Context(zone=zone, now=now))
            continue
        o = step_in
        res = model.handle(o.cmd, sm.Context(zone=zone, now=now))
        want = o.reply
        got = res.reply
        same = (type(got) is type(want) and getattr(got, "agent", None) == getattr(
            want, "agent", None) and getattr(got, "agent_id", None) == getattr(
            want, "agent_id", None))
        if not same:
            rep.note(f"model differs at {type(o.cmd).__name__} {o.mid} for {aid}: "
                     f"PAM {_short(want)} model {_short(got)}")
    for aid, a in state.agents.items():
        if model.agents.get(aid) != a:
            rep.model_mismatches += 1
            rep.note(f"{aid}: Redis {_short_agent(a)} model {_short_agent(model.agents.get(aid))}")
    if model.calls != state.calls:
        rep.model_mismatches += 1
        rep.note("call index differs from the model's")
    return rep


def _short_agent(a: m.Agent | None) -> str:
    if a is None:
        return "-"
    return (f"{a.agent_state.value}/{a.call_state.value}/{a.job_state.value} "
            f"v{a.version} s={a.session_id}")


def _short(r: Any) -> str:
    if r is None:
        return "-"
    if isinstance(r, m.Rejected):
        return f"Rejected {r.code}"
    return f"Accepted {r.agent_id or ''} {_short_agent(r.agent)}"


# ---------------------------------------------------------------------------
# a whole set-up
# ---------------------------------------------------------------------------


@dataclass
class Cluster:
    """PAM instances serving one zone on a private vhost and key prefix, a client
    running a :class:`Load`, and a :class:`Recorder`.

    ``proxy``: ``"none"`` (instances connect to RabbitMQ directly), ``"shared"`` (all
    through one :class:`Proxy`) or ``"each"`` (one proxy per instance).
    ``private_redis``: a :class:`RedisServer` of its own (to restart it).
    ``sentinel``: a :class:`SentinelRedis` of its own; the instances use the Sentinel
    and WAIT for the replica after every commit.
    ``heartbeat``: the AMQP heartbeat in the instances' URL; None: a URL without a query,
    as pam-service's defaults (it then adds its own default heartbeat)."""

    logdir: Path
    proxy: str = "none"
    private_redis: bool = False
    heartbeat: int | None = 5
    zone: str = "z1"
    vhost: str = ""
    prefix: str = ""
    redis_url: str = REDIS
    redis: RedisServer | None = None
    sentinel: bool = False
    sentinels: SentinelRedis | None = None
    proxies: list[Proxy] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    client: PamClient | None = None
    recorder: Recorder = field(default_factory=Recorder)
    load: Load | None = None

    async def open(self, n: int = 2, **load: Any) -> None:
        """Start ``n`` instances one after the other (the first one registered is the
        broker's single active consumer), the recorder, the client and the load."""
        self.vhost = await asyncio.to_thread(add_vhost)
        self.prefix = f"pamha-{uuid.uuid4().hex[:10]}"
        if self.private_redis:
            self.redis = RedisServer()
            await asyncio.to_thread(self.redis.start)
            self.redis_url = self.redis.url
        instance_redis, extra = self.redis_url, []
        if self.sentinel:
            self.sentinels = SentinelRedis()
            await asyncio.to_thread(self.sentinels.start)
            self.redis_url = self.sentinels.url
            instance_redis = self.sentinels.pam_url
            extra = ["--redis-wait-replicas", "1"]
        for i in range(n):
            port = AMQP_PORT
            if self.proxy == "each" or (self.proxy == "shared" and not self.proxies):
                p = Proxy()
                await p.start()
                self.proxies.append(p)
            if self.proxies:
                port = self.proxies[-1].port
            query = ({} if self.heartbeat is None
                     else {"heartbeat": self.heartbeat, "reconnect_interval": 1})
            inst = Instance(f"pam-ha-{i}", zones=self.zone, redis_url=instance_redis,
                            amqp=amqp_url(self.vhost, port, **query),
                            prefix=self.prefix, logdir=self.logdir, extra=extra)
            self.instances.append(inst)
            inst.start()
            await until(inst.started, 30, f"{inst.name} consuming")
        await self.recorder.start(amqp_url(self.vhost))
        self.client = await PamClient.connect(amqp_url(self.vhost), connection_name="ha-client")
        self.load = Load(self.client, self.zone, **load)
        await self.load.start()

    def proxy_of(self, inst: Instance) -> Proxy:
        return self.proxies[self.instances.index(inst) if self.proxy == "each" else 0]

    def holder(self) -> Instance | None:
        """The instance that took the current fencing token."""
        fence = read_zone(self.redis_url, self.prefix, self.zone).fence
        return next((i for i in self.instances if fence in i.takeovers()), None)

    async def active(self, timeout: float = 20) -> Instance:
        got = await until(self.holder, timeout, "an instance holding the zone")
        assert isinstance(got, Instance)
        return got

    async def finish(self, give_up_s: float = 60) -> Report:
        """Stop the load, wait until every command is answered and every event has
        arrived, then check the whole run."""
        assert self.load is not None
        await self.load.stop(give_up_s=give_up_s)
        state = read_zone(self.redis_url, self.prefix, self.zone)
        with contextlib.suppress(AssertionError):  # the checker counts what is missing
            await until(lambda: self.recorder.caught_up(state), 20, "every event published")
        state = read_zone(self.redis_url, self.prefix, self.zone)
        return check(self.load.ops, self.recorder.rows, state, self.zone)

    async def close(self) -> None:
        """Stop and delete everything this cluster made, whatever state it is in."""
        if self.load is not None and not self.load.stopping:
            self.load.stopping = True
            self.load.give_up_at = 0
            for t in self.load.tasks:
                t.cancel()
        # in threads: this loop runs the proxies the instances may stop through
        await asyncio.gather(*(asyncio.to_thread(i.terminate, 10) for i in self.instances))
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
        await self.recorder.close()
        for p in self.proxies:
            await p.close()
        if self.prefix:
            delete_keys(self.redis_url, self.prefix)
        if self.redis is not None:
            self.redis.cleanup()
        if self.sentinels is not None:
            self.sentinels.cleanup()
        if self.vhost:
            await asyncio.to_thread(delete_vhost, self.vhost)

    def log_excerpt(self, n: int = 60) -> str:
        """Warnings, errors and takeovers of every instance (to read a failure)."""
        out = []
        for inst in self.instances:
            for r in inst.all_records():
                if r.get("level") in ("warning", "error") or r.get("msg") == "took over zone":
                    out.append(f"{inst.name} {json.dumps(r)[:400]}")
        return "\n".join(sorted(out, key=lambda line: line.split('"ts": ')[-1][:26])[-n:])
