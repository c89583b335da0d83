"""The state machine's vocabulary and steps: the states' sets, the internal inputs, the
transaction (:class:`Tx`) every step stages its changes on, the row types, the named
guards and the effects, and the end-of-work tables. Pure: no I/O, no clock.

The transition table that puts them together, and :func:`apply`, are in
:mod:`pam_service.domain.machine`, which reads top to bottom as tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal

import msgspec

from pam_protocol import messages as m
from pam_protocol.messages import Agent, JobTask, RejectCode
from pam_protocol.states import (
    WORK_CALL_STATES,
    AgentState,
    CallState,
    JobState,
    work_agent_state,
)

A = AgentState
C = CallState
J = JobState

ALL_A = frozenset(AgentState)
ALL_C = frozenset(CallState)
ALL_J = frozenset(JobState)
WORKING = frozenset({A.BUSY, A.WORK_NOT_READY, A.PENDING_NOT_READY, A.PENDING_LOGOUT})
IDLE = frozenset({A.READY, A.NOT_READY})
TALK = {C.TALKING, C.HOLD}
ON_CALL = {C.TALKING, C.HOLD, C.CONSULT, C.CONFERENCE_OWNER, C.CONFERENCE_PASSIVE}
NOT_INBOUND = ALL_J - {J.JOB_INBOUND, J.PENDING_INBOUND, J.PENDING_MANUAL_INBOUND,
                       J.PENDING_OUTBOUND}

# ---------------------------------------------------------------------------
# Internal inputs: what the service feeds the machine after resolving a wire
# command that names no agent (the dispatcher chose one, or a call index did).
# ---------------------------------------------------------------------------


class Internal(msgspec.Struct, frozen=True, tag=True, tag_field="type"):
    agent_id: str


class OfferContact(Internal, frozen=True):
    """A live customer, a preview or a callback for the agent the dispatcher chose."""

    kind: Literal["connect", "preview", "callback"]
    job_id: str
    session_id: str
    customer: dict[str, Any] = {}


class CallEnded(Internal, frozen=True):
    """``CustomerDisconnected`` for the call this agent owns."""

    call_id: str


class AttachToJob(Internal, frozen=True):
    """The allocator gives the agent to a job-task."""

    job_id: str
    reason: str = "allocate"


class DetachFromJob(Internal, frozen=True):
    """The agent leaves its job-task (JobEnd): job paused or ended, or donated."""

    job_id: str
    reason: str


class CompleteMove(Internal, frozen=True):
    """The second half of a supervisor's move: the agent, JobEnd on its old job with
    ``next_job_id`` set, is attached to that job (a change of its own, so the JobEnd is
    announced, as the product text lists a move among the causes of JobEnd)."""


class DesktopLost(Internal, frozen=True):
    """The agent's desktop has been silent for three heartbeat intervals and it had
    saved its data with SaveAgentForHA: the agent on a call is shown in Wrapup."""


class WrapupTimeout(Internal, frozen=True):
    """The agent sat in Wrapup past its wrap-up time and extensions plus a grace with
    no live desktop: PAM wraps the contact up with the job's default code."""

    session_id: str | None = None
    completion_code: str | None = None


class MarkUnknown(Internal, frozen=True):
    """Failover: this agent's state is in doubt until its desktop resyncs."""


class ResolveUnknown(Internal, frozen=True):
    """The desktop resynchronised (GetAgentStatus / SaveAgentForHA)."""


Input = m.Command | Internal


# ---------------------------------------------------------------------------
# Context, world, outcome
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    zone: str
    now: datetime
    #: The zone is failing over, or messaging cannot confirm: ReleaseFromOutbound is ignored.
    degraded: bool = False
    #: ``TimeZonePendingCallbackDueTime = UTC``: callback due times as UTC ``yyyy/MM/dd HH:mm``.
    callback_due_utc: bool = False
    server_tz: tzinfo = UTC
    #: v1.1: the desktop heartbeat interval announced to desktops.
    heartbeat_seconds: int = 30


@dataclass
class World:
    """The records a command may touch. A key mapped to ``None`` is known to be absent."""

    agents: Mapping[str, Agent | None] = field(default_factory=dict)
    jobs: Mapping[str, JobTask | None] = field(default_factory=dict)


class Missing(Exception):
    """The transition needs a record the caller did not load; load it and apply again."""

    def __init__(self, kind: Literal["agent", "job"], key: str) -> None:
        super().__init__(f"{kind} {key!r} not loaded")
        self.kind = kind
        self.key = key


@dataclass(frozen=True)
class Outcome:
    reply: m.Accepted | m.Rejected
    agents: dict[str, Agent]
    jobs: dict[str, JobTask]
    events: list[m.Event]
    #: Call index changes: call id -> owning agent id, or None when the call is gone.
    calls: dict[str, str | None]
    cause: str

    @property
    def accepted(self) -> bool:
        return isinstance(self.reply, m.Accepted)

    @property
    def changed(self) -> bool:
        return bool(self.agents or self.jobs or self.events)


# ---------------------------------------------------------------------------
# The staging area a transition writes to
# ---------------------------------------------------------------------------


