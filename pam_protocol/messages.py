"""The wire contract (PROTOCOL.md v1) as msgspec types.

One tagged union per direction: commands in, replies out, events out. The
``type`` field names the struct. Unknown fields are ignored so clients may add
fields (but the whole body must still be valid UTF-8 JSON: pam_protocol.decoding);
a field the contract lists without ``?`` has no default here, so a command
without it fails decoding, which the service answers with ``Rejected/BadRequest``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args

import msgspec
from msgspec import Meta, Struct

from pam_protocol.states import AgentState as AgentState
from pam_protocol.states import CallState as CallState
from pam_protocol.states import JobState as JobState

NonEmpty = Annotated[str, Meta(min_length=1, max_length=128)]
Level = Annotated[int, Meta(ge=0, le=100)]
Count = Annotated[int, Meta(ge=0, le=1_000_000)]
ReasonCode = Annotated[int, Meta(ge=0, le=9999)]
#: A point in time from a client: ISO 8601 with its UTC offset (a bare local time is
#: ambiguous, and could not be compared with PAM's clock).
Instant = Annotated[datetime, Meta(tz=True)]

CampaignType = Literal["progressive", "predictive", "preview", "cruise_control"]
DialOutcome = Literal["answered", "no_answer", "busy", "failed"]
Strategy = Literal["longest_idle", "skill_level"]

#: The completion code POM uses for calls handed to an external party.
EXTERNAL_TRANSFER_CODE = "Transferred to external number"


class Skill(Struct, frozen=True, gc=False):
    """A skill with its level; a higher level is a more proficient agent."""

    name: NonEmpty
    level: Level


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


class Command(Struct, frozen=True, tag_field="type", tag=True):
    """Base of every command."""

    #: The roles that may send it (pam_service.auth; ``admin`` may send everything).
    senders: ClassVar[frozenset[str]] = frozenset()


C = TypeVar("C", bound=type[Command])


def sent_by(*roles: str) -> Callable[[C], C]:
    """Declare who may send a command, beside its fields."""
    def mark(cls: C) -> C:
        cls.senders = frozenset(roles)
        return cls
    return mark


class AgentCommand(Command, frozen=True):
    """A command about one agent."""

    agent_id: NonEmpty


# Desktop ------------------------------------------------------------------


@sent_by("agent")
class Login(AgentCommand, frozen=True):
    zone: NonEmpty
    extension: NonEmpty
    skills: list[Skill]
    time_zone: NonEmpty
    locale: NonEmpty
    agent_name: str | None = None


@sent_by("agent")
class Ready(AgentCommand, frozen=True):
    pass


@sent_by("agent")
class NotReady(AgentCommand, frozen=True):
    reason_code: ReasonCode
    reason: str | None = None
    walkaway: bool = False


@sent_by("agent")
class Logout(AgentCommand, frozen=True):
    pass


@sent_by("agent")
class PendingLogout(AgentCommand, frozen=True):
    pass


@sent_by("agent")
class PreviewDial(AgentCommand, frozen=True):
    session_id: NonEmpty


@sent_by("agent")
class PreviewCancel(AgentCommand, frozen=True):
    session_id: NonEmpty


@sent_by("agent")
class Redial(AgentCommand, frozen=True):
    session_id: NonEmpty


@sent_by("agent")
class HoldCall(AgentCommand, frozen=True):
    pass


@sent_by("agent")
class UnholdCall(AgentCommand, frozen=True):
    pass


@sent_by("agent")
class Consult(AgentCommand, frozen=True):
    target_agent_id: NonEmpty | None = None
    target_number: NonEmpty | None = None


@sent_by("agent")
class CancelConsult(AgentCommand, frozen=True):
    pass


@sent_by("agent")
class RejectConsult(AgentCommand, frozen=True):
    #: Which pending consult to reject; the oldest when absent.
    from_agent_id: NonEmpty | None = None


@sent_by("agent")
class Transfer(AgentCommand, frozen=True):
    pass


@sent_by("agent")
class Conference(AgentCommand, frozen=True):
    pass


@sent_by("agent")
class EndConference(AgentCommand, frozen=True):
    pass


@sent_by("agent")
class ChangeConferenceOwner(AgentCommand, frozen=True):
    pass


@sent_by("agent")
class HangUp(AgentCommand, frozen=True):
    """v1.1: the agent ends the customer call from the desktop (Talking or Hold)."""

    session_id: NonEmpty


@sent_by("agent")
class WrapupContact(AgentCommand, frozen=True):
    session_id: NonEmpty
    completion_code: NonEmpty | None = None


@sent_by("agent")
class ExtendWrapup(AgentCommand, frozen=True):
    pass


@sent_by("agent")
class CreateCallback(AgentCommand, frozen=True):
    session_id: NonEmpty
    due_time: Instant
    target_agent_id: NonEmpty | None = None


@sent_by("agent")
class SaveAgentForHA(AgentCommand, frozen=True):
    data: dict[str, Any] = {}


@sent_by("agent")
class DesktopHeartbeat(AgentCommand, frozen=True):
    """v1.1: the desktop is alive (any command from it counts the same)."""


@sent_by("agent", "supervisor", "blender")
class GetAgentStatus(AgentCommand, frozen=True):
    pass


@sent_by("agent", "supervisor")
class ListCallbackAgents(AgentCommand, frozen=True):
    pass


# Supervisor ---------------------------------------------------------------


@sent_by("supervisor")
class ForceNotReady(AgentCommand, frozen=True):
    """v1.1, beyond POM (as VICIdial and TaskRouter allow): NotReady now when the agent is
    idle, PendingNotReady when it is working; the reason is the supervisor's."""

    reason_code: ReasonCode
    reason: str | None = None


