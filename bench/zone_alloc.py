"""Zone allocation cost per command: the former Python allocation against the Rust allocator.

World (seeded): --agents agents (default 5,000) with 3 of 6 skills at levels 1-10, --jobs
running job-tasks (default 20) needing 1-2 skills, min 20-100, max 150-400, licences 100-300,
priority 1-10; their capacities leave about a fifth of the agents free. A zone is loaded
(takeover) with every agent Ready, Idle, JobDetached and its first command allocates the world
(timed apart); the other zones load the records it left (with --from-scratch, each zone
allocates the world itself: minutes in Python). Then the same seeded command sequence runs on
each zone: cycles of NotReady,
Logout, Login, Ready for a random agent (each frees or takes a licence, and every command
runs allocation), and every 25 cycles a re-sent JobStarted changing one job's licences.

Zones compared, each timing what allocation costs inside `Zone.handle` (allocating and
keeping the allocator's indexes in step; machine steps of the moves included):

* ``python_before``: the zone's allocation before it used the dispatcher (kept here only as
  the baseline): a set of free agents, sorted by idle time on every command, and a scan of
  the jobs' agents for a donor;
* ``rust``: the zone as it is, `dispatcher_rs.Allocator` kept in step incrementally;
* ``python_reference``: the zone with the pure-Python reference allocator
  (dispatcher_rs/reference.py, a full recompute per plan), on the first --reference-cycles
  cycles only; its records must equal the Rust zone's there (same rule).

Usage: python bench/zone_alloc.py [--json] [--agents N] [--jobs J] [--cycles C]
       [--reference-cycles R] [--seed S] [--from-scratch]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dispatcher_rs
from dispatcher_rs import reference
from pam_protocol import messages as m
from pam_protocol.states import AgentState, CallState, JobState
from pam_service.domain import machine as sm
from pam_service.domain.zone import FREE_JOB_STATES, Result, Zone

A, C, J = AgentState, CallState, JobState
SKILLS = [f"s{i}" for i in range(6)]
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


class Timed(Zone):
    """A zone that adds up the time spent allocating (outermost calls only)."""

    spent = 0.0
    _inside = False

    def _timed(self, fn: Any, *args: Any) -> None:
        if self._inside:
            fn(*args)
            return
        self._inside = True
        t = time.perf_counter()
        try:
            fn(*args)
        finally:
            self.spent += time.perf_counter() - t
            self._inside = False

    def _allocate(self, res: Result, ctx: sm.Context) -> None:
        self._timed(super()._allocate, res, ctx)

    def _sync_agent(self, a: m.Agent) -> None:
        self._timed(super()._sync_agent, a)

    def _sync_job(self, j: m.JobTask) -> None:
        self._timed(super()._sync_job, j)


class LegacyZone(Timed):
    """The zone's allocation as it was before it used `dispatcher_rs.Allocator`."""

    free: set[str]

    def load(self, agents: Any, jobs: Any, calls: dict[str, str]) -> None:
        self.free = set()
        super().load(agents, jobs, calls)
        for a in self.agents.values():
            self._track(a)

    def _sync_agent(self, a: m.Agent) -> None:
        self._timed(self._track, a)

    def _sync_job(self, j: m.JobTask) -> None:
        pass

    def _track(self, a: m.Agent) -> None:
        if (a.agent_state is A.READY and a.call_state is C.IDLE
                and a.job_state in FREE_JOB_STATES):
            self.free.add(a.agent_id)
        else:
            self.free.discard(a.agent_id)

    def _allocate(self, res: Result, ctx: sm.Context) -> None:
        self._timed(self._legacy_allocate, res, ctx)

    def _legacy_allocate(self, res: Result, ctx: sm.Context) -> None:
        for _ in range(10_000):
            move = self._next_move()
            if move is None:
                return
            for inp in move:
                out = self._step(res, inp, ctx)
                if not out.accepted:
                    raise AssertionError(f"allocation step refused: {out.reply}")

    def _eligible(self, a: m.Agent, job: m.JobTask) -> bool:
        have = {s.name for s in a.skills}
        return set(job.required_skills) <= have

    def _job_order(self) -> list[m.JobTask]:
        running = [j for j in self.jobs.values() if j.status == "running"]
        return sorted(running, key=lambda j: (len(j.assigned) >= j.min_agents, -j.priority,
                                              j.job_id, j.action_name))

    def _next_move(self) -> list[sm.Input] | None:
        if not self.jobs:
            return None
        order = self._job_order()
        free = sorted((self.agents[aid] for aid in self.free),
                      key=lambda a: (a.since.timestamp(), a.agent_id))
        for job in order:
            if len(job.assigned) >= job.capacity:
                continue
            for a in free:
                if self._eligible(a, job):
                    return [sm.AttachToJob(agent_id=a.agent_id, job_id=job.job_id)]
        for job in order:
            if len(job.assigned) >= job.min_agents or len(job.assigned) >= job.capacity:
                continue
            donor = self._donor_for(job)
            if donor is not None:
                a, from_job = donor
                return [sm.DetachFromJob(agent_id=a.agent_id, job_id=from_job.job_id,
                                         reason="donated to another job"),
                        sm.AttachToJob(agent_id=a.agent_id, job_id=job.job_id,
                                       reason="donated")]
        return None

    def _donor_for(self, job: m.JobTask) -> tuple[m.Agent, m.JobTask] | None:
        best: tuple[tuple[int, str], m.Agent, m.JobTask] | None = None
        for other in self.jobs.values():
            if (other.status != "running" or other.priority >= job.priority
                    or len(other.assigned) <= other.min_agents):
                continue
            for aid in other.assigned:
                a = self.agents.get(aid)
                if (a is None or a.call_state is not C.IDLE or a.agent_state is not A.READY
                        or a.job_state not in (J.JOB_ATTACHED, J.PENDING_JOB_ATTACH)
                        or not self._eligible(a, job)):
                    continue
                level = sum(s.level for s in a.skills if s.name in job.required_skills)
                key = (level, a.agent_id)
                if best is None or key < best[0]:
                    best = (key, a, other)
        return None if best is None else (best[1], best[2])