class Tx:
    def __init__(self, world: World, ctx: Context, cause: str) -> None:
        self.world = world
        self.ctx = ctx
        self.cause = cause
        self.agents: dict[str, Agent] = {}
        self.jobs: dict[str, JobTask] = {}
        self.events: list[m.Event] = []
        self.calls: dict[str, str | None] = {}

    # reads ---------------------------------------------------------------
    def agent(self, agent_id: str) -> Agent | None:
        if agent_id in self.agents:
            return self.agents[agent_id]
        if agent_id not in self.world.agents:
            raise Missing("agent", agent_id)
        return self.world.agents[agent_id]

    def must(self, agent_id: str) -> Agent:
        a = self.agent(agent_id)
        assert a is not None, agent_id
        return a

    def job(self, job_id: str) -> JobTask | None:
        if job_id in self.jobs:
            return self.jobs[job_id]
        if job_id not in self.world.jobs:
            raise Missing("job", job_id)
        return self.world.jobs[job_id]

    # writes --------------------------------------------------------------
    def set(self, agent_id: str, **changes: Any) -> Agent:
        a = msgspec.structs.replace(self.must(agent_id), **changes)
        self.agents[agent_id] = a
        return a

    def set_job(self, job_id: str, **changes: Any) -> JobTask:
        j = self.job(job_id)
        assert j is not None, job_id
        j = msgspec.structs.replace(j, **changes)
        self.jobs[job_id] = j
        return j

    def emit(self, event: m.Event) -> None:
        self.events.append(msgspec.structs.replace(event, zone=self.ctx.zone))

    def notify(self, cls: type[m.Notification], agent_id: str, **kw: Any) -> None:
        self.emit(cls(agent_id=agent_id, **kw))

    # job membership (licences) --------------------------------------------
    def attach(self, agent_id: str, job_id: str, reason: str) -> None:
        """Take a licence of ``job_id`` and start nailing the agent to it."""
        job = self.job(job_id)
        assert job is not None
        if agent_id not in job.assigned:
            job = self.set_job(job_id, assigned=(*job.assigned, agent_id))
        a = self.set(agent_id, job_id=job_id, job_state=J.PENDING_JOB_ATTACH, nailed=False,
                     next_job_id=None)
        self.emit(m.NailAgent(agent_id=agent_id, extension=a.extension, job_id=job_id))
        self.emit(m.AgentAttached(job_id=job_id, agent_id=agent_id,
                                  licenses_used=len(job.assigned), licenses=job.licenses))

    def detach(self, agent_id: str, reason: str, job_state: JobState) -> None:
        """Give back the agent's licence; its job state becomes ``job_state``.

        The media side is told to drop the nailed line (``UnnailAgent``) at once when
        the agent is idle; an agent on a call keeps its voice path until its work ends
        (finish_work unnails it then). Callbacks of the job waiting on the agent are
        returned to the dialer (``CallbackReturned``)."""
        a = self.must(agent_id)
        old = a.job_id
        self.set(agent_id, job_id=None, job_state=job_state, nailed=False)
        if old is None:
            return
        if a.call_state is C.IDLE:
            self.emit(m.UnnailAgent(agent_id=agent_id))
        return_callbacks(self, agent_id, reason, job_id=old)
        job = self.job(old)
        if job is None:
            return
        if agent_id in job.assigned:
            job = self.set_job(old, assigned=tuple(x for x in job.assigned if x != agent_id))
        self.emit(m.AgentDetached(job_id=old, agent_id=agent_id, reason=reason,
                                  licenses_used=len(job.assigned), licenses=job.licenses))
        if job.status == "running" and len(job.assigned) < job.min_agents:
            self.emit(m.JobAgentShortage(job_id=old, assigned=len(job.assigned),
                                         min_agents=job.min_agents))


# ---------------------------------------------------------------------------
# Table entries
# ---------------------------------------------------------------------------

Guard = Callable[[Tx, Agent, Any], bool]
Effect = Callable[[Tx, Agent, Any], None]


@dataclass(frozen=True)
class Src:
    """Source states: an agent matches when each of its sub-states is in the set."""

    agent: frozenset[AgentState] = ALL_A
    call: frozenset[CallState] = ALL_C
    job: frozenset[JobState] = ALL_J

    def matches(self, a: Agent) -> bool:
        return a.agent_state in self.agent and a.call_state in self.call and a.job_state in self.job


def src(agent: Iterable[AgentState] = ALL_A, call: Iterable[CallState] = ALL_C,
        job: Iterable[JobState] = ALL_J) -> Src:
    return Src(frozenset(agent), frozenset(call), frozenset(job))


ANY = Src()


@dataclass(frozen=True)
class To:
    """The documented target of a row; ``None`` keeps the sub-state, ``"*"`` means
    the effect decides (e.g. the end-of-work rules)."""

    agent: AgentState | Literal["*"] | None = None
    call: CallState | Literal["*"] | None = None
    job: JobState | Literal["*"] | None = None


STAY = To()


@dataclass(frozen=True)
class Row:
    src: Src
    to: To
    effect: Effect | None = None
    guard: Guard | None = None
    note: str = ""


@dataclass(frozen=True)
class Reject:
    src: Src
    code: RejectCode
    message: str
    guard: Guard | None = None
    alarm: str | None = None


Entry = Row | Reject


# ---------------------------------------------------------------------------
# Guards: named pure predicates
# ---------------------------------------------------------------------------


def wrong_zone(tx: Tx, a: Agent, c: m.Login) -> bool:
    return c.zone != tx.ctx.zone


def session_mismatch(tx: Tx, a: Agent, c: Any) -> bool:
    return bool(c.session_id != a.session_id)


def has_pending_activity(tx: Tx, a: Agent, c: Any) -> bool:
    return bool(a.pending_callbacks or a.pending_consults or a.outgoing_consult)


def zone_degraded(tx: Tx, a: Agent, c: Any) -> bool:
    return tx.ctx.degraded


def bad_consult_target(tx: Tx, a: Agent, c: m.Consult) -> bool:
    neither_or_both = (c.target_agent_id is None) == (c.target_number is None)
    return neither_or_both or c.target_agent_id == a.agent_id


def consult_outstanding(tx: Tx, a: Agent, c: Any) -> bool:
    return a.outgoing_consult is not None or a.peer_agent_id is not None or (
        a.external_number is not None)


def consult_to_external(tx: Tx, a: Agent, c: m.Consult) -> bool:
    return c.target_number is not None


def target_not_logged_in(tx: Tx, a: Agent, c: m.Consult) -> bool:
    assert c.target_agent_id is not None
    b = tx.agent(c.target_agent_id)
    return b is None or b.agent_state is A.LOGOUT


def target_ready_idle(tx: Tx, a: Agent, c: m.Consult) -> bool:
    assert c.target_agent_id is not None
    b = tx.must(c.target_agent_id)
    # an agent on an inbound call (InboundCallStarted) has no free voice path
    return b.agent_state is A.READY and b.call_state is C.IDLE and b.inbound_call_id is None


def target_working(tx: Tx, a: Agent, c: m.Consult) -> bool:
    assert c.target_agent_id is not None
    return tx.must(c.target_agent_id).call_state in WORK_CALL_STATES


def target_pending_full(tx: Tx, a: Agent, c: m.Consult) -> bool:
    b = tx.agent(c.target_agent_id) if c.target_agent_id is not None else None
    return b is not None and len(b.pending_consults) >= MAX_PENDING_CONSULTS


def in_agent_consult_as_initiator(tx: Tx, a: Agent, c: Any) -> bool:
    return a.consult_initiator and a.peer_agent_id is not None


def in_external_consult(tx: Tx, a: Agent, c: Any) -> bool:
    return a.consult_initiator and a.external_number is not None


def has_outgoing_pending_consult(tx: Tx, a: Agent, c: Any) -> bool:
    return a.outgoing_consult is not None


