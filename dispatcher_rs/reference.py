"""A pure-Python reference of `dispatcher_rs.Pool` and `dispatcher_rs.Allocator`.

Simple, obviously-correct code: no index is kept that could drift, every choice is a `min`
or a `sorted` over the candidates at the time it is made. The equivalence tests drive the
same random operations through this and through the Rust module and require identical answers;
`bench/dispatcher.py` uses it as the baseline.

The rules are those of docs/dispatcher.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dispatcher_rs._move import Move

AGENT_STATES = (
    "Ready",
    "NotReady",
    "PendingNotReady",
    "Logout",
    "PendingLogout",
    "Busy",
    "WorkNotReady",
    "Unknown",
)
CALL_STATES = (
    "Idle",
    "Preview",
    "Callback",
    "Dialing",
    "Talking",
    "Hold",
    "Consult",
    "ConferenceOwner",
    "ConferencePassive",
    "Wrapup",
)
JOB_STATES = (
    "JobAttached",
    "JobDetached",
    "JobEnd",
    "JobInbound",
    "PendingInbound",
    "PendingOutbound",
    "PendingManualInbound",
    "PendingManualJobMovement",
    "PendingJobAttach",
)
STRATEGIES = ("longest_idle", "skill_level")
I64_MAX = 2**63 - 1

PoolRow = tuple[str, str | None, str | int, str | int, str | int, bool, int, dict[str, int] | None]
AllocatorRow = tuple[str, dict[str, int], bool, str | None]


def _state(kind: str, names: tuple[str, ...], value: str | int) -> str:
    if isinstance(value, str):
        if value in names:
            return value
        raise ValueError(f"unknown {kind} {value!r}")
    if 0 <= value < len(names):
        return names[value]
    raise ValueError(f"unknown {kind} {value}")


def is_available_state(
    agent_state: str | int,
    call_state: str | int,
    job_state: str | int,
    nailed: bool,
    needs_nailing: bool = True,
) -> bool:
    """The availability rule: Ready, Idle, JobAttached, and nailed if the job needs it."""
    return (
        _state("agent_state", AGENT_STATES, agent_state) == "Ready"
        and _state("call_state", CALL_STATES, call_state) == "Idle"
        and _state("job_state", JOB_STATES, job_state) == "JobAttached"
        and (nailed or not needs_nailing)
    )


@dataclass
class _JobConfig:
    strategy: str
    match_skill: str | None
    needs_nailing: bool


@dataclass
class _PoolAgent:
    job_task: str | None
    agent_state: str
    call_state: str
    job_state: str
    nailed: bool
    idle_since_ms: int
    skills: dict[str, int]
    reserved: bool = False


class Pool:
    """Reference pool: a match takes the min over the job-task's attached agents."""

    def __init__(self) -> None:
        self._jobs: dict[str, _JobConfig] = {}
        self._agents: dict[str, _PoolAgent] = {}
        self._members: dict[str, set[str]] = {}

    def set_job(
        self,
        job_task: str,
        strategy: str = "longest_idle",
        match_skill: str | None = None,
        needs_nailing: bool = True,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}")
        if strategy == "skill_level" and match_skill is None:
            raise ValueError(f"job-task {job_task!r}: strategy 'skill_level' needs a match_skill")
        self._jobs[job_task] = _JobConfig(strategy, match_skill, needs_nailing)

    def remove_job(self, job_task: str) -> None:
        self._jobs.pop(job_task, None)

    def has_job(self, job_task: str) -> bool:
        return job_task in self._jobs

    def _available(self, agent: _PoolAgent) -> bool:
        if agent.reserved or agent.job_task is None or agent.job_task not in self._jobs:
            return False
        job = self._jobs[agent.job_task]
        return is_available_state(
            agent.agent_state, agent.call_state, agent.job_state, agent.nailed, job.needs_nailing
        )

    def update(
        self,
        agent_id: str,
        job_task: str | None,
        agent_state: str | int,
        call_state: str | int,
        job_state: str | int,
        nailed: bool,
        idle_since_ms: int,
        skills: dict[str, int] | None = None,
    ) -> bool:
        states = (
            _state("agent_state", AGENT_STATES, agent_state),
            _state("call_state", CALL_STATES, call_state),
            _state("job_state", JOB_STATES, job_state),
        )
        old = self._agents.get(agent_id)
        if old is not None and old.job_task is not None:
            self._members[old.job_task].discard(agent_id)
        if skills is None:
            skills = old.skills if old is not None else {}
        agent = _PoolAgent(job_task, *states, nailed, idle_since_ms, dict(skills))
        self._agents[agent_id] = agent
        if job_task is not None:
            self._members.setdefault(job_task, set()).add(agent_id)
        return self._available(agent)

    def update_many(self, rows: Iterable[PoolRow]) -> int:
        for row in rows:
            self.update(*row)
        return len(self)

    def rebuild(self, rows: Iterable[PoolRow]) -> None:
        fresh = Pool()
        fresh._jobs = dict(self._jobs)
        fresh.update_many(rows)
        self._agents, self._members = fresh._agents, fresh._members

    def remove(self, agent_id: str) -> None:
        agent = self._agents.pop(agent_id, None)
        if agent is not None and agent.job_task is not None:
            self._members[agent.job_task].discard(agent_id)

    def _key(self, agent_id: str) -> tuple[int, int, str]:
        agent = self._agents[agent_id]
        assert agent.job_task is not None
        job = self._jobs[agent.job_task]
        rank = 0
        if job.strategy == "skill_level":
            assert job.match_skill is not None
            level = agent.skills.get(job.match_skill)
            rank = I64_MAX if level is None else -level
        return (rank, agent.idle_since_ms, agent_id)

    def _candidates(self, job_task: str) -> list[str]:
        members = self._members.get(job_task, set())
        return [a for a in members if self._available(self._agents[a])]

    def match_call(self, job_task: str) -> str | None:
        candidates = self._candidates(job_task)
        if not candidates:
            return None
        chosen = min(candidates, key=self._key)
        self._agents[chosen].reserved = True
        return chosen

    def match_many(self, job_tasks: Iterable[str]) -> list[str | None]:
        return [self.match_call(j) for j in job_tasks]

    def is_available(self, agent_id: str) -> bool:
        agent = self._agents.get(agent_id)
        return agent is not None and self._available(agent)

    def available(self, job_task: str) -> int:
        return len(self._candidates(job_task))

    def agent_count(self) -> int:
        return len(self._agents)

    def __len__(self) -> int:
        return sum(1 for a in self._agents.values() if self._available(a))


