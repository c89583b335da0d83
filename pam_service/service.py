"""The PAM service: consumes each zone's commands, applies them to the zone in memory,
commits each batch to Redis in one fenced script, then replies, announces and acks.

Flow of one batch (see docs/protocol.md and docs/redis-layout.md):

1. take up to ``batch_max`` deliveries that are waiting (never wait to fill a batch);
2. validate each (size, ``message_id``, JSON, type, fields, role); find which valid
   ones were applied before: from the lookup that rode with the previous commit, as
   surely new where this instance's own record of committed ids allows
   (pam_service.dedup), else one MGET. A command seen before gets its cached reply
   again and changes nothing;
3. apply the new ones, in order, to the zone in memory (the pure core);
4. commit everything in one Lua script: fence token, dedup records with the replies,
   versions, agent / job / call writes, and the events into the zone's outbox stream
   with their per-agent (per-job) ``seq``; the next batch's lookup goes in the same
   round trip;
5. put the replies and events on the wire as one write, with publisher confirms
   (pam_service.amqp), and go on with the next batch; once they are confirmed (and
   the batches before are acked), ack the batch with one multiple-ack. Confirmed
   outbox entries are trimmed by a later commit.

A crash anywhere leaves either nothing (the batch is redelivered and applied) or the
whole commit (the redelivery is recognised by its ``message_id``, answered from the
cache, and the outbox is drained by whoever serves the zone next).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import itertools
import json
import logging
import random
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, cast

import aio_pika
import aiormq
import msgspec
import redis.asyncio as aioredis
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq.exceptions import ChannelInvalidStateError
from pamqp.commands import Basic
from prometheus_client import Counter, Histogram

from pam_service import messages as m
from pam_service import topology
from pam_service.amqp import Outgoing, enqueue_many, publish_many
from pam_service.auth import Policy
from pam_service.dedup import CommittedIds
from pam_service.domain import machine as sm
from pam_service.domain.zone import Pool, Result, Zone
from pam_service.pool import default_pool_factory
from pam_service.store import (
    Batch,
    Conflict,
    Fenced,
    ZoneStore,
    agent_record,
    connect_redis,
    gc_paused,
    with_seq,
)

log = logging.getLogger("pam.service")

COMMANDS = Counter("pam_commands_total", "Commands handled", ["zone", "type", "result"])
LATENCY = Histogram("pam_command_seconds", "From delivery to ack", ["zone"],
                    buckets=(.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5))


@functools.lru_cache(maxsize=4096)
def counted(zone: str, kind: str, result: str) -> Any:
    """The labelled counter child, looked up once per (zone, type, result)."""
    return COMMANDS.labels(zone, kind, result)


TAKEOVERS = Counter("pam_takeovers_total", "Zones taken over by this instance", ["zone"])
BATCH = Histogram("pam_batch_commands", "Deliveries per batch", ["zone"],
                  buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
DEDUP = Counter("pam_dedup_ids_total",
                "Commands checked for a repeat, by how: looked up with the previous commit "
                "(ahead), known new to this instance (known_new), looked up on their own "
                "(lookup)", ["zone", "how"])

_encode = m.encoder.encode
_EVENT_PROPS = Basic.Properties(content_type="application/json", delivery_mode=2)
_agent_enc = msgspec.json.Encoder()


@dataclass
class Settings:
    zones: list[str]
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "pam"
    policy: Policy = field(default_factory=Policy.development_default)
    batch_max: int = 256
    prefetch: int = 512
    max_body: int = 64 * 1024
    dedup_ttl_s: int = 600
    #: After taking over a zone that another instance held, the zone counts as
    #: failing over for this long (ReleaseFromOutbound is ignored, P_POMAGT50).
    failover_grace_s: float = 3.0
    #: An agent left Unknown after a takeover (docs/deployment.md, "Agents in doubt")
    #: whose desktop has not resynced within this time is resolved by PAM itself.
    resync_timeout_s: float = 60.0
    #: Redis WAIT after each commit: replicas that must have it before PAM answers
    #: (docs/deployment.md, "Redis behind Sentinel"); 0 = asynchronous replication.
    redis_wait_replicas: int = 0
    redis_wait_timeout_ms: int = 500
    callback_due_utc: bool = False
    #: A zone with no command for this long trims its confirmed outbox entries
    #: (instead of leaving them to the next commit).
    quiet_trim_s: float = 0.05
    #: The server's time zone for callback due times (None: this host's local zone,
    #: which the TZ environment variable sets).
    server_tz: tzinfo | None = None
    instance: str = "pam"
    #: Tries of a batch that cannot be committed before it is requeued.
    batch_retries: int = 20
    #: Graceful stop: how long to keep processing what was already delivered.
    stop_timeout_s: float = 10.0
    #: Zones this instance prefers to be active for (``--prefer``): it consumes the
    #: others only after ``prefer_delay_s``. Empty: all at once.
    prefer: list[str] = field(default_factory=list)
    prefer_delay_s: float = 5.0
    #: Builds each zone's pool: the Rust dispatcher by default.
    pool_factory: Any = field(default_factory=default_pool_factory)


class BadMessage(Exception):
    def __init__(self, code: m.RejectCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def decode_command(body: bytes, max_body: int) -> m.Command:
    """Decode one command body, or raise BadMessage with the code PROTOCOL.md names."""
    if len(body) > max_body:
        raise BadMessage("BadRequest", f"body of {len(body)} bytes exceeds {max_body}")
    try:
        return m.command_decoder.decode(body)
    except msgspec.ValidationError as e:
        try:
            raw = json.loads(body)
        except ValueError:
            raw = None
        if isinstance(raw, dict) and isinstance(raw.get("type"), str) and (
                raw["type"] not in m.COMMAND_NAMES):
            raise BadMessage("UnknownCommand", f"unknown command type {raw['type']!r}") from e
        raise BadMessage("BadRequest", f"invalid command: {e}") from e
    except msgspec.DecodeError as e:
        raise BadMessage("BadRequest", f"body is not a JSON object: {e}") from e


@dataclass
class Item:
    msg: AbstractIncomingMessage
    received: float
    cmd: m.Command | None = None
    reply: bytes | None = None  # set when known before applying (bad input, duplicate)
    reject: m.Rejected | None = None
    #: Its ``expiration`` ran out between delivery and applying: dead-lettered, not applied.
    expired: bool = False


class ZoneWorker:
    """Serves one zone: active when the broker makes this consumer the active one."""

    def __init__(self, svc: PamService, zone: str) -> None:
        self.svc = svc
        self.name = zone
        self.store = ZoneStore(svc.redis, zone, svc.settings.key_prefix, svc.settings.dedup_ttl_s,
                               wait_replicas=svc.settings.redis_wait_replicas,
                               wait_timeout_ms=svc.settings.redis_wait_timeout_ms)
        pool: Pool | None = svc.settings.pool_factory() if svc.settings.pool_factory else None
        self.zone = Zone(zone, pool)
        self.token: int | None = None
        self.inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        #: id(delivery) -> monotonic deadline, for deliveries with an ``expiration``: the
        #: broker expires commands in the queue, PAM those that wait in its prefetch
        #: (a batch retrying through a Redis outage holds the rest).
        self.deadlines: dict[int, float] = {}
        #: Deliveries taken from the inbox for the next batch, whose ``message_id``s
        #: were looked up with the last commit (``looked``; None when not valid).
        self.pending: collections.deque[AbstractIncomingMessage] = collections.deque()
        self.looked: dict[str, bytes | None] | None = None
        #: The message ids this instance committed, and from when (monotonic) every live
        #: dedup key of the zone is known to be one of them (pam_service.dedup).
        self.committed_ids = CommittedIds(svc.settings.dedup_ttl_s)
        self.trusted_from = float("inf")
        self.trim: list[str] = []
        self.queue: AbstractQueue | None = None
        self.consumer_tag: str | None = None
        self.failing_over_until = 0.0
        self.applied = 0
        self.busy = False
        #: Fault-injection seam for tests and bench/chaos.py: awaited after the Redis
        #: commit and before any publish or ack (where a crash hurts most).
        self.after_commit: Any = None
        self.latency = LATENCY.labels(zone)
        self.batch_size = BATCH.labels(zone)
        self.dedup_how = {how: DEDUP.labels(zone, how) for how in ("ahead", "known_new", "lookup")}
        self.inflight: asyncio.Task[None] | None = None
        #: A failed quiet trim is not tried again before this (monotonic) time.
        self.quiet_retry_at = 0.0
        self.channel: AbstractChannel | None = None
        #: Batches refused because another instance held the fence (or memory was stale).
        self.fenced = 0
        #: The AMQP channel whose deliveries made this instance take the zone over. Any
        #: other channel means the connection was lost in between, and with it maybe the
        #: single-active-consumer role: another instance may have served the zone.
        self.taken_on: Any = None
        #: Whether agents may be Unknown (set at a takeover, cleared when none is left).
        self.watch_unknown = False
        #: When the oldest Unknown agent's resync times out (None: to be looked up).
        self.resync_due: datetime | None = None

    @property
    def active(self) -> bool:
        return self.token is not None

    async def start(self, channel: AbstractChannel) -> None:
        # One channel per zone: a multiple-ack then covers only this zone's deliveries,
        # and one zone's prefetch cannot starve another.
        self.channel = channel
        self.queue = await topology.declare_zone(channel, self.name)
        self.consumer_tag = await self.queue.consume(self._delivered, no_ack=False)

    async def _delivered(self, msg: AbstractIncomingMessage) -> None:
        if isinstance(msg.expiration, int | float):  # seconds, as aio-pika decodes it
            self.deadlines[id(msg)] = time.monotonic() + msg.expiration - sent_ago(msg)
        elif self.deadlines:  # ids are addresses: never inherit a freed delivery's entry
            self.deadlines.pop(id(msg), None)
        self.inbox.put_nowait(msg)

    async def stop_consuming(self) -> None:
        if self.queue is not None and self.consumer_tag is not None:
            with contextlib.suppress(Exception):
                await self.queue.cancel(self.consumer_tag)
            self.consumer_tag = None

    # ---- takeover ------------------------------------------------------
    async def takeover(self) -> None:
        token = await self.store.take_fence()
        # Token 1: nobody held the zone before, so every dedup key will be ours. Else the
        # predecessor's keys live for up to the TTL: look every id up until they expire.
        self.trusted_from = time.monotonic() + (
            0.0 if token == 1 else self.svc.settings.dedup_ttl_s)
        with gc_paused():
            agents, jobs, calls = await self.store.load()
            self.zone.load(agents, jobs, calls)
        self.token = token
        # outbox entries this instance itself saw confirmed (a reconnect, not a crash)
        confirmed = set(self.trim)
        self.trim = []
        TAKEOVERS.labels(self.name).inc()
        failover = token > 1
        if failover:
            self.failing_over_until = time.monotonic() + self.svc.settings.failover_grace_s
        changed = await self.drain_outbox(confirmed)
        doubt = sorted(aid for aid in changed if (a := self.zone.agents.get(aid)) is not None
                       and a.agent_state not in (sm.A.LOGOUT, sm.A.UNKNOWN))
        self.watch_unknown = True  # (some may have been Unknown already)
        self.resync_due = None
        log.info("took over zone", extra={"zone": self.name, "token": token,
                                          "agents": len(agents), "jobs": len(jobs),
                                          "in_doubt": len(doubt)})
        # Agents in doubt (docs/deployment.md, "Agents in doubt"): Unknown, out of the
        # pool, until their desktop resyncs. Committed with the zone's POMAvailable.
        live = [a.agent_id for a in self.zone.agents.values() if a.agent_state is not sm.A.LOGOUT]
        await self._apply_internal([sm.MarkUnknown(agent_id=aid) for aid in doubt],
                                   [m.POMAvailable(agent_id=aid, zone=self.name) for aid in live])

    async def _apply_internal(self, inputs: list[sm.Internal],
                              extra: list[m.Event] | None = None) -> None:
        """Apply inputs that no command carries (MarkUnknown, ResolveUnknown), commit
        them with the fence like a batch (plus ``extra`` events), then publish."""
        assert self.token is not None
        batch = Batch(trim=self.trim)
        self.trim = []
        base: dict[str, int] = {}
        ctx = self.ctx()
        for inp in inputs:
            self._collect(batch, self.zone.internal(inp, ctx), base)
        for e in extra or ():
            batch.events.append((scope_of(e), m.routing_key(e), _encode(e)))
        if not batch.events and not batch.trim:
            return
        self._final_records(batch, base)
        committed = await self.store.commit(self.token, batch)
        await self._publish_committed(batch, committed)

    def _final_records(self, batch: Batch, base_versions: dict[str, int]) -> None:
        """The changed agents' records as the batch leaves them, each with the version
        it had before (the commit script checks it)."""
        for aid, base in base_versions.items():
            a = self.zone.agents[aid]
            batch.agents.append((aid, base, a.version, agent_record(a)))

    async def resolve_stale(self) -> int:
        """Agents left Unknown longer than ``resync_timeout_s`` (their desktop never
        resynced) are resolved by PAM itself: idle ones NotReady, others their work
        state. Returns how many."""
        if not self.active:
            return 0
        cutoff = datetime.now(UTC) - timedelta(seconds=self.svc.settings.resync_timeout_s)
        stale = sorted(a.agent_id for a in self.zone.agents.values()
                       if a.agent_state is sm.A.UNKNOWN and a.since <= cutoff)
        if stale:
            await self.flush()  # the previous batch's events go out first
            await self._apply_internal([sm.ResolveUnknown(agent_id=aid) for aid in stale])
            log.warning("resync timed out; agents resolved",
                        extra={"zone": self.name, "agents": stale})
        return len(stale)

    def _next_resync(self) -> float | None:
        """Seconds until the oldest Unknown agent's resync times out, if any.

        The agents are scanned once per takeover and once per timeout, not per batch:
        only a takeover makes agents Unknown, so the oldest one's due time can only
        move later (when it resyncs), and waking early for it is harmless."""
        if not self.active or not self.watch_unknown:
            return None
        if self.resync_due is None:
            since = [a.since for a in self.zone.agents.values()
                     if a.agent_state is sm.A.UNKNOWN]
            if not since:
                self.watch_unknown = False
                return None
            self.resync_due = min(since) + timedelta(seconds=self.svc.settings.resync_timeout_s)
        return max(0.0, (self.resync_due - datetime.now(UTC)).total_seconds()) + 0.01

    def drop(self, why: str) -> None:
        log.warning("leaving zone", extra={"zone": self.name, "reason": why})
        self.token = None
        self.taken_on = None
        self.looked = None
        self.zone.load([], [], {})

    async def drain_outbox(self, confirmed: set[str] | None = None) -> set[str]:
        """Publish what a predecessor (or this instance before a crash) committed but
        may not have published. Consumers drop repeats by ``seq``.

        Returns the agents with a state change among those entries (less the entries in
        ``confirmed``, known to have been confirmed): the agents in doubt at a takeover."""
        changed: set[str] = set()
        confirmed = confirmed or set()
        while True:
            rows = await self.store.outbox(1000)
            trimmed = set(self.trim)
            rows = [r for r in rows if r[0] not in trimmed]
            if not rows:
                return changed
            for i, rk, body in rows:
                if i not in confirmed and rk.endswith(".state"):
                    with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                        ev = m.event_decoder.decode(body)
                        if isinstance(ev, m.AgentStateChanged):
                            changed.add(ev.snapshot.agent_id)
            await publish_many(await self.raw_channel(),
                               [event_out(rk, body) for _, rk, body in rows])
            await self.store.trim([i for i, _, _ in rows])

    async def _announce(self, events: list[m.Event]) -> None:
        await self._apply_internal([], events)

    async def _publish_committed(self, batch: Batch, committed: Any) -> None:
        await (await self._enqueue(batch, committed))

    async def _enqueue(self, batch: Batch, committed: Any,
                       replies: Iterable[Outgoing] = ()) -> Awaitable[None]:
        """Put the replies, then the events, on the wire as one write; returns what
        completes once they are confirmed (their outbox entries are then trimmed by the
        next commit)."""
        out = list(replies)
        out.extend(event_out(rk, with_seq(body, seq)) for (_, rk, body), (_, seq)
                   in zip(batch.events, committed.entries, strict=True))
        confirmed = await enqueue_many(await self.raw_channel(), out)

        async def trim_when_confirmed() -> None:
            await confirmed
            self.trim.extend(i for i, _ in committed.entries)
        return trim_when_confirmed()

    async def raw_channel(self) -> aiormq.Channel:
        assert self.channel is not None
        return cast(aiormq.Channel, await self.channel.get_underlay_channel())

    # ---- the batch loop ------------------------------------------------
    async def run(self) -> None:
        while True:
            wait = self._next_resync()
            quiet = self._quiet_trim_due()
            if self.pending:
                first = self.pending.popleft()
            elif not self.inbox.empty():
                first = self.inbox.get_nowait()
            elif wait is None and quiet is None:
                first = await self.inbox.get()
            else:
                try:
                    async with asyncio.timeout(min(t for t in (wait, quiet) if t is not None)):
                        first = await self.inbox.get()
                except TimeoutError:
                    if quiet is not None and (wait is None or quiet <= wait):
                        await self._trim_quiet()
                    else:
                        await self._resolve_stale_safely()
                    continue
            msgs = [first]
            while len(msgs) < self.svc.settings.batch_max and self.pending:
                msgs.append(self.pending.popleft())
            while len(msgs) < self.svc.settings.batch_max and not self.inbox.empty():
                msgs.append(self.inbox.get_nowait())
            self.busy = True
            try:
                await self._process_with_retries(msgs)
            finally:
                self.busy = False

    def _quiet_trim_due(self) -> float | None:
        """Seconds to wait for a command before trimming the outbox while the zone is
        quiet, if it holds entries of this instance: else the last batch's entries wait
        for the next commit, and a crash meanwhile would put its agents in doubt
        (docs/deployment.md, "Agents in doubt")."""
        if not self.active or (not self.trim and self.inflight is None):
            return None
        return max(self.svc.settings.quiet_trim_s, self.quiet_retry_at - time.monotonic())

    async def _trim_quiet(self) -> None:
        self.busy = True
        try:
            await self.flush()  # the last batch confirmed: its entries are in self.trim
            self.inflight = None
            ids, self.trim = self.trim, []
            if ids and self.active:
                try:
                    await self.store.trim(ids)
                except Exception as e:  # Redis gone: the next commit trims them
                    self.trim = ids + self.trim
                    self.quiet_retry_at = time.monotonic() + 1.0
                    log.warning("quiet trim failed", extra={"zone": self.name, "error": repr(e)})
        finally:
            self.busy = False

    async def _resolve_stale_safely(self) -> None:
        self.busy = True
        self.resync_due = None  # looked up again after this
        try:
            await self.resolve_stale()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # fenced, or Redis gone: the next batch reloads the zone
            self.fenced += isinstance(e, Fenced | Conflict)
            self.drop(f"resync timeout: {type(e).__name__}: {e}")
        finally:
            self.busy = False

    async def _process_with_retries(self, msgs: list[AbstractIncomingMessage]) -> None:
        """Retry a batch that could not be committed, holding its deliveries (a nack
        would count against the queue's delivery limit). Between tries the zone is
        dropped and reloaded; a random back-off lets a rival that fenced us work."""
        for attempt in range(self.svc.settings.batch_retries):
            try:
                await self.process(msgs)
                return
            except asyncio.CancelledError:
                raise
            except (Fenced, Conflict) as e:
                self.fenced += 1
                self.drop(f"{type(e).__name__}: {e}")
            except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as e:
                log.error("redis unavailable; will retry", extra={
                    "zone": self.name, "error": str(e), "attempt": attempt})
                self.drop("redis unavailable")
            except Exception:
                log.exception("batch failed; will retry", extra={"zone": self.name})
                self.drop("unexpected error")
            await asyncio.sleep(random.uniform(0.1, 0.5) * (attempt + 1))
        log.error("batch still failing; requeued", extra={"zone": self.name})
        await self._requeue(msgs)

    async def _requeue(self, msgs: Iterable[AbstractIncomingMessage]) -> None:
        for msg in msgs:
            self.deadlines.pop(id(msg), None)
            with contextlib.suppress(Exception):
                await msg.nack(requeue=True)

    def ctx(self) -> sm.Context:
        return sm.Context(zone=self.name, now=datetime.now(UTC),
                          degraded=time.monotonic() < self.failing_over_until,
                          callback_due_utc=self.svc.settings.callback_due_utc,
                          server_tz=self.svc.server_tz)

    async def process(self, msgs: list[AbstractIncomingMessage]) -> None:
        # Deliveries of a closed channel cannot be acked and the broker gives them to the
        # active consumer again, which may now be another instance (this one was stalled
        # or cut off): handling them here would only take the zone back from it.
        live = [msg for msg in msgs if delivery_channel(msg) is not None]
        if self.deadlines:
            for msg in msgs:
                if delivery_channel(msg) is None:
                    self.deadlines.pop(id(msg), None)
        if len(live) < len(msgs):
            log.warning("dropping deliveries of a closed channel; the broker redelivers them",
                        extra={"zone": self.name, "dropped": len(msgs) - len(live)})
        if not live:
            return
        channel = delivery_channel(live[-1])
        self.batch_size.observe(len(live))
        now = time.monotonic()
        items = [self.svc.validate(Item(msg, now)) for msg in live]
        if self.deadlines:
            self._expire(items, now)
        if not self.active or channel is not self.taken_on:
            # first delivery, or the first on a new channel after a reconnect: the zone
            # may have been served elsewhere meanwhile (reload it, drain the outbox)
            await self.takeover()
            self.taken_on = channel
            self.looked = None
        assert self.token is not None
        cached = await self._seen(items)
        batch = Batch(trim=self.trim)
        self.trim = []
        in_batch: dict[str, bytes] = {}
        base_versions: dict[str, int] = {}
        for it in items:
            mid = it.msg.message_id
            if it.cmd is None:
                continue
            assert mid is not None
            old = cached.get(mid) or in_batch.get(mid)
            if old is not None:
                it.reply = old
                counted(self.name, type(it.cmd).__name__, "duplicate").inc()
                continue
            reason = self.svc.settings.policy.check(it.msg.user_id, it.cmd)
            if reason is not None:
                res = Result(reply=m.Rejected(code="Unauthorized", message=reason))
            else:
                res = self.zone.handle(it.cmd, self.ctx())
            self.applied += 1
            self._collect(batch, res, base_versions)
            it.reply = _encode(res.reply)
            if isinstance(res.reply, m.Rejected):
                it.reject = res.reply
            in_batch[mid] = it.reply
            batch.dedup.append((mid, it.reply))
            counted(self.name, type(it.cmd).__name__,
                    res.reply.code if isinstance(res.reply, m.Rejected) else "Accepted").inc()
            if it.msg.headers and topology.ON_BEHALF_OF in it.msg.headers:
                # a shared tool (the dashboard) acting for a person: the audit trail
                log.info("command on behalf of a person", extra={
                    "zone": self.name, "user_id": it.msg.user_id,
                    "on_behalf_of": str(it.msg.headers[topology.ON_BEHALF_OF]),
                    "command": type(it.cmd).__name__,
                    "agent_id": getattr(it.cmd, "agent_id", None),
                    "result": res.reply.code if isinstance(res.reply, m.Rejected)
                    else "Accepted"})
        self._final_records(batch, base_versions)
        # The next batch's message_ids are looked up in this commit's round trip.
        batch_max = self.svc.settings.batch_max
        while len(self.pending) < batch_max and not self.inbox.empty():
            self.pending.append(self.inbox.get_nowait())
        look = [msg.message_id for msg in itertools.islice(self.pending, batch_max)
                if msg.message_id and self._may_be_seen(msg)]
        for mid, _ in batch.dedup:
            self.committed_ids.add(mid)
        committed, seen = await self.store.commit_and_look(self.token, batch, look)
        self.looked = dict(zip(look, seen, strict=True))
        if self.deadlines:
            for it in items:
                self.deadlines.pop(id(it.msg), None)
        if self.after_commit is not None:
            await self.after_commit()
        # This batch's replies and events go on the wire now, in batch order; their
        # confirms come back while the next batch is read and applied.
        replies = [reply_out(it.msg, it.reply) for it in items
                   if it.msg.reply_to and it.reply is not None]
        try:
            confirmed = await self._enqueue(batch, committed, replies)
        except Exception as e:  # the channel died: the broker redelivers, dedup answers
            confirmed = _raise(e)
        self.inflight = asyncio.create_task(self._finish(items, confirmed, self.inflight))

    def _expire(self, items: list[Item], now: float) -> None:
        """Commands past their deadline are not applied (PROTOCOL.md: never applied
        late); the batch that commits drops their deadlines (a retry checks again)."""
        for it in items:
            deadline = self.deadlines.get(id(it.msg))
            if deadline is not None and now > deadline and it.cmd is not None:
                it.cmd, it.expired = None, True
                counted(self.name, "-", "expired").inc()

    def _may_be_seen(self, msg: AbstractIncomingMessage) -> bool:
        """Whether the command may have been applied before (ask Redis), or is surely new:
        trusted window, a first delivery, an id this instance never committed."""
        assert msg.message_id is not None
        return (time.monotonic() < self.trusted_from or msg.redelivered is True
                or self.committed_ids.maybe_seen(msg.message_id))

    async def _seen(self, items: list[Item]) -> dict[str, bytes | None]:
        """The cached replies of the commands applied before (None for new ones): from
        the lookup made with the last commit where it covers them, known new where
        :meth:`_may_be_seen` says so, from Redis for the rest."""
        looked, self.looked = self.looked, None
        cached: dict[str, bytes | None] = {}
        missing = []
        ahead = known_new = 0
        for it in items:
            mid = it.msg.message_id
            if it.cmd is None or not mid:
                continue
            if looked is not None and mid in looked:
                cached[mid] = looked[mid]
                ahead += 1
            elif self._may_be_seen(it.msg):
                missing.append(mid)
            else:
                cached[mid] = None
                known_new += 1
        self.dedup_how["ahead"].inc(ahead)
        self.dedup_how["known_new"].inc(known_new)
        if missing:
            self.dedup_how["lookup"].inc(len(missing))
            cached.update(zip(missing, await self.store.seen(missing), strict=True))
        return cached

    async def _finish(self, items: list[Item], confirmed: Awaitable[None],
                      previous: asyncio.Task[None] | None) -> None:
        try:
            dead = [self.svc.dead_letter(it.msg, f"{it.reject.code}: {it.reject.message}",
                                         self.channel)
                    for it in items if not it.msg.reply_to and it.reject is not None
                    and it.reject.code not in ("NoAgentAvailable", "Ignored")]
            dead += [self.svc.dead_letter(
                it.msg, f"Expired: not applied within its expiration ({it.msg.expiration} s)",
                self.channel)
                for it in items if it.expired]
            await asyncio.gather(*dead, confirmed)
            if previous is not None:
                # a multiple-ack covers the earlier batches too: they go first
                with contextlib.suppress(Exception):
                    await previous
            # Deliveries are processed in order, so one multiple-ack covers the batch.
            last = max(items, key=lambda it: it.msg.delivery_tag or 0)
            await last.msg.ack(multiple=True)
        except Exception as e:  # the channel died: the broker redelivers, dedup answers
            log.warning("publish or ack failed; the batch will be redelivered",
                        extra={"zone": self.name, "error": repr(e)})
            return
        done = time.monotonic()
        for it in items:
            self.latency.observe(done - it.received)

    async def flush(self) -> None:
        """Wait until every committed batch is published and acked."""
        if self.inflight is not None:
            with contextlib.suppress(Exception):
                await self.inflight

    def _collect(self, batch: Batch, res: Result, base: dict[str, int]) -> None:
        for e in res.events:
            if isinstance(e, m.AgentStateChanged):
                aid = e.snapshot.agent_id
                if aid not in base:
                    base[aid] = e.previous.version if e.previous is not None else 0
            batch.events.append((scope_of(e), m.routing_key(e), _encode(e)))
        for j in res.jobs.values():
            batch.jobs.append((j.job_id, _agent_enc.encode(j)))
        for cid, owner in res.calls.items():
            batch.calls.append((cid, owner or ""))


async def _raise(e: Exception) -> None:
    raise e


def sent_ago(msg: AbstractIncomingMessage) -> float:
    """Seconds since the sender stamped the command (``timestamp``), less one for the
    stamp's whole seconds (in the sender's favour); 0 without a stamp. Counts the time
    the broker held it before delivering it, or PAM's socket before reading it."""
    ts = msg.timestamp
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        return 0.0
    return max(0.0, (datetime.now(UTC) - ts).total_seconds() - 1.0)


