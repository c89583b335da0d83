"""One zone's worker: consumes the zone's commands, applies them to the zone in memory,
commits each batch to Redis in one fenced script, then replies, announces and acks.
The planning of a batch is pure (pam_service.batch); this is the loop around it.

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
5. put the replies, dead letters and events on the wire as one write, with publisher confirms
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
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import aiormq
import msgspec
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
)
from aiormq.exceptions import ChannelInvalidStateError

from pam_protocol import messages as m
from pam_protocol import topology
from pam_service import batch as bs
from pam_service import fate, metrics
from pam_service.amqp import Outgoing, enqueue_many, publish_many
from pam_service.batch import CommandFailed
from pam_service.dedup import Repeats
from pam_service.domain import machine as sm
from pam_service.domain.zone import Pool, Zone
from pam_service.store import (
    Batch,
    Committed,
    Conflict,
    Fenced,
    ZoneStore,
    gc_paused,
)

if TYPE_CHECKING:
    from pam_service.service import PamService

log = logging.getLogger("pam.service")

_encode = m.encoder.encode



class ZoneWorker:
    """Serves one zone: active when the broker makes this consumer the active one."""

    def __init__(self, svc: PamService, zone: str) -> None:
        self.svc = svc
        self.name = zone
        self.store = ZoneStore(svc.redis, zone, svc.settings.key_prefix, svc.settings.dedup_ttl_s,
                               wait_replicas=svc.settings.redis_wait_replicas,
                               wait_timeout_ms=svc.settings.redis_wait_timeout_ms)
        pool: Pool | None = svc.settings.pool_factory() if svc.settings.pool_factory else None
        self.zone = Zone(zone, pool, svc.settings.allocator_factory)
        self.token: int | None = None
        self.inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        #: id(delivery) -> monotonic deadline, for deliveries with an ``expiration``: the
        #: broker expires commands in the queue, PAM those that wait in its prefetch
        #: (a batch retrying through a Redis outage holds the rest).
        self.deadlines: dict[int, float] = {}
        #: id(delivery) -> the failure its command raised when applied: refused on the
        #: batch's next try (ids are addresses: entries go when the batch commits).
        self.failed: dict[int, CommandFailed] = {}
        #: Deliveries taken from the inbox for the next batch (their ids may have been
        #: looked up with the last commit: pam_service.dedup.Repeats).
        self.pending: collections.deque[AbstractIncomingMessage] = collections.deque()
        self.trim: list[str] = []
        self.queue: AbstractQueue | None = None
        self.consumer_tag: str | None = None
        self.failing_over_until = 0.0
        self.applied = 0
        self.busy = False
        #: Fault-injection seam for tests and bench/chaos.py: awaited after the Redis
        #: commit and before any publish or ack (where a crash hurts most).
        self.after_commit: Any = None
        self.latency = metrics.LATENCY.labels(zone)
        self.batch_size = metrics.BATCH.labels(zone)
        self.repeats = Repeats(svc.settings.dedup_ttl_s, {
            how: metrics.DEDUP.labels(zone, how) for how in ("ahead", "known_new", "lookup")})
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
        #: v1.1 desktop liveness: when the zone's desktops are checked next (monotonic).
        self.desktops_due = 0.0

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
        self.repeats.taken_over(first_holder=token == 1)
        with gc_paused():
            agents, jobs, calls = await self.store.load()
            self.zone.load(agents, jobs, calls)
        self.token = token
        # outbox entries this instance itself saw confirmed (a reconnect, not a crash)
        confirmed = set(self.trim)
        self.trim = []
        metrics.TAKEOVERS.labels(self.name).inc()
        failover = token > 1
        if failover:
            self.failing_over_until = time.monotonic() + self.svc.settings.failover_grace_s
        changed = await self.drain_outbox(confirmed)
        doubt = self.zone.in_doubt(changed)
        self.watch_unknown = True  # (some may have been Unknown already)
        self.resync_due = None
        log.info("took over zone", extra={"zone": self.name, "token": token,
                                          "agents": len(agents), "jobs": len(jobs),
                                          "in_doubt": len(doubt)})
        # Agents in doubt (docs/deployment.md, "Agents in doubt"): Unknown, out of the
        # pool, until their desktop resyncs. Committed with the zone's POMAvailable.
        live = self.zone.logged_in()
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
            bs.collect(batch, self.zone.internal(inp, ctx), base)
        for e in extra or ():
            batch.events.append((bs.scope_of(e), m.routing_key(e), _encode(e)))
        if not batch.events and not batch.trim:
            return
        bs.final_records(self.zone, batch, base)
        committed = await self.store.commit(self.token, batch)
        await self._publish_committed(batch, committed)

    async def resolve_stale(self) -> int:
        """Agents left Unknown longer than ``resync_timeout_s`` (their desktop never
        resynced) are resolved by PAM itself: idle ones NotReady, others their work
        state. Returns how many."""
        if not self.active:
            return 0
        cutoff = datetime.now(UTC) - timedelta(seconds=self.svc.settings.resync_timeout_s)
        stale = self.zone.stale_unknown(cutoff)
        if stale:
            await self.flush()  # the previous batch's events go out first
            await self._apply_internal([sm.ResolveUnknown(agent_id=aid) for aid in stale])
            log.warning("resync timed out; agents resolved",
                        extra={"zone": self.name, "agents": stale})
        return len(stale)

    async def check_desktops(self) -> int:
        """Desktop liveness (Zone.desktop_checks): the P_POMAGT_DESKTOP alarms, agents
        shown in Wrapup, wrap-ups PAM completes. Returns how many inputs it applied."""
        s = self.svc.settings
        self.desktops_due = time.monotonic() + s.heartbeat_s
        if not self.active:
            return 0
        inputs, alarms, _ = self.zone.desktop_checks(self.ctx(), s.wrapup_grace_s)
        if inputs or alarms:
            await self.flush()  # the previous batch's events go out first
            await self._apply_internal(inputs, alarms)
        return len(inputs)

    def _next_resync(self) -> float | None:
        """Seconds until the oldest Unknown agent's resync times out, if any.

        The agents are scanned once per takeover and once per timeout, not per batch:
        only a takeover makes agents Unknown, so the oldest one's due time can only
        move later (when it resyncs), and waking early for it is harmless."""
        if not self.active or not self.watch_unknown:
            return None
        if self.resync_due is None:
            since = self.zone.unknown_since()
            if not since:
                self.watch_unknown = False
                return None
            self.resync_due = min(since) + timedelta(seconds=self.svc.settings.resync_timeout_s)
        return max(0.0, (self.resync_due - datetime.now(UTC)).total_seconds()) + 0.01

    def drop(self, why: str) -> None:
        log.warning("leaving zone", extra={"zone": self.name, "reason": why})
        self.token = None
        self.taken_on = None
        self.repeats.looked = None
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
                               [bs.event_out(rk, body) for _, rk, body in rows])
            await self.store.trim([i for i, _, _ in rows])

    async def _announce(self, events: list[m.Event]) -> None:
        await self._apply_internal([], events)

    async def _publish_committed(self, batch: Batch, committed: Any) -> None:
        await (await self._enqueue(bs.outgoing((), batch, committed), committed))

    async def _enqueue(self, out: list[Outgoing], committed: Committed) -> Awaitable[None]:
        """Put a batch's replies, dead letters and events on the wire as one write;
        returns what completes once they are confirmed (their outbox entries are then
        trimmed by the next commit)."""
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
            if self.active and self.svc.settings.heartbeat_s > 0:  # desktop liveness timer
                left = max(0.0, self.desktops_due - time.monotonic())
                wait = left if wait is None else min(wait, left)
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
            if self.svc.settings.heartbeat_s > 0 and time.monotonic() >= self.desktops_due:
                await self.check_desktops()
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
        dropped and reloaded; a random back-off lets a rival that fenced us work.
        What each failure means for the deliveries is pam_service.fate's to say."""
        attempt = 0
        while True:
            try:
                await self.process(msgs)
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:
                outcome = fate.of_error(e, attempt, self.svc.settings.batch_retries)
                self._failed(e)
            if outcome is fate.Fate.DEAD_LETTER:
                continue  # at once, without it: each round takes one command out
            if outcome is fate.Fate.REQUEUE:
                break
            await asyncio.sleep(random.uniform(0.1, 0.5) * (attempt + 1))
            attempt += 1
        log.error("batch still failing; requeued", extra={"zone": self.name})
        await self._requeue(msgs)

    def _failed(self, e: Exception) -> None:
        """A try of a batch failed: note why, and drop the zone (it is reloaded)."""
        if isinstance(e, CommandFailed):
            # the command's fault, not the batch's: memory may be half changed
            log.error("command failed to apply; rejected and dead-lettered", exc_info=e.error,
                      extra={"zone": self.name, "message_id": e.msg.message_id,
                             "command": e.msg.body[:200].decode("utf-8", "replace")})
            self.failed[id(e.msg)] = e
            self.drop("a command failed to apply")
        elif isinstance(e, Fenced | Conflict):
            self.fenced += 1
            self.drop(f"{type(e).__name__}: {e}")
        elif fate.is_retryable(e):
            log.error("redis unavailable; will retry", extra={
                "zone": self.name, "error": str(e)})
            self.drop("redis unavailable")
        else:  # a defect outside any one command: retried, then requeued
            log.error("batch failed; will retry", exc_info=e, extra={"zone": self.name})
            self.drop("unexpected error")

    async def _requeue(self, msgs: Iterable[AbstractIncomingMessage]) -> None:
        for msg in msgs:
            self.deadlines.pop(id(msg), None)
            self.failed.pop(id(msg), None)
            with contextlib.suppress(Exception):
                await msg.nack(requeue=True)

    def ctx(self) -> sm.Context:
        return sm.Context(zone=self.name, now=datetime.now(UTC),
                          degraded=time.monotonic() < self.failing_over_until,
                          callback_due_utc=self.svc.settings.callback_due_utc,
                          server_tz=self.svc.server_tz,
                          heartbeat_seconds=self.svc.settings.heartbeat_s)

    async def process(self, msgs: list[AbstractIncomingMessage]) -> None:
        """One batch: validate (pure), take the zone over if need be, look up repeats,
        plan (pure: apply, build the Redis batch), commit, then put replies, dead
        letters and events on the wire; the ack follows their confirms."""
        # Deliveries of a closed channel cannot be acked and the broker gives them to the
        # active consumer again, which may now be another instance (this one was stalled
        # or cut off): handling them here would only take the zone back from it.
        live = [msg for msg in msgs if delivery_channel(msg) is not None]
        if len(live) < len(msgs):
            for msg in msgs:
                if delivery_channel(msg) is None:
                    self.deadlines.pop(id(msg), None)
            log.warning("dropping deliveries of a closed channel; the broker redelivers them",
                        extra={"zone": self.name, "dropped": len(msgs) - len(live)})
        if not live:
            return
        channel = delivery_channel(live[-1])
        self.batch_size.observe(len(live))
        now = time.monotonic()
        settings = self.svc.settings
        items = [bs.validate(msg, now, self.failed, settings.max_body) for msg in live]
        for it in items:
            if it.reject is not None:
                metrics.counted("-", "invalid", it.reject.code).inc()
        if self.deadlines and (n := bs.expire(items, self.deadlines, now)):
            metrics.counted(self.name, "-", "expired").inc(n)
        if not self.active or channel is not self.taken_on:
            # first delivery, or the first on a new channel after a reconnect: the zone
            # may have been served elsewhere meanwhile (reload it, drain the outbox)
            await self.takeover()
            self.taken_on = channel
        assert self.token is not None
        cached = await self.repeats.seen(items, self.store.seen)
        trim, self.trim = self.trim, []
        plan = bs.plan(self.zone, items, cached, settings.policy, self.ctx(), trim, self._audit)
        self.applied += plan.applied
        for kind, result in plan.results:
            metrics.counted(self.name, kind, result).inc()
        if plan.writes:
            # The next batch's message_ids are looked up in this commit's round trip.
            while len(self.pending) < settings.batch_max and not self.inbox.empty():
                self.pending.append(self.inbox.get_nowait())
            look = [msg.message_id for msg in itertools.islice(self.pending, settings.batch_max)
                    if msg.message_id and self.repeats.may_be_seen(msg)]
            committed, seen = await self.store.commit_and_look(self.token, plan.batch, look)
            self.repeats.committing((mid for mid, _ in plan.batch.dedup), look, seen)
        else:  # nothing applied (bad input, repeats, expired): no Redis round trip
            self.trim = trim + self.trim
            committed = Committed(entries=[])
        for msg in live:
            self.deadlines.pop(id(msg), None)
            self.failed.pop(id(msg), None)
        if self.after_commit is not None:
            await self.after_commit()
        # This batch's replies, dead letters and events go on the wire now, in batch
        # order; their confirms come back while the next batch is read and applied.
        try:
            confirmed = await self._enqueue(bs.outgoing(items, plan.batch, committed), committed)
        except Exception as e:  # the channel died: the broker redelivers, dedup answers
            confirmed = _raise(e)
        self.inflight = asyncio.create_task(self._finish(live, now, confirmed, self.inflight))

    def _audit(self, it: bs.Item, reply: m.Reply) -> None:
        """A shared tool (the dashboard) acting for a person: the audit trail."""
        headers = it.msg.headers
        if headers and topology.ON_BEHALF_OF in headers:
            log.info("command on behalf of a person", extra={
                "zone": self.name, "user_id": it.msg.user_id,
                "on_behalf_of": str(headers[topology.ON_BEHALF_OF]),
                "command": type(it.cmd).__name__,
                "agent_id": getattr(it.cmd, "agent_id", None),
                "result": reply.code if isinstance(reply, m.Rejected) else "Accepted"})

    async def _finish(self, msgs: list[AbstractIncomingMessage], received: float,
                      confirmed: Awaitable[None], previous: asyncio.Task[None] | None) -> None:
        try:
            await confirmed
            if previous is not None:
                # a multiple-ack covers the earlier batches too: they go first
                with contextlib.suppress(Exception):
                    await previous
            # Deliveries are processed in order, so one multiple-ack covers the batch.
            last = max(msgs, key=lambda msg: msg.delivery_tag or 0)
            await last.ack(multiple=True)
        except Exception as e:  # the channel died: the broker redelivers, dedup answers
            log.warning("publish or ack failed; the batch will be redelivered",
                        extra={"zone": self.name, "error": repr(e)})
            return
        waited = time.monotonic() - received
        for _ in msgs:
            self.latency.observe(waited)

    async def flush(self) -> None:
        """Wait until every committed batch is published and acked."""
        if self.inflight is not None:
            with contextlib.suppress(Exception):
                await self.inflight


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


def delivery_channel(msg: AbstractIncomingMessage) -> Any:
    """The (aiormq) channel a delivery came on, or None once that channel is closed."""
    try:
        return msg.channel
    except ChannelInvalidStateError:
        return None
