"""Dispatcher benchmark: the Rust pool and allocator (batch API) against the Python reference.

World: 100,000 agents, 1,000 job-tasks ("jobNNNN/main", half longest_idle, half skill_level),
50 skills with levels 1-10 (each agent has 3, one of them its job's skill). The workload is a
seeded sequence of ticks of 1,000 operations each, drawn from the mix below (matched agents
are confirmed Talking the next tick and released to idle 1-5 ticks later; other state changes
and releases hit random agents); a tick is what a batching service would hand the dispatcher
at once: its release-to-idle and state-change rows in one `update_many`, its calls in one
`match_many`, its allocator changes in one `upsert_agents` followed by one `plan()`.

The Python reference runs the first ticks of the same workload (per-operation calls) and its
ops/s is extrapolated from that sample; its answers are checked equal to Rust's on the sample.

Usage: python bench/dispatcher.py [--json] [--ticks N] [--python-ticks N] [--seed S]
       [--latency-samples N] [--state-names]   (states go as codes unless --state-names)
Prints one JSON object (with --json; otherwise the same, indented).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dispatcher_rs
from dispatcher_rs import reference

AGENTS = 100_000
JOBS = 1_000
SKILLS = 50
TICK = 1_000
UPDATES = "update (release_to_idle + state_change)"
MIX = {"match": 0.40, "release_to_idle": 0.35, "state_change": 0.20, "allocate": 0.05}
# States an agent moves to in a "state change" (agent_state, call_state, job_state).
CHANGES = [
    ("NotReady", "Idle", "JobAttached"),
    ("Ready", "Talking", "JobAttached"),
    ("Ready", "Wrapup", "JobAttached"),
    ("PendingNotReady", "Talking", "JobAttached"),
    ("Ready", "Idle", "PendingInbound"),
    ("Ready", "Idle", "JobAttached"),
]

AGENT = {name: code for code, name in enumerate(dispatcher_rs.AGENT_STATES)}
CALL = {name: code for code, name in enumerate(dispatcher_rs.CALL_STATES)}
JOB = {name: code for code, name in enumerate(dispatcher_rs.JOB_STATES)}

PoolRow = reference.PoolRow
AllocatorRow = reference.AllocatorRow


@dataclass
class Tick:
    updates: list[PoolRow] = field(default_factory=list)
    matches: list[str] = field(default_factory=list)
    allocs: list[AllocatorRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.updates) + len(self.matches) + len(self.allocs)


@dataclass
class World:
    agent_ids: list[str]
    job_ids: list[str]
    skill_names: list[str]
    agent_job: list[int]
    agent_skills: list[dict[str, int]]
    idle_since: list[int]

    def pool_row(self, a: int) -> PoolRow:
        job = self.job_ids[self.agent_job[a]]
        skills = self.agent_skills[a]
        return (
            self.agent_ids[a],
            job,
            "Ready",
            "Idle",
            "JobAttached",
            True,
            self.idle_since[a],
            skills,
        )

    def alloc_row(self, a: int, idle: bool) -> AllocatorRow:
        return (self.agent_ids[a], self.agent_skills[a], idle, self.job_ids[self.agent_job[a]])


def make_world(rng: random.Random, agents: int = AGENTS) -> World:
    skill_names = [f"skill{s:02d}" for s in range(SKILLS)]
    agent_job = [a % JOBS for a in range(agents)]
    agent_skills = []
    for a in range(agents):
        skills = {skill_names[agent_job[a] % SKILLS]: rng.randint(1, 10)}
        while len(skills) < 3:
            skills[rng.choice(skill_names)] = rng.randint(1, 10)
        agent_skills.append(skills)
    return World(
        agent_ids=[f"agent{a:06d}" for a in range(agents)],
        job_ids=[f"job{j:04d}/main" for j in range(JOBS)],
        skill_names=skill_names,
        agent_job=agent_job,
        agent_skills=agent_skills,
        idle_since=[rng.randint(0, 1_000_000) for _ in range(agents)],
    )


def encode(row: PoolRow) -> PoolRow:
    """The same row with state codes instead of names (cheaper to pass; see row_cost_ns)."""
    agent, job, a, c, j, nailed, idle, skills = row
    return (agent, job, AGENT[str(a)], CALL[str(c)], JOB[str(j)], nailed, idle, skills)


def make_ticks(rng: random.Random, world: World, count: int, codes: bool) -> list[Tick]:
    """Draws each tick's op kinds from MIX, and makes the rows coherent the way calls flow:
    a matched agent is confirmed Talking in the next tick (a state change) and released to
    idle 1-5 ticks later (a release-to-idle); state changes and releases beyond those hit
    random agents. The matches are simulated on a Rust pool to know who was matched."""
    kinds = list(MIX)
    weights = [MIX[k] for k in kinds]
    sim = dispatcher_rs.Pool()
    for j, job in enumerate(world.job_ids):
        sim.set_job(
            job, "longest_idle" if j % 2 == 0 else "skill_level", world.skill_names[j % SKILLS]
        )
    sim.rebuild([world.pool_row(a) for a in range(len(world.agent_ids))])
    index = {agent: a for a, agent in enumerate(world.agent_ids)}
    to_confirm: list[str] = []
    talking: dict[int, list[str]] = {}  # tick -> agents to release then
    now = 1_000_000
    ticks = []
    n = len(world.agent_ids)
    for t in range(count):
        tick = Tick()
        releases = talking.pop(t, [])
        for kind in rng.choices(kinds, weights, k=TICK):
            now += 1
            if kind == "match":
                tick.matches.append(world.job_ids[rng.randrange(JOBS)])
                continue
            if kind == "release_to_idle":
                a = index[releases.pop()] if releases else rng.randrange(n)
                agent, job = world.agent_ids[a], world.job_ids[world.agent_job[a]]
                tick.updates.append((agent, job, "Ready", "Idle", "JobAttached", True, now, None))
            elif kind == "state_change":
                if to_confirm:
                    a = index[to_confirm.pop()]
                    states: tuple[str, str, str] = ("Ready", "Talking", "JobAttached")
                else:
                    a = rng.randrange(n)
                    states = rng.choice(CHANGES)
                agent, job = world.agent_ids[a], world.job_ids[world.agent_job[a]]
                tick.updates.append((agent, job, *states, rng.random() < 0.95, now, None))
            else:
                tick.allocs.append(world.alloc_row(rng.randrange(n), rng.random() < 0.5))
        if codes:
            tick.updates = [encode(row) for row in tick.updates]
        if releases:  # not released this tick: next tick
            talking.setdefault(t + 1, []).extend(releases)
        sim.update_many(tick.updates)
        matched = [a for a in sim.match_many(tick.matches) if a is not None]
        to_confirm.extend(matched)
        for agent in matched:
            talking.setdefault(t + 1 + rng.randint(1, 5), []).append(agent)
        ticks.append(tick)
    return ticks


def setup(impl: Any, world: World) -> tuple[Any, Any]:
    pool, alloc = impl.Pool(), impl.Allocator()
    for j, job in enumerate(world.job_ids):
        strategy = "longest_idle" if j % 2 == 0 else "skill_level"
        pool.set_job(job, strategy, world.skill_names[j % SKILLS], True)
        alloc.upsert_job(job, [world.skill_names[j % SKILLS]], 5, 150, j % 10, 120)
    pool.rebuild([world.pool_row(a) for a in range(len(world.agent_ids))])
    alloc.upsert_agents([world.alloc_row(a, True) for a in range(len(world.agent_ids))])
    alloc.plan()
    return pool, alloc


Run = tuple[float, float, list[list[str | None]]]  # total s, pool-only s, match answers


def run_rust(pool: Any, alloc: Any, ticks: list[Tick]) -> Run:
    results = []
    in_pool = 0.0
    perf = time.perf_counter
    gc.disable()
    t0 = perf()
    for tick in ticks:
        p0 = perf()
        pool.update_many(tick.updates)
        results.append(pool.match_many(tick.matches))
        in_pool += perf() - p0
        alloc.upsert_agents(tick.allocs)
        alloc.plan()
    elapsed = perf() - t0
    gc.enable()
    return elapsed, in_pool, results


def run_python(pool: Any, alloc: Any, ticks: list[Tick]) -> Run:
    results = []
    in_pool = 0.0
    perf = time.perf_counter
    t0 = perf()
    for tick in ticks:
        p0 = perf()
        for row in tick.updates:
            pool.update(*row)
        results.append([pool.match_call(j) for j in tick.matches])
        in_pool += perf() - p0
        for arow in tick.allocs:
            alloc.upsert_agent(*arow)
        alloc.plan()
    return perf() - t0, in_pool, results


def single_call_latency(pool: Any, world: World, samples: int) -> tuple[float, float]:
    """One `match_call` + one `update` (the agent goes Talking), timed from Python."""
    rng = random.Random(3)
    jobs = [world.job_ids[rng.randrange(JOBS)] for _ in range(samples)]
    times = []
    now = 10_000_000
    perf = time.perf_counter_ns
    gc.disable()
    for job in jobs:
        now += 1
        t0 = perf()
        agent = pool.match_call(job)
        if agent is not None:
            pool.update(agent, job, "Ready", "Talking", "JobAttached", True, now, None)
        t1 = perf()
        times.append(t1 - t0)
        if agent is not None:  # back to idle, untimed, so the pool does not drain
            pool.update(agent, job, "Ready", "Idle", "JobAttached", True, now, None)
    gc.enable()
    times.sort()
    return times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000


def rebuild_ms(world: World, repeats: int = 5) -> float:
    rows = [world.pool_row(a) for a in range(20_000)]
    pool = dispatcher_rs.Pool()
    for j, job in enumerate(world.job_ids):
        pool.set_job(
            job, "longest_idle" if j % 2 == 0 else "skill_level", world.skill_names[j % SKILLS]
        )
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        pool.rebuild(rows)
        best = min(best, time.perf_counter() - t0)
    assert len(pool) == 20_000
    return best * 1000


def row_cost_ns(pool: Any, world: World, ints: bool) -> float:
    """update_many cost per row, with state names or with state codes."""
    rng = random.Random(5)
    a_code = {s: i for i, s in enumerate(dispatcher_rs.AGENT_STATES)}
    c_code = {s: i for i, s in enumerate(dispatcher_rs.CALL_STATES)}
    j_code = {s: i for i, s in enumerate(dispatcher_rs.JOB_STATES)}
    rows: list[PoolRow] = []
    for i in range(200_000):
        a = rng.randrange(len(world.agent_ids))
        job = world.job_ids[world.agent_job[a]]
        st = rng.choice(CHANGES)
        if ints:
            rows.append(
                (
                    world.agent_ids[a],
                    job,
                    a_code[st[0]],
                    c_code[st[1]],
                    j_code[st[2]],
                    True,
                    i,
                    None,
                )
            )
        else:
            rows.append((world.agent_ids[a], job, *st, True, i, None))
    t0 = time.perf_counter()
    pool.update_many(rows)
    return (time.perf_counter() - t0) / len(rows) * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one compact JSON object")
    parser.add_argument("--ticks", type=int, default=1000, help="ticks of 1,000 ops for Rust")
    parser.add_argument("--python-ticks", type=int, default=10, help="ticks for the reference")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--latency-samples", type=int, default=200_000)
    parser.add_argument(
        "--state-names", action="store_true", help="pass states by name, not by code"
    )
    args = parser.parse_args()

    rng = random.Random(args.seed)
    world = make_world(rng)
    ticks = make_ticks(rng, world, args.ticks, codes=not args.state_names)
    ops = sum(len(t) for t in ticks)
    offered = {
        "match": sum(len(t.matches) for t in ticks),
        UPDATES: sum(len(t.updates) for t in ticks),
        "allocate (upsert_agent)": sum(len(t.allocs) for t in ticks),
        "plan": len(ticks),
    }

    pool, alloc = setup(dispatcher_rs, world)
    rust_s, rust_pool_s, rust_results = run_rust(pool, alloc, ticks)
    matched = sum(r is not None for tick in rust_results for r in tick)

    py_ticks = ticks[: args.python_ticks]
    py_ops = sum(len(t) for t in py_ticks)
    ref_pool, ref_alloc = setup(reference, world)
    py_s, py_pool_s, py_results = run_python(ref_pool, ref_alloc, py_ticks)
    agree = py_results == rust_results[: len(py_ticks)]

    lat_pool, _ = setup(dispatcher_rs, world)
    p50, p99 = single_call_latency(lat_pool, world, args.latency_samples)
    str_ns = row_cost_ns(lat_pool, world, ints=False)
    int_ns = row_cost_ns(lat_pool, world, ints=True)

    rust_ops = ops / rust_s
    python_ops = py_ops / py_s
    result = {
        "rust_ops_per_s": round(rust_ops),
        "python_ops_per_s": round(python_ops),
        "ratio": round(rust_ops / python_ops, 1),
        "single_call_p50_us": round(p50, 3),
        "single_call_p99_us": round(p99, 3),
        "rebuild_20k_ms": round(rebuild_ms(world), 2),
        "update_many_ns_per_row_state_names": round(str_ns),
        "update_many_ns_per_row_state_codes": round(int_ns),
        "pool_only": {
            "note": "the match and update ops alone (no allocator), same runs",
            "rust_ops_per_s": round((offered["match"] + offered[UPDATES]) / rust_pool_s),
            "python_ops_per_s": round(
                sum(len(t.matches) + len(t.updates) for t in py_ticks) / py_pool_s
            ),
        },
        "world": {"agents": AGENTS, "job_tasks": JOBS, "skills": SKILLS},
        "offered_mix": MIX,
        "states_passed_as": "names" if args.state_names else "codes",
        "offered_ops": offered,
        "rust": {"ops": ops, "seconds": round(rust_s, 3), "calls_matched": matched},
        "python": {
            "ops": py_ops,
            "seconds": round(py_s, 3),
            "note": f"reference ran the first {len(py_ticks)} of {len(ticks)} ticks "
            "(per-operation calls); ops/s extrapolated from that sample",
            "answers_equal_to_rust": agree,
        },
        "single_call": "match_call + update(agent goes Talking), perf_counter_ns, "
        f"{args.latency_samples} samples",
        "python_version": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