def has_incoming_pending_consult(tx: Tx, a: Agent, c: m.RejectConsult) -> bool:
    if c.from_agent_id is None:
        return bool(a.pending_consults)
    return any(p.from_agent_id == c.from_agent_id for p in a.pending_consults)


def with_external_party(tx: Tx, a: Agent, c: Any) -> bool:
    return a.external_number is not None


def bad_completion_code(tx: Tx, a: Agent, c: m.WrapupContact) -> bool:
    if c.completion_code is None:
        return False
    return c.completion_code not in allowed_codes(a)


def extensions_left(tx: Tx, a: Agent, c: Any) -> bool:
    w = a.wrapup
    return w is not None and w.extensions_used < w.wrapup_extensions


def unknown_job(tx: Tx, a: Agent, c: m.MoveAgentToJob) -> bool:
    j = tx.job(c.job_id)
    return j is None or j.status != "running"


def same_job(tx: Tx, a: Agent, c: m.MoveAgentToJob) -> bool:
    return a.job_id == c.job_id and a.job_state in (J.JOB_ATTACHED, J.PENDING_JOB_ATTACH)


def is_consulted(tx: Tx, a: Agent, c: Any) -> bool:
    return not a.consult_initiator


def is_consult_initiator(tx: Tx, a: Agent, c: Any) -> bool:
    return a.consult_initiator


def back_to_own_job(tx: Tx, a: Agent, c: m.MoveAgentToJob) -> bool:
    return a.job_id == c.job_id


def not_owner(tx: Tx, a: Agent, c: Any) -> bool:
    return not owns_call(tx, a, c)


def on_a_job(tx: Tx, a: Agent, c: Any) -> bool:
    return a.job_id is not None


def job_full(tx: Tx, a: Agent, c: Any) -> bool:
    j = tx.job(c.job_id)
    assert j is not None
    return a.agent_id not in j.assigned and len(j.assigned) >= j.capacity


def job_not_running(tx: Tx, a: Agent, c: Any) -> bool:
    j = tx.job(c.job_id)
    return j is None or j.status != "running"


def lacks_job_skills(tx: Tx, a: Agent, c: AttachToJob) -> bool:
    j = tx.job(c.job_id)
    assert j is not None
    have = {s.name for s in a.skills}
    return not set(j.required_skills) <= have


def available_for_contact(tx: Tx, a: Agent, c: OfferContact) -> bool:
    """Available: Ready, Idle, JobAttached to the contact's job, nailed."""
    return (a.agent_state is A.READY and a.call_state is C.IDLE
            and a.job_state is J.JOB_ATTACHED and a.job_id == c.job_id and a.nailed)


def owns_call(tx: Tx, a: Agent, c: CallEnded) -> bool:
    return a.session_id == c.call_id


def is_conference_owner(tx: Tx, a: Agent, c: Any) -> bool:
    return a.call_state is C.CONFERENCE_OWNER or (
        a.call_state is C.HOLD and a.held_from is C.CONFERENCE_OWNER)


def dial_answered(tx: Tx, a: Agent, c: m.DialResult) -> bool:
    return c.result == "answered"


def not_for_this_job(tx: Tx, a: Agent, c: DetachFromJob) -> bool:
    return a.job_id != c.job_id and a.next_job_id != c.job_id


def callback_for_job_unknown(tx: Tx, a: Agent, c: m.CallbackDue) -> bool:
    return tx.job(c.job_id) is None


def cannot_take_callback(tx: Tx, a: Agent, c: m.CallbackDue) -> bool:
    """A named callback goes only to an agent on its job, or one that may be attached
    to it (the job's skills, a free licence)."""
    if c.job_id in (a.job_id, a.next_job_id):
        return False
    job = tx.job(c.job_id)
    if job is None or job.status != "running":
        return True
    have = {s.name for s in a.skills}
    return not (set(job.required_skills) <= have and len(job.assigned) < job.capacity)


def is_passive_party(tx: Tx, a: Agent, c: Any) -> bool:
    """A consult receiver or conference passive: PAM cannot see its nailing."""
    return a.call_state is C.CONFERENCE_PASSIVE or (
        a.call_state is C.CONSULT and not a.consult_initiator)


# ---------------------------------------------------------------------------
# Shared steps
# ---------------------------------------------------------------------------

MAX_PENDING_CONSULTS = 2

_CALL_FIELDS_CLEARED: dict[str, Any] = dict(
    call_state=C.IDLE, session_id=None, customer={}, call_origin=None, call_job_id=None,
    peer_agent_id=None, consult_initiator=False, external_number=None, held_from=None,
    outgoing_consult=None, wrapup=None,
)


def allowed_codes(a: Agent) -> set[str]:
    # "Transferred to external number" only for a call that was (start_wrapup adds it
    # to the codes of an external transfer's wrap-up)
    codes = set(a.wrapup.completion_codes) if a.wrapup else set()
    if a.wrapup and a.wrapup.default_completion_code:
        codes.add(a.wrapup.default_completion_code)
    return codes


def format_due(tx: Tx, due: datetime) -> str:
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    # one format in both modes (the text's yyyy/MM/dd HH:mm); only the zone differs:
    # UTC with TimeZonePendingCallbackDueTime = UTC, else the server's zone
    tz = UTC if tx.ctx.callback_due_utc else tx.ctx.server_tz
    return due.astimezone(tz).strftime("%Y/%m/%d %H:%M")


def start_wrapup(tx: Tx, agent_id: str, *, external: bool = False) -> None:
    """The contact ends for its owner: Wrapup, and WrapupStarted to the desktop."""
    # its consult waiting on a busy colleague ends with the call it was about
    drop_outgoing_consult(tx, tx.must(agent_id))
    a = tx.must(agent_id)
    w = a.wrapup or m.WrapupSpec()
    if external:
        codes = tuple(w.completion_codes)
        if m.EXTERNAL_TRANSFER_CODE not in codes:
            codes = (*codes, m.EXTERNAL_TRANSFER_CODE)
        w = msgspec.structs.replace(w, completion_codes=codes,
                                    default_completion_code=m.EXTERNAL_TRANSFER_CODE)
    # a pending intention, or Unknown (until the desktop resyncs), outlives the call
    agent_state = a.agent_state if a.agent_state in (A.PENDING_NOT_READY, A.PENDING_LOGOUT,
                                                     A.UNKNOWN) else A.WORK_NOT_READY
    if a.session_id is not None:
        tx.calls[a.session_id] = agent_id
    tx.set(agent_id, agent_state=agent_state, call_state=C.WRAPUP, peer_agent_id=None,
           consult_initiator=False, external_number=None, held_from=None, wrapup=w,
           outgoing_consult=None)
    tx.notify(m.WrapupStarted, agent_id, session_id=a.session_id,
              completion_codes=list(w.completion_codes),
              default_completion_code=w.default_completion_code,
              wrapup_seconds=w.wrapup_seconds, wrapup_extensions=w.wrapup_extensions,
              heartbeat_seconds=tx.ctx.heartbeat_seconds)


