"""Fault tests: two ``pam-service`` processes on a private vhost, a load, a fault."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bench.harness import Cluster


@pytest.fixture
async def make_cluster(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Cluster]]]:
    """``c = await make_cluster(proxy=..., private_redis=..., heartbeat=...)``: started,
    with two instances and the load running. Everything it made is stopped and
    deleted afterwards (processes, proxy, private Redis, vhost, keys), whatever
    happened."""
    made: list[Cluster] = []

    async def make(**kw: Any) -> Cluster:
        c = Cluster(logdir=tmp_path, **kw)
        made.append(c)
        await c.open()
        return c

    try:
        yield make
    finally:
        for c in made:
            excerpt = c.log_excerpt()
            await c.close()
            print(f"--- PAM logs\n{excerpt}")


