"""pam_service.amqp against the installed aiormq and a real broker: a batch published as
one write arrives whole and in order, every publish is confirmed, and delivery tags stay
in step with ``basic_publish`` on the same channel (a drift would confirm the wrong
futures)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import tomllib
from pathlib import Path
from typing import Any

import aio_pika
import aiormq
import pytest
from aiormq.abc import ChannelFrame
from aiormq.exceptions import ChannelInvalidStateError
from pamqp.commands import Basic

from pam_service.amqp import enqueue_many, publish_many

from .conftest import AMQP

ROOT = Path(__file__).parents[2]


async def _setup(vhost: str) -> tuple[Any, aiormq.Channel, aio_pika.abc.AbstractQueue]:
    conn = await aio_pika.connect(AMQP + vhost)
    ch = await conn.channel(publisher_confirms=True)
    q = await ch.declare_queue("batch", durable=True)
    raw = await ch.get_underlay_channel()
    assert isinstance(raw, aiormq.Channel)
    return conn, raw, q


async def _take(q: aio_pika.abc.AbstractQueue,
                n: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    async with asyncio.timeout(10), q.iterator() as it:
        async for msg in it:
            await msg.ack()
            got.append(msg)
            if len(got) == n:
                break
    return got


async def test_batch_arrives_in_order_with_properties_and_is_confirmed(vhost: str) -> None:
    conn, raw, q = await _setup(vhost)
    async with conn:
        big = b"x" * (raw.max_content_size * 2 + 7)  # split over several body frames
        out = [("", "batch", Basic.Properties(correlation_id=f"c{i}", delivery_mode=2),
                b"%d" % i) for i in range(200)]
        out.insert(100, ("", "batch", Basic.Properties(correlation_id="big"), big))
        out.append(("", "batch", Basic.Properties(correlation_id="empty"), b""))
        await publish_many(raw, out)
        assert not raw.confirmations  # every confirm came back and was matched
        got = await _take(q, len(out))
        assert [g.correlation_id for g in got] == [p.correlation_id for _, _, p, _ in out]
        assert [g.body for g in got] == [b for _, _, _, b in out]
        assert got[0].delivery_mode == aio_pika.DeliveryMode.PERSISTENT


async def test_tags_stay_in_step_with_basic_publish(vhost: str) -> None:
    conn, raw, q = await _setup(vhost)
    async with conn:
        await raw.basic_publish(b"a", routing_key="batch")
        first = await enqueue_many(raw, [("", "batch", Basic.Properties(), b"b"),
                                         ("", "batch", Basic.Properties(), b"c")])
        # a second batch goes on the wire before the first is confirmed
        second = await enqueue_many(raw, [("", "batch", Basic.Properties(), b"d")])
        confirm = await raw.basic_publish(b"e", routing_key="batch")
        assert isinstance(confirm, Basic.Ack)
        await asyncio.wait_for(asyncio.gather(first, second), 10)
        assert raw.delivery_tag == 5 and not raw.confirmations
        assert [g.body for g in await _take(q, 5)] == [b"a", b"b", b"c", b"d", b"e"]


async def test_closed_channel_refuses_and_empty_batch_is_a_no_op(vhost: str) -> None:
    conn, raw, _ = await _setup(vhost)
    async with conn:
        await publish_many(raw, [])
        assert raw.delivery_tag == 0
        await raw.close()
        with pytest.raises(ChannelInvalidStateError):
            await publish_many(raw, [("", "batch", Basic.Properties(), b"x")])


async def test_the_aiormq_internals_it_uses_are_there_in_the_pinned_version(vhost: str) -> None:
    # pam_service.amqp leans on aiormq's channel internals; pyproject.toml pins the exact
    # aiormq version these tests (and this one) were run against. A new aiormq: `make lock`
    # after raising the pin, and this file says whether the internals still hold.
    pin = next(r for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "dependencies"] if r.startswith("aiormq"))
    assert pin == f"aiormq=={importlib.metadata.version('aiormq')}"
    conn, raw, _ = await _setup(vhost)
    async with conn:
        async with raw.lock:  # the lock basic_publish holds while it numbers a publish
            pass
        assert isinstance(raw.delivery_tag, int) and isinstance(raw.confirmations, dict)
        assert isinstance(raw.write_queue, asyncio.Queue) and isinstance(raw.number, int)
        assert raw.publisher_confirms is True and raw.max_content_size > 0
        assert isinstance(raw.create_future(), asyncio.Future)
        n = raw.max_content_size
        assert [len(b.value) for b in raw._split_body(b"x" * (n + 1))] == [n, 1]
        assert raw._split_body(b"") == []
        frame = ChannelFrame.marshall(channel_number=raw.number,
                                      frames=[Basic.Publish(exchange="", routing_key="q")],
                                      drain_future=raw.create_future())
        assert frame.payload and frame.drain_future is not None