def drop_outgoing_consult(tx: Tx, a: Agent) -> None:
    """Withdraw a consult this agent left pending on a busy colleague."""
    if a.outgoing_consult is None:
        return
    b = tx.agent(a.outgoing_consult)
    if b is not None:
        tx.set(b.agent_id, pending_consults=tuple(
            p for p in b.pending_consults if p.from_agent_id != a.agent_id))
    tx.set(a.agent_id, outgoing_consult=None)


def return_callbacks(tx: Tx, agent_id: str, reason: str, job_id: str | None = None) -> None:
    """Callbacks pending on the agent that PAM will not deliver (all, or those of
    ``job_id``) go back to the dialer with the reason, so none is silently lost."""
    a = tx.must(agent_id)
    back = [cb for cb in a.pending_callbacks if job_id is None or cb.job_id == job_id]
    if not back:
        return
    tx.set(agent_id, pending_callbacks=tuple(
        cb for cb in a.pending_callbacks if cb not in back))
    for cb in back:
        tx.emit(m.CallbackReturned(job_id=cb.job_id, callback_id=cb.callback_id,
                                   agent_id=agent_id, reason=reason))


def begin_consult(tx: Tx, initiator_id: str, receiver_id: str) -> None:
    """Both agents enter Consult; the customer is put on hold with music."""
    a = tx.must(initiator_id)
    b = tx.must(receiver_id)
    tx.set(initiator_id, agent_state=_busy_keep_pending(a), call_state=C.CONSULT,
           peer_agent_id=receiver_id, consult_initiator=True, outgoing_consult=None,
           held_from=None)
    tx.set(receiver_id, agent_state=_busy_keep_pending(b), call_state=C.CONSULT,
           peer_agent_id=initiator_id, consult_initiator=False, session_id=a.session_id,
           call_origin="consult", customer=a.customer, call_job_id=a.call_job_id)
    if a.session_id and a.call_state is not C.HOLD:
        tx.emit(m.PlayHold(agent_id=initiator_id, call_id=a.session_id))
    if a.session_id:
        tx.emit(m.ConsultCall(agent_id=initiator_id, call_id=a.session_id,
                              session_id=a.session_id, target_agent_id=receiver_id,
                              target_extension=b.extension))


def _busy_keep_pending(a: Agent) -> AgentState:
    return a.agent_state if a.agent_state in (A.PENDING_NOT_READY, A.PENDING_LOGOUT,
                                              A.UNKNOWN) else A.BUSY


@dataclass(frozen=True)
class JobMoveAtEnd:
    """What the end of the work does to an agent whose job state is pending."""

    to: JobState
    why: str  # the reason given with the detach (and with returned callbacks)
    detach: bool  # off its job (licence freed), or only the job state set
    returns_callbacks: bool  # its pending callbacks go back to the dialer
    notify: type[m.Notification] | None = None
    guard: Callable[[Agent], bool] | None = None  # None: always
    note: str = ""


def not_on_inbound_call(a: Agent) -> bool:
    return a.inbound_call_id is None


#: The end of the work, step 2: pending job moves complete (rendered into
#: docs/state-machine.md, "The end of work").
END_OF_WORK_JOB: dict[JobState, JobMoveAtEnd] = {
    J.PENDING_INBOUND: JobMoveAtEnd(J.JOB_INBOUND, "blended to inbound", detach=True,
                                    returns_callbacks=True, notify=m.BlendedToInbound),
    J.PENDING_MANUAL_INBOUND: JobMoveAtEnd(J.JOB_INBOUND, "released from outbound",
                                           detach=True, returns_callbacks=True),
    J.PENDING_OUTBOUND: JobMoveAtEnd(J.JOB_DETACHED, "blended to outbound", detach=False,
                                     returns_callbacks=False, notify=m.BlendedToOutbound,
                                     guard=not_on_inbound_call,
                                     note="only once its inbound call is over too; then "
                                          "allocation attaches it"),
    J.PENDING_MANUAL_JOB_MOVEMENT: JobMoveAtEnd(J.JOB_END, "moved to another job", detach=True,
                                                returns_callbacks=False,
                                                note="CompleteMove then attaches it to the "
                                                     "new job, as a change of its own"),
}

#: The end of the work, step 3: where the agent state settles (any other: Ready, and a
#: Ready agent on outbound work gets its oldest pending callback at once). ``None``: stays.
END_OF_WORK_AGENT: dict[AgentState, AgentState | None] = {
    A.PENDING_LOGOUT: A.LOGOUT,
    A.PENDING_NOT_READY: A.NOT_READY,
    A.UNKNOWN: None,  # until its desktop resyncs: never Ready, never offered work
}