def make_world(rng: random.Random, agents: int, jobs: int) -> tuple[
        list[m.Agent], list[m.JobTask], dict[str, list[m.Skill]]]:
    skills: dict[str, list[m.Skill]] = {}
    records = []
    for i in range(agents):
        aid = f"a{i:05d}"
        skills[aid] = [m.Skill(name=s, level=rng.randint(1, 10))
                       for s in sorted(rng.sample(SKILLS, 3))]
        records.append(m.Agent(agent_id=aid, zone="z1", agent_state=A.READY,
                               call_state=C.IDLE, job_state=J.JOB_DETACHED, version=1,
                               since=T0 + timedelta(milliseconds=rng.randint(0, 10**6)),
                               skills=tuple(skills[aid]), extension=f"x{i}"))
    tasks = [job_started(rng, k).job for k in range(jobs)]
    return records, tasks, skills


class _Started:
    def __init__(self, cmd: m.JobStarted) -> None:
        self.cmd = cmd
        self.job = sm.job_from(cmd)


def job_started(rng: random.Random, k: int, licenses: int | None = None) -> _Started:
    lo = rng.randint(20, 100)
    return _Started(m.JobStarted(
        job_id=f"job{k:02d}", action_name="main", zone="z1", campaign_type="progressive",
        required_skills=sorted(rng.sample(SKILLS, rng.randint(1, 2))), min_agents=lo,
        max_agents=rng.randint(150, 400), priority=rng.randint(1, 10),
        licenses=licenses if licenses is not None else rng.randint(100, 300),
        completion_codes=[], default_completion_code="Done", wrapup_seconds=30,
        wrapup_extensions=0))


