"""The PAM client library: what desktops, supervisors, the blender, the dialer, the
tests and the load-testing harness use to talk to PAM over RabbitMQ.

    async with PamClient.connect("amqp://guest:guest@127.0.0.1/") as pam:
        reply = await pam.send("z1", Ready(agent_id="a1"))
        async for event in pam.subscribe(["agent.z1.#"]):
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import DeliveryError
from aiormq.exceptions import InvalidFrameError, ProbableAuthenticationError, PublishError
from pamqp.commands import Basic
from yarl import URL

from pam_protocol import decoding, topology
from pam_protocol import messages as m

log = logging.getLogger("pam.client")


class PamError(Exception):
    """Base of the client's errors."""


class UnknownZone(PamError):
    """No PAM serves this zone: the broker returned the command as unroutable."""


class ReplyTimeout(PamError):
    """No reply within the timeout; the command may or may not have been applied
    (resend it with the same message_id: PAM applies it at most once)."""


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def amqp_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a RabbitMQ URL (password masked), or None if it can."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as e:
        return f"{redact(url)} is not a valid URL ({e})"
    if parts.scheme not in ("amqp", "amqps"):
        return (f"{redact(url)}: a RabbitMQ URL starts with amqp:// or amqps://, "
                f"e.g. amqp://guest:guest@127.0.0.1:5672/")
    return None


#: The AMQP heartbeat (seconds) the long-running services ask for when their URL sets
#: none. RabbitMQ drops a connection that sent nothing for two to three heartbeats, so a
#: frozen active instance (SIGSTOP, a paused VM) hands its zones to a standby 2-3 s after
#: it froze, instead of the broker's 60 s default (2-3 minutes). A stall of a live
#: instance longer than that costs one takeover, which fencing makes safe.
#: docs/deployment.md, "Connection settings".
DEFAULT_HEARTBEAT_S = 1


def with_default_heartbeat(url: str, seconds: int = DEFAULT_HEARTBEAT_S) -> str:
    """``url`` with ``heartbeat=<seconds>`` added to its query, unless it sets one."""
    parts = urlsplit(url)
    if any(kv.split("=", 1)[0] == "heartbeat" for kv in parts.query.split("&")):
        return url
    query = f"{parts.query}&heartbeat={seconds}" if parts.query else f"heartbeat={seconds}"
    return urlunsplit(parts._replace(query=query))


def connect_problem(e: BaseException, url: str) -> tuple[str, bool]:
    """Why connecting to RabbitMQ at ``url`` failed, as a sentence with what to do, and
    whether the cause is the configuration (vhost or credentials: retrying cannot help).
    The URL's password never appears."""
    u = URL(url)
    vhost = unquote(u.path[1:]) if len(u.path) > 1 else "/"
    where = f"RabbitMQ at {u.with_password('***') if u.password else u}"
    if isinstance(e, ProbableAuthenticationError):
        return (f"{where} refused user {u.user or 'guest'!r} (ACCESS_REFUSED): check the "
                f"user name and password in the URL", True)
    if isinstance(e, InvalidFrameError) and "Connection.Close" in str(e):
        return (f"{where} closed the connection while opening vhost {vhost!r}: the vhost "
                f"does not exist or user {u.user or 'guest'!r} may not use it (rabbitmqctl "
                f"add_vhost {vhost}; rabbitmqctl set_permissions -p {vhost} "
                f"{u.user or 'guest'} '.*' '.*' '.*')", True)
    return (f"cannot reach {where}: {e or type(e).__name__}; check the URL and that "
            f"RabbitMQ runs", False)


