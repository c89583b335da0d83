"""ForceNotReady and ForceLogout (PROTOCOL.md v1.1, beyond POM): now when the agent is
idle, pending (until the current work ends) when it is working."""

from __future__ import annotations

from pam_protocol import messages as m
from tests.core.sim import Sim
from tests.core.test_rules import talking


def test_force_not_ready_of_an_idle_agent_is_at_once_with_the_supervisors_reason() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.ok(m.ForceNotReady(agent_id="A", reason_code=31, reason="Coaching"))
    a = s.agent("A")
    assert (a.agent_state, a.reason_code, a.reason, a.walkaway) == ("NotReady", 31, "Coaching",
                                                                    False)


def test_force_not_ready_of_a_working_agent_waits_for_the_end_of_its_work() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.ForceNotReady(agent_id="A", reason_code=31))
    assert s.states("A")[:2] == ("PendingNotReady", "Talking")
    s.ok(m.CustomerDisconnected(call_id="c0"))
    s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    assert s.states("A")[:2] == ("NotReady", "Idle") and s.agent("A").reason_code == 31


def test_force_logout_now_when_idle_and_at_the_end_of_the_call_when_working() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("B")
    s.ok(m.ForceLogout(agent_id="B"))
    assert s.states("B") == ("Logout", "Idle", "JobDetached")
    talking(s, "A")
    s.ok(m.ForceLogout(agent_id="A"))
    assert s.states("A")[:2] == ("PendingLogout", "Talking")
    s.ok(m.CustomerDisconnected(call_id="c0"))
    s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    assert s.states("A")[0] == "Logout"


def test_force_commands_refused_for_an_agent_not_logged_in() -> None:
    s = Sim()
    res = s.send(m.ForceLogout(agent_id="nobody"))
    assert isinstance(res.reply, m.Rejected) and res.reply.code == "NotLoggedIn"
    res = s.send(m.ForceNotReady(agent_id="nobody", reason_code=1))
    assert isinstance(res.reply, m.Rejected) and res.reply.code == "NotLoggedIn"