@sent_by("supervisor")
class ForceLogout(AgentCommand, frozen=True):
    """v1.1, beyond POM: Logout now when the agent is idle, PendingLogout (logged out when
    its current work ends) when it is working."""


@sent_by("supervisor")
class ReleaseFromOutbound(AgentCommand, frozen=True):
    #: Addition: the thrash interval. For this many seconds the blender's
    #: ``BlendToOutbound`` is ignored, so the agent is not moved straight back.
    thrash_seconds: Annotated[int, Meta(ge=0, le=86_400)] = 0


@sent_by("supervisor")
class MoveAgentToJob(AgentCommand, frozen=True):
    job_id: NonEmpty


@sent_by("supervisor", "blender", "dialer")
class GetZoneStatus(Command, frozen=True):
    zone: NonEmpty


# Blender ------------------------------------------------------------------


@sent_by("blender")
class BlendToInbound(AgentCommand, frozen=True):
    pass


@sent_by("blender")
class BlendToOutbound(AgentCommand, frozen=True):
    pass


# Dialer / telephony -------------------------------------------------------


@sent_by("dialer")
class JobStarted(Command, frozen=True):
    job_id: NonEmpty
    action_name: NonEmpty
    zone: NonEmpty
    campaign_type: CampaignType
    required_skills: list[NonEmpty]
    min_agents: Count
    max_agents: Count
    priority: Annotated[int, Meta(ge=0, le=1000)]
    licenses: Count
    completion_codes: list[NonEmpty]
    default_completion_code: NonEmpty
    wrapup_seconds: Count
    wrapup_extensions: Count
    strategy: Strategy = "longest_idle"


@sent_by("dialer")
class JobPaused(Command, frozen=True):
    job_id: NonEmpty


@sent_by("dialer")
class JobResumed(Command, frozen=True):
    job_id: NonEmpty


@sent_by("dialer")
class JobEnded(Command, frozen=True):
    job_id: NonEmpty


@sent_by("dialer")
class CustomerConnected(Command, frozen=True):
    job_id: NonEmpty
    call_id: NonEmpty
    customer: dict[str, Any]


@sent_by("dialer")
class PreviewContactReady(Command, frozen=True):
    job_id: NonEmpty
    contact_id: NonEmpty
    customer: dict[str, Any]


@sent_by("dialer")
class CallbackDue(Command, frozen=True):
    job_id: NonEmpty
    callback_id: NonEmpty
    agent_id: NonEmpty | None = None
    due_time: Instant | None = None
    customer: dict[str, Any] = {}


