"""SCENARIOS.md 1-15 told to the pure core (the wire versions live in tests/service)."""

from __future__ import annotations

from pam_protocol import messages as m
from tests.core.sim import Sim


def progressive(*agents: str) -> Sim:
    s = Sim()
    s.job("J")
    for a in agents:
        s.ready_on_job(a)
    return s


def test_scenario_01_login_ready_connect() -> None:
    s = Sim()
    s.job("J")
    s.login("A")
    assert s.states("A") == ("NotReady", "Idle", "JobDetached")
    s.ok(m.Ready(agent_id="A"))
    assert s.states("A") == ("Ready", "Idle", "PendingJobAttach")
    s.ok(m.NailingEstablished(agent_id="A"))
    assert s.states("A") == ("Ready", "Idle", "JobAttached")
    res = s.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    assert isinstance(res.reply, m.Accepted) and res.reply.agent_id == "A"
    assert s.states("A")[:2] == ("Busy", "Talking")
    (cc,) = s.events(res, m.ConnectCall)
    assert (cc.call_id, cc.agent_id) == ("c1", "A")


def test_scenario_02_wrapup_default_code() -> None:
    s = progressive("A")
    s.connect("c1")
    res = s.ok(m.CustomerDisconnected(call_id="c1"))
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")
    (w,) = s.events(res, m.WrapupStarted)
    assert (w.default_completion_code, w.wrapup_seconds, w.wrapup_extensions) == ("NoSale", 20, 1)
    s.ok(m.WrapupContact(agent_id="A", session_id="c1"))
    assert s.agent("A").completion_code == "NoSale"
    assert s.states("A")[:2] == ("Ready", "Idle")


def test_scenario_03_not_ready_while_busy() -> None:
    s = progressive("A", "B")
    s.connect("c1")
    s.ok(m.NotReady(agent_id="A", reason_code=7))
    assert s.states("A")[0] == "PendingNotReady"
    assert s.connect("c2") == "B"  # no further call offered to A
    res = s.send(m.CustomerConnected(job_id="J", call_id="c3", customer={}))
    assert isinstance(res.reply, m.Rejected) and res.reply.code == "NoAgentAvailable"
    s.ok(m.CustomerDisconnected(call_id="c1"))
    s.ok(m.WrapupContact(agent_id="A", session_id="c1"))
    assert s.states("A")[:2] == ("NotReady", "Idle") and s.agent("A").reason_code == 7
    s.ok(m.NotReady(agent_id="A", reason_code=9))
    assert s.agent("A").reason_code == 9


def test_scenario_04_walkaway_alarm() -> None:
    s = progressive("A")
    res = s.ok(m.NotReady(agent_id="A", reason_code=1, walkaway=True))
    (a,) = s.events(res, m.Alarm)
    assert (a.code, a.severity) == ("P_POMAGT16", "major")


def test_scenario_05_logout_only_from_not_ready() -> None:
    s = progressive("A")
    s.no(m.Logout(agent_id="A"), "InvalidTransition")
    assert s.states("A")[0] == "Ready"


def test_scenario_06_pending_consults() -> None:
    s = progressive("A", "B", "C", "D")
    for i in range(4):
        s.connect(f"c{i}")
    s.ok(m.Consult(agent_id="C", target_agent_id="B"))
    s.ok(m.Consult(agent_id="D", target_agent_id="B"))
    s.no(m.Consult(agent_id="A", target_agent_id="B"), "LimitReached")
    s.ok(m.RejectConsult(agent_id="B", from_agent_id="C"))
    assert [p.from_agent_id for p in s.agent("B").pending_consults] == ["D"]


def test_scenario_07_consultative_transfer() -> None:
    s = progressive("A")
    s.connect("c1")
    s.ready_on_job("B")
    res = s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    assert s.events(res, m.PlayHold)
    assert s.states("A")[1] == s.states("B")[1] == "Consult"
    s.ok(m.Transfer(agent_id="A"))
    assert s.states("A")[:2] == ("Ready", "Idle")
    assert s.states("B")[:2] == ("Busy", "Talking")
    assert s.agent("B").call_origin == "transferred"
    s.ok(m.CustomerDisconnected(call_id="c1"))
    assert s.states("B")[1] == "Wrapup"


