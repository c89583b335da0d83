"""The event loop PAM's processes run on: uvloop unless told otherwise.

On this project's workload uvloop costs much less CPU per message than asyncio's own
loop (its transports and scheduling are in C): at the same offered load the whole
pipeline's p99 fell from 73-138 ms to 47-51 ms on the development machine
(docs/performance.md). ``--loop asyncio`` (or ``PAM_LOOP=asyncio``) runs on the
standard loop instead, for debugging or where uvloop is not available.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LOOPS = ("uvloop", "asyncio")
DEFAULT = os.environ.get("PAM_LOOP", "uvloop")


def factory(loop: str = DEFAULT) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if loop == "asyncio":
        return None
    if loop != "uvloop":
        raise ValueError(f"unknown event loop {loop!r}: choose one of {', '.join(LOOPS)}")
    import uvloop

    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], loop: str = DEFAULT) -> T:
    """``asyncio.run(main)`` on the chosen loop."""
    with asyncio.Runner(loop_factory=factory(loop)) as runner:
        return runner.run(main)