def finish_work(tx: Tx, agent_id: str) -> None:
    """The agent's current work is over: apply, in order, what was waiting for it.

    1. a pending consult whose initiator still waits is delivered (the agent
       stays busy; everything else keeps waiting for that consult to end);
    2. pending job moves complete: PendingInbound / PendingManualInbound ->
       JobInbound, PendingOutbound -> JobDetached, PendingManualJobMovement ->
       the new job (PendingJobAttach, or JobEnd when it has no licence left);
    3. the agent state settles: PendingLogout -> Logout, PendingNotReady ->
       NotReady with its reason, an Unknown agent stays Unknown (until its desktop
       resyncs), otherwise Ready; a Ready agent with a pending callback gets it at once;
    4. an agent still attached to a job but no longer nailed is nailed again.
    """
    drop_outgoing_consult(tx, tx.must(agent_id))
    was = tx.must(agent_id)
    a = tx.set(agent_id, **_CALL_FIELDS_CLEARED)
    if was.job_id is None and was.call_state is not C.IDLE and was.agent_state is not A.LOGOUT:
        # its job went (JobEnd) while it was on the call: the line it kept for the
        # call is dropped now
        tx.emit(m.UnnailAgent(agent_id=agent_id))
    # 1. pending consults, oldest first; stale ones are dropped.
    while a.pending_consults:
        pc, rest = a.pending_consults[0], a.pending_consults[1:]
        a = tx.set(agent_id, pending_consults=rest)
        init = tx.agent(pc.from_agent_id)
        if (init is not None and init.outgoing_consult == agent_id
                and init.call_state in (C.TALKING, C.HOLD) and init.session_id == pc.session_id):
            tx.set(agent_id, agent_state=_busy_keep_pending(a))
            begin_consult(tx, pc.from_agent_id, agent_id)
            return
    # 2. job moves (END_OF_WORK_JOB).
    move = END_OF_WORK_JOB.get(a.job_state)
    if move is not None and (move.guard is None or move.guard(a)):
        if move.detach:
            tx.detach(agent_id, move.why, move.to)
        else:
            tx.set(agent_id, job_state=move.to)
        if move.returns_callbacks:
            return_callbacks(tx, agent_id, move.why)
        if move.notify is not None:
            tx.notify(move.notify, agent_id)
    a = tx.must(agent_id)
    # 3. agent state (END_OF_WORK_AGENT).
    settle = END_OF_WORK_AGENT.get(a.agent_state, A.READY)
    if settle is A.LOGOUT:
        logout(tx, agent_id)
        return
    if settle is A.NOT_READY:
        tx.set(agent_id, agent_state=A.NOT_READY)
    elif settle is A.READY:
        tx.set(agent_id, agent_state=A.READY, reason_code=None, reason=None, walkaway=False)
        # an agent released to inbound takes no outbound work: its callbacks wait
        if a.pending_callbacks and a.job_state in NOT_INBOUND:
            deliver_callback(tx, agent_id)
            return
    # 4. nailing.
    a = tx.must(agent_id)
    if a.job_state is J.JOB_ATTACHED and not a.nailed:
        tx.set(agent_id, job_state=J.PENDING_JOB_ATTACH)
        tx.emit(m.NailAgent(agent_id=agent_id, extension=a.extension, job_id=a.job_id))


def deliver_callback(tx: Tx, agent_id: str) -> None:
    a = tx.must(agent_id)
    cb, rest = a.pending_callbacks[0], a.pending_callbacks[1:]
    offer(tx, agent_id, kind="callback", job_id=cb.job_id, session_id=cb.callback_id,
          customer=cb.customer)
    tx.set(agent_id, pending_callbacks=rest)


def offer(tx: Tx, agent_id: str, *, kind: str, job_id: str, session_id: str,
          customer: dict[str, Any]) -> None:
    job = tx.job(job_id)
    wrapup = m.WrapupSpec()
    if job is not None:
        wrapup = m.WrapupSpec(
            completion_codes=tuple(job.completion_codes),
            default_completion_code=job.default_completion_code,
            wrapup_seconds=job.wrapup_seconds, wrapup_extensions=job.wrapup_extensions)
    call_state = {"connect": C.TALKING, "preview": C.PREVIEW, "callback": C.CALLBACK}[kind]
    a = tx.must(agent_id)
    tx.set(agent_id, agent_state=_busy_keep_pending(a), call_state=call_state,
           session_id=session_id, customer=customer, call_origin=kind, call_job_id=job_id,
           wrapup=wrapup)
    if kind == "connect":
        tx.calls[session_id] = agent_id
        tx.emit(m.ConnectCall(agent_id=agent_id, call_id=session_id))
        tx.notify(m.CallNotify, agent_id, call_id=session_id, job_id=job_id, customer=customer)
    elif kind == "preview":
        tx.notify(m.PreviewOffered, agent_id, session_id=session_id, job_id=job_id,
                  customer=customer)
    else:
        tx.notify(m.CallbackOffered, agent_id, session_id=session_id, job_id=job_id,
                  customer=customer)


def logout(tx: Tx, agent_id: str) -> None:
    a = tx.must(agent_id)
    if a.job_id is not None:
        tx.detach(agent_id, "logout", J.JOB_DETACHED)
    return_callbacks(tx, agent_id, "logout")
    tx.set(agent_id, agent_state=A.LOGOUT, job_state=J.JOB_DETACHED, reason_code=None,
           reason=None, walkaway=False, nailed=False, next_job_id=None, pending_callbacks=(),
           pending_consults=(), inbound_call_id=None, **_CALL_FIELDS_CLEARED)


# ---------------------------------------------------------------------------
# Effects: one per row that needs more than its target states
# ---------------------------------------------------------------------------


def do_login(tx: Tx, a: Agent, c: m.Login) -> None:
    tx.set(a.agent_id, zone=c.zone, extension=c.extension, skills=tuple(c.skills),
           time_zone=c.time_zone, locale=c.locale, agent_name=c.agent_name,
           agent_state=A.NOT_READY, call_state=C.IDLE, job_state=J.JOB_DETACHED, job_id=None,
           reason_code=None, reason=None, walkaway=False, nailed=False,
           logged_in_at=tx.ctx.now, ha_data={})


def do_ready(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, agent_state=A.READY, reason_code=None, reason=None, walkaway=False)
    if a.pending_callbacks and a.job_state in NOT_INBOUND:
        deliver_callback(tx, a.agent_id)


def cancel_pending_agent_state(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, agent_state=work_agent_state(a.call_state), reason_code=None,
           reason=None, walkaway=False)


def do_not_ready(tx: Tx, a: Agent, c: m.NotReady) -> None:
    busy = a.call_state in WORK_CALL_STATES
    tx.set(a.agent_id, agent_state=A.PENDING_NOT_READY if busy else A.NOT_READY,
           reason_code=c.reason_code, reason=c.reason, walkaway=c.walkaway)
    if c.walkaway:
        tx.emit(m.Alarm(code="P_POMAGT16", severity="major", agent_id=a.agent_id,
                        message=f"Agent {a.agent_id} walked away from the desktop "
                                f"(NotReady reason {c.reason_code})"))


def do_force_not_ready(tx: Tx, a: Agent, c: m.ForceNotReady) -> None:
    busy = a.call_state in WORK_CALL_STATES
    tx.set(a.agent_id, agent_state=A.PENDING_NOT_READY if busy else A.NOT_READY,
           reason_code=c.reason_code, reason=c.reason, walkaway=False)


def do_logout(tx: Tx, a: Agent, c: Any) -> None:
    logout(tx, a.agent_id)


def do_pending_logout(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, agent_state=A.PENDING_LOGOUT)


