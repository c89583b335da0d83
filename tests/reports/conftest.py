"""Report stores on real servers: a SQLite file of the test's own, or a PostgreSQL
schema of its own (created and dropped here); and the service fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from tests.service.conftest import pam, vhost  # noqa: F401

PG = os.environ.get("PAM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def pg_schema_url() -> tuple[str, str]:
    schema = f"reptest_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(PG, autocommit=True) as admin:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG else "?"
    return schema, f"{PG}{sep}options=-csearch_path%3D{schema}"


async def drop_pg_schema(schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(PG, autocommit=True) as admin:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _remove(folder: Path, pattern: str) -> None:
    for p in folder.glob(pattern):
        p.unlink()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty report store: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "reports.sqlite3"
        yield f"sqlite:///{path}"
        _remove(tmp_path, "reports.sqlite3*")
        return
    schema, url = await pg_schema_url()
    try:
        yield url
    finally:
        await drop_pg_schema(schema)
