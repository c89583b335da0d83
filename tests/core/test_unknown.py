"""Unknown: an agent in doubt after a takeover, until its desktop resyncs
(docs/state-machine.md, "Unknown"; docs/deployment.md, "Agents in doubt")."""

from __future__ import annotations

import pytest

from pam_protocol import messages as m
from pam_service.domain import machine as sm
from tests.core.sim import T0, Sim

DESKTOP: list[m.Command] = [
    m.Ready(agent_id="A"), m.NotReady(agent_id="A", reason_code=1), m.Logout(agent_id="A"),
    m.PendingLogout(agent_id="A"), m.HoldCall(agent_id="A"), m.UnholdCall(agent_id="A"),
    m.Consult(agent_id="A", target_number="+1555"), m.CancelConsult(agent_id="A"),
    m.RejectConsult(agent_id="A"), m.Transfer(agent_id="A"), m.Conference(agent_id="A"),
    m.EndConference(agent_id="A"), m.ChangeConferenceOwner(agent_id="A"),
    m.WrapupContact(agent_id="A", session_id="c1"), m.ExtendWrapup(agent_id="A"),
    m.PreviewDial(agent_id="A", session_id="c1"), m.PreviewCancel(agent_id="A", session_id="c1"),
    m.Redial(agent_id="A", session_id="c1"),
    m.CreateCallback(agent_id="A", session_id="c1", due_time=T0),
]


def mark(s: Sim, aid: str) -> None:
    res = s.zone.internal(sm.MarkUnknown(agent_id=aid), s.ctx())
    assert isinstance(res.reply, m.Accepted)
    ev = [e for e in res.events if isinstance(e, m.AgentStateChanged)]
    assert [e.cause for e in ev] == ["MarkUnknown"]
    assert s.states(aid)[0] == "Unknown"


def talking(s: Sim) -> None:
    s.job()
    s.ready_on_job("A")
    assert s.connect("c1") == "A"


@pytest.mark.parametrize("cmd", DESKTOP, ids=lambda c: type(c).__name__)
def test_every_state_changing_desktop_command_is_unavailable_while_unknown(
        cmd: m.Command) -> None:
    s = Sim()
    talking(s)
    mark(s, "A")
    res = s.no(cmd, "Unavailable")
    assert isinstance(res.reply, m.Rejected) and "GetAgentStatus" in res.reply.message
    assert res.reply.agent is not None and res.reply.agent.agent_state.value == "Unknown"


def test_an_unknown_agent_is_out_of_the_pool_and_get_agent_status_resolves_it() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    mark(s, "A")
    s.no(m.CustomerConnected(job_id="J", call_id="c1", customer={}), "NoAgentAvailable")
    res = s.ok(m.GetAgentStatus(agent_id="A"))
    assert isinstance(res.reply, m.Accepted) and res.reply.agent is not None
    assert res.reply.agent.agent_state.value == "NotReady"  # idle: no call until Ready
    assert [(e.cause, e.step) for e in res.events if isinstance(e, m.AgentStateChanged)] == [
        ("GetAgentStatus", "ResolveUnknown")]
    assert s.states("A") == ("NotReady", "Idle", "JobAttached")
    s.ok(m.Ready(agent_id="A"))
    assert s.connect("c2") == "A"


def test_save_agent_for_ha_resolves_with_the_work_state_and_keeps_the_data() -> None:
    s = Sim()
    talking(s)
    mark(s, "A")
    res = s.ok(m.SaveAgentForHA(agent_id="A", data={"notes": "x"}))
    assert isinstance(res.reply, m.Accepted) and res.reply.agent is not None
    assert res.reply.agent.agent_state.value == "Busy"
    assert res.reply.agent.ha_data == {"notes": "x"}
    assert s.states("A") == ("Busy", "Talking", "JobAttached")


def test_telephony_still_applies_while_unknown_and_the_agent_stays_unknown() -> None:
    s = Sim()
    talking(s)
    mark(s, "A")
    s.ok(m.CustomerDisconnected(call_id="c1"))
    assert s.states("A")[:2] == ("Unknown", "Wrapup")
    s.ok(m.GetAgentStatus(agent_id="A"))
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")
    s.ok(m.WrapupContact(agent_id="A", session_id="c1"))
    assert s.states("A")[:2] == ("Ready", "Idle")


def test_a_colleague_ending_a_consult_never_makes_an_unknown_agent_ready() -> None:
    s = Sim()
    s.job(max_agents=1)
    s.ready_on_job("A")
    s.login("B")
    s.ok(m.Ready(agent_id="B"))
    assert s.connect("c1") == "A"
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    assert s.states("B")[:2] == ("Busy", "Consult")
    mark(s, "B")
    s.ok(m.CancelConsult(agent_id="A"))
    assert s.states("B")[:2] == ("Unknown", "Idle")
    s.ok(m.GetAgentStatus(agent_id="B"))
    assert s.states("B")[:2] == ("NotReady", "Idle")


def test_resolve_and_mark_are_idempotent() -> None:
    s = Sim()
    s.login("A")
    mark(s, "A")
    again = s.zone.internal(sm.MarkUnknown(agent_id="A"), s.ctx())
    assert not again.events
    s.ok(m.GetAgentStatus(agent_id="A"))
    res = s.ok(m.GetAgentStatus(agent_id="A"))
    assert not res.events
