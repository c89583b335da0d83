"""The broker topology PROTOCOL.md fixes, declared idempotently by every party."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

COMMANDS = "pam.commands"
EVENTS = "pam.events"
DLX = "pam.dlx"
DEAD = "pam.dead"
#: A message redelivered this many times (it keeps failing) is dead-lettered by the broker.
DELIVERY_LIMIT = 5
#: AMQP header naming the person a trusted tool (the dashboard) acts for; PAM logs it
#: with the command, beside the broker-checked ``user_id``.
ON_BEHALF_OF = "x-pam-on-behalf-of"


#: Characters a zone name may not hold: it is a routing key of ``pam.commands`` and part
#: of its queue's name and of event routing keys (topic wildcards ``#`` and ``*``).
_ZONE_FORBIDDEN = re.compile(r"[#*\s]")
#: AMQP's limit on queue names (``pam.zone.<zone>``) and routing keys, in bytes
_AMQP_NAME_MAX = 255


def zone_name_problem(zone: str) -> str | None:
    """Why ``zone`` cannot name a zone, with an example of one that can; None if it can."""
    if not zone:
        return "an empty zone name (a comma too many?): write e.g. z1,z2"
    if _ZONE_FORBIDDEN.search(zone):
        return (f"zone name {zone!r} cannot be a routing key or queue name: zone names "
                f"hold no whitespace, '#' or '*' (e.g. z1, paris-1)")
    if len(zone_queue(zone).encode()) > _AMQP_NAME_MAX:
        return (f"zone name {zone[:20]!r}... is too long for an AMQP queue name: keep zone "
                f"names short (e.g. z1, paris-1)")
    return None


def zone_queue(zone: str) -> str:
    return f"pam.zone.{zone}"


@dataclass
class Topology:
    commands: AbstractExchange
    events: AbstractExchange
    dlx: AbstractExchange
    dead: AbstractQueue


async def declare(channel: AbstractChannel) -> Topology:
    commands = await channel.declare_exchange(COMMANDS, aio_pika.ExchangeType.DIRECT, durable=True)
    events = await channel.declare_exchange(EVENTS, aio_pika.ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(DLX, aio_pika.ExchangeType.FANOUT, durable=True)
    dead = await channel.declare_queue(DEAD, durable=True, arguments={"x-queue-type": "quorum"})
    await dead.bind(dlx, routing_key="#")
    return Topology(commands, events, dlx, dead)


async def declare_zone(channel: AbstractChannel, zone: str) -> AbstractQueue:
    queue = await channel.declare_queue(
        zone_queue(zone), durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-single-active-consumer": True,
            "x-dead-letter-exchange": DLX,
            "x-delivery-limit": DELIVERY_LIMIT,
        })
    await queue.bind(COMMANDS, routing_key=zone)
    return queue


class Delivery(Protocol):
    """What a dead letter is made of (an aio-pika IncomingMessage has it)."""

    @property
    def message_id(self) -> str | None: ...
    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> Any: ...
    @property
    def routing_key(self) -> str | None: ...
    @property
    def content_type(self) -> str | None: ...


def dead_letter_headers(msg: Delivery, reason: str) -> dict[str, Any]:
    """A dead letter's headers: the delivery's own, why (``x-pam-reason``) and where it
    came from (``x-pam-zone``, its routing key)."""
    headers = dict(msg.headers or {})
    headers.update({"x-pam-reason": reason, "x-pam-zone": msg.routing_key or ""})
    return headers


async def dead_letter(dlx: AbstractExchange, msg: Delivery, reason: str) -> None:
    """Publish one delivery to ``pam.dead`` with :func:`dead_letter_headers`; the caller
    then acks it."""
    await dlx.publish(
        aio_pika.Message(msg.body, headers=dead_letter_headers(msg, reason),
                         message_id=msg.message_id, content_type=msg.content_type,
                         delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
        routing_key=msg.routing_key or "")