def reply_out(msg: AbstractIncomingMessage, body: bytes) -> Outgoing:
    assert msg.reply_to
    return ("", msg.reply_to, Basic.Properties(
        content_type="application/json", delivery_mode=2,
        correlation_id=msg.correlation_id or msg.message_id), body)


def event_out(rk: str, body: bytes) -> Outgoing:
    return (topology.EVENTS, rk, _EVENT_PROPS, body)


def delivery_channel(msg: AbstractIncomingMessage) -> Any:
    """The (aiormq) channel a delivery came on, or None once that channel is closed."""
    try:
        return msg.channel
    except ChannelInvalidStateError:
        return None


def scope_of(e: m.Event) -> str:
    """Which counter numbers this event: its agent's, its job's, or the zone's."""
    if isinstance(e, m.AgentStateChanged):
        return "a:" + e.snapshot.agent_id
    if isinstance(e, m.JobEvent):
        return "j:" + e.job_id
    agent_id = getattr(e, "agent_id", None)
    return "a:" + agent_id if agent_id else "zone"


class AgentsByState:
    """Prometheus collector: agents by zone and sub-state, read from memory on scrape."""

    def __init__(self, svc: PamService) -> None:
        self.svc = svc

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        g = GaugeMetricFamily("pam_agents", "Logged-in agents by zone and state",
                              labels=["zone", "kind", "state"])
        active = GaugeMetricFamily("pam_zone_active", "1 where this instance serves the zone",
                                   labels=["zone"])
        for name, w in self.svc.workers.items():
            active.add_metric([name], 1.0 if w.active else 0.0)
            counts: dict[tuple[str, str], int] = {}
            for a in list(w.zone.agents.values()):
                if a.agent_state is sm.A.LOGOUT:
                    continue
                for kind, st in (("agent_state", a.agent_state), ("call_state", a.call_state),
                                 ("job_state", a.job_state)):
                    counts[(kind, st.value)] = counts.get((kind, st.value), 0) + 1
            for (kind, st_name), n in sorted(counts.items()):
                g.add_metric([name, kind, st_name], float(n))
        yield g
        yield active