class PamClient:
    def __init__(self, conn: AbstractRobustConnection, channel: AbstractChannel,
                 commands: AbstractExchange, reply_queue: AbstractQueue,
                 user_id: str | None) -> None:
        self.conn = conn
        self.channel = channel
        self.commands = commands
        self.reply_queue = reply_queue
        self.user_id = user_id
        self.pending: dict[str, asyncio.Future[m.AnyReply]] = {}

    @classmethod
    async def connect(cls, url: str = "amqp://guest:guest@127.0.0.1:5672/",
                      user_id: str | None = None,
                      connection_name: str | None = None) -> PamClient:
        """Connect; ``user_id`` defaults to the URL's user (the broker checks it);
        ``connection_name`` is how the broker's tools show the connection.

        The connection is robust: after a reconnect the reply queue is declared again
        under the same name. A command in flight then may time out (ReplyTimeout);
        resend it with the same message_id."""
        props: dict[str, Any] = {"connection_name": connection_name} if connection_name else {}
        conn = await aio_pika.connect_robust(url, client_properties=props or None)
        channel = await conn.channel(publisher_confirms=True, on_return_raises=True)
        commands = await channel.declare_exchange(topology.COMMANDS, aio_pika.ExchangeType.DIRECT,
                                                  durable=True)
        reply_queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        if user_id is None:
            user_id = conn.url.user or None
        self = cls(conn, channel, commands, reply_queue, user_id)
        await reply_queue.consume(self._on_reply, no_ack=True)
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        for f in self.pending.values():
            f.cancel()
        await self.conn.close()

    async def _on_reply(self, msg: AbstractIncomingMessage) -> None:
        fut = self.pending.pop(msg.correlation_id or "", None)
        if fut is not None and not fut.done():
            try:
                fut.set_result(decoding.decode(m.reply_decoder, msg.body, what="reply"))
            except decoding.BadInput as e:  # not PAM's reply (PAM's bug or a stranger's)
                fut.set_exception(PamError(f"undecodable reply: {e}"))

    async def publish(self, zone: str, body: bytes, *, message_id: str | None = None,
                      reply: bool = False, correlation_id: str | None = None,
                      expiration: float | None = None,
                      headers: dict[str, str] | None = None) -> str:
        """Publish raw bytes as a command (for tests of bad input); returns the message id.

        ``headers`` travel as AMQP headers, e.g. ``x-pam-on-behalf-of``: the person a
        trusted tool (the dashboard) acts for, which PAM logs with the command."""
        mid = message_id or uuid.uuid4().hex
        props = Basic.Properties(
            headers=dict(headers) if headers else None,
            message_id=mid, content_type="application/json", delivery_mode=2,
            user_id=self.user_id, reply_to=self.reply_queue.name if reply else None,
            correlation_id=correlation_id or (mid if reply else None),
            expiration=str(int(expiration * 1000)) if expiration is not None else None,
            # PAM counts an expiration from this stamp when it has one
            timestamp=datetime.now(UTC) if expiration is not None else None)
        # The underlying aiormq channel: the same confirm, no aio_pika.Message per command.
        raw = await self.channel.get_underlay_channel()
        try:
            await raw.basic_publish(body, exchange=topology.COMMANDS, routing_key=zone,
                                    properties=props, mandatory=True)
        except (DeliveryError, PublishError) as e:
            raise UnknownZone(f"no PAM serves zone {zone!r}: the broker returned the command "
                              f"as unroutable; check the zone name and that pam-service "
                              f"--zones includes it") from e
        return mid

    async def send(self, zone: str, cmd: m.Command, *, timeout: float = 10.0,
                   message_id: str | None = None,
                   headers: dict[str, str] | None = None,
                   expiration: float | None = None) -> m.AnyReply:
        """Send a command and await its reply.

        ``expiration`` (seconds): a command not applied within it is dead-lettered,
        never applied late; no reply comes then (ReplyTimeout)."""
        mid = message_id or uuid.uuid4().hex
        corr = uuid.uuid4().hex
        fut: asyncio.Future[m.AnyReply] = asyncio.get_running_loop().create_future()
        self.pending[corr] = fut
        try:
            await self.publish(zone, m.encoder.encode(cmd), message_id=mid, reply=True,
                               correlation_id=corr, headers=headers, expiration=expiration)
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError as e:
            raise ReplyTimeout(f"{type(cmd).__name__} to zone {zone!r}: no reply in {timeout} s "
                               f"(message_id {mid})") from e
        finally:
            self.pending.pop(corr, None)

    async def send_raw(self, zone: str, body: bytes, *, timeout: float = 10.0,
                       message_id: str | None = None) -> m.AnyReply:
        corr = uuid.uuid4().hex
        fut: asyncio.Future[m.AnyReply] = asyncio.get_running_loop().create_future()
        self.pending[corr] = fut
        try:
            await self.publish(zone, body, message_id=message_id, reply=True, correlation_id=corr)
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.pending.pop(corr, None)

    async def subscribe(self, patterns: Sequence[str]) -> EventStream:
        """Events whose routing key matches any pattern (topic syntax: ``agent.z1.#``)."""
        ch = await self.conn.channel()
        events = await ch.declare_exchange(topology.EVENTS, aio_pika.ExchangeType.TOPIC,
                                           durable=True)
        q = await ch.declare_queue(exclusive=True, auto_delete=True)
        for p in patterns:
            await q.bind(events, routing_key=p)
        stream = EventStream(ch, q)
        await stream.start()
        return stream


class EventStream:
    """Decoded events with their routing keys; ``async for (key, event) in stream``.

    Anything on ``pam.events`` that is not a valid event (a stranger may publish there)
    is dropped, logged with its reason and counted in ``rejected``: it never reaches
    the consumer, nor stops the stream (pam_protocol.decoding)."""

    def __init__(self, channel: AbstractChannel, queue: AbstractQueue) -> None:
        self.channel = channel
        self.queue = queue
        self.q: asyncio.Queue[tuple[str, m.AnyEvent]] = asyncio.Queue()
        self.rejected = 0

    async def start(self) -> None:
        await self.queue.consume(self._on, no_ack=True)

    async def _on(self, msg: AbstractIncomingMessage) -> None:
        try:
            ev = decoding.decode(m.event_decoder, msg.body, what="event")
        except decoding.BadInput as e:
            self.rejected += 1
            if self.rejected <= 10 or self.rejected % 1000 == 0:  # a flood logs little
                log.warning("invalid event dropped", extra={
                    "routing_key": msg.routing_key, "reason": e.message,
                    "rejected": self.rejected})
            return
        self.q.put_nowait((msg.routing_key or "", ev))

    async def next(self, timeout: float = 10.0) -> tuple[str, m.AnyEvent]:
        return await asyncio.wait_for(self.q.get(), timeout)

    async def wait_for(self, pred: type[m.Event] | None = None, *, timeout: float = 10.0,
                       **fields: object) -> m.AnyEvent:
        """The next event of that type whose fields equal ``fields`` (others are skipped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                what = pred.__name__ if pred else "event"
                raise TimeoutError(f"no {what} {fields} in {timeout} s")
            _, ev = await self.next(left)
            if pred is not None and not isinstance(ev, pred):
                continue
            if all(getattr(ev, k, None) == v for k, v in fields.items()):
                return ev

    def __aiter__(self) -> AsyncIterator[tuple[str, m.AnyEvent]]:
        return self

    async def __anext__(self) -> tuple[str, m.AnyEvent]:
        return await self.q.get()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.channel.close()
