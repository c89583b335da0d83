"""The broker topology PROTOCOL.md fixes, declared idempotently by every party."""

from __future__ import annotations

from dataclasses import dataclass

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
