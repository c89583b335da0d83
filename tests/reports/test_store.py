"""ReportStore on SQLite and on PostgreSQL: the recorded stream in, exact rows out;
idempotent on (stream, seq); migrations."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import psycopg
import pytest

from pam_protocol import messages as m
from supervisor_api.reports.store import (
    MIGRATIONS,
    STORED,
    ReportStore,
    resolve_url,
    sqlite_path,
)
from tests.reports.conftest import PG
from tests.reports.expected import A_ROWS, B_ROWS, CAMPAIGN, SUMMARY_AT_10
from tests.reports.recording import DAY, morning, t

END = datetime(2026, 11, 27, tzinfo=UTC)


async def check_reports(store: ReportStore) -> None:
    assert await store.agent_activity("A", DAY, END) == A_ROWS
    assert await store.agent_activity("B", DAY, END) == B_ROWS
    assert await store.campaign_detail(DAY, END) == CAMPAIGN
    assert await store.campaign_detail(DAY, END, job_id="J") == CAMPAIGN
    assert await store.agent_summary(DAY, END, now=t("10:00:00")) == SUMMARY_AT_10
    assert await store.agent_summary(DAY, END, agent_id="B",
                                     now=t("10:00:00")) == SUMMARY_AT_10[1:]


async def test_recorded_stream_in_exact_rows_out(store_url: str) -> None:
    events = morning()
    async with await ReportStore.open(store_url) as store:
        assert await store.add(events) == sum(isinstance(e, STORED) for e, _ in events)
        await check_reports(store)
        assert await store.agents() == ["A", "B"]
        assert [j.job_id for j in await store.jobs()] == ["J"]


async def test_ranges_read_whole_segments(store_url: str) -> None:
    async with await ReportStore.open(store_url) as store:
        await store.add(morning())
        # the Ready row that began at 09:09:20 (before the range) is whole
        assert await store.agent_activity("A", t("09:10:00"), t("09:12:00")) == A_ROWS[9:11]
        # ... and the Not Ready that ends after the range
        assert await store.agent_activity("A", t("09:20:00"), t("09:20:01")) == A_ROWS[14:15]
        assert await store.agent_activity("A", t("09:50:00"), t("10:00:00")) == []
        assert await store.agent_activity("B", t("09:55:00"), t("10:00:00")) == B_ROWS[-1:]
        assert await store.agent_activity("nobody", DAY, END) == []
        (row,) = await store.campaign_detail(t("09:00:00"), t("09:10:00"))
        assert (row.calls_connected, row.calls_no_agent, row.calls_completed,
                row.talk_s) == (1, 1, 1, 225.0)


async def test_the_same_events_twice_change_nothing(store_url: str) -> None:
    events = morning()
    async with await ReportStore.open(store_url) as store:
        first = await store.add(events)
        assert first > 0
        assert await store.add(events) == 0
        shuffled = list(events)
        random.Random(8).shuffle(shuffled)
        for i in range(0, len(shuffled), 7):  # redelivered in other batches, other order
            assert await store.add(shuffled[i:i + 7]) == 0
        await check_reports(store)


async def test_events_arriving_late_and_out_of_order_give_the_same_rows(store_url: str) -> None:
    events = morning()
    cut = next(i for i, (e, _) in enumerate(events) if e.seq and _at(e) >= t("09:12:00"))
    async with await ReportStore.open(store_url) as store:
        await store.add(list(reversed(events[cut:])))  # the later half first
        await store.add(events[:cut])
        await check_reports(store)


def _at(ev: m.AnyEvent) -> datetime:
    if isinstance(ev, m.AgentStateChanged):
        return ev.snapshot.since
    at = getattr(ev, "at", None)
    return at if isinstance(at, datetime) else DAY


async def test_migrations_run_once_and_the_data_stays(store_url: str) -> None:
    store = await ReportStore.open(store_url)
    assert await store.schema_version() == len(MIGRATIONS) == 1
    await store.add(morning())
    await store.close()
    async with await ReportStore.open(store_url) as store:  # reopened: nothing to migrate
        assert await store.schema_version() == 1
        rows = await store._db.fetchall("SELECT version, name FROM schema_migrations")
        assert rows == [(1, "events")]
        await check_reports(store)


async def test_postgres_connection_lost_is_reopened_by_the_next_call(
        store_url: str) -> None:
    if not store_url.startswith("postgresql"):
        return  # SQLite has no connection to lose
    events = morning()
    async with await ReportStore.open(store_url) as store:
        pid = store._db.conn.info.backend_pid  # type: ignore[attr-defined]
        async with await psycopg.AsyncConnection.connect(PG, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError):
            await store.add(events)  # the ingester would retry this batch
        assert await store.add(events) > 0
        await check_reports(store)


def test_store_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAM_REPORTS_URL", raising=False)
    assert resolve_url(None) == "sqlite:///pam-reports.sqlite3"
    assert sqlite_path(resolve_url(None)) == "pam-reports.sqlite3"  # in the working directory
    monkeypatch.setenv("PAM_REPORTS_URL", "postgresql://u@db/reports")
    assert resolve_url(None) == "postgresql://u@db/reports"
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"
    assert sqlite_path("sqlite:////var/lib/pam/r.db") == "/var/lib/pam/r.db"
    assert sqlite_path("sqlite:///:memory:") == ":memory:"


async def test_an_unknown_url_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="sqlite:///path or postgresql://"):
        await ReportStore.open("mysql://db/reports")