@sent_by("dialer")
class DialResult(AgentCommand, frozen=True):
    session_id: NonEmpty
    result: DialOutcome


@sent_by("dialer")
class CustomerDisconnected(Command, frozen=True):
    call_id: NonEmpty


@sent_by("dialer")
class NailingEstablished(AgentCommand, frozen=True):
    pass


@sent_by("dialer")
class NailingDropped(AgentCommand, frozen=True):
    pass


# ACD / inbound side (v1.1) --------------------------------------------------


@sent_by("dialer", "acd")
class InboundCallStarted(AgentCommand, frozen=True):
    """The ACD connected an inbound call to this agent (blended to inbound)."""

    call_id: NonEmpty


@sent_by("dialer", "acd")
class InboundCallEnded(AgentCommand, frozen=True):
    """The agent's inbound call ended."""

    call_id: NonEmpty


AnyCommand = (
    Login | Ready | NotReady | Logout | PendingLogout | PreviewDial | PreviewCancel | Redial
    | HoldCall | UnholdCall | Consult | CancelConsult | RejectConsult | Transfer | Conference
    | EndConference | ChangeConferenceOwner | WrapupContact | ExtendWrapup | CreateCallback
    | SaveAgentForHA | GetAgentStatus | ListCallbackAgents | ReleaseFromOutbound
    | MoveAgentToJob | GetZoneStatus | BlendToInbound | BlendToOutbound | JobStarted
    | JobPaused | JobResumed | JobEnded | CustomerConnected | PreviewContactReady
    | CallbackDue | DialResult | CustomerDisconnected | NailingEstablished | NailingDropped
    | HangUp | InboundCallStarted | InboundCallEnded | DesktopHeartbeat | ForceNotReady
    | ForceLogout
)

#: Derived from the union: one list of commands, the union's.
COMMAND_TYPES: tuple[type[Command], ...] = get_args(AnyCommand)
COMMAND_NAMES = frozenset(t.__name__ for t in COMMAND_TYPES)


# --------------------------------------------------------------------------
# Agent and job records (also the AgentSnapshot on the wire)
# --------------------------------------------------------------------------


class PendingConsult(Struct, frozen=True, gc=False):
    """A consult waiting on a busy agent (at most two per agent)."""

    from_agent_id: str
    session_id: str | None
    since: datetime


class PendingCallback(Struct, frozen=True, gc=False):
    """A callback due for an agent that was busy when it fell due."""

    callback_id: str
    job_id: str
    due_time: datetime
    customer: dict[str, Any] = {}


class WrapupSpec(Struct, frozen=True, gc=False):
    """The wrap-up rules of the job the current contact came from."""

    completion_codes: tuple[str, ...] = ()
    default_completion_code: str | None = None
    wrapup_seconds: int = 30
    wrapup_extensions: int = 0
    extensions_used: int = 0


# gc=False here and on the structs it holds (and on JobTask): they never form reference
# cycles, and a zone holds tens of thousands of them, which the cyclic collector would
# otherwise walk at every full collection (and a takeover's decode would set off many).
class AgentSnapshot(Struct, frozen=True, gc=False, kw_only=True):
    """An agent's whole state: the Redis record and the wire's AgentSnapshot."""

    agent_id: str
    zone: str
    agent_state: AgentState
    call_state: CallState
    job_state: JobState
    version: int
    since: datetime
    job_id: str | None = None
    reason_code: int | None = None
    reason: str | None = None
    session_id: str | None = None
    pending_consults: tuple[PendingConsult, ...] = ()
    pending_callbacks: tuple[PendingCallback, ...] = ()
    nailed: bool = False
    skills: tuple[Skill, ...] = ()
    extension: str = ""
    agent_name: str | None = None
    time_zone: str = "UTC"
    locale: str = "en_US"
    # --- additions: what the call flows need to be self-contained ---
    walkaway: bool = False
    call_origin: str | None = None
    customer: dict[str, Any] = {}
    call_job_id: str | None = None
    peer_agent_id: str | None = None
    consult_initiator: bool = False
    external_number: str | None = None
    held_from: CallState | None = None
    outgoing_consult: str | None = None
    wrapup: WrapupSpec | None = None
    completion_code: str | None = None
    next_job_id: str | None = None
    ha_data: dict[str, Any] = {}
    logged_in_at: datetime | None = None
    #: Released from outbound by a supervisor: the blender may not return it before this.
    released_until: datetime | None = None
    #: v1.1: the inbound call the ACD reported this agent on (InboundCallStarted).
    inbound_call_id: str | None = None


