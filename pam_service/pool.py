"""The available-agent pool the service uses: the Rust dispatcher (``dispatcher_rs``).

The zone proposes through the pool and confirms through the state machine: the pool
only ever narrows the choice, the agent's record decides (docs/dispatcher.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import dispatcher_rs
from pam_protocol.messages import Agent, JobTask, Skill
from pam_service.domain.zone import Allocator, Pool

# State codes: the index of each wire name in the crate's tables (cheaper over FFI).
_A = {s: i for i, s in enumerate(dispatcher_rs.AGENT_STATES)}
_C = {s: i for i, s in enumerate(dispatcher_rs.CALL_STATES)}
_J = {s: i for i, s in enumerate(dispatcher_rs.JOB_STATES)}


class RustPool:
    """:class:`pam_service.domain.zone.Pool` over ``dispatcher_rs.Pool``."""

    def __init__(self) -> None:
        self.pool = dispatcher_rs.Pool()
        self.jobs: dict[str, tuple[str, str | None]] = {}
        self.skills: dict[tuple[Skill, ...], dict[str, int]] = {}

    def _job(self, job: JobTask) -> None:
        spec = (job.strategy, job.required_skills[0] if job.required_skills else None)
        if self.jobs.get(job.job_id) != spec:
            self.pool.set_job(job.job_id, spec[0], spec[1], True)
            self.jobs[job.job_id] = spec

    def sync(self, agent: Agent, job: JobTask | None) -> None:
        self.pool.update(*self._row(agent, job))

    def load(self, agents: Iterable[Agent], jobs: Mapping[str, JobTask]) -> None:
        # A takeover: one FFI call for the whole zone (row by row cost twice as much).
        self.clear()
        self.pool.rebuild([self._row(a, jobs.get(a.job_id) if a.job_id else None)
                           for a in agents])

    def _row(self, agent: Agent, job: JobTask | None) -> tuple[Any, ...]:
        running = job is not None and job.status == "running"
        if job is not None and running:
            self._job(job)
        skills = self.skills.get(agent.skills)
        if skills is None:  # agents share a few skill sets: one dict each
            if len(self.skills) >= 4096:
                self.skills.clear()
            skills = self.skills[agent.skills] = {s.name: s.level for s in agent.skills}
        return (agent.agent_id, job.job_id if job is not None and running else None,
                # The states are StrEnums: a member finds its name's code (no ``.value``).
                _A[agent.agent_state], _C[agent.call_state], _J[agent.job_state],
                agent.nailed, int(agent.since.timestamp() * 1000), skills)

    def match(self, job: JobTask) -> str | None:
        if job.job_id not in self.jobs:
            return None
        return self.pool.match_call(job.job_id)

    def clear(self) -> None:
        self.pool = dispatcher_rs.Pool()
        self.jobs.clear()


def default_pool_factory() -> Callable[[], Pool]:
    return RustPool


def default_allocator_factory() -> Callable[[], Allocator]:
    return dispatcher_rs.Allocator