@dataclass
class _AllocAgent:
    skills: dict[str, int]
    idle: bool
    job_task: str | None


@dataclass
class _Job:
    required: frozenset[str]
    min_agents: int
    max_agents: int
    priority: int
    licenses: int

    @property
    def cap(self) -> int:
        return min(self.max_agents, self.licenses)

    @property
    def target(self) -> int:
        return min(self.min_agents, self.cap)


@dataclass
class Allocator:
    """Reference allocator: `plan()` recomputes everything from the agents and jobs."""

    _agents: dict[str, _AllocAgent] = field(default_factory=dict)
    _jobs: dict[str, _Job] = field(default_factory=dict)
    _pending: list[Move] = field(default_factory=list)

    def upsert_agent(
        self, agent_id: str, skills: dict[str, int], idle: bool, job_task: str | None = None
    ) -> None:
        self._agents[agent_id] = _AllocAgent(dict(skills), idle, job_task)

    def upsert_agents(self, rows: Iterable[AllocatorRow]) -> None:
        for row in rows:
            self.upsert_agent(*row)

    def remove_agent(self, agent_id: str) -> None:
        self._agents.pop(agent_id, None)

    def upsert_job(
        self,
        job_task: str,
        required_skills: Iterable[str],
        min_agents: int,
        max_agents: int,
        priority: int,
        licenses: int,
    ) -> None:
        if isinstance(required_skills, str):
            raise ValueError("required_skills must be a collection of names, not a str")
        required = frozenset(required_skills)
        for name, value in (
            ("min_agents", min_agents),
            ("max_agents", max_agents),
            ("licenses", licenses),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self._jobs[job_task] = _Job(required, min_agents, max_agents, priority, licenses)

    def remove_job(self, job_task: str) -> None:
        if self._jobs.pop(job_task, None) is None:
            return
        for agent_id in sorted(self._agents):
            agent = self._agents[agent_id]
            if agent.job_task == job_task:
                self._pending.append(Move("detach", agent_id, job_task, "job_removed"))
                agent.job_task = None

    def _qualifies(self, agent_id: str, job_task: str) -> bool:
        return self._jobs[job_task].required <= self._agents[agent_id].skills.keys()

    def _proficiency(self, agent_id: str, job_task: str) -> int:
        skills = self._agents[agent_id].skills
        return sum(skills[s] for s in self._jobs[job_task].required)

    def plan(self) -> list[Move]:
        out, self._pending = self._pending, []
        agents, jobs = self._agents, self._jobs
        on: dict[str, set[str]] = {j: set() for j in jobs}
        free: set[str] = set()  # idle agents on no job
        for agent_id, agent in agents.items():
            if agent.job_task in on:
                on[agent.job_task].add(agent_id)
            elif agent.job_task is None and agent.idle:
                free.add(agent_id)

        def best_free(j: str) -> str | None:
            found = [a for a in free if self._qualifies(a, j)]
            return min(found, key=lambda a: (-self._proficiency(a, j), a)) if found else None

        def attach(a: str, j: str, reason: str) -> None:
            agents[a].job_task = j
            free.discard(a)
            on[j].add(a)
            out.append(Move("attach", a, j, reason))

        def detach(a: str, reason: str) -> None:
            j = agents[a].job_task
            assert j is not None
            agents[a].job_task = None
            on[j].discard(a)
            if agents[a].idle:
                free.add(a)
            out.append(Move("detach", a, j, reason))

        order = sorted(jobs, key=lambda j: (-jobs[j].priority, j))
        # 1. skills lost
        lost = sorted(
            (j, a) for j in jobs for a in on[j] if agents[a].idle and not self._qualifies(a, j)
        )
        for _, a in lost:
            detach(a, "skills_lost")
        # 2. over the cap
        for j in order:
            idle = sorted((self._proficiency(a, j), a) for a in on[j] if agents[a].idle)
            for _, a in idle:
                if len(on[j]) <= jobs[j].cap:
                    break
                detach(a, "over_max")
        # 3 and 4 until nothing moves
        while True:
            before = len(out)
            for j in [j for j in order if len(on[j]) < jobs[j].target]:
                while len(on[j]) < jobs[j].target:
                    chosen = best_free(j)
                    if chosen is not None:
                        attach(chosen, j, "fill_min")
                        continue
                    donors = [
                        (self._proficiency(a, j), a)
                        for d in jobs
                        if jobs[d].priority < jobs[j].priority and len(on[d]) > jobs[d].min_agents
                        for a in on[d]
                        if agents[a].idle and self._qualifies(a, j)
                    ]
                    if not donors:
                        break
                    _, a = min(donors)
                    detach(a, "donate")
                    attach(a, j, "donate")
            for j in [j for j in order if len(on[j]) < jobs[j].cap]:
                while len(on[j]) < jobs[j].cap:
                    chosen = best_free(j)
                    if chosen is None:
                        break
                    attach(chosen, j, "priority")
            if len(out) == before:
                break
        return out

    def job_agents(self, job_task: str) -> int:
        if job_task not in self._jobs:
            return 0
        return sum(1 for a in self._agents.values() if a.job_task == job_task)

    def agent_job(self, agent_id: str) -> str | None:
        agent = self._agents.get(agent_id)
        return None if agent is None else agent.job_task

    def __len__(self) -> int:
        return len(self._agents)