Agent = AgentSnapshot


class JobTask(Struct, frozen=True, gc=False, kw_only=True):
    """A job-task: job id, action name and zone, with its staffing rules."""

    job_id: str
    action_name: str
    zone: str
    campaign_type: CampaignType
    required_skills: tuple[str, ...] = ()
    min_agents: int = 0
    max_agents: int = 1_000_000
    priority: int = 1
    licenses: int = 1_000_000
    completion_codes: tuple[str, ...] = ()
    default_completion_code: str | None = None
    wrapup_seconds: int = 30
    wrapup_extensions: int = 0
    strategy: Strategy = "longest_idle"
    status: Literal["running", "paused", "ended"] = "running"
    assigned: tuple[str, ...] = ()
    #: Only in GetZoneStatus replies: counts since the serving instance took the zone.
    calls_connected: int = 0
    calls_no_agent: int = 0

    @property
    def capacity(self) -> int:
        """How many agents the job may hold: its maximum, capped by its licences."""
        return min(self.max_agents, self.licenses)


# --------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------

RejectCode = Literal[
    "BadRequest", "UnknownCommand", "NotLoggedIn", "AlreadyLoggedIn", "InvalidTransition",
    "LimitReached", "Ignored", "Unauthorized", "Unavailable", "NoAgentAvailable",
]


class Reply(Struct, frozen=True, tag_field="type", tag=True, kw_only=True):
    """Base of replies."""


class Accepted(Reply, frozen=True, kw_only=True):
    agent: AgentSnapshot | None = None
    #: v1.1, in the reply to Login: the desktop sends a command at least this often.
    heartbeat_seconds: int | None = None
    agent_id: str | None = None
    agents: list[AgentSnapshot] | None = None
    job: JobTask | None = None
    jobs: list[JobTask] | None = None


class Rejected(Reply, frozen=True, kw_only=True):
    code: RejectCode
    message: str
    agent: AgentSnapshot | None = None
    alarm: str | None = None


AnyReply = Accepted | Rejected


# --------------------------------------------------------------------------
# Events (pam.events)
# --------------------------------------------------------------------------


class Event(Struct, frozen=True, tag_field="type", tag=True, kw_only=True):
    """Base of events. ``seq`` increases by one per event of the same agent (or job)."""

    seq: int = 0
    zone: str = ""


class AgentStateChanged(Event, frozen=True, kw_only=True):
    snapshot: AgentSnapshot
    previous: AgentSnapshot | None
    #: The type of the wire command that led to the change (PROTOCOL.md), or, for a
    #: change no command caused (a takeover's MarkUnknown, a resync timeout's
    #: ResolveUnknown), the step's name.
    cause: str
    #: Addition: the state machine's step that made the change: the command type
    #: itself, or OfferContact (CustomerConnected, PreviewContactReady, CallbackDue),
    #: CallEnded (CustomerDisconnected), AttachToJob / DetachFromJob (allocation),
    #: CompleteMove (a moved agent joins its new job),
    #: MarkUnknown / ResolveUnknown (agents in doubt after a failover).
    step: str | None = None


class Notification(Event, frozen=True, kw_only=True):
    agent_id: str


class CallNotify(Notification, frozen=True, kw_only=True):
    call_id: str
    job_id: str | None = None
    customer: dict[str, Any] = {}
    origin: str = "connect"


class PreviewOffered(Notification, frozen=True, kw_only=True):
    session_id: str
    job_id: str
    customer: dict[str, Any] = {}


class CallbackOffered(Notification, frozen=True, kw_only=True):
    session_id: str
    job_id: str
    customer: dict[str, Any] = {}


class ConsultPending(Notification, frozen=True, kw_only=True):
    from_agent_id: str
    pending: int


class PreviewCallbackPending(Notification, frozen=True, kw_only=True):
    callback_id: str
    job_id: str
    due_time: str


