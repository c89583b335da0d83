"""The three sub-states of a POM agent, named exactly as the wire spells them."""

from __future__ import annotations

from enum import StrEnum


class AgentState(StrEnum):
    """Whether the agent works or idles (POM's Agent State)."""

    READY = "Ready"
    NOT_READY = "NotReady"
    PENDING_NOT_READY = "PendingNotReady"
    LOGOUT = "Logout"
    PENDING_LOGOUT = "PendingLogout"
    BUSY = "Busy"
    WORK_NOT_READY = "WorkNotReady"
    UNKNOWN = "Unknown"


class CallState(StrEnum):
    """Where the agent is with a customer contact (POM's Call State)."""

    IDLE = "Idle"
    PREVIEW = "Preview"
    CALLBACK = "Callback"
    DIALING = "Dialing"
    TALKING = "Talking"
    HOLD = "Hold"
    CONSULT = "Consult"
    CONFERENCE_OWNER = "ConferenceOwner"
    CONFERENCE_PASSIVE = "ConferencePassive"
    WRAPUP = "Wrapup"


class JobState(StrEnum):
    """The agent's relation to a job-task (POM's Job State)."""

    JOB_ATTACHED = "JobAttached"
    JOB_DETACHED = "JobDetached"
    JOB_END = "JobEnd"
    JOB_INBOUND = "JobInbound"
    PENDING_INBOUND = "PendingInbound"
    PENDING_OUTBOUND = "PendingOutbound"
    PENDING_MANUAL_INBOUND = "PendingManualInbound"
    PENDING_MANUAL_JOB_MOVEMENT = "PendingManualJobMovement"
    PENDING_JOB_ATTACH = "PendingJobAttach"


A = AgentState
C = CallState
J = JobState

#: Call states in which the agent handles a customer contact (agent state Busy).
BUSY_CALL_STATES = frozenset(
    {
        C.PREVIEW,
        C.CALLBACK,
        C.DIALING,
        C.TALKING,
        C.HOLD,
        C.CONSULT,
        C.CONFERENCE_OWNER,
        C.CONFERENCE_PASSIVE,
    }
)
#: Call states that are "work" in progress: busy, or wrapping up.
WORK_CALL_STATES = BUSY_CALL_STATES | {C.WRAPUP}

#: Agent states a logged-in agent can be in while it has no work.
IDLE_AGENT_STATES = frozenset({A.READY, A.NOT_READY})
#: Agent states that mark an intention to be applied when the current work ends.
PENDING_AGENT_STATES = frozenset({A.PENDING_NOT_READY, A.PENDING_LOGOUT})

#: Job states in which the agent belongs to a job-task (holds one of its licences).
ON_JOB_STATES = frozenset(
    {J.JOB_ATTACHED, J.PENDING_JOB_ATTACH, J.PENDING_INBOUND, J.PENDING_MANUAL_INBOUND,
     J.PENDING_MANUAL_JOB_MOVEMENT}
)
#: Job states in which the agent is kept for inbound work (no outbound is offered).
INBOUND_JOB_STATES = frozenset(
    {J.JOB_INBOUND, J.PENDING_INBOUND, J.PENDING_MANUAL_INBOUND, J.PENDING_OUTBOUND}
)


def consistent(agent: AgentState, call: CallState) -> bool:
    """Whether an (agent state, call state) pair can occur.

    Ready, NotReady and Logout go with Idle; Busy with a busy call state;
    WorkNotReady with Wrapup; the pending agent states with any work call state;
    Unknown (an agent being resynchronised after a failover) with any.
    """
    if agent in (A.READY, A.NOT_READY, A.LOGOUT):
        return call is C.IDLE
    if agent is A.BUSY:
        return call in BUSY_CALL_STATES
    if agent is A.WORK_NOT_READY:
        return call is C.WRAPUP
    if agent in PENDING_AGENT_STATES:
        return call in WORK_CALL_STATES
    return True  # Unknown


def work_agent_state(call: CallState) -> AgentState:
    """The agent state that goes with a work call state when nothing is pending."""
    return A.WORK_NOT_READY if call is C.WRAPUP else A.BUSY
