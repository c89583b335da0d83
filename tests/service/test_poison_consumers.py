"""A poison message for each consumer of PAM's queues: dropped or dead-lettered with its
reason, and the consumer goes on with the next good message.

The blender, the dashboard's live view, ``pam-supervisor`` and the load tester all read
events through :class:`pam_protocol.client.EventStream` and replies through
:class:`pam_protocol.client.PamClient`; the blender also reads demand signals and the
report ingester its own durable queue."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import pytest

from blender.app import BlenderApp
from pam_protocol import messages as m
from pam_protocol import topology
from pam_protocol.acd import ACD_EXCHANGE, DemandPublisher, InboundDemand, demand_routing_key
from pam_protocol.client import PamError
from supervisor_api.reports.ingest import ReportIngester
from supervisor_api.reports.store import ReportStore
from tests.service.conftest import Pam, eventually

DEEP = b'{"type":"AgentStateChanged","x":' + b"[" * 5000 + b"]" * 5000 + b"}"
POISON = [DEEP, b'{"type":"Alarm","code":"\xff"}', b"\xff\xfe", b'{"type":"Nope"}']


def login(aid: str) -> m.Login:
    return m.Login(agent_id=aid, zone="z1", extension="1", skills=[], time_zone="UTC",
                   locale="en_US")


async def publish_events(pam: Pam, bodies: list[bytes], key: str) -> None:
    conn = await aio_pika.connect(pam.amqp_url)
    try:
        ch = await conn.channel()
        ex = await ch.get_exchange(topology.EVENTS)
        for body in bodies:
            await ex.publish(aio_pika.Message(body, message_id=uuid.uuid4().hex), routing_key=key)
    finally:
        await conn.close()


async def test_event_stream_drops_poison_and_delivers_the_next_event(pam: Pam) -> None:
    stream = await pam.client.subscribe(["agent.z1.#"])
    try:
        await publish_events(pam, POISON, "agent.z1.A.state")
        await pam.ok(login("A"))
        ev = await stream.wait_for(m.AgentStateChanged, timeout=10)
        assert isinstance(ev, m.AgentStateChanged) and ev.snapshot.agent_id == "A"
        assert stream.rejected == len(POISON)
    finally:
        await stream.close()


async def test_an_undecodable_reply_fails_that_request_only(pam: Pam) -> None:
    fut: asyncio.Future[m.AnyReply] = asyncio.get_running_loop().create_future()
    pam.client.pending["poisoned"] = fut
    await pam.client.channel.default_exchange.publish(
        aio_pika.Message(DEEP, correlation_id="poisoned"),
        routing_key=pam.client.reply_queue.name)
    with pytest.raises(PamError, match=r"undecodable reply.*deeper"):
        await asyncio.wait_for(fut, 10)
    await pam.ok(login("A"))  # the client still works


async def test_blender_drops_a_poison_demand_signal_and_reads_the_next(pam: Pam) -> None:
    async with BlenderApp(["z1"], pam.amqp_url) as app, \
            await DemandPublisher.connect(pam.amqp_url) as acd:
        conn = await aio_pika.connect(pam.amqp_url)
        try:
            ch = await conn.channel()
            ex = await ch.get_exchange(ACD_EXCHANGE)
            for body in (DEEP.replace(b"AgentStateChanged", b"InboundDemand"), b"\xff"):
                await ex.publish(aio_pika.Message(body), routing_key=demand_routing_key("z1"))
        finally:
            await conn.close()
        await acd.publish(InboundDemand(zone="z1", waiting_calls=3, service_level=0.9,
                                        ts=datetime.now(UTC)))
        # the good signal after the poison is decided on
        await eventually(lambda: app.decisions == 1 and app.rejected_signals == 2)


async def test_ingester_dead_letters_poison_with_its_reason_and_stores_the_rest(
        pam: Pam, tmp_path: Path) -> None:
    store = await ReportStore.open(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    try:
        async with ReportIngester(store, pam.amqp_url, batch_max=50) as ing:
            await publish_events(pam, POISON, "agent.z1.A.state")
            await pam.ok(login("A"))
            await eventually(lambda: ing.stored >= 1 and ing.rejected == len(POISON))
        conn = await aio_pika.connect(pam.amqp_url)
        try:
            ch = await conn.channel()
            dead = await ch.declare_queue(topology.DEAD, passive=True)
            reasons = []
            async with dead.iterator(timeout=10) as it:
                async for msg in it:
                    await msg.ack()
                    reasons.append(str((msg.headers or {})["x-pam-reason"]))
                    if len(reasons) == len(POISON):
                        break
        finally:
            await conn.close()
        assert any("deeper than" in r for r in reasons)
        assert any("UTF-8" in r for r in reasons)
        assert all(r.startswith("BadRequest: ") for r in reasons)
    finally:
        await store.close()
