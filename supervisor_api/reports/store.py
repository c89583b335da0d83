"""The report store: PAM's events kept in SQL, and the reports computed from them.

    store = await ReportStore.open()                       # SQLite: pam-reports.sqlite3
    store = await ReportStore.open("postgresql://u@host/db")
    await store.add([(event, received_at), ...])           # idempotent on (stream, seq)
    rows = await store.agent_activity("A", start, end)

One schema for SQLite and PostgreSQL (docs/reports.md), created and upgraded by the
numbered migrations below when the store opens; ``schema_migrations`` records which
ran. The store keeps the events themselves (only the kinds the reports read) and
derives the reports at query time with the pure functions of
:mod:`supervisor_api.reports.activity`, so a late or repeated event can never leave
a stale derived row behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, tzinfo
from types import TracebackType
from typing import Any, Protocol, Self

import msgspec

from pam_protocol import messages as m
from supervisor_api.reports.activity import (
    ActivityRow,
    CampaignRow,
    SummaryRow,
    agent_summary,
    campaign_detail,
    overlapping,
    segments,
)

DEFAULT_URL = "sqlite:///pam-reports.sqlite3"
ENV_URL = "PAM_REPORTS_URL"

#: (version, name, statements): append only; never edit one that has shipped.
MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "events", [
        """CREATE TABLE events (
            stream     TEXT    NOT NULL,
            seq        BIGINT  NOT NULL,
            type       TEXT    NOT NULL,
            zone       TEXT    NOT NULL,
            agent_id   TEXT,
            job_id     TEXT,
            session_id TEXT,
            cause      TEXT,
            at         BIGINT  NOT NULL,
            received   BIGINT  NOT NULL,
            body       TEXT    NOT NULL,
            PRIMARY KEY (stream, seq)
        )""",
        "CREATE INDEX events_agent_at ON events (agent_id, at)",
        "CREATE INDEX events_type_at ON events (type, at)",
        "CREATE INDEX events_job_at ON events (job_id, at)",
    ]),
]

#: The event types the reports read; add() ignores the others.
STORED = (m.AgentStateChanged, m.CallCompleted, m.CallNotConnected, m.JobChanged)
_STATE = "AgentStateChanged"
_AGENT_TYPES = ("AgentStateChanged", "CallCompleted")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_encode = msgspec.json.Encoder().encode


def to_us(t: datetime) -> int:
    """Microseconds since the epoch (a naive time is taken as UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (t - _EPOCH) // _US


def from_us(us: int) -> datetime:
    return _EPOCH + us * _US


def stream_of(ev: m.Event) -> str | None:
    """Which ``seq`` counter numbers the event: its agent's or its job's, per zone."""
    if isinstance(ev, m.AgentStateChanged):
        return f"{ev.zone}/a:{ev.snapshot.agent_id}"
    if isinstance(ev, m.JobEvent):
        return f"{ev.zone}/j:{ev.job_id}"
    return None


def resolve_url(url: str | None) -> str:
    return url or os.environ.get(ENV_URL) or DEFAULT_URL


# ---------------------------------------------------------------------------
# Backends: SQLite (a thread of its own) and PostgreSQL (psycopg 3, async)
# ---------------------------------------------------------------------------


class _Backend(Protocol):
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int: ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def migrate(self) -> None: ...

    async def close(self) -> None: ...


def _migration_rows(done: set[int]) -> list[tuple[int, str, list[str]]]:
    return [mig for mig in MIGRATIONS if mig[0] not in done]


_SCHEMA_MIGRATIONS = ("CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                      "applied_at BIGINT NOT NULL)")


class _Sqlite:
    def __init__(self, path: str, create: bool = True) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reports-sqlite")
        self.path = path
        self.create = create
        self.conn: sqlite3.Connection | None = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def _open(self) -> None:
        if not self.create and self.path != ":memory:" and not os.path.exists(self.path):
            raise FileNotFoundError(f"no report store at {os.path.abspath(self.path)}")
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        self.conn = conn

    async def open(self) -> None:
        await self._run(self._open)

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        assert self.conn is not None
        return list(self.conn.execute(sql, tuple(params)).fetchall())

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        result: list[tuple[Any, ...]] = await self._run(self._fetch, sql, params)
        return result

    def _execute(self, sql: str, params: Sequence[Any]) -> int:
        assert self.conn is not None
        return self.conn.execute(sql, tuple(params)).rowcount

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        n: int = await self._run(self._execute, sql, params)
        return n

    def _insert(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        assert self.conn is not None
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            before = c.total_changes
            c.executemany(sql, [tuple(r) for r in rows])
            n = c.total_changes - before
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return n

    async def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        n: int = await self._run(self._insert, sql, rows)
        return n

    def _migrate(self) -> None:
        assert self.conn is not None
        c = self.conn
        c.execute("BEGIN IMMEDIATE")  # one migrating writer at a time
        try:
            c.execute(_SCHEMA_MIGRATIONS)
            done = {r[0] for r in c.execute("SELECT version FROM schema_migrations")}
            for version, name, stmts in _migration_rows(done):
                for stmt in stmts:
                    c.execute(stmt)
                c.execute("INSERT INTO schema_migrations (version, name, applied_at) "
                          "VALUES (?, ?, ?)", (version, name, to_us(datetime.now(UTC))))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    async def migrate(self) -> None:
        await self._run(self._migrate)

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    async def close(self) -> None:
        await self._run(self._close)
        self.pool.shutdown(wait=True)


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class _Postgres:
    #: pg_advisory_xact_lock key: one migrating instance at a time.
    LOCK = 0x50414D52  # "PAMR"

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None
        self.lock = asyncio.Lock()

    async def open(self) -> None:
        import psycopg

        self.conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Any]:
        """The connection, reopened if it was lost; a lost connection is dropped so that
        the next call (the ingester retries) connects again."""
        import psycopg

        async with self.lock:
            if self.conn is None or self.conn.closed:
                await self.open()
            try:
                yield self.conn
            except psycopg.OperationalError:
                if self.conn.broken or self.conn.closed:
                    with contextlib.suppress(Exception):
                        await self.conn.close()
                    self.conn = None
                raise

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._session() as conn, conn.cursor() as cur:
            await cur.execute(_pg(sql), tuple(params))
            return list(await cur.fetchall())

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._session() as conn, conn.cursor() as cur:
            await cur.execute(_pg(sql), tuple(params))
            return int(cur.rowcount)

    async def insert_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        q = _pg(sql) + " RETURNING 1"
        n = 0
        async with self._session() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(q, [tuple(r) for r in rows], returning=True)
            while True:
                n += len(await cur.fetchall())
                if not cur.nextset():
                    break
        return n

    async def migrate(self) -> None:
        async with self._session() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute("SELECT pg_advisory_xact_lock(%s)", (self.LOCK,))
            await cur.execute(_SCHEMA_MIGRATIONS)
            await cur.execute("SELECT version FROM schema_migrations")
            done = {r[0] for r in await cur.fetchall()}
            for version, name, stmts in _migration_rows(done):
                for stmt in stmts:
                    await cur.execute(stmt)
                await cur.execute("INSERT INTO schema_migrations (version, name, applied_at) "
                                  "VALUES (%s, %s, %s)",
                                  (version, name, to_us(datetime.now(UTC))))

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
            self.conn = None


def sqlite_path(url: str) -> str:
    """``sqlite:///rel/path``, ``sqlite:////abs/path`` or ``sqlite:///:memory:``."""
    path = url.split("://", 1)[1]
    if path.startswith("/"):
        path = path[1:]
    if not path:
        raise ValueError(f"{url!r}: give a file, e.g. {DEFAULT_URL}")
    return path


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------

_INSERT = ("INSERT INTO events (stream, seq, type, zone, agent_id, job_id, session_id, cause,"
           " at, received, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
           " ON CONFLICT (stream, seq) DO NOTHING")

_agent_event_dec: msgspec.json.Decoder[m.AgentStateChanged | m.CallCompleted] = \
    msgspec.json.Decoder(m.AgentStateChanged | m.CallCompleted)
_completed_dec = msgspec.json.Decoder(m.CallCompleted)
_not_connected_dec = msgspec.json.Decoder(m.CallNotConnected)
_job_changed_dec = msgspec.json.Decoder(m.JobChanged)


def event_row(ev: m.Event, received: datetime) -> tuple[Any, ...] | None:
    """The ``events`` row of an event the reports read (None for the others)."""
    stream = stream_of(ev)
    if stream is None or not isinstance(ev, STORED):
        return None
    agent = job = session = cause = None
    if isinstance(ev, m.AgentStateChanged):
        s = ev.snapshot
        agent, session, cause, at = s.agent_id, s.session_id, ev.cause, s.since
        job = s.call_job_id or s.job_id
    elif isinstance(ev, m.CallCompleted):
        at = ev.at or received
        ev = msgspec.structs.replace(ev, at=at)
        agent, job, session = ev.agent_id, ev.job_id, ev.session_id
    elif isinstance(ev, m.CallNotConnected):
        job, session, at = ev.job_id, ev.call_id, ev.at
    else:
        job, cause, at = ev.job_id, ev.cause, received
    return (stream, ev.seq, type(ev).__name__, ev.zone, agent, job, session, cause,
            to_us(at), to_us(received), _encode(ev).decode())


class ReportStore:
    """Events in, reports out. Open with :meth:`open`; safe to share in one event loop."""

    def __init__(self, url: str, backend: _Backend) -> None:
        self.url = url
        self._db = backend

    @classmethod
    async def open(cls, url: str | None = None, create: bool = True) -> ReportStore:
        """``None``: ``$PAM_REPORTS_URL``, else SQLite ``pam-reports.sqlite3`` in the
        working directory. ``sqlite:///path`` (``sqlite:////abs/path``) or
        ``postgresql://user@host:port/db`` (libpq parameters allowed, e.g.
        ``?options=-csearch_path%3Dreports`` for a schema of its own). Runs the
        migrations that have not run yet. ``create=False``: a SQLite file that does not
        exist is FileNotFoundError, not a new empty store (the reports read, only the
        ingester creates)."""
        url = resolve_url(url)
        backend: _Sqlite | _Postgres
        if url.startswith("sqlite:"):
            backend = _Sqlite(sqlite_path(url), create)
        elif url.startswith(("postgresql:", "postgres:")):
            backend = _Postgres(url)
        else:
            raise ValueError(f"{url!r}: use sqlite:///path or postgresql://...")
        await backend.open()
        try:
            await backend.migrate()
        except BaseException:
            await backend.close()
            raise
        return cls(url, backend)

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def purge(self, before: datetime) -> int:
        """Delete the events before ``before``, but each agent's and each job's last
        change before it (so a report from ``before`` on still knows where everyone
        stood). Returns how many were deleted."""
        cut = to_us(before)
        return await self._db.execute(
            "DELETE FROM events WHERE at < ? AND NOT EXISTS (SELECT 1 FROM ("
            " SELECT type, COALESCE(agent_id, '') AS a, COALESCE(job_id, '') AS j,"
            " MAX(at) AS last FROM events WHERE at < ? AND type IN (?, ?)"
            " GROUP BY type, COALESCE(agent_id, ''), COALESCE(job_id, '')) k"
            " WHERE k.type = events.type AND k.last = events.at"
            " AND k.a = COALESCE(events.agent_id, '') AND k.j = COALESCE(events.job_id, ''))",
            (cut, cut, _STATE, "JobChanged"))

    async def schema_version(self) -> int:
        rows = await self._db.fetchall("SELECT MAX(version) FROM schema_migrations")
        return int(rows[0][0] or 0)

    # ---- writing ---------------------------------------------------------------
    async def add(self, events: Sequence[tuple[m.AnyEvent, datetime]]) -> int:
        """Store the events (with when each was received), in one transaction. Events
        already stored (same stream and ``seq``) and kinds the reports do not read are
        skipped. Returns how many were new."""
        rows = [r for ev, at in events if (r := event_row(ev, at)) is not None]
        if not rows:
            return 0
        return await self._db.insert_many(_INSERT, rows)

    # ---- reading ---------------------------------------------------------------
    async def agents(self) -> list[str]:
        """Every agent with a state event, by id."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT agent_id FROM events WHERE type = ? ORDER BY agent_id", (_STATE,))
        return [r[0] for r in rows]

    async def jobs(self) -> list[m.JobTask]:
        """The latest record of every job-task seen (from ``JobChanged``)."""
        return list((await self._job_records(None)).values())

    async def _job_records(self, before: datetime | None) -> dict[tuple[str, str], m.JobTask]:
        sql = "SELECT body FROM events WHERE type = 'JobChanged'"
        params: list[Any] = []
        if before is not None:
            sql += " AND at < ?"
            params.append(to_us(before))
        out: dict[tuple[str, str], m.JobTask] = {}
        for (body,) in await self._db.fetchall(sql + " ORDER BY at, seq", params):
            j = _job_changed_dec.decode(body).job
            out[(j.zone, j.job_id)] = j
        return out

    async def _bounds(self, start: datetime, agent_id: str | None) -> dict[str, int]:
        """Per agent, where to start reading so the segment open at ``start`` is whole:
        its last Login at or before ``start``, else its last state change before."""
        extra, params = ("AND agent_id = ?", [agent_id]) if agent_id else ("", [])
        last = await self._db.fetchall(
            f"SELECT agent_id, MAX(at) FROM events WHERE type = ? AND at <= ? {extra} "
            "GROUP BY agent_id", [_STATE, to_us(start), *params])
        login = await self._db.fetchall(
            f"SELECT agent_id, MAX(at) FROM events WHERE type = ? AND cause = 'Login' "
            f"AND at <= ? {extra} GROUP BY agent_id", [_STATE, to_us(start), *params])
        bounds = {a: int(t) for a, t in last}
        bounds.update({a: int(t) for a, t in login})
        return bounds

    async def _agent_events(self, start: datetime, end: datetime,
                            agent_id: str | None) -> dict[str, list[m.AgentStateChanged
                                                                  | m.CallCompleted]]:
        bounds = await self._bounds(start, agent_id)
        lo = min([to_us(start), *bounds.values()])
        extra, params = ("AND agent_id = ?", [agent_id]) if agent_id else ("", [])
        rows = await self._db.fetchall(
            f"SELECT agent_id, at, body FROM events WHERE type IN (?, ?) AND at >= ? "
            f"AND at < ? {extra} ORDER BY at, seq",
            [*_AGENT_TYPES, lo, to_us(end), *params])
        # and, per agent, the first state change at or after the end (where the segment
        # open at the end ends), with the completions up to it
        after = await self._db.fetchall(
            f"SELECT e.agent_id, e.at, e.body FROM events e JOIN ("
            f"SELECT agent_id, MIN(at) AS first FROM events WHERE type = ? AND at >= ? "
            f"{extra} GROUP BY agent_id) f ON e.agent_id = f.agent_id "
            f"WHERE e.type IN (?, ?) AND e.at >= ? AND e.at <= f.first ORDER BY e.at, e.seq",
            [_STATE, to_us(end), *params, *_AGENT_TYPES, to_us(end)])
        out: dict[str, list[m.AgentStateChanged | m.CallCompleted]] = {}
        for agent, at, body in [*rows, *after]:
            if at < bounds.get(agent, to_us(start)):
                continue
            out.setdefault(agent, []).append(_agent_event_dec.decode(body))
        return out

    async def _rows(self, start: datetime, end: datetime,
                    agent_id: str | None) -> list[ActivityRow]:
        events = await self._agent_events(start, end, agent_id)
        rows: list[ActivityRow] = []
        for agent in sorted(events):
            rows.extend(segments(events[agent]))
        return rows

    async def agent_activity(self, agent_id: str, start: datetime,
                             end: datetime) -> list[ActivityRow]:
        """Agent Activity Details: the agent's segments that share time with
        [start, end), whole (not clipped), oldest first."""
        return overlapping(await self._rows(start, end, agent_id), start, end)

    async def campaign_detail(self, start: datetime, end: datetime,
                              job_id: str | None = None) -> list[CampaignRow]:
        """Campaign Detail: one row per job-task (zone, job id) active in [start, end)."""
        rows = await self._rows(start, end, None)
        span = [to_us(start), to_us(end)]
        extra, params = ("AND job_id = ?", [job_id]) if job_id else ("", [])
        completed = [_completed_dec.decode(b) for (b,) in await self._db.fetchall(
            f"SELECT body FROM events WHERE type = 'CallCompleted' AND at >= ? AND at < ? "
            f"{extra} ORDER BY at, seq", [*span, *params])]
        missed = [_not_connected_dec.decode(b) for (b,) in await self._db.fetchall(
            f"SELECT body FROM events WHERE type = 'CallNotConnected' AND at >= ? AND at < ? "
            f"{extra} ORDER BY at, seq", [*span, *params])]
        records = await self._job_records(end)
        listed = [(z, j) for z, j in (tuple(r) for r in await self._db.fetchall(
            f"SELECT DISTINCT zone, job_id FROM events WHERE type = 'JobChanged' "
            f"AND at >= ? AND at < ? {extra}", [*span, *params]))]
        return campaign_detail(rows, completed, missed, records.values(), start, end,
                               job_id=job_id, listed=listed)

    async def agent_summary(self, start: datetime, end: datetime, agent_id: str | None = None,
                            *, tz: str | tzinfo | None = None,
                            now: datetime | None = None) -> list[SummaryRow]:
        """Agent Summary: one row per agent and day (UTC, or the days of ``tz``) in
        [start, end). An open segment counts until ``now`` (default: the clock)."""
        rows = await self._rows(start, end, agent_id)
        return agent_summary(rows, start, end, now or datetime.now(UTC), tz)