class WrapupStarted(Notification, frozen=True, kw_only=True):
    session_id: str | None
    completion_codes: list[str]
    default_completion_code: str | None
    wrapup_seconds: int
    wrapup_extensions: int
    #: v1.1: the desktop sends a command at least this often (DesktopHeartbeat).
    heartbeat_seconds: int | None = None


class NailupChange(Notification, frozen=True, kw_only=True):
    nailed: bool


class BlendedToInbound(Notification, frozen=True, kw_only=True):
    pass


class BlendedToOutbound(Notification, frozen=True, kw_only=True):
    pass


class JobAttached(Notification, frozen=True, kw_only=True):
    job_id: str


class POMAvailable(Notification, frozen=True, kw_only=True):
    pass


class POMNotAvailable(Notification, frozen=True, kw_only=True):
    pass


class Alarm(Event, frozen=True, kw_only=True):
    code: str
    severity: Literal["critical", "major", "minor", "warning", "info"]
    agent_id: str | None = None
    message: str


class TelephonyInstruction(Event, frozen=True, kw_only=True):
    #: The agent the instruction concerns (its seq counter numbers this event).
    agent_id: str


class ConnectCall(TelephonyInstruction, frozen=True, kw_only=True):
    call_id: str


class NailAgent(TelephonyInstruction, frozen=True, kw_only=True):
    extension: str = ""
    job_id: str | None = None


class PlayHold(TelephonyInstruction, frozen=True, kw_only=True):
    call_id: str


class StopHold(TelephonyInstruction, frozen=True, kw_only=True):
    call_id: str


class ReleaseCall(TelephonyInstruction, frozen=True, kw_only=True):
    call_id: str


class DialCustomer(TelephonyInstruction, frozen=True, kw_only=True):
    """Addition: the media side dials a preview, callback or redial for the agent."""

    session_id: str


class UnnailAgent(TelephonyInstruction, frozen=True, kw_only=True):
    """v1.1: the agent left outbound work; drop its nailed line (idempotent)."""


class ConsultCall(TelephonyInstruction, frozen=True, kw_only=True):
    """v1.1: the customer is on hold; dial the consult leg from ``agent_id`` to the
    target agent (its extension) or the external number."""

    call_id: str
    session_id: str
    target_agent_id: str | None = None
    target_number: str | None = None
    target_extension: str | None = None


class TransferCall(TelephonyInstruction, frozen=True, kw_only=True):
    """v1.1: hand the customer from ``from_agent_id`` to an agent or external number;
    ``from_agent_id``'s leg is dropped (its nailed line stays). ``agent_id`` is
    ``from_agent_id``."""

    call_id: str
    session_id: str
    from_agent_id: str
    to_agent_id: str | None = None
    to_number: str | None = None


class ConferenceCall(TelephonyInstruction, frozen=True, kw_only=True):
    """v1.1: bridge customer, owner and party into one conference (also sent on a
    change of owner, naming the new owner). ``agent_id`` is ``owner_agent_id``."""

    call_id: str
    session_id: str
    owner_agent_id: str
    party_agent_id: str | None = None
    party_number: str | None = None


class DropParty(TelephonyInstruction, frozen=True, kw_only=True):
    """v1.1: drop one party's leg from the call: the external ``number`` when set,
    otherwise agent ``agent_id``'s leg (its nailed line stays)."""

    call_id: str
    session_id: str
    number: str | None = None


class JobEvent(Event, frozen=True, kw_only=True):
    job_id: str


class AgentAttached(JobEvent, frozen=True, kw_only=True):
    agent_id: str
    licenses_used: int
    licenses: int


class AgentDetached(JobEvent, frozen=True, kw_only=True):
    agent_id: str
    reason: str
    licenses_used: int
    licenses: int


class JobAgentShortage(JobEvent, frozen=True, kw_only=True):
    assigned: int
    min_agents: int


class JobChanged(JobEvent, frozen=True, kw_only=True):
    """Addition: a job-task's record after a dialer command or a call outcome."""

    job: JobTask
    cause: str