def make_commands(rng: random.Random, cycles: int, jobs: list[m.JobTask],
                  skills: dict[str, list[m.Skill]]) -> list[m.Command]:
    ids = sorted(skills)
    cmds: list[m.Command] = []
    for c in range(cycles):
        aid = rng.choice(ids)
        cmds += [m.NotReady(agent_id=aid, reason_code=1), m.Logout(agent_id=aid),
                 m.Login(agent_id=aid, zone="z1", extension="x", skills=skills[aid],
                         time_zone="UTC", locale="en_US"),
                 m.Ready(agent_id=aid)]
        if c % 25 == 24:
            j = rng.choice(jobs)
            cmds.append(m.JobStarted(
                job_id=j.job_id, action_name=j.action_name, zone="z1",
                campaign_type=j.campaign_type, required_skills=list(j.required_skills),
                min_agents=j.min_agents, max_agents=j.max_agents, priority=j.priority,
                licenses=max(0, j.licenses + rng.randint(-20, 20)), completion_codes=[],
                default_completion_code="Done", wrapup_seconds=30, wrapup_extensions=0))
    return cmds


def run(zone: Timed, agents: Any, jobs: Any, cmds: list[m.Command]) -> dict[str, Any]:
    zone.load(list(agents), list(jobs), {})
    now = T0 + timedelta(hours=1)
    first = m.GetAgentStatus(agent_id=agents[0].agent_id)
    t = time.perf_counter()
    zone.handle(first, sm.Context(zone="z1", now=now))  # allocates the world
    initial = time.perf_counter() - t
    zone.spent = 0.0
    gc.collect()
    gc.disable()
    t = time.perf_counter()
    for cmd in cmds:
        now += timedelta(milliseconds=10)
        res = zone.handle(cmd, sm.Context(zone="z1", now=now))
        assert isinstance(res.reply, m.Accepted), (cmd, res.reply)
    total = time.perf_counter() - t
    gc.enable()
    n = max(1, len(cmds))
    return {
        "commands": n,
        "allocation_us_per_command": round(zone.spent / n * 1e6, 1),
        "handle_us_per_command": round(total / n * 1e6, 1),
        "first_command_ms": round(initial * 1e3, 1),
        "agents_attached": sum(len(j.assigned) for j in zone.jobs.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one compact JSON object")
    parser.add_argument("--agents", type=int, default=5_000)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=1_000, help="4 commands each")
    parser.add_argument("--reference-cycles", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--from-scratch", action="store_true",
                        help="each zone allocates the world itself (slow in Python)")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    agents, jobs, skills = make_world(rng, args.agents, args.jobs)
    cmds = make_commands(rng, args.cycles, jobs, skills)
    start = Timed("z1", None, dispatcher_rs.Allocator)
    world_ms = run(start, agents, jobs, [])["first_command_ms"]  # allocates the world
    if not args.from_scratch:
        agents, jobs = list(start.agents.values()), list(start.jobs.values())
    before = run(LegacyZone("z1", None, dispatcher_rs.Allocator), agents, jobs, cmds)
    after = run(Timed("z1", None, dispatcher_rs.Allocator), agents, jobs, cmds)
    ref_cmds = make_commands(random.Random(args.seed + 1), args.reference_cycles, jobs, skills)
    rust_sample = Timed("z1", None, dispatcher_rs.Allocator)
    run(rust_sample, agents, jobs, ref_cmds)
    ref_zone = Timed("z1", None, reference.Allocator)
    ref = run(ref_zone, agents, jobs, ref_cmds)
    ref["records_equal_to_rust"] = (ref_zone.agents == rust_sample.agents
                                    and ref_zone.jobs == rust_sample.jobs)
    result = {
        "ratio_allocation_before_over_after": round(
            before["allocation_us_per_command"] / after["allocation_us_per_command"], 1),
        "ratio_handle_before_over_after": round(
            before["handle_us_per_command"] / after["handle_us_per_command"], 1),
        "python_before": before,
        "rust": after,
        "python_reference": ref,
        "world": {"agents": args.agents, "job_tasks": args.jobs, "skills": len(SKILLS),
                  "seed": args.seed, "from_scratch": args.from_scratch,
                  "rust_allocates_the_world_ms": world_ms},
        "workload": "cycles of NotReady, Logout, Login, Ready of a random agent; every 25 "
                    "cycles a re-sent JobStarted changing one job's licences",
        "python_version": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
