"""Publishing demand signals the way an ACD does (for ACD adapters, demos and tests).

    async with await DemandPublisher.connect(url) as acd:
        await acd.publish(InboundDemand(zone="z1", waiting_calls=12, service_level=0.6,
                                        ts=datetime.now(UTC)))
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection

from blender.messages import ACD_EXCHANGE, InboundDemand, demand_routing_key, encoder


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
