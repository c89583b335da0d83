"""One batch of commands, planned without I/O (sans-IO, as h11 is tested without sockets).

The worker (pam_service.service) reads deliveries, asks Redis which message ids were
seen before, and hands both here. :func:`plan` validates, deduplicates, authorizes and
applies each command to the zone in memory, and returns the Redis batch to commit and
each delivery's outcome; after the commit, :func:`outgoing` builds the one write of
replies, dead letters and events. Nothing here touches the broker or Redis, so every
fate of a delivery is tested with plain objects (tests/core/test_batch.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import msgspec
from pamqp.commands import Basic

from pam_protocol import decoding, topology
from pam_protocol import messages as m
from pam_service import fate
from pam_service.amqp import Outgoing
from pam_service.auth import Policy
from pam_service.domain import machine as sm
from pam_service.domain.zone import Result, Zone
from pam_service.fate import Delivery
from pam_service.store import Batch, Committed, agent_record, with_seq

log = logging.getLogger("pam.service")

_encode = m.encoder.encode
_job_enc = msgspec.json.Encoder()
_EVENT_PROPS = Basic.Properties(content_type="application/json", delivery_mode=2)


class CommandFailed(fate.ApplyFailed):
    """Applying this delivery's command raised (see fate.ApplyFailed)."""

    def __init__(self, msg: Delivery, error: Exception) -> None:
        super().__init__("BadRequest", "PAM could not apply this command (an internal error, "
                         f"{type(error).__name__}); it changed nothing and was dead-lettered "
                         "to pam.dead for the operator")
        self.msg = msg
        self.error = error


@dataclass
class Item:
    """One delivery on its way through a batch, and what became of it."""

    msg: Delivery
    received: float
    cmd: m.Command | None = None
    reply: bytes | None = None  # set when known before applying (bad input, duplicate)
    reject: m.Rejected | None = None
    #: Its ``expiration`` ran out between delivery and applying: dead-lettered, not applied.
    expired: bool = False
    #: Applying it raised once (CommandFailed): rejected and dead-lettered, never retried.
    failed: CommandFailed | None = None
    #: Answered from the dedup cache: applied before, not applied again.
    duplicate: bool = False


def validate(msg: Delivery, received: float, failed: Mapping[int, CommandFailed],
             max_body: int) -> Item:
    """Decode a delivery; bad input (or a command that failed before) is refused here."""
    it = Item(msg, received)
    try:
        if not msg.message_id:
            raise decoding.BadInput("BadRequest", "the command has no message_id property")
        if (f := failed.get(id(msg))) is not None:
            it.failed = f
            raise f
        it.cmd = decoding.decode_command(msg.body, max_body)
    except decoding.Poison as e:
        it.cmd = None
        it.reject = m.Rejected(code=e.code, message=e.message)
        it.reply = _encode(it.reject)
    return it


def expire(items: Iterable[Item], deadlines: Mapping[int, float], now: float) -> int:
    """Commands past their deadline are not applied (PROTOCOL.md: never applied late).
    Returns how many expired."""
    n = 0
    for it in items:
        deadline = deadlines.get(id(it.msg))
        if deadline is not None and now > deadline and it.cmd is not None:
            it.cmd, it.expired = None, True
            n += 1
    return n


@dataclass
class Plan:
    """What a planned batch writes to Redis, and how many commands it applied."""

    batch: Batch
    applied: int = 0
    #: (command type, result) per command handled, for the metrics
    results: list[tuple[str, str]] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        """Whether anything must be committed (else the batch skips Redis)."""
        b = self.batch
        return bool(b.dedup or b.events or b.agents or b.jobs or b.calls)


