"""The available-agent pool the service uses: the Rust dispatcher (``dispatcher_rs``).

The zone proposes through the pool and confirms through the state machine: the pool
only ever narrows the choice, the agent's record decides (docs/dispatcher.md).
"""

from __future__ import annotations

from collections.abc import Callable

import dispatcher_rs
from pam_service.domain.zone import Pool
from pam_service.messages import Agent, JobTask

# State codes: the index of each wire name in the crate's tables (cheaper over FFI).
_A = {s: i for i, s in enumerate(dispatcher_rs.AGENT_STATES)}
_C = {s: i for i, s in enumerate(dispatcher_rs.CALL_STATES)}
_J = {s: i for i, s in enumerate(dispatcher_rs.JOB_STATES)}


class RustPool:
    """:class:`pam_service.domain.zone.Pool` over ``dispatcher_rs.Pool``."""

    def __init__(self) -> None:
        self.pool = dispatcher_rs.Pool()
        self.jobs: dict[str, tuple[str, str | None]] = {}

    def _job(self, job: JobTask) -> None:
        spec = (job.strategy, job.required_skills[0] if job.required_skills else None)
        if self.jobs.get(job.job_id) != spec:
            self.pool.set_job(job.job_id, spec[0], spec[1], True)
            self.jobs[job.job_id] = spec

    def sync(self, agent: Agent, job: JobTask | None) -> None:
        running = job is not None and job.status == "running"
        if job is not None and running:
            self._job(job)
        self.pool.update(
            agent.agent_id, job.job_id if job is not None and running else None,
            # The states are StrEnums: a member finds its name's code (no ``.value`` call).
            _A[agent.agent_state], _C[agent.call_state], _J[agent.job_state],
            agent.nailed, int(agent.since.timestamp() * 1000),
            {s.name: s.level for s in agent.skills})

    def match(self, job: JobTask) -> str | None:
        if job.job_id not in self.jobs:
            return None
        return self.pool.match_call(job.job_id)

    def clear(self) -> None:
        self.pool = dispatcher_rs.Pool()
        self.jobs.clear()


def default_pool_factory() -> Callable[[], Pool]:
    return RustPool
