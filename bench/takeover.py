"""Takeover cost: load a zone of N agents from Redis and rebuild the pool.

    python bench/takeover.py --json [--agents 20000]

Writes N agents (Ready, Idle, JobAttached to one of 100 job-tasks, nailed) under a
private key prefix, then times what a standby does when it takes the zone over:
``ZoneStore.load`` (HVALS and decode) and ``Zone.load`` (indexes, the Rust pool and the
allocator), with the cyclic GC paused as ``ZoneWorker.takeover`` does.
Prints one JSON object; best of --repeat runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dispatcher_rs
from pam_protocol import messages as m
from pam_protocol.states import AgentState, CallState, JobState
from pam_service.domain.zone import Zone
from pam_service.pool import RustPool
from pam_service.store import ZoneStore, agent_record, gc_paused


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--agents", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"bench-takeover-{uuid.uuid4().hex[:8]}"
    store = ZoneStore(r, "z1", prefix)
    now = datetime.now(UTC)
    enc = msgspec.json.Encoder()
    jobs = [m.JobTask(job_id=f"j{k}", action_name="a", zone="z1", campaign_type="progressive",
                      required_skills=("s",)) for k in range(100)]
    try:
        pipe = r.pipeline(transaction=False)
        for i in range(args.agents):
            a = m.Agent(agent_id=f"a{i:06d}", zone="z1", agent_state=AgentState.READY,
                        call_state=CallState.IDLE, job_state=JobState.JOB_ATTACHED,
                        version=3, since=now, job_id=f"j{i % 100}", nailed=True,
                        skills=(m.Skill(name="s", level=1 + i % 10),), extension=str(i))
            pipe.hset(store.k_agents, a.agent_id, agent_record(a))
        for j in jobs:
            pipe.hset(store.k_jobs, j.job_id, enc.encode(msgspec.structs.replace(
                j, assigned=tuple(f"a{i:06d}" for i in range(args.agents) if i % 100 ==
                                  int(j.job_id[1:])))))
        await pipe.execute()
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            zone = Zone("z1", RustPool(), dispatcher_rs.Allocator)
            with gc_paused():  # as ZoneWorker.takeover does
                t0 = time.perf_counter()
                agents, jobs_loaded, calls = await store.load()
                t1 = time.perf_counter()
                zone.load(agents, jobs_loaded, calls)
                t2 = time.perf_counter()
            run = {"redis_load_decode_ms": (t1 - t0) * 1000, "rebuild_ms": (t2 - t1) * 1000,
                   "total_ms": (t2 - t0) * 1000}
            if not best or run["total_ms"] < best["total_ms"]:
                best = run
            assert len(zone.agents) == args.agents
        out = {"agents": args.agents, "repeat": args.repeat,
               **{k: round(v, 1) for k, v in best.items()},
               "available_after_rebuild": len(zone.pool.pool)}  # type: ignore[attr-defined]
        print(json.dumps(out))
    finally:
        async for k in r.scan_iter(match=f"{prefix}:*"):
            await r.delete(k)
        await r.aclose()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
