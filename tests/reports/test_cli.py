"""`pam-supervisor report ...`: the reports from a store, and the ingester as a process."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from bench.harness import Proxy, amqp_url, free_port, until
from pam_protocol import messages as m
from pam_protocol.client import DEFAULT_HEARTBEAT_S
from supervisor_api.cli import Context, amain
from supervisor_api.reports.activity import to_csv
from supervisor_api.reports.store import ReportStore
from tests.ops import heartbeats, http_get, says
from tests.reports.expected import A_ROWS, CAMPAIGN, SUMMARY_AT_10
from tests.reports.recording import morning
from tests.service.conftest import Pam, eventually
from tests.service.test_dispatch import PROGRESSIVE, staff


def console() -> Console:
    return Console(file=io.StringIO(), width=250, color_system=None)


async def report(*argv: str) -> tuple[int, str, str]:
    out, err = console(), console()
    code = await amain(["report", *argv], Context(out=out, err=err))
    assert isinstance(out.file, io.StringIO) and isinstance(err.file, io.StringIO)
    return code, out.file.getvalue(), err.file.getvalue()


async def test_reports_as_csv_and_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    async with await ReportStore.open(url) as store:
        await store.add(morning())
    span = ["--from", "2026-11-26", "--to", "2026-11-26T10:00:00Z", "--db", url]
    assert await report("activity", "A", *span, "--csv") == (0, to_csv(A_ROWS), "")
    assert await report("campaign", *span, "--csv") == (0, to_csv(CAMPAIGN), "")
    assert await report("campaign", "--job", "K", *span, "--csv") == (0, "", "")
    assert await report("summary", *span, "--csv") == (0, to_csv(SUMMARY_AT_10), "")
    code, out, _ = await report("activity", "A", *span)
    assert code == 0
    assert "Agent Activity Details: A, 2026-11-26 00:00:00 to 2026-11-26 10:00:00" in out
    assert "Call Continue(transferred)" in out and "Lunch" in out and "3m 00s" in out
    code, out, _ = await report("summary", "--agent", "A", *span)
    assert code == 0 and "36.8%" in out and "12 Lunch: 14m 00s" in out
    code, out, _ = await report("activity", "nobody", *span)
    assert code == 0 and "nothing in this range" in out
    code, _, err = await report("activity", "A", "--from", "2026-11-27", "--to", "2026-11-26",
                                "--db", url)
    assert code == 2 and "--to must be after --from" in err
    code, _, err = await report("campaign", "--db", "mysql://x")
    assert code == 5 and "cannot open the report store" in err
    with pytest.raises(SystemExit) as bad_tz:  # argparse: usage error, exit 2
        await report("summary", "--tz", "Mars/Base", *span)
    assert bad_tz.value.code == 2


async def test_ingest_runs_until_sigterm(pam: Pam, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    start = datetime.now(UTC) - timedelta(minutes=1)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "supervisor_api", "report", "ingest", "--db", url,
        "--amqp-url", pam.amqp_url, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"})
    try:
        assert proc.stderr is not None
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert b"Ingesting pam.events into" in line, line
        await pam.ok(PROGRESSIVE)
        await staff(pam, pam.client, ["A"])
        await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
        async with await ReportStore.open(url) as store:
            async def talking() -> bool:
                rows = await store.agent_activity("A", start, datetime.now(UTC))
                return bool(rows) and rows[-1].activity == "Call Connect"
            await eventually(talking)
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), 30)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert b"Stopped:" in rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_report_on_a_missing_store_says_so_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.sqlite3"
    code, _, err = await report("campaign", "--db", f"sqlite:///{missing}")
    assert code == 5 and "no report store at" in err and "report ingest" in err
    assert not missing.exists()


async def test_purge_keeps_each_agents_last_state_so_later_reports_still_hold(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    async with await ReportStore.open(url) as store:
        await store.add(morning())
    span = ["--from", "2026-11-26T09:30:00Z", "--to", "2026-11-26T10:00:00Z", "--db", url]
    before = await report("activity", "A", *span, "--csv")
    code, out, _ = await report("purge", "--before", "2026-11-26T09:30:00Z", "--db", url)
    assert code == 0 and "Purged" in out
    n = int(out.split("Purged ", 1)[1].split()[0])
    assert n > 0
    # what happened from the cut-off on reads the same: each agent's state at the cut-off
    # survived the purge
    assert await report("activity", "A", *span, "--csv") == before
    code, out, _ = await report("purge", "--before", "2026-11-26T09:30:00Z", "--db", url)
    assert code == 0 and "Purged 0 events" in out
async def test_ingest_healthz_and_readyz_follow_its_connection(pam: Pam, tmp_path: Path) -> None:
    vhost = pam.amqp_url.rsplit("/", 1)[1]
    proxy, port = Proxy(), free_port()
    await proxy.start()
    base = f"http://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "supervisor_api", "report", "ingest",
        "--db", f"sqlite:///{tmp_path / 'r.sqlite3'}", "--amqp-url", amqp_url(vhost, proxy.port),
        "--metrics-port", str(port), "--metrics-addr", "127.0.0.1",
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "200"})
    try:
        await until(lambda: says(base + "/readyz", 200, "ready"), 30, "/readyz 200")
        assert await asyncio.to_thread(http_get, base + "/healthz") == (200, "ok\n")
        # its URL set no heartbeat: the ingester asked for the short default
        hb = await asyncio.to_thread(heartbeats, vhost)
        assert hb.get("pam-reports") == DEFAULT_HEARTBEAT_S, hb
        await proxy.cut()  # RabbitMQ out of reach: alive, not ready
        await until(lambda: says(base + "/readyz", 503, "not connected to RabbitMQ"), 30,
                    "/readyz 503")
        assert await asyncio.to_thread(http_get, base + "/healthz") == (200, "ok\n")
        await proxy.restore()  # the robust connection comes back: ready again
        await until(lambda: says(base + "/readyz", 200, "ready"), 60, "/readyz 200 again")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await proxy.close()
