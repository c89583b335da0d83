"""Publishing a batch's replies and events in one socket write, with publisher confirms.

aiormq writes every ``basic_publish`` as its own frame group, one ``send`` per message.
On a loopback with costly system calls that is most of PAM's CPU per command, and the
broker pays again reading many small segments. :func:`publish_many` does what
``basic_publish`` does (a delivery tag and a confirmation future per message, under the
channel's lock, so tags stay in step with the broker's count) but hands the writer all
the batch's frames as one payload. It leans on aiormq's channel internals (aiormq has
no public call that writes several publishes at once), so pyproject.toml pins aiormq's
exact version and tests/service/test_amqp_batch.py checks those internals against it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

import aiormq
from aiormq.abc import ChannelFrame
from aiormq.exceptions import ChannelInvalidStateError
from pamqp.commands import Basic
from pamqp.header import ContentHeader

#: (exchange, routing key, properties, body)
Outgoing = tuple[str, str, Basic.Properties, bytes]


async def publish_many(channel: aiormq.Channel, messages: Sequence[Outgoing]) -> None:
    """Publish ``messages`` in order as one write, then wait for every confirm."""
    await (await enqueue_many(channel, messages))


async def enqueue_many(channel: aiormq.Channel,
                       messages: Sequence[Outgoing]) -> Awaitable[None]:
    """Hand ``messages`` to the connection's writer as one payload, in order, and return
    what completes once the broker confirmed them all.

    Returning before the confirms lets a caller put the next batch on the wire while
    this one's confirms travel: the order on the wire is the order of the calls.
    Raises (here or when awaited) what ``basic_publish`` raises: ChannelInvalidStateError
    on a closed channel, DeliveryError on a nack, the channel's close reason if it closes
    meanwhile."""
    if not messages:
        return _done()
    if channel.is_closed:
        raise ChannelInvalidStateError(f"{channel!r} closed")
    if not channel.publisher_confirms:
        raise ValueError("enqueue_many needs a channel with publisher confirms")
    confirms: list[asyncio.Future[object]] = []
    async with channel.lock:
        first = channel.delivery_tag + 1
        frames: list[object] = []
        for exchange, rk, props, body in messages:
            channel.delivery_tag += 1
            fut = channel.create_future()
            channel.confirmations[channel.delivery_tag] = fut
            confirms.append(fut)
            frames.append(Basic.Publish(exchange=exchange, routing_key=rk))
            frames.append(ContentHeader(properties=props, body_size=len(body)))
            frames.extend(channel._split_body(body))
        drained = channel.create_future()
        try:
            await channel.write_queue.put(ChannelFrame.marshall(
                channel_number=channel.number, frames=frames,  # type: ignore[arg-type]
                drain_future=drained))
        except BaseException:
            # Nothing reached the broker: give the delivery tags back, as basic_publish does.
            for tag in range(first, channel.delivery_tag + 1):
                channel.confirmations.pop(tag, None)
            channel.delivery_tag = first - 1
            for fut in confirms:
                fut.cancel()
            drained.cancel()
            raise
    return _confirmed(drained, confirms)


async def _confirmed(drained: asyncio.Future[object],
                     confirms: list[asyncio.Future[object]]) -> None:
    await drained  # back-pressure: the bytes are in the socket's buffer
    await asyncio.gather(*confirms)


async def _done() -> None:
    return None
