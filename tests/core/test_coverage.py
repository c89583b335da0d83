"""Every (state, command) pair is a row or an explicit rejection; every command of
PROTOCOL.md that touches an agent has rows."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from pam_protocol import messages as m
from pam_protocol.states import AgentState, CallState, JobState, consistent
from pam_service.domain import machine as sm

PROTOCOL_COMMANDS = {
    "Login", "Ready", "NotReady", "Logout", "PendingLogout", "PreviewDial", "PreviewCancel",
    "Redial", "HoldCall", "UnholdCall", "Consult", "CancelConsult", "RejectConsult", "Transfer",
    "Conference", "EndConference", "ChangeConferenceOwner", "WrapupContact", "ExtendWrapup",
    "CreateCallback", "SaveAgentForHA", "GetAgentStatus", "ListCallbackAgents",
    "ReleaseFromOutbound", "MoveAgentToJob", "GetZoneStatus", "BlendToInbound", "BlendToOutbound",
    "JobStarted", "JobPaused", "JobResumed", "JobEnded", "CustomerConnected",
    "PreviewContactReady", "CallbackDue", "DialResult", "CustomerDisconnected",
    "NailingEstablished", "NailingDropped",
    # v1.1
    "HangUp", "InboundCallStarted", "InboundCallEnded", "DesktopHeartbeat",
    "ForceNotReady", "ForceLogout",
}

STATES = [
    (a, c, j)
    for a, c, j in itertools.product(AgentState, CallState, JobState)
    if consistent(a, c) and (a is not AgentState.LOGOUT or j is JobState.JOB_DETACHED)
]


def test_every_protocol_command_is_a_message_type() -> None:
    assert m.COMMAND_NAMES == PROTOCOL_COMMANDS


def test_protocol_md_lists_no_command_we_lack() -> None:
    spec = Path(__file__).parents[3] / "shared" / "spec" / "PROTOCOL.md"
    if not spec.exists():
        pytest.skip(f"{spec} not present beside the checkout")
    text = spec.read_text().split("## Commands", 1)[1].split("## Replies", 1)[0]
    named = set(re.findall(r"`([A-Z][A-Za-z]+)`", text))
    assert named <= PROTOCOL_COMMANDS | {"AgentSnapshot"}, named - PROTOCOL_COMMANDS


def test_every_command_touching_an_agent_has_rows() -> None:
    for cmd in m.COMMAND_TYPES:
        if cmd in sm.NO_AGENT:
            continue
        if cmd in sm.TABLE:
            assert any(isinstance(e, sm.Row) for e in sm.TABLE[cmd]), cmd
        else:
            internals = sm.VIA_INTERNAL[cmd]
            for inner in internals:
                assert any(isinstance(e, sm.Row) for e in sm.TABLE[inner]), (cmd, inner)


@pytest.mark.parametrize("inp", list(sm.TABLE), ids=lambda t: t.__name__)
def test_every_state_command_pair_is_a_row_or_an_explicit_rejection(inp: type) -> None:
    for agent, call, job in STATES:
        probe = sm.blank_agent("X", "z1", datetime(2026, 1, 1, tzinfo=UTC))
        probe = msgspec.structs.replace(probe, agent_state=agent, call_state=call, job_state=job)
        unguarded = [e for e in sm.TABLE[inp] if e.guard is None and e.src.matches(probe)]
        assert unguarded, f"{inp.__name__} in {(agent.value, call.value, job.value)} has no entry"


def test_reachable_state_space_is_the_consistent_one() -> None:
    assert len(STATES) > 100


def test_every_command_names_who_may_send_it() -> None:
    from pam_service.auth import ALLOWED, ROLES

    assert all(t.senders and t.senders <= set(ROLES) for t in m.COMMAND_TYPES)
    assert set().union(*(ALLOWED[r] for r in ROLES if r != "admin")) == m.COMMAND_NAMES


def test_the_python_state_enums_are_the_crates() -> None:
    import dispatcher_rs

    assert tuple(s.value for s in AgentState) == dispatcher_rs.AGENT_STATES
    assert tuple(s.value for s in CallState) == dispatcher_rs.CALL_STATES
    assert tuple(s.value for s in JobState) == dispatcher_rs.JOB_STATES


def test_every_event_type_has_one_route_and_its_key_fits_the_template() -> None:
    for t in m.EVENT_TYPES:
        assert sum(issubclass(t, r.carries) for r in m.ROUTES.values()) == 1, t
    assert m.ROUTES["state"].pattern("z1") == "agent.z1.*.state"
    assert m.ROUTES["job"].pattern("z1", job_id="J") == "job.z1.J"
    assert m.ROUTES["telephony"].pattern("z1") == "telephony.z1"
    assert m.routing_key(m.Alarm(zone="z1", code="P_POMAGT16", severity="major",
                                 message="x")) == "alarm.z1.P_POMAGT16"
