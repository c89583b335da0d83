"""The blender's input: the contact center ACD's inbound demand, one message per zone,
and ``DemandPublisher``, publishing it the way an ACD does (for ACD adapters, demos and
tests).

The ACD publishes ``InboundDemand`` as JSON on its own durable topic exchange
(``pam.acd`` by default) with routing key ``demand.<zone>``, persistent or not, as often
as it likes (every few seconds is typical). The blender acts on the newest signal of
each zone; a signal older than ``max_signal_age_s`` is logged and ignored.

``docs/blender.md`` carries the JSON Schema generated from this type
(``python -m blender.schema``).
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Annotated, Self

import aio_pika
import msgspec
from aio_pika.abc import AbstractExchange, AbstractRobustConnection
from msgspec import Meta, Struct

#: The exchange and routing-key prefix the ACD publishes on.
ACD_EXCHANGE = "pam.acd"
DEMAND_KEY_PREFIX = "demand."


class InboundDemand(Struct, frozen=True, kw_only=True, tag=True, tag_field="type"):
    """How much the inbound side of one zone needs agents, as the ACD sees it now.

    ACDs should send ``"type": "InboundDemand"`` (the schema requires it); the blender
    also accepts a body without it.
    """

    zone: Annotated[str, Meta(min_length=1, max_length=128,
                              description="the PAM zone whose agents may be blended")]
    waiting_calls: Annotated[int, Meta(ge=0, le=1_000_000,
                                       description="inbound calls queued, not yet answered")]
    service_level: Annotated[float, Meta(
        ge=0.0, le=1.0,
        description="share of inbound calls answered within the service-level target "
                    "over the ACD's recent window (0..1)")]
    oldest_wait_s: Annotated[float, Meta(
        ge=0.0, description="seconds the oldest waiting call has waited")] = 0.0
    agents_inbound: Annotated[int, Meta(
        ge=0, description="agents the ACD counts as staffing inbound (informational)",
    )] | None = None
    ts: Annotated[datetime, Meta(tz=True, description="when the ACD measured this (ISO 8601, "
                                                      "with a time zone)")]


demand_decoder: msgspec.json.Decoder[InboundDemand] = msgspec.json.Decoder(InboundDemand)
encoder = msgspec.json.Encoder()


def demand_routing_key(zone: str) -> str:
    return f"{DEMAND_KEY_PREFIX}{zone}"


class DemandPublisher:
    def __init__(self, conn: AbstractRobustConnection, exchange: AbstractExchange) -> None:
        self.conn = conn
        self.exchange = exchange

    @classmethod
    async def connect(cls, url: str, exchange: str = ACD_EXCHANGE) -> DemandPublisher:
        conn = await aio_pika.connect_robust(url)
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        return cls(conn, ex)

    async def publish(self, demand: InboundDemand) -> None:
        await self.exchange.publish(
            aio_pika.Message(encoder.encode(demand), content_type="application/json"),
            routing_key=demand_routing_key(demand.zone))

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