def plan(zone: Zone, items: list[Item], cached: Mapping[str, bytes | None],
         policy: Policy, ctx: sm.Context, trim: list[str],
         audit: Callable[[Item, m.Reply], None] | None = None) -> Plan:
    """Apply the batch's new commands to ``zone`` in memory, in order.

    ``cached``: the reply stored for each message id seen before (None: new). Raises
    :class:`CommandFailed` when applying a command raises: the zone in memory may then
    be half changed, and the caller reloads it."""
    p = Plan(Batch(trim=trim))
    in_batch: dict[str, bytes] = {}
    base: dict[str, int] = {}
    for it in items:
        if it.cmd is None:
            continue
        mid = it.msg.message_id
        assert mid is not None
        old = cached.get(mid) or in_batch.get(mid)
        if old is not None:
            it.reply, it.duplicate = old, True
            p.results.append((type(it.cmd).__name__, "duplicate"))
            continue
        try:
            reason = policy.check(it.msg.user_id, it.cmd)
            res = (Result(reply=m.Rejected(code="Unauthorized", message=reason))
                   if reason is not None else zone.handle(it.cmd, ctx))
            collect(p.batch, res, base)
            it.reply = _encode(res.reply)
        except Exception as e:
            raise CommandFailed(it.msg, e) from e
        p.applied += 1
        if isinstance(res.reply, m.Rejected):
            it.reject = res.reply
        in_batch[mid] = it.reply
        p.batch.dedup.append((mid, it.reply))
        p.results.append((type(it.cmd).__name__, res.reply.code
                          if isinstance(res.reply, m.Rejected) else "Accepted"))
        if audit is not None:
            audit(it, res.reply)
    final_records(zone, p.batch, base)
    return p


def collect(batch: Batch, res: Result, base: dict[str, int]) -> None:
    """Add one step's events, jobs and calls to the batch; note each changed agent's
    version before the batch (the commit script checks it)."""
    for e in res.events:
        if isinstance(e, m.AgentStateChanged):
            aid = e.snapshot.agent_id
            if aid not in base:
                base[aid] = e.previous.version if e.previous is not None else 0
        batch.events.append((scope_of(e), m.routing_key(e), _encode(e)))
    for j in res.jobs.values():
        batch.jobs.append((j.job_id, _job_enc.encode(j)))
    for cid, owner in res.calls.items():
        batch.calls.append((cid, owner or ""))


def final_records(zone: Zone, batch: Batch, base: dict[str, int]) -> None:
    """Each changed agent is written once per batch, at its final state, with the version
    it had before (the commit script checks it)."""
    for aid, version in base.items():
        a = zone.agents[aid]
        batch.agents.append((aid, version, a.version, agent_record(a)))


def scope_of(e: m.Event) -> str:
    """Which counter numbers this event: its agent's, its job's, or the zone's."""
    if isinstance(e, m.AgentStateChanged):
        return "a:" + e.snapshot.agent_id
    if isinstance(e, m.JobEvent):
        return "j:" + e.job_id
    agent_id = getattr(e, "agent_id", None)
    return "a:" + agent_id if agent_id else "zone"


def outgoing(items: Iterable[Item], batch: Batch, committed: Committed) -> list[Outgoing]:
    """The batch's one write, in order: replies (and dead letters), then the events with
    the ``seq`` the commit gave them."""
    out: list[Outgoing] = []
    for it in items:
        if it.reply is not None and it.msg.reply_to:
            out.append(reply_out(it.msg, it.reply))
        why = fate.dead_reason(it.msg.reply_to, it.reject, it.expired,
                               it.failed.error if it.failed is not None else None,
                               it.msg.expiration)
        if why is not None:
            out.append(fate.dead_letter_out(it.msg, why))
    out.extend(event_out(rk, with_seq(body, seq)) for (_, rk, body), (_, seq)
               in zip(batch.events, committed.entries, strict=True))
    return out


def reply_out(msg: Delivery, body: bytes) -> Outgoing:
    assert msg.reply_to
    return ("", msg.reply_to, Basic.Properties(
        content_type="application/json", delivery_mode=2,
        correlation_id=msg.correlation_id or msg.message_id), body)


def event_out(rk: str, body: bytes) -> Outgoing:
    return (topology.EVENTS, rk, _EVENT_PROPS, body)
