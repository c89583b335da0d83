"""The report store's own subscription to ``pam.events``.

    store = await ReportStore.open()
    async with ReportIngester(store, "amqp://guest:guest@host/vhost") as ing:
        await stop_event.wait()

A durable quorum queue of its own (``pam.reports`` by default) bound to ``pam.events``
with the keys the reports read (agent state changes and job events): the broker keeps
what PAM announces while the ingester is down, and hands it over when it is back.
Deliveries are taken in batches (whatever is waiting, up to ``batch_max``), written in
one transaction, and acknowledged only once the store committed; the store drops events
it has already (same stream and ``seq``), so a redelivery changes nothing. An
undecodable message is dead-lettered to ``pam.dead`` (via ``pam.dlx``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from pam_protocol import decoding, topology
from pam_protocol import messages as m
from supervisor_api.reports.store import ReportStore

log = logging.getLogger("pam.reports")

DEFAULT_QUEUE = "pam.reports"
#: Agent state changes (``agent.<zone>.<agent>.state``) and every job event.
BINDINGS = (m.ROUTES["state"].pattern(), m.ROUTES["job"].pattern())


class ReportIngester:
    """Feeds a :class:`ReportStore` from ``pam.events`` until :meth:`stop`."""

    def __init__(self, store: ReportStore,
                 amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/", *,
                 queue: str = DEFAULT_QUEUE, batch_max: int = 500, prefetch: int = 2000,
                 retry_s: float = 1.0,
                 on_stored: Callable[[list[m.AnyEvent]], Awaitable[None]] | None = None,
                 ) -> None:
        self.store = store
        #: Called after each batch is in the store (the dashboard refreshes today's
        #: figures of the agents in it); its errors are logged, never block ingestion.
        self.on_stored = on_stored
        self.amqp_url = amqp_url
        self.queue_name = queue
        self.batch_max = batch_max
        self.prefetch = prefetch
        self.retry_s = retry_s
        #: Deliveries taken, and events that were new to the store, since start().
        self.received = 0
        self.stored = 0
        #: Deliveries that were not valid events, dead-lettered with the reason.
        self.rejected = 0
        self.topo: topology.Topology | None = None
        self.conn: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._inbox: asyncio.Queue[AbstractIncomingMessage | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Connect, declare the queue and its bindings, and start consuming."""
        self.conn = await aio_pika.connect_robust(
            self.amqp_url, client_properties={"connection_name": "pam-reports"})
        self.channel = await self.conn.channel()
        await self.channel.set_qos(prefetch_count=self.prefetch)
        topo = self.topo = await topology.declare(self.channel)
        self.queue = await self.channel.declare_queue(
            self.queue_name, durable=True,
            arguments={"x-queue-type": "quorum", "x-dead-letter-exchange": topology.DLX})
        for key in BINDINGS:
            await self.queue.bind(topo.events, routing_key=key)
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="reports-ingest")
        self._tag = await self.queue.consume(self._inbox.put, no_ack=False)
        log.info("ingesting", extra={"queue": self.queue_name})

    async def _dead_letter(self, msg: AbstractIncomingMessage, reason: str) -> None:
        assert self.topo is not None
        try:
            await topology.dead_letter(self.topo.dlx, msg, reason)
            await msg.ack()
        except Exception as e:  # the channel died: redelivered, and dead-lettered then
            log.warning("dead letter failed; redelivered later", extra={"error": repr(e)})
    async def not_ready(self) -> str | None:
        """Why the ingester is not doing its work (``/readyz``), or None: connected to
        RabbitMQ, consuming its queue, the report store answering."""
        # (a robust connection is not "closed" while it reconnects: ask whether it is up)
        if self.conn is None or self.conn.is_closed or not self.conn.connected.is_set():
            return "not connected to RabbitMQ"
        if self._tag is None or self.channel is None or self.channel.is_closed:
            return f"not consuming queue {self.queue_name}"
        try:
            await self.store.schema_version()
        except Exception as e:
            return f"the report store does not answer: {e or type(e).__name__}"
        return None

    async def stop(self) -> None:
        """Stop consuming, finish the batch in hand, close. Unacknowledged deliveries go
        back to the queue (the broker keeps them for the next start)."""
        self._stopping.set()
        if self.queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await self.queue.cancel(self._tag)
            self._tag = None
        if self._task is not None:
            # let the batch in hand finish, then end the loop
            self._inbox.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()  # unacked deliveries are requeued by the broker
            self.conn = None
        self._inbox = asyncio.Queue()

    async def run(self, stop: asyncio.Event) -> None:
        """start(), wait for ``stop``, stop()."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # ---- the loop ----------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            first = await self._inbox.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.batch_max and not self._inbox.empty():
                nxt = self._inbox.get_nowait()
                if nxt is None:
                    self._inbox.put_nowait(nxt)
                    break
                batch.append(nxt)
            await self._handle(batch)

    async def _handle(self, batch: list[AbstractIncomingMessage]) -> None:
        events: list[tuple[m.AnyEvent, datetime]] = []
        good: list[AbstractIncomingMessage] = []
        now = datetime.now(UTC)
        for msg in batch:
            self.received += 1
            try:
                ev = decoding.decode(m.event_decoder, msg.body, what="event")
            except decoding.Poison as e:  # the event's fault: dead-lettered, never retried
                self.rejected += 1
                log.error("invalid event dead-lettered",
                          extra={"routing_key": msg.routing_key, "reason": e.message})
                await self._dead_letter(msg, f"{e.code}: {e.message}")
                continue
            received = msg.timestamp or now
            if received.tzinfo is None:
                received = received.replace(tzinfo=UTC)
            events.append((ev, received))
            good.append(msg)
        if not good:
            return
        attempt = 0
        while True:
            try:
                self.stored += await self.store.add(events)
                break
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the database is away: hold the deliveries, retry
                attempt += 1
                log.error("report store write failed; will retry",
                          extra={"error": repr(e), "attempt": attempt})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(),
                                           min(30.0, self.retry_s * attempt))
                if self._stopping.is_set():
                    return  # not acked: the broker redelivers them after the restart
        last = max(good, key=lambda msg: msg.delivery_tag or 0)
        try:
            await last.ack(multiple=True)
        except Exception as e:  # the channel died: the broker redelivers, add() dedups
            log.warning("ack failed; the batch will be redelivered", extra={"error": repr(e)})
        if self.on_stored is not None:
            try:
                await self.on_stored([ev for ev, _ in events])
            except Exception:
                log.exception("on_stored callback failed")

