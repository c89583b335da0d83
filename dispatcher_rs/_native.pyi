"""Type stub of the compiled module `dispatcher_rs._native` (checked by mypy.stubtest)."""

from collections.abc import Iterable
from typing import final

from dispatcher_rs._move import Move

__all__ = [
    "AGENT_STATES",
    "CALL_STATES",
    "JOB_STATES",
    "Allocator",
    "Pool",
    "__version__",
    "is_available_state",
]

__version__: str

# Wire names of the agent sub-states; a state may be passed as its name or as its index here.
AGENT_STATES: tuple[str, ...]
CALL_STATES: tuple[str, ...]
JOB_STATES: tuple[str, ...]

# (agent_id, job_task, agent_state, call_state, job_state, nailed, idle_since_ms, skills)
# skills None keeps the skills last given for the agent (none for a new agent).
_PoolRow = tuple[str, str | None, str | int, str | int, str | int, bool, int, dict[str, int] | None]
# (agent_id, skills, idle, job_task)
_AllocatorRow = tuple[str, dict[str, int], bool, str | None]
# (action "attach" | "detach", agent_id, job_task,
#  reason "fill_min" | "priority" | "donate" | "job_removed" | "over_max" | "skills_lost")

def is_available_state(
    agent_state: str | int,
    call_state: str | int,
    job_state: str | int,
    nailed: bool,
    needs_nailing: bool = True,
) -> bool: ...

@final
class Pool:
    def __init__(self) -> None: ...
    def set_job(
        self,
        job_task: str,
        strategy: str = "longest_idle",
        match_skill: str | None = None,
        needs_nailing: bool = True,
    ) -> None: ...
    def remove_job(self, job_task: str) -> None: ...
    def has_job(self, job_task: str) -> bool: ...
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
    ) -> bool: ...
    def update_many(self, rows: Iterable[_PoolRow]) -> int: ...
    def rebuild(self, rows: Iterable[_PoolRow]) -> None: ...
    def remove(self, agent_id: str) -> None: ...
    def match_call(self, job_task: str) -> str | None: ...
    def match_many(self, job_tasks: Iterable[str]) -> list[str | None]: ...
    def is_available(self, agent_id: str) -> bool: ...
    def available(self, job_task: str) -> int: ...
    def agent_count(self) -> int: ...
    def __len__(self) -> int: ...

@final
class Allocator:
    def __init__(self) -> None: ...
    def upsert_agent(
        self, agent_id: str, skills: dict[str, int], idle: bool, job_task: str | None = None
    ) -> None: ...
    def upsert_agents(self, rows: Iterable[_AllocatorRow]) -> None: ...
    def remove_agent(self, agent_id: str) -> None: ...
    def upsert_job(
        self,
        job_task: str,
        required_skills: Iterable[str],
        min_agents: int,
        max_agents: int,
        priority: int,
        licenses: int,
    ) -> None: ...
    def remove_job(self, job_task: str) -> None: ...
    def plan(self) -> list[Move]: ...
    def job_agents(self, job_task: str) -> int: ...
    def agent_job(self, agent_id: str) -> str | None: ...
    def __len__(self) -> int: ...