class PamService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server_tz = settings.server_tz or datetime.now().astimezone().tzinfo or UTC
        self.redis: aioredis.Redis = connect_redis(settings.redis_url)
        self.conn: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.topo: topology.Topology | None = None
        self.workers = {z: ZoneWorker(self, z) for z in settings.zones}
        self.tasks: list[asyncio.Task[None]] = []
        self.starter: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.conn = await aio_pika.connect_robust(self.settings.amqp_url,
                                                  client_properties={
                                                      "connection_name": self.settings.instance})
        self.channel = await self.conn.channel(publisher_confirms=True)
        await self.channel.set_qos(prefetch_count=self.settings.prefetch)
        self.topo = await topology.declare(self.channel)
        preferred = set(self.settings.prefer)
        later = [w for w in self.workers.values() if preferred and w.name not in preferred]
        for w in self.workers.values():
            if w not in later:
                await self._serve(w)
        if later:
            self.starter = asyncio.create_task(self._serve_later(later))
        log.info("started", extra={"zones": self.settings.zones,
                                   "later": [w.name for w in later]})

    async def _serve(self, w: ZoneWorker) -> None:
        assert self.conn is not None
        ch = await self.conn.channel(publisher_confirms=True)
        await ch.set_qos(prefetch_count=self.settings.prefetch)
        await w.start(ch)
        self.tasks.append(asyncio.create_task(w.run(), name=f"zone-{w.name}"))

    async def _serve_later(self, workers: list[ZoneWorker]) -> None:
        """Zones outside ``--prefer``: consume them after a delay, so that an instance
        that prefers them registers first and becomes their single active consumer;
        this instance is their standby."""
        await asyncio.sleep(self.settings.prefer_delay_s)
        for w in workers:
            await self._serve(w)
        log.info("consuming the other zones", extra={"zones": [w.name for w in workers]})

    def validate(self, it: Item) -> Item:
        msg = it.msg
        try:
            if not msg.message_id:
                raise BadMessage("BadRequest", "the command has no message_id property")
            it.cmd = decode_command(msg.body, self.settings.max_body)
        except BadMessage as e:
            it.cmd = None
            it.reject = m.Rejected(code=e.code, message=e.message)
            it.reply = _encode(it.reject)
            counted("-", "invalid", e.code).inc()
        return it

    async def dead_letter(self, msg: AbstractIncomingMessage, reason: str,
                          channel: AbstractChannel | None = None) -> None:
        assert self.topo is not None
        # the shared channel publishes dead letters: they are rare and carry no state
        headers = dict(msg.headers or {})
        headers.update({"x-pam-reason": reason, "x-pam-zone": msg.routing_key or ""})
        await self.topo.dlx.publish(
            aio_pika.Message(msg.body, headers=headers, message_id=msg.message_id,
                             content_type=msg.content_type,
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=msg.routing_key or "")

    async def not_ready(self) -> str | None:
        """Why this instance is not doing its work (``/readyz``), or None: connected to
        RabbitMQ, consuming every zone (as active or standby), Redis answering."""
        # (a robust connection is not "closed" while it reconnects: ask whether it is up)
        if self.conn is None or self.conn.is_closed or not self.conn.connected.is_set():
            return "not connected to RabbitMQ"
        idle = [w.name for w in self.workers.values()
                if w.consumer_tag is None or w.channel is None or w.channel.is_closed]
        if idle:
            return f"not consuming zone(s) {', '.join(idle)}"
        try:
            await self.redis.ping()
        except Exception as e:
            return f"Redis does not answer: {e or type(e).__name__}"
        return None

    async def stop(self) -> None:
        """Graceful: tell the desktops, stop consuming, finish what was delivered, flush
        the outbox."""
        for w in self.workers.values():
            # POMNotAvailable goes out while this instance still holds the zone, so a
            # standby's POMAvailable (sent when it takes over) always comes after it.
            if w.active and not w.busy:
                live = [a for a in w.zone.agents.values() if a.agent_state is not sm.A.LOGOUT]
                if live:
                    try:
                        await w._announce([m.POMNotAvailable(agent_id=a.agent_id, zone=w.name)
                                           for a in live])
                    except Exception as e:  # fenced or Redis gone: the next holder speaks
                        log.warning("could not announce POMNotAvailable",
                                    extra={"zone": w.name, "error": repr(e)})
        for w in self.workers.values():
            await w.stop_consuming()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.stop_timeout_s
        if self.starter is not None:
            self.starter.cancel()
        by_name = {t.get_name(): t for t in self.tasks}
        for w in self.workers.values():
            task = by_name.get(f"zone-{w.name}")
            if task is None:
                continue
            # finish what was delivered, but never hang a shutdown on it
            while (not w.inbox.empty() or w.pending or w.busy) and not task.done() and (  # noqa: ASYNC110
                    loop.time() < deadline):
                await asyncio.sleep(0.01)
            await w.flush()
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for w in self.workers.values():
            if w.active:
                with contextlib.suppress(Exception):
                    await w.drain_outbox()
        if self.conn is not None:
            await self.conn.close()
        await self.redis.aclose()