def do_hold(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, call_state=C.HOLD, held_from=a.call_state)
    if a.session_id:
        tx.emit(m.PlayHold(agent_id=a.agent_id, call_id=a.session_id))


def do_unhold(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, call_state=a.held_from or C.TALKING, held_from=None)
    if a.session_id:
        tx.emit(m.StopHold(agent_id=a.agent_id, call_id=a.session_id))


def do_consult_external(tx: Tx, a: Agent, c: m.Consult) -> None:
    tx.set(a.agent_id, call_state=C.CONSULT, consult_initiator=True,
           external_number=c.target_number, held_from=None)
    if a.session_id and a.call_state is not C.HOLD:
        tx.emit(m.PlayHold(agent_id=a.agent_id, call_id=a.session_id))
    if a.session_id:
        tx.emit(m.ConsultCall(agent_id=a.agent_id, call_id=a.session_id,
                              session_id=a.session_id, target_number=c.target_number))


def do_consult_agent(tx: Tx, a: Agent, c: m.Consult) -> None:
    assert c.target_agent_id is not None
    begin_consult(tx, a.agent_id, c.target_agent_id)


def do_consult_pending(tx: Tx, a: Agent, c: m.Consult) -> None:
    assert c.target_agent_id is not None
    b = tx.must(c.target_agent_id)
    pcs = (*b.pending_consults, m.PendingConsult(from_agent_id=a.agent_id,
                                                 session_id=a.session_id, since=tx.ctx.now))
    tx.set(b.agent_id, pending_consults=pcs)
    tx.set(a.agent_id, outgoing_consult=b.agent_id)
    tx.notify(m.ConsultPending, b.agent_id, from_agent_id=a.agent_id, pending=len(pcs))


def end_consult(tx: Tx, a: Agent, c: Any) -> None:
    """Cancel an active consult (either party): initiator back to Talking, the
    other agent (or external party) leaves."""
    init = a if a.consult_initiator else tx.must(a.peer_agent_id or "")
    tx.set(init.agent_id, call_state=C.TALKING, peer_agent_id=None, consult_initiator=False,
           external_number=None)
    if init.session_id:
        drop_party(tx, init, init.peer_agent_id, init.external_number)
        tx.emit(m.StopHold(agent_id=init.agent_id, call_id=init.session_id))
    if init.peer_agent_id is not None:
        finish_work(tx, init.peer_agent_id)


def drop_party(tx: Tx, owner: Agent, agent_id: str | None, number: str | None) -> None:
    """``DropParty`` for the other leg of ``owner``'s call: an agent's or a number's."""
    if owner.session_id is None or (agent_id is None and number is None):
        return
    tx.emit(m.DropParty(agent_id=agent_id or owner.agent_id, call_id=owner.session_id,
                        session_id=owner.session_id, number=None if agent_id else number))


def do_cancel_pending_consult(tx: Tx, a: Agent, c: Any) -> None:
    drop_outgoing_consult(tx, a)


def do_reject_consult(tx: Tx, a: Agent, c: m.RejectConsult) -> None:
    pcs = a.pending_consults
    pc = next(p for p in pcs if c.from_agent_id in (None, p.from_agent_id))
    tx.set(a.agent_id, pending_consults=tuple(p for p in pcs if p is not pc))
    init = tx.agent(pc.from_agent_id)
    if init is not None and init.outgoing_consult == a.agent_id:
        tx.set(init.agent_id, outgoing_consult=None)


def do_transfer(tx: Tx, a: Agent, c: Any) -> None:
    """Consultative transfer: the initiator is free at once; the receiver owns the
    call and its wrap-up (``Call Continue(transferred)`` in reports)."""
    assert a.peer_agent_id is not None
    b = tx.must(a.peer_agent_id)
    tx.set(b.agent_id, agent_state=_busy_keep_pending(b), call_state=C.TALKING,
           peer_agent_id=None, consult_initiator=False, call_origin="transferred",
           wrapup=a.wrapup, held_from=None)
    if a.session_id:
        tx.calls[a.session_id] = b.agent_id
        tx.emit(m.TransferCall(agent_id=a.agent_id, call_id=a.session_id,
                               session_id=a.session_id, from_agent_id=a.agent_id,
                               to_agent_id=b.agent_id))
        if a.call_state is not C.CONFERENCE_OWNER:
            tx.emit(m.StopHold(agent_id=a.agent_id, call_id=a.session_id))
        tx.notify(m.CallNotify, b.agent_id, call_id=a.session_id, job_id=a.call_job_id,
                  customer=a.customer, origin="transferred")
    tx.set(a.agent_id, peer_agent_id=None)
    finish_work(tx, a.agent_id)


def do_transfer_external(tx: Tx, a: Agent, c: Any) -> None:
    """Hand the customer to an external party: the call is disposed, and the
    desktop wraps up with "Transferred to external number"."""
    passive = a.peer_agent_id if a.call_state is not C.CONSULT else None
    if a.session_id:
        if passive is not None:
            drop_party(tx, a, passive, None)
        tx.emit(m.TransferCall(agent_id=a.agent_id, call_id=a.session_id,
                               session_id=a.session_id, from_agent_id=a.agent_id,
                               to_number=a.external_number))
        if a.call_state is C.HOLD:  # the customer was held by the conference owner
            tx.emit(m.StopHold(agent_id=a.agent_id, call_id=a.session_id))
    start_wrapup(tx, a.agent_id, external=True)
    if passive is not None:
        tx.set(passive, peer_agent_id=None)
        finish_work(tx, passive)


def do_transfer_from_conference(tx: Tx, a: Agent, c: Any) -> None:
    """The owner leaves a conference: the passive agent owns the call."""
    do_transfer(tx, a, c)


def do_conference(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, call_state=C.CONFERENCE_OWNER, consult_initiator=False)
    if a.peer_agent_id is not None:
        tx.set(a.peer_agent_id, call_state=C.CONFERENCE_PASSIVE, consult_initiator=False)
    if a.session_id:
        tx.emit(m.ConferenceCall(agent_id=a.agent_id, call_id=a.session_id,
                                 session_id=a.session_id, owner_agent_id=a.agent_id,
                                 party_agent_id=a.peer_agent_id,
                                 party_number=None if a.peer_agent_id else a.external_number))
        tx.emit(m.StopHold(agent_id=a.agent_id, call_id=a.session_id))


