"""Which pool the service uses: the Rust dispatcher when it is built, else PyPool."""

from __future__ import annotations

from collections.abc import Callable

from pam_service.domain.zone import Pool, PyPool


def default_pool_factory() -> Callable[[], Pool]:
    return PyPool
