"""PAM's dispatcher, a Rust extension (see dispatcher_rs/src and docs/dispatcher.md).

* `Pool`: the agents available per job-task; `match_call` picks one for a call.
* `Allocator`: which agents serve which job-task; `plan()` returns the attach/detach moves.
* `is_available_state`: the availability rule on its own.

States may be given by wire name (``"Ready"``) or by code, the index in `AGENT_STATES`,
`CALL_STATES`, `JOB_STATES`.
"""

from typing import TypeAlias

from dispatcher_rs._move import Move
from dispatcher_rs._native import (
    AGENT_STATES,
    CALL_STATES,
    JOB_STATES,
    Allocator,
    Pool,
    __version__,
    is_available_state,
)

PoolRow: TypeAlias = tuple[
    str, str | None, str | int, str | int, str | int, bool, int, dict[str, int] | None
]
"""(agent_id, job_task, agent_state, call_state, job_state, nailed, idle_since_ms, skills)."""

AllocatorRow: TypeAlias = tuple[str, dict[str, int], bool, str | None]
"""(agent_id, skills, idle, job_task)."""


STRATEGIES = ("longest_idle", "skill_level")
ACTIONS = ("attach", "detach")
REASONS = ("fill_min", "priority", "donate", "job_removed", "over_max", "skills_lost")

__all__ = [
    "ACTIONS",
    "AGENT_STATES",
    "CALL_STATES",
    "JOB_STATES",
    "REASONS",
    "STRATEGIES",
    "Allocator",
    "AllocatorRow",
    "Move",
    "Pool",
    "PoolRow",
    "__version__",
    "is_available_state",
]
