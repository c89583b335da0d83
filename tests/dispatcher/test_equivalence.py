"""Random operation sequences through the Rust dispatcher and the Python reference must agree.

Hypothesis state machines drive both implementations with the same operations (small id and
skill universes so that collisions, ties and edge cases are frequent) and compare every
answer and, after each step, every observable.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import dispatcher_rs
from dispatcher_rs import reference

AGENTS = [f"a{i}" for i in range(8)]
JOBS = ["j0", "j1", "j2"]  # the pool defines all but the last up front
SKILLS = ["s0", "s1", "s2"]

SETTINGS = settings(
    max_examples=250,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

agent_ids = st.sampled_from(AGENTS)
job_tasks = st.sampled_from(JOBS)
opt_job_tasks = st.one_of(st.none(), job_tasks)
levels = st.integers(min_value=-2, max_value=5)
skill_dicts = st.dictionaries(st.sampled_from(SKILLS), levels, max_size=3)


def _state_values(names: tuple[str, ...], common: str) -> st.SearchStrategy[str | int]:
    """Mostly the one value that makes an agent available, so that matches have a choice."""
    rare: st.SearchStrategy[str | int] = st.one_of(
        st.sampled_from(names),
        st.integers(min_value=0, max_value=len(names) - 1),
        st.sampled_from(["bogus", "ready", len(names)]),
    )
    usual: st.SearchStrategy[str | int] = st.just(common)
    return st.sampled_from([True] * 9 + [False]).flatmap(lambda u: usual if u else rare)


agent_states = _state_values(reference.AGENT_STATES, "Ready")
call_states = _state_values(reference.CALL_STATES, "Idle")
job_states = _state_values(reference.JOB_STATES, "JobAttached")

pool_rows = st.tuples(
    agent_ids,
    st.sampled_from(["j0", "j0", "j1", "j1", "j2", None]),
    agent_states,
    call_states,
    job_states,
    st.sampled_from([True, True, True, False]),
    st.integers(min_value=0, max_value=6),
    st.one_of(st.none(), skill_dicts),
)


def same_outcome(rust: Any, ref: Any, method: str, *args: Any) -> Any:
    """Calls `method` on both; they must return equal values or raise the same exception type."""
    try:
        expected = getattr(ref, method)(*args)
    except (ValueError, TypeError) as exc:
        with pytest.raises(type(exc)):
            getattr(rust, method)(*args)
        return None
    got = getattr(rust, method)(*args)
    assert got == expected, f"{method}{args}: rust {got!r} != reference {expected!r}"
    return got


job_configs = st.tuples(
    st.sampled_from(["longest_idle", "skill_level"]),
    st.sampled_from(SKILLS),
    st.booleans(),
)


class PoolMachine(RuleBasedStateMachine):
    @initialize(
        configs=st.lists(job_configs, min_size=len(JOBS), max_size=len(JOBS)),
        rows=st.lists(pool_rows, min_size=4, max_size=16),
    )
    def start(self, configs: list[tuple[str, str, bool]], rows: list[reference.PoolRow]) -> None:
        self.rust = dispatcher_rs.Pool()
        self.ref = reference.Pool()
        for job, (strategy, skill, nailing) in zip(JOBS[:-1], configs, strict=False):
            same_outcome(self.rust, self.ref, "set_job", job, strategy, skill, nailing)
        same_outcome(self.rust, self.ref, "rebuild", rows)

    @rule(
        job=job_tasks,
        strategy=st.sampled_from(["longest_idle", "skill_level", "skill_level", "bogus"]),
        match_skill=st.one_of(st.none(), st.sampled_from(SKILLS)),
        needs_nailing=st.booleans(),
    )
    def set_job(
        self, job: str, strategy: str, match_skill: str | None, needs_nailing: bool
    ) -> None:
        same_outcome(self.rust, self.ref, "set_job", job, strategy, match_skill, needs_nailing)

    @rule(job=job_tasks)
    def remove_job(self, job: str) -> None:
        same_outcome(self.rust, self.ref, "remove_job", job)

    @rule(row=pool_rows)
    def update(self, row: reference.PoolRow) -> None:
        same_outcome(self.rust, self.ref, "update", *row)

    @rule(row=pool_rows)
    def update_again(self, row: reference.PoolRow) -> None:
        same_outcome(self.rust, self.ref, "update", *row)

    @rule(rows=st.lists(pool_rows, max_size=6))
    def update_many(self, rows: list[reference.PoolRow]) -> None:
        same_outcome(self.rust, self.ref, "update_many", rows)

    @rule(rows=st.lists(pool_rows, max_size=8))
    def rebuild(self, rows: list[reference.PoolRow]) -> None:
        same_outcome(self.rust, self.ref, "rebuild", rows)

    @rule(agent=agent_ids)
    def remove(self, agent: str) -> None:
        same_outcome(self.rust, self.ref, "remove", agent)

    @rule(job=st.one_of(job_tasks, st.just("unknown")))
    def match_call(self, job: str) -> None:
        same_outcome(self.rust, self.ref, "match_call", job)

    @rule(job=job_tasks)
    def match_then_release(self, job: str) -> None:
        """The service's round trip: match, then report the agent's real state."""
        agent = same_outcome(self.rust, self.ref, "match_call", job)
        if agent is not None:
            idle_since = len(self.ref) % 7
            row = (agent, job, "Ready", "Idle", "JobAttached", True, idle_since, None)
            same_outcome(self.rust, self.ref, "update", *row)

    @rule(jobs=st.lists(job_tasks, max_size=6))
    def match_many(self, jobs: list[str]) -> None:
        same_outcome(self.rust, self.ref, "match_many", jobs)

    @invariant()
    def observables_agree(self) -> None:
        assert len(self.rust) == len(self.ref)
        assert self.rust.agent_count() == self.ref.agent_count()
        for a in AGENTS:
            assert self.rust.is_available(a) == self.ref.is_available(a), a
        for j in JOBS:
            assert self.rust.available(j) == self.ref.available(j), j
            assert self.rust.has_job(j) == self.ref.has_job(j), j


job_specs = st.tuples(
    st.lists(st.sampled_from(SKILLS), max_size=2),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=-1, max_value=5),
    st.integers(min_value=-1, max_value=3),
    st.integers(min_value=0, max_value=5),
)
allocator_rows = st.tuples(
    agent_ids, skill_dicts, st.sampled_from([True, True, True, False]), opt_job_tasks
)


class AllocatorMachine(RuleBasedStateMachine):
    @initialize(
        specs=st.lists(job_specs, min_size=len(JOBS), max_size=len(JOBS)),
        rows=st.lists(allocator_rows, min_size=3, max_size=10),
    )
    def start(
        self, specs: list[tuple[list[str], int, int, int, int]], rows: list[reference.AllocatorRow]
    ) -> None:
        self.rust = dispatcher_rs.Allocator()
        self.ref = reference.Allocator()
        for job, spec in zip(JOBS[:-1], specs, strict=False):
            same_outcome(self.rust, self.ref, "upsert_job", job, *spec)
        same_outcome(self.rust, self.ref, "upsert_agents", rows)

    @rule(row=allocator_rows)
    def upsert_agent(self, row: reference.AllocatorRow) -> None:
        same_outcome(self.rust, self.ref, "upsert_agent", *row)

    @rule(agent=agent_ids, idle=st.booleans())
    def agent_goes_idle_or_busy(self, agent: str, idle: bool) -> None:
        """Keeps the agent's skills and job-task (as the model has it), flips idle/busy."""
        job = self.ref.agent_job(agent)
        skills = self.ref._agents[agent].skills if agent in self.ref._agents else {"s0": 1}
        same_outcome(self.rust, self.ref, "upsert_agent", agent, skills, idle, job)

    @rule(rows=st.lists(allocator_rows, max_size=5))
    def upsert_agents(self, rows: list[reference.AllocatorRow]) -> None:
        same_outcome(self.rust, self.ref, "upsert_agents", rows)

    @rule(agent=agent_ids)
    def remove_agent(self, agent: str) -> None:
        same_outcome(self.rust, self.ref, "remove_agent", agent)

    @rule(
        job=job_tasks,
        required=st.lists(st.sampled_from(SKILLS), max_size=2),
        min_agents=st.integers(min_value=0, max_value=3),
        max_agents=st.integers(min_value=-1, max_value=5),
        priority=st.integers(min_value=-1, max_value=3),
        licenses=st.integers(min_value=0, max_value=5),
    )
    def upsert_job(
        self,
        job: str,
        required: list[str],
        min_agents: int,
        max_agents: int,
        priority: int,
        licenses: int,
    ) -> None:
        same_outcome(
            self.rust,
            self.ref,
            "upsert_job",
            job,
            required,
            min_agents,
            max_agents,
            priority,
            licenses,
        )

    @rule(job=job_tasks)
    def remove_job(self, job: str) -> None:
        same_outcome(self.rust, self.ref, "remove_job", job)

    @rule()
    def plan(self) -> None:
        same_outcome(self.rust, self.ref, "plan")

    @rule()
    def plan_again(self) -> None:
        same_outcome(self.rust, self.ref, "plan")

    @rule()
    def plan_twice_second_is_empty(self) -> None:
        same_outcome(self.rust, self.ref, "plan")
        assert self.rust.plan() == self.ref.plan() == []

    @invariant()
    def observables_agree(self) -> None:
        assert len(self.rust) == len(self.ref)
        for a in AGENTS:
            assert self.rust.agent_job(a) == self.ref.agent_job(a), a
        for j in JOBS:
            assert self.rust.job_agents(j) == self.ref.job_agents(j), j


TestPoolEquivalence = PoolMachine.TestCase
TestPoolEquivalence.settings = SETTINGS
TestAllocatorEquivalence = AllocatorMachine.TestCase
TestAllocatorEquivalence.settings = SETTINGS