def do_end_conference(tx: Tx, a: Agent, c: Any) -> None:
    """Either agent ends it: the passive agent is free, the owner talks on."""
    passive: Agent | None
    if a.call_state is C.CONFERENCE_PASSIVE:
        owner, passive = tx.must(a.peer_agent_id or ""), a
    else:
        owner, passive = a, (tx.must(a.peer_agent_id) if a.peer_agent_id else None)
    was_held = owner.call_state is C.HOLD
    drop_party(tx, owner, passive.agent_id if passive else None, owner.external_number)
    tx.set(owner.agent_id, call_state=C.HOLD if was_held else C.TALKING,
           held_from=C.TALKING if was_held else None, peer_agent_id=None,
           external_number=None)
    if passive is not None:
        tx.set(passive.agent_id, peer_agent_id=None)
        finish_work(tx, passive.agent_id)


def do_change_owner(tx: Tx, a: Agent, c: Any) -> None:
    assert a.peer_agent_id is not None
    b = tx.must(a.peer_agent_id)
    held = a.call_state is C.HOLD
    tx.set(b.agent_id, call_state=C.HOLD if held else C.CONFERENCE_OWNER,
           held_from=C.CONFERENCE_OWNER if held else None, wrapup=a.wrapup,
           call_origin=a.call_origin)
    tx.set(a.agent_id, call_state=C.CONFERENCE_PASSIVE, held_from=None)
    if a.session_id:
        tx.calls[a.session_id] = b.agent_id
        tx.emit(m.ConferenceCall(agent_id=b.agent_id, call_id=a.session_id,
                                 session_id=a.session_id, owner_agent_id=b.agent_id,
                                 party_agent_id=a.agent_id))


def do_preview_dial(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, call_state=C.DIALING)
    tx.emit(m.DialCustomer(agent_id=a.agent_id, session_id=a.session_id or ""))


def do_redial(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, agent_state=_busy_keep_pending(a), call_state=C.DIALING,
           call_origin="redial")
    tx.emit(m.DialCustomer(agent_id=a.agent_id, session_id=a.session_id or ""))


def do_hang_up(tx: Tx, a: Agent, c: m.HangUp) -> None:
    """The agent ends the customer call: the media side releases it, the agent wraps
    up, a conferenced colleague is free; the nailed line stays up."""
    tx.emit(m.ReleaseCall(agent_id=a.agent_id, call_id=c.session_id))
    do_customer_drop(tx, a, c)


def do_inbound_started(tx: Tx, a: Agent, c: m.InboundCallStarted) -> None:
    tx.set(a.agent_id, inbound_call_id=c.call_id)


def do_inbound_ended(tx: Tx, a: Agent, c: m.InboundCallEnded) -> None:
    tx.set(a.agent_id, inbound_call_id=None)
    if a.job_state is J.PENDING_OUTBOUND and a.call_state is C.IDLE:
        do_blend_outbound_now(tx, tx.must(a.agent_id), c)


def on_inbound_call(tx: Tx, a: Agent, c: Any) -> bool:
    return a.inbound_call_id is not None


def other_inbound_call(tx: Tx, a: Agent, c: Any) -> bool:
    return a.inbound_call_id is not None and a.inbound_call_id != c.call_id


def not_this_inbound_call(tx: Tx, a: Agent, c: Any) -> bool:
    return bool(a.inbound_call_id != c.call_id)


def do_wrapup_now(tx: Tx, a: Agent, c: Any) -> None:
    start_wrapup(tx, a.agent_id)


def do_dial_answered(tx: Tx, a: Agent, c: m.DialResult) -> None:
    tx.set(a.agent_id, call_state=C.TALKING)
    tx.calls[c.session_id] = a.agent_id
    tx.notify(m.CallNotify, a.agent_id, call_id=c.session_id, job_id=a.call_job_id,
              customer=a.customer, origin=a.call_origin or "connect")


def do_wrapup_contact(tx: Tx, a: Agent, c: m.WrapupContact) -> None:
    w = a.wrapup or m.WrapupSpec()
    code = c.completion_code or w.default_completion_code
    tx.set(a.agent_id, completion_code=code)
    if a.call_job_id is not None:
        tx.emit(m.CallCompleted(job_id=a.call_job_id, agent_id=a.agent_id,
                                session_id=a.session_id, completion_code=code,
                                defaulted=c.completion_code is None, at=tx.ctx.now))
    if a.session_id:
        tx.calls[a.session_id] = None
    finish_work(tx, a.agent_id)


def do_desktop_lost(tx: Tx, a: Agent, c: Any) -> None:
    """Shown in Wrapup; the customer call itself goes on (no ReleaseCall): its
    CustomerDisconnected later finds the agent already wrapping up."""
    peer = a.peer_agent_id
    start_wrapup(tx, a.agent_id)
    if peer is not None:
        tx.set(peer, peer_agent_id=None)
        finish_work(tx, peer)


def do_extend_wrapup(tx: Tx, a: Agent, c: Any) -> None:
    w = a.wrapup
    assert w is not None
    tx.set(a.agent_id, wrapup=msgspec.structs.replace(w, extensions_used=w.extensions_used + 1))


def do_create_callback(tx: Tx, a: Agent, c: m.CreateCallback) -> None:
    tx.emit(m.CallbackCreated(job_id=a.call_job_id or "", agent_id=a.agent_id,
                              session_id=c.session_id, due_time=c.due_time,
                              target_agent_id=c.target_agent_id))


def do_save_for_ha(tx: Tx, a: Agent, c: m.SaveAgentForHA) -> None:
    tx.set(a.agent_id, ha_data=c.data)


def do_blend_inbound_now(tx: Tx, a: Agent, c: Any) -> None:
    tx.detach(a.agent_id, "blended to inbound", J.JOB_INBOUND)
    return_callbacks(tx, a.agent_id, "blended to inbound")
    tx.set(a.agent_id, next_job_id=None)
    tx.notify(m.BlendedToInbound, a.agent_id)


def released_until(tx: Tx, c: m.ReleaseFromOutbound) -> datetime | None:
    return tx.ctx.now + timedelta(seconds=c.thrash_seconds) if c.thrash_seconds else None


def do_release_now(tx: Tx, a: Agent, c: m.ReleaseFromOutbound) -> None:
    tx.detach(a.agent_id, "released from outbound", J.JOB_INBOUND)
    return_callbacks(tx, a.agent_id, "released from outbound")
    tx.set(a.agent_id, next_job_id=None, released_until=released_until(tx, c))


def do_release_pending(tx: Tx, a: Agent, c: m.ReleaseFromOutbound) -> None:
    tx.set(a.agent_id, job_state=J.PENDING_MANUAL_INBOUND, next_job_id=None,
           released_until=released_until(tx, c))