class CallbackCreated(JobEvent, frozen=True, kw_only=True):
    """Addition: a desktop asked for a callback; the dialer schedules it."""

    agent_id: str
    session_id: str
    due_time: datetime
    target_agent_id: str | None = None


class CallCompleted(JobEvent, frozen=True, kw_only=True):
    """Addition: a contact's wrap-up, with its completion code (for reports)."""

    agent_id: str
    session_id: str | None
    completion_code: str | None
    defaulted: bool
    #: When the contact was wrapped up (absent from events of older versions).
    at: datetime | None = None


class CallbackReturned(JobEvent, frozen=True, kw_only=True):
    """v1.1: a pending callback PAM will not deliver; the dialer reschedules it."""

    callback_id: str
    agent_id: str
    reason: str


class CallNotConnected(JobEvent, frozen=True, kw_only=True):
    """Addition: a contact of the job found no available agent (``NoAgentAvailable``);
    the Campaign Detail report counts these."""

    #: The call id (``connect``), contact id (``preview``) or callback id (``callback``).
    call_id: str
    kind: Literal["connect", "preview", "callback"]
    at: datetime


AnyEvent = (
    AgentStateChanged | CallNotify | PreviewOffered | CallbackOffered | ConsultPending
    | PreviewCallbackPending | WrapupStarted | NailupChange | BlendedToInbound
    | BlendedToOutbound | JobAttached | POMAvailable | POMNotAvailable | Alarm | ConnectCall
    | NailAgent | PlayHold | StopHold | ReleaseCall | DialCustomer | AgentAttached
    | AgentDetached | JobAgentShortage | JobChanged | CallbackCreated | CallCompleted
    | CallNotConnected | UnnailAgent | ConsultCall | TransferCall | ConferenceCall | DropParty
    | CallbackReturned
)
EVENT_TYPES: tuple[type[Event], ...] = get_args(AnyEvent)


class Route(Struct, frozen=True):
    """One kind of event on ``pam.events``: its routing key (PROTOCOL.md, Events) and
    the event types it carries. The one source of every key: the service publishes by
    it, clients bind by it, the AsyncAPI document is generated from it."""

    name: str  # "state", "notify", "alarm", "telephony", "job"
    template: str  # e.g. "agent.{zone}.{agent_id}.state"
    carries: type[Event]  # the base of the event types on this route
    operation: str  # AsyncAPI operationId

    @property
    def parts(self) -> list[str]:
        return [p[1:-1] for p in self.template.split(".") if p.startswith("{")]

    def key(self, **parts: str) -> str:
        return self.template.format(**parts)

    def pattern(self, zone: str = "*", **parts: str) -> str:
        """A binding pattern: the parts not given match any word (``*``)."""
        return self.template.format(**{p: "*" for p in self.parts} | parts | {"zone": zone})

    def types(self) -> list[str]:
        return sorted(t.__name__ for t in EVENT_TYPES if issubclass(t, self.carries))


ROUTES: dict[str, Route] = {r.name: r for r in (
    Route("state", "agent.{zone}.{agent_id}.state", AgentStateChanged, "agentState"),
    Route("notify", "agent.{zone}.{agent_id}.notify", Notification, "agentNotify"),
    Route("alarm", "alarm.{zone}.{code}", Alarm, "alarm"),
    Route("telephony", "telephony.{zone}", TelephonyInstruction, "telephony"),
    Route("job", "job.{zone}.{job_id}", JobEvent, "job"),
)}


def route_of(event: Event) -> Route:
    for r in ROUTES.values():
        if isinstance(event, r.carries):
            return r
    raise TypeError(f"no route for {type(event).__name__}")


def routing_key(event: Event) -> str:
    """The topic routing key PROTOCOL.md fixes for an event."""
    r = route_of(event)
    if r.name == "state":
        assert isinstance(event, AgentStateChanged)
        return r.key(zone=event.zone, agent_id=event.snapshot.agent_id)
    return r.key(**{p: getattr(event, p) for p in r.parts})


command_decoder: msgspec.json.Decoder[AnyCommand] = msgspec.json.Decoder(AnyCommand)
reply_decoder: msgspec.json.Decoder[AnyReply] = msgspec.json.Decoder(AnyReply)
event_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)
encoder = msgspec.json.Encoder()
