"""Chaos: PAM under a load while faults are injected over and over, then an account of
every command, in the manner of RabbitMQ's Jepsen suite.

    python bench/chaos.py --json [--seconds 180] [--instances 2] [--agents 24]

Two (or more) ``pam-service`` processes serve zone z1 on a private vhost, each through
its own TCP proxy to RabbitMQ, with a private Redis (AOF on). A client runs agents on a
progressive job (Login, Ready/NotReady, calls connected, disconnected and wrapped up),
re-sending every command with the same message_id until it is answered, and a probe
every 25 ms. Every ``--every`` seconds the next fault of the cycle hits the instance
that holds the zone (or everything):

    kill -9 (restarted after the standby answers), SIGSTOP until the standby took over
    then SIGCONT, the broker closing the active instance's connection, the proxy
    cutting the active instance off RabbitMQ for 3 s, Redis restarted (SIGTERM, 2 s
    down), the broker closing every PAM connection and the client's.

Then the load stops, every command is answered, every event drained, and the checker
(bench/harness.py) accounts: ``lost`` (accepted changes missing from Redis, plus
commands never answered), ``applied_twice`` (state changes no accepted command accounts
for), ``double_assignments`` (an agent with two calls, a call with two agents, from the
events and Redis), ``model_mismatches`` (agents whose Redis record differs from the
accepted commands replayed through the pure state machine in the order PAM applied
them), ``event_gaps`` (seq gaps, or a seq published with two bodies). ``max_failover_s``
is the longest time from a kill -9 to the first answer to a probe sent after it;
``max_stall_s_by_kind`` the longest time without any probe answered, per kind of fault.

Prints one JSON object. Targets: all counts 0, max_failover_s <= 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    Cluster,
    Instance,
    close_connections,
    connections,
    until,
)


class Chaos:
    def __init__(self, c: Cluster, say: Callable[[str], None]) -> None:
        self.c = c
        self.say = say
        self.faults: list[dict[str, Any]] = []

    @property
    def load(self) -> Any:
        assert self.c.load is not None
        return self.c.load

    async def names(self) -> set[str]:
        return {n for _, n in await asyncio.to_thread(connections, self.c.vhost)}

    async def settle(self) -> None:
        """Every instance running and connected, the load answered again."""
        for inst in self.c.instances:
            if not inst.alive:
                inst.start()
                await until(inst.started, 30, f"{inst.name} consuming")
        want = {i.name for i in self.c.instances}
        await until(lambda: self._has(want), 60, "every instance connected")
        await self.load.wait_answers(100, timeout=60)

    async def _has(self, want: set[str]) -> bool:
        return want <= await self.names()

    async def fault(self, kind: str, act: Callable[[Instance], Awaitable[None]]) -> None:
        victim = await self.c.active()
        t0 = time.monotonic()
        self.say(f"{kind} on {victim.name}")
        await act(victim)
        await self.load.wait_answers(50, timeout=90)
        rec = {"kind": kind, "victim": victim.name,
               "first_reply_s": _r(self.load.first_reply_after(t0)),
               "stall_s": _r(self.load.longest_stall(t0, time.monotonic()))}
        self.faults.append(rec)
        self.say(f"  {rec}")

    # the faults -------------------------------------------------------------------
    async def kill9(self, victim: Instance) -> None:
        victim.kill9()
        await until(lambda: (h := self.c.holder()) is not None and h is not victim, 30,
                    "the standby taking over")

    async def sigstop(self, victim: Instance) -> None:
        victim.sigstop()
        try:
            await until(lambda: (h := self.c.holder()) is not None and h is not victim, 60,
                        "the standby taking over")
            await until(lambda: self._gone(victim.name), 30, "the broker dropping it")
        finally:
            victim.sigcont()

    async def _gone(self, name: str) -> bool:
        return name not in await self.names()

    async def broker_close_active(self, victim: Instance) -> None:
        await asyncio.to_thread(close_connections, self.c.vhost, victim.name)

    async def broker_close_all(self, victim: Instance) -> None:
        await asyncio.to_thread(close_connections, self.c.vhost, "pam-ha-")
        await asyncio.to_thread(close_connections, self.c.vhost, "ha-client")

    async def proxy_cut(self, victim: Instance) -> None:
        p = self.c.proxy_of(victim)
        await p.cut()
        await asyncio.sleep(3)  # the outage
        await p.restore()

    async def redis_restart(self, victim: Instance) -> None:
        assert self.c.redis is not None
        await asyncio.to_thread(self.c.redis.stop)
        await asyncio.sleep(2)  # the outage
        await asyncio.to_thread(self.c.redis.start)

    async def run(self, seconds: float, every: float) -> None:
        cycle = [("kill -9", self.kill9), ("SIGSTOP", self.sigstop),
                 ("broker closes active", self.broker_close_active),
                 ("proxy cut", self.proxy_cut), ("Redis restart", self.redis_restart),
                 ("broker closes all", self.broker_close_all)]
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() + every < end:
            await asyncio.sleep(every)  # the load runs undisturbed between faults
            kind, act = cycle[i % len(cycle)]
            i += 1
            await self.fault(kind, act)
            await self.settle()
        left = end - time.monotonic()
        if left > 0:
            await asyncio.sleep(left)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


async def main_async(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    logdir = Path(tempfile.mkdtemp(prefix="pam-chaos-"))
    c = Cluster(logdir=logdir, proxy="each", private_redis=True, heartbeat=args.heartbeat)
    t0 = time.monotonic()
    try:
        await c.open(args.instances, agents=args.agents, seed=args.seed)
        chaos = Chaos(c, say)
        await chaos.run(args.seconds, args.every)
        say("draining")
        rep = await c.finish()
        elapsed = time.monotonic() - t0
        assert c.load is not None
        kills = [f["first_reply_s"] for f in chaos.faults if f["kind"] == "kill -9"]
        out: dict[str, Any] = {
            "lost": rep.lost + rep.unanswered,
            "applied_twice": rep.applied_twice,
            "double_assignments": rep.double_assignments,
            "model_mismatches": rep.model_mismatches,
            "event_gaps": rep.event_gaps,
            "redis_inconsistencies": rep.redis_inconsistencies,
            "max_failover_s": max((k for k in kills if k is not None), default=None),
            "failovers_s": kills,
            "commands": rep.commands,
            "accepted": rep.accepted,
            "unanswered": rep.unanswered,
            "resends": sum(o.tries - 1 for o in c.load.ops),
            "calls": c.load.calls,
            "events": rep.events,
            "duplicate_events": rep.duplicate_events,
            "cmds_per_s": round(rep.commands / elapsed, 1),
            "faults": len(chaos.faults),
            "faults_by_kind": _count(f["kind"] for f in chaos.faults),
            "max_stall_s_by_kind": _max_by_kind(chaos.faults, "stall_s"),
            "instances": args.instances, "agents": args.agents, "seconds": args.seconds,
            "every_s": args.every, "heartbeat_s": args.heartbeat,
            "details": rep.details[:10],
        }
        return out
    finally:
        if c.instances and not args.keep_logs:
            excerpt = c.log_excerpt(20)
            say(f"last log lines:\n{excerpt}")
        await c.close()
        if args.keep_logs:
            say(f"logs kept in {logdir}")
        else:
            shutil.rmtree(logdir, ignore_errors=True)


def _count(xs: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in xs:
        out[x] = out.get(x, 0) + 1
    return out


def _max_by_kind(faults: list[dict[str, Any]], key: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for f in faults:
        v = f[key]
        prev = out.get(f["kind"])
        out[f["kind"]] = v if prev is None else (prev if v is None else max(prev, v))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print only the JSON object")
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--every", type=float, default=8.0, help="seconds of calm between faults")
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--agents", type=int, default=24)
    ap.add_argument("--heartbeat", type=int, default=2,
                    help="AMQP heartbeat of the PAM processes (SIGSTOP detection)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep-logs", action="store_true")
    args = ap.parse_args()

    def say(msg: str) -> None:
        if not args.json:
            print(msg, file=sys.stderr, flush=True)

    # the client's own reconnects are part of the test: keep their tracebacks quiet
    for name in ("aiormq", "aio_pika"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    out = asyncio.run(main_async(args, say))
    print(json.dumps(out))
    with contextlib.suppress(Exception):
        failed = [k for k in ("lost", "applied_twice", "double_assignments",
                              "model_mismatches", "event_gaps") if out[k]]
        return 1 if failed else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