def do_release_again(tx: Tx, a: Agent, c: m.ReleaseFromOutbound) -> None:
    """Already released: a new thrash interval replaces the old one."""
    if c.thrash_seconds:
        tx.set(a.agent_id, released_until=released_until(tx, c))


def in_thrash_interval(tx: Tx, a: Agent, c: Any) -> bool:
    return a.released_until is not None and tx.ctx.now < a.released_until


def do_blend_inbound_pending(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, job_state=J.PENDING_INBOUND, next_job_id=None)


def do_blend_outbound_pending(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, job_state=J.PENDING_OUTBOUND)


def do_blend_outbound_now(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, job_state=J.JOB_DETACHED)
    tx.notify(m.BlendedToOutbound, a.agent_id)
    if a.agent_state is A.READY and a.pending_callbacks:  # they waited while inbound
        deliver_callback(tx, a.agent_id)


def do_cancel_pending_inbound(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, job_state=J.JOB_ATTACHED if a.nailed else J.PENDING_JOB_ATTACH)


def do_back_to_inbound(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, job_state=J.JOB_INBOUND)


def do_move_now(tx: Tx, a: Agent, c: m.MoveAgentToJob) -> None:
    if a.job_id is None:
        tx.attach(a.agent_id, c.job_id, "moved by supervisor")
        return
    tx.detach(a.agent_id, "moved to another job", J.JOB_END)
    tx.set(a.agent_id, next_job_id=c.job_id)  # CompleteMove attaches it, as its own change


def do_complete_move(tx: Tx, a: Agent, c: CompleteMove) -> None:
    target = a.next_job_id
    tx.set(a.agent_id, next_job_id=None)
    job = tx.job(target) if target else None
    if (target and job is not None and job.status == "running"
            and len(job.assigned) < job.capacity):
        tx.attach(a.agent_id, target, "moved by supervisor")


def do_cancel_move(tx: Tx, a: Agent, c: m.MoveAgentToJob) -> None:
    tx.set(a.agent_id, next_job_id=None,
           job_state=J.JOB_ATTACHED if a.nailed else J.PENDING_JOB_ATTACH)


def do_move_pending(tx: Tx, a: Agent, c: m.MoveAgentToJob) -> None:
    tx.set(a.agent_id, job_state=J.PENDING_MANUAL_JOB_MOVEMENT, next_job_id=c.job_id)


def do_offer(tx: Tx, a: Agent, c: OfferContact) -> None:
    offer(tx, a.agent_id, kind=c.kind, job_id=c.job_id, session_id=c.session_id,
          customer=c.customer)


def do_callback_now(tx: Tx, a: Agent, c: m.CallbackDue) -> None:
    offer(tx, a.agent_id, kind="callback", job_id=c.job_id, session_id=c.callback_id,
          customer=c.customer)


def do_callback_pending(tx: Tx, a: Agent, c: m.CallbackDue) -> None:
    due = c.due_time or tx.ctx.now
    cb = m.PendingCallback(callback_id=c.callback_id, job_id=c.job_id, due_time=due,
                           customer=c.customer)
    tx.set(a.agent_id, pending_callbacks=(*a.pending_callbacks, cb))
    tx.notify(m.PreviewCallbackPending, a.agent_id, callback_id=c.callback_id,
              job_id=c.job_id, due_time=format_due(tx, due))


def do_customer_drop(tx: Tx, a: Agent, c: Any) -> None:
    """The customer hangs up: the owner wraps up, a consulted or conferenced
    colleague is free at once."""
    peer = a.peer_agent_id
    start_wrapup(tx, a.agent_id)
    if peer is not None:
        tx.set(peer, peer_agent_id=None)
        finish_work(tx, peer)


def do_nailed(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, job_state=J.JOB_ATTACHED, nailed=True)
    tx.notify(m.NailupChange, a.agent_id, nailed=True)
    tx.notify(m.JobAttached, a.agent_id, job_id=a.job_id or "")


def do_nailed_only(tx: Tx, a: Agent, c: Any) -> None:
    if not a.nailed:
        tx.set(a.agent_id, nailed=True)
        tx.notify(m.NailupChange, a.agent_id, nailed=True)


def do_nail_drop_busy(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, nailed=False)
    tx.notify(m.NailupChange, a.agent_id, nailed=False)
    if a.session_id and a.call_state in (*ON_CALL, C.DIALING):
        # the agent's voice path is gone: the customer is not left on a silent line
        tx.emit(m.ReleaseCall(agent_id=a.agent_id, call_id=a.session_id))
    do_customer_drop(tx, tx.must(a.agent_id), c)


def do_nail_drop_idle(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, nailed=False, job_state=J.PENDING_JOB_ATTACH)
    tx.notify(m.NailupChange, a.agent_id, nailed=False)
    tx.emit(m.NailAgent(agent_id=a.agent_id, extension=a.extension, job_id=a.job_id))


def do_nail_drop_mark(tx: Tx, a: Agent, c: Any) -> None:
    if a.nailed:
        tx.set(a.agent_id, nailed=False)
        tx.notify(m.NailupChange, a.agent_id, nailed=False)


def do_attach(tx: Tx, a: Agent, c: AttachToJob) -> None:
    tx.attach(a.agent_id, c.job_id, c.reason)


def do_detach(tx: Tx, a: Agent, c: DetachFromJob) -> None:
    if a.next_job_id == c.job_id != a.job_id:  # the job a pending move headed to is gone
        tx.set(a.agent_id, next_job_id=None,
               job_state=J.JOB_ATTACHED if a.nailed else J.PENDING_JOB_ATTACH)
        return
    keep = a.job_state in (J.PENDING_INBOUND, J.PENDING_MANUAL_INBOUND,
                           J.PENDING_MANUAL_JOB_MOVEMENT)
    tx.detach(a.agent_id, c.reason, a.job_state if keep else J.JOB_END)


def do_mark_unknown(tx: Tx, a: Agent, c: Any) -> None:
    tx.set(a.agent_id, agent_state=A.UNKNOWN)


def do_resolve_unknown(tx: Tx, a: Agent, c: Any) -> None:
    # Idle agents come back NotReady (the safe choice: no call until they say Ready).
    tx.set(a.agent_id, agent_state=A.NOT_READY if a.call_state is C.IDLE
           else work_agent_state(a.call_state))


def noop(tx: Tx, a: Agent, c: Any) -> None:
    """Accepted, nothing to change (the agent is already where the command leads)."""
