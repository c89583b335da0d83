"""The allocator's move, a named type on both sides of the FFI (the crate builds it)."""

from typing import NamedTuple


class Move(NamedTuple):
    """One step of `Allocator.plan`: attach or detach ``agent_id`` to or from
    ``job_task``, and why (one of `REASONS`). The crate builds these across the FFI."""

    action: str
    agent_id: str
    job_task: str
    reason: str