def test_scenario_08_conference() -> None:
    s = progressive("A")
    s.connect("c1")
    s.ready_on_job("B")
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    s.ok(m.Conference(agent_id="A"))
    assert (s.states("A")[1], s.states("B")[1]) == ("ConferenceOwner", "ConferencePassive")
    s.ok(m.EndConference(agent_id="A"))
    assert s.states("B")[1] == "Idle" and s.states("A")[1] == "Talking"
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    s.ok(m.Conference(agent_id="A"))
    s.ok(m.ChangeConferenceOwner(agent_id="A"))
    assert (s.states("A")[1], s.states("B")[1]) == ("ConferencePassive", "ConferenceOwner")
    s.ok(m.CustomerDisconnected(call_id="c1"))
    assert s.states("B")[1] == "Wrapup" and s.states("A")[1] == "Idle"


def test_scenario_09_nailing_drop() -> None:
    s = progressive("A")
    s.connect("c1")
    res = s.ok(m.NailingDropped(agent_id="A"))
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")
    (release,) = s.events(res, m.ReleaseCall)  # the customer's call, now without an agent
    assert release.call_id == "c1"


def test_scenario_10_preview() -> None:
    s = Sim()
    s.job("J2", campaign="preview")
    s.ready_on_job("A", job_id="J2")
    s.ok(m.PreviewContactReady(job_id="J2", contact_id="p1", customer={}))
    assert s.states("A")[1] == "Preview"
    s.ok(m.PreviewCancel(agent_id="A", session_id="p1"))
    assert s.states("A")[1] == "Wrapup"
    s.ok(m.WrapupContact(agent_id="A", session_id="p1"))
    s.ok(m.PreviewContactReady(job_id="J2", contact_id="p2", customer={}))
    s.ok(m.PreviewDial(agent_id="A", session_id="p2"))
    assert s.states("A")[1] == "Dialing"
    s.ok(m.DialResult(agent_id="A", session_id="p2", result="answered"))
    assert s.states("A")[1] == "Talking"


def test_scenario_11_blending() -> None:
    s = progressive("A")
    s.connect("c1")
    s.ok(m.BlendToInbound(agent_id="A"))
    assert s.states("A")[2] == "PendingInbound"
    s.ok(m.CustomerDisconnected(call_id="c1"))
    s.ok(m.WrapupContact(agent_id="A", session_id="c1"))
    assert s.states("A") == ("Ready", "Idle", "JobInbound")
    res = s.send(m.CustomerConnected(job_id="J", call_id="c2", customer={}))
    assert isinstance(res.reply, m.Rejected) and res.reply.code == "NoAgentAvailable"
    s.ok(m.BlendToOutbound(agent_id="A"))
    assert s.states("A")[2] == "PendingJobAttach"
    s.ok(m.NailingEstablished(agent_id="A"))
    assert s.connect("c3") == "A"


def test_scenario_12_release_from_outbound_ignored() -> None:
    s = progressive("A", "B", "C")
    s.connect("c1")
    s.connect("c2")
    talkers = [a for a in "ABC" if s.states(a)[1] == "Talking"]
    b, other = talkers
    s.ok(m.Consult(agent_id=other, target_agent_id=b))
    res = s.no(m.ReleaseFromOutbound(agent_id=b), "Ignored")
    assert s.events(res, m.Alarm)[0].code == "P_POMAGT50"


def test_scenario_13_job_end_frees_licences() -> None:
    s = progressive("A", "B")
    assert len(s.zone.jobs["J"].assigned) == 2
    s.ok(m.JobEnded(job_id="J"))
    assert s.states("A")[2] == s.states("B")[2] == "JobEnd"
    assert not s.zone.jobs["J"].assigned


def test_scenario_15_bad_values_are_rejected_and_change_nothing() -> None:
    s = progressive("A")
    s.no(m.MoveAgentToJob(agent_id="A", job_id="nope"), "BadRequest")
    s.no(m.CustomerDisconnected(call_id="nope"), "BadRequest")


def test_every_change_names_the_wire_command_that_led_to_it_as_its_cause() -> None:
    s = progressive("B")
    s.login("A")
    ready = s.ok(m.Ready(agent_id="A"))  # then allocation attaches A to J
    assert {(e.cause, e.step) for e in s.events(ready, m.AgentStateChanged)} == {
        ("Ready", "Ready"), ("Ready", "AttachToJob")}
    s.ok(m.NailingEstablished(agent_id="A"))
    res = s.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    (ev,) = s.events(res, m.AgentStateChanged)
    assert (ev.cause, ev.step) == ("CustomerConnected", "OfferContact")
    res = s.ok(m.CustomerDisconnected(call_id="c1"))
    (ev,) = s.events(res, m.AgentStateChanged)
    assert (ev.cause, ev.step) == ("CustomerDisconnected", "CallEnded")
    res = s.ok(m.JobPaused(job_id="J"))
    assert {(e.cause, e.step) for e in s.events(res, m.AgentStateChanged)} == {
        ("JobPaused", "DetachFromJob")}
