"""The ingester on a real PAM: its own durable queue keeps what PAM announces while it
is stopped, and it catches up when it is back."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika

from pam_protocol import messages as m
from pam_protocol import topology
from supervisor_api.reports.ingest import DEFAULT_QUEUE, ReportIngester
from supervisor_api.reports.store import ReportStore
from tests.service.conftest import Pam, eventually
from tests.service.test_dispatch import PROGRESSIVE, staff


async def completed(store: ReportStore, start: datetime) -> tuple[int, int]:
    rows = await store.campaign_detail(start, datetime.now(UTC) + timedelta(minutes=1))
    return (rows[0].calls_completed, rows[0].calls_no_agent) if rows else (0, 0)


async def test_ingester_catches_up_after_missing_events_while_stopped(
        pam: Pam, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reports.sqlite3'}"
    start = datetime.now(UTC) - timedelta(minutes=1)
    store = await ReportStore.open(url)
    try:
        async with ReportIngester(store, pam.amqp_url, batch_max=50) as ing:
            await pam.ok(PROGRESSIVE)
            await staff(pam, pam.client, ["A"])
            await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
            await pam.ok(m.CustomerDisconnected(call_id="c1"))
            await pam.ok(m.WrapupContact(agent_id="A", session_id="c1", completion_code="Sale"))

            async def first_call_stored() -> bool:
                return await completed(store, start) == (1, 0)
            await eventually(first_call_stored)
            assert ing.stored > 0
    finally:
        await store.close()

    # the ingester is down: PAM goes on
    await pam.ok(m.CustomerConnected(job_id="J", call_id="c2", customer={}))
    await pam.ok(m.CustomerDisconnected(call_id="c2"))
    await pam.ok(m.WrapupContact(agent_id="A", session_id="c2"))  # the default, NoSale
    await pam.ok(m.NotReady(agent_id="A", reason_code=7, reason="Break"))
    r = await pam.send(m.CustomerConnected(job_id="J", call_id="c3", customer={}))
    assert isinstance(r, m.Rejected) and r.code == "NoAgentAvailable"
    await pam.events.wait_for(m.CallNotConnected, call_id="c3")
    conn = await aio_pika.connect(pam.amqp_url)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(DEFAULT_QUEUE, passive=True)
        assert (q.declaration_result.message_count or 0) >= 5  # kept for the ingester
        # and a message that is no event at all, on a bound key
        ex = await ch.get_exchange(topology.EVENTS)
        await ex.publish(aio_pika.Message(b"not json"), routing_key="job.z1.J")
    finally:
        await conn.close()

    store = await ReportStore.open(url)
    try:
        assert await completed(store, start) == (1, 0)  # nothing of it yet
        async with ReportIngester(store, pam.amqp_url, batch_max=50):
            async def caught_up() -> bool:
                return await completed(store, start) == (2, 1)
            await eventually(caught_up)
            end = datetime.now(UTC) + timedelta(minutes=1)
            rows = await store.agent_activity("A", start, end)
            assert [r.activity for r in rows] == [
                "Login", "Ready", "Call Connect", "Wrap-up", "Ready", "Call Connect",
                "Wrap-up", "Ready", "Not Ready"]
            assert [r.completion_code for r in rows if r.activity == "Wrap-up"] == [
                "Sale", "NoSale"]
            assert [r.session_id for r in rows if r.activity == "Call Connect"] == ["c1", "c2"]
            assert (rows[-1].reason_code, rows[-1].reason, rows[-1].end) == (7, "Break", None)
            assert all(a.end == b.start for a, b in itertools.pairwise(rows))
            (camp,) = await store.campaign_detail(start, end)
            assert camp.calls_connected == 2
            assert {c.code: c.count for c in camp.codes} == {"Sale": 1, "NoSale": 1}
        # the undecodable message went to pam.dead, not back to the queue
        conn = await aio_pika.connect(pam.amqp_url)
        try:
            ch = await conn.channel()
            dead = await ch.declare_queue(topology.DEAD, passive=True)
            assert dead.declaration_result.message_count == 1
            q = await ch.declare_queue(DEFAULT_QUEUE, passive=True)
            assert q.declaration_result.message_count == 0
        finally:
            await conn.close()
    finally:
        await store.close()
