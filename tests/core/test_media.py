"""Issue 17 on the pure core: HangUp, the media instructions of every leg, UnnailAgent,
inbound calls, returned callbacks. Each test names the instructions in the order the
media side receives them (docs/media.md)."""

from __future__ import annotations

from typing import Any

import msgspec

from pam_protocol import messages as m
from tests.core.sim import Sim


def talking(s: Sim, *agents: str) -> dict[str, str]:
    for a in agents:
        s.ready_on_job(a)
    calls: dict[str, str] = {}
    for i, _ in enumerate(agents):
        calls[s.connect(f"c{i}")] = f"c{i}"
    return calls


def media(res: Any) -> list[tuple[Any, ...]]:
    """The telephony instructions of one command, in order, as comparable tuples."""
    out: list[tuple[Any, ...]] = []
    for e in res.events:
        if not isinstance(e, m.TelephonyInstruction):
            continue
        d = {k: v for k, v in msgspec.structs.asdict(e).items()
             if v is not None and k not in ("seq", "zone", "extension", "target_extension")}
        out.append((type(e).__name__, d))
    return out


# ---- 1. HangUp --------------------------------------------------------------


def test_hang_up_releases_the_call_wraps_up_and_keeps_the_nail() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    res = s.ok(m.HangUp(agent_id="A", session_id="c0"))
    assert media(res) == [("ReleaseCall", {"agent_id": "A", "call_id": "c0"})]
    assert s.states("A") == ("WorkNotReady", "Wrapup", "JobAttached")
    assert s.agent("A").nailed
    assert s.events(res, m.WrapupStarted)
    # the media side's CustomerDisconnected that follows changes nothing
    before = s.agent("A")
    s.ok(m.CustomerDisconnected(call_id="c0"))
    assert s.agent("A") == before


def test_hang_up_from_hold_and_the_wrong_session_and_idle() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.no(m.HangUp(agent_id="A", session_id="other"), "BadRequest")
    s.ok(m.HoldCall(agent_id="A"))
    s.ok(m.HangUp(agent_id="A", session_id="c0"))
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")
    s.no(m.HangUp(agent_id="A", session_id="c0"), "InvalidTransition")


# ---- 2. every leg -------------------------------------------------------------


def test_consult_to_an_agent_cancel_and_reject() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ready_on_job("B")
    res = s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    assert media(res) == [
        ("PlayHold", {"agent_id": "A", "call_id": "c0"}),
        ("ConsultCall", {"agent_id": "A", "call_id": "c0", "session_id": "c0",
                         "target_agent_id": "B"})]
    res = s.ok(m.CancelConsult(agent_id="A"))
    assert media(res) == [
        ("DropParty", {"agent_id": "B", "call_id": "c0", "session_id": "c0"}),
        ("StopHold", {"agent_id": "A", "call_id": "c0"})]
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    res = s.ok(m.RejectConsult(agent_id="B"))
    assert media(res)[0] == ("DropParty", {"agent_id": "B", "call_id": "c0", "session_id": "c0"})


def test_consult_to_a_number_transfer_out() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    res = s.ok(m.Consult(agent_id="A", target_number="+15550001"))
    assert media(res)[1] == ("ConsultCall", {"agent_id": "A", "call_id": "c0", "session_id": "c0",
                                             "target_number": "+15550001"})
    res = s.ok(m.Transfer(agent_id="A"))
    assert media(res) == [("TransferCall", {"agent_id": "A", "call_id": "c0", "session_id": "c0",
                                            "from_agent_id": "A", "to_number": "+15550001"})]
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")


def test_cancel_an_external_consult_drops_the_number() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.Consult(agent_id="A", target_number="+15550001"))
    res = s.ok(m.CancelConsult(agent_id="A"))
    assert media(res)[0] == ("DropParty", {"agent_id": "A", "call_id": "c0", "session_id": "c0",
                                           "number": "+15550001"})


def test_transfer_to_an_agent() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ready_on_job("B")
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    res = s.ok(m.Transfer(agent_id="A"))
    assert media(res)[0] == ("TransferCall", {"agent_id": "A", "call_id": "c0", "session_id": "c0",
                                              "from_agent_id": "A", "to_agent_id": "B"})
    assert s.states("B")[1] == "Talking"


def test_conference_change_owner_passive_leaves_and_end() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ready_on_job("B")
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    res = s.ok(m.Conference(agent_id="A"))
    assert media(res) == [
        ("ConferenceCall", {"agent_id": "A", "call_id": "c0", "session_id": "c0",
                            "owner_agent_id": "A", "party_agent_id": "B"}),
        ("StopHold", {"agent_id": "A", "call_id": "c0"})]
    res = s.ok(m.ChangeConferenceOwner(agent_id="A"))
    assert media(res) == [("ConferenceCall", {"agent_id": "B", "call_id": "c0", "session_id": "c0",
                                              "owner_agent_id": "B", "party_agent_id": "A"})]
    res = s.ok(m.EndConference(agent_id="A"))  # A is the passive party now: it leaves
    assert media(res)[0] == ("DropParty", {"agent_id": "A", "call_id": "c0", "session_id": "c0"})
    assert s.states("B")[1] == "Talking"


def test_owner_ends_conference_and_transfer_from_conference() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ready_on_job("B")
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    s.ok(m.Conference(agent_id="A"))
    res = s.ok(m.EndConference(agent_id="A"))
    assert media(res)[0] == ("DropParty", {"agent_id": "B", "call_id": "c0", "session_id": "c0"})
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    s.ok(m.Conference(agent_id="A"))
    res = s.ok(m.Transfer(agent_id="A"))
    assert media(res)[0] == ("TransferCall", {"agent_id": "A", "call_id": "c0", "session_id": "c0",
                                              "from_agent_id": "A", "to_agent_id": "B"})


# ---- 3. UnnailAgent -------------------------------------------------------------


def unnailed(res: Any) -> list[str]:
    return [e.agent_id for e in res.events if isinstance(e, m.UnnailAgent)]


def test_unnail_on_job_end_pause_release_blend_logout_and_move() -> None:
    s = Sim()
    s.job()
    s.job("K")
    s.ready_on_job("A")
    assert unnailed(s.ok(m.JobPaused(job_id="J"))) == ["A"]
    s.ok(m.JobResumed(job_id="J"))
    s.ok(m.NailingEstablished(agent_id="A"))
    assert unnailed(s.ok(m.BlendToInbound(agent_id="A"))) == ["A"]
    s.ok(m.BlendToOutbound(agent_id="A"))
    s.ok(m.NailingEstablished(agent_id="A"))
    assert unnailed(s.ok(m.ReleaseFromOutbound(agent_id="A"))) == ["A"]
    s.ok(m.BlendToOutbound(agent_id="A"))
    s.ok(m.NailingEstablished(agent_id="A"))
    job = s.agent("A").job_id
    other = "K" if job == "J" else "J"
    res = s.ok(m.MoveAgentToJob(agent_id="A", job_id=other))
    assert unnailed(res) == ["A"]
    s.ok(m.NailingEstablished(agent_id="A"))
    s.ok(m.NotReady(agent_id="A", reason_code=1))
    assert unnailed(s.ok(m.Logout(agent_id="A"))) == ["A"]


def test_a_busy_agent_keeps_its_line_until_the_call_ends() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    assert unnailed(s.ok(m.JobEnded(job_id="J"))) == []
    s.ok(m.CustomerDisconnected(call_id="c0"))
    assert unnailed(s.ok(m.WrapupContact(agent_id="A", session_id="c0"))) == ["A"]


# ---- 4. inbound calls ---------------------------------------------------------------


def test_blend_to_outbound_waits_for_the_inbound_call() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.ok(m.BlendToInbound(agent_id="A"))
    s.ok(m.InboundCallStarted(agent_id="A", call_id="in1"))
    s.no(m.InboundCallStarted(agent_id="A", call_id="in2"), "InvalidTransition")
    res = s.ok(m.BlendToOutbound(agent_id="A"))
    assert s.states("A")[2] == "PendingOutbound"
    assert not [e for e in res.events if isinstance(e, m.NailAgent)]
    s.no(m.InboundCallEnded(agent_id="A", call_id="other"), "BadRequest")
    res = s.ok(m.InboundCallEnded(agent_id="A", call_id="in1"))
    assert s.events(res, m.BlendedToOutbound)
    assert [e for e in res.events if isinstance(e, m.NailAgent)]  # allocation re-nails now
    assert s.agent("A").inbound_call_id is None


def test_inbound_call_only_for_an_inbound_agent() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.no(m.InboundCallStarted(agent_id="A", call_id="in1"), "InvalidTransition")


# ---- 5. callbacks ---------------------------------------------------------------------


def test_logout_and_job_end_return_pending_callbacks() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.ok(m.NotReady(agent_id="A", reason_code=1))
    s.ok(m.CallbackDue(job_id="J", callback_id="cb1", agent_id="A"))
    res = s.ok(m.Logout(agent_id="A"))
    assert [(e.callback_id, e.reason) for e in s.events(res, m.CallbackReturned)] == [
        ("cb1", "logout")]
    s.ready_on_job("B")
    s.ok(m.NotReady(agent_id="B", reason_code=1))
    s.ok(m.CallbackDue(job_id="J", callback_id="cb2", agent_id="B"))
    res = s.ok(m.JobEnded(job_id="J"))
    assert [(e.callback_id, e.reason) for e in s.events(res, m.CallbackReturned)] == [
        ("cb2", "job ended")]


def test_named_callback_only_for_an_agent_that_may_take_the_job() -> None:
    s = Sim()
    s.job()
    s.job("K", required_skills=["french"])
    s.ready_on_job("A")
    s.no(m.CallbackDue(job_id="K", callback_id="cb", agent_id="A"), "InvalidTransition")
    s.ok(m.CallbackDue(job_id="J", callback_id="cb", agent_id="A"))
    assert s.states("A")[1] == "Callback"


# ---- 6. a supervisor's move sticks ------------------------------------------------------


def test_a_move_is_not_undone_by_the_allocator_in_the_same_command() -> None:
    s = Sim()
    s.job("J", priority=5, min_agents=1, max_agents=1)
    s.ready_on_job("A", "J", level=1)
    s.job("K", priority=1)
    s.ready_on_job("B", "K", level=5)
    res = s.ok(m.MoveAgentToJob(agent_id="A", job_id="K"))
    assert isinstance(res.reply, m.Accepted) and res.reply.agent is not None
    assert res.reply.agent.job_id == "K"
    assert s.agent("A").job_id == "K"
    # the old job, below its minimum, is refilled with another agent
    assert s.agent("B").job_id == "J"


# ---- 8. privacy ----------------------------------------------------------------------------


def test_list_callback_agents_shows_no_customer_or_ha_data_of_colleagues() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("B")
    s.ok(m.SaveAgentForHA(agent_id="B", data={"screen": "card", "card": "4111"}))
    s.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={"name": "Ada", "acct": 7}))
    s.login("A")
    res = s.ok(m.ListCallbackAgents(agent_id="A"))
    assert isinstance(res.reply, m.Accepted) and res.reply.agents is not None
    b = next(x for x in res.reply.agents if x.agent_id == "B")
    assert (b.agent_state.value, b.call_state.value, b.skills) == (
        "Busy", "Talking", s.agent("B").skills)
    assert (b.customer, b.ha_data, b.session_id, b.extension, b.call_job_id) == (
        {}, {}, None, "", None)
    body = m.encoder.encode(res.reply)
    assert b"Ada" not in body and b"4111" not in body


# ---- 9. desktop liveness ---------------------------------------------------------------------


def run_checks(s: Sim) -> tuple[list[m.Event], list[Any]]:
    """What the worker's liveness timer does: check, then apply the inputs."""
    inputs, alarms, _ = s.zone.desktop_checks(s.ctx())
    results = [s.zone.internal(i, s.ctx()) for i in inputs]
    return alarms, results


def test_heartbeat_seconds_in_the_login_reply_and_wrapup_started() -> None:
    s = Sim(heartbeat_seconds=15)
    s.job()
    res = s.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                       locale="en_US"))
    assert isinstance(res.reply, m.Accepted) and res.reply.heartbeat_seconds == 15
    s.ready_on_job("B")
    s.connect("c1")
    res = s.ok(m.HangUp(agent_id="B", session_id="c1"))
    (ws,) = s.events(res, m.WrapupStarted)
    assert ws.heartbeat_seconds == 15


def test_a_silent_desktop_is_alarmed_once_shown_in_wrapup_and_wrapped_up_by_pam() -> None:
    s = Sim()  # heartbeat 30 s; the job's wrap-up 20 s with 1 extension
    s.job()
    s.ready_on_job("A")
    s.ok(m.SaveAgentForHA(agent_id="A", data={"screen": "x"}))
    s.connect("c1")
    s.tick(85)
    assert run_checks(s) == ([], [])  # heard 86 s ago: still live
    s.tick(10)
    alarms, results = run_checks(s)
    assert [(a.code, a.agent_id) for a in alarms] == [("P_POMAGT_DESKTOP", "A")]  # type: ignore[attr-defined]
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")
    assert not [e for r in results for e in r.events if isinstance(e, m.ReleaseCall)]
    s.tick(60)
    alarms, results = run_checks(s)
    assert alarms == [] and s.states("A")[:2] == ("WorkNotReady", "Wrapup")  # 20*2+30 not yet
    s.tick(15)
    alarms, results = run_checks(s)
    assert alarms == []
    assert s.states("A") == ("Ready", "Idle", "JobAttached")
    (done,) = [e for r in results for e in r.events if isinstance(e, m.CallCompleted)]
    assert (done.completion_code, done.defaulted) == ("NoSale", True)
    causes = {e.cause for r in results for e in r.events if isinstance(e, m.AgentStateChanged)}
    assert causes == {"WrapupTimeout"}
    # the customer's hang-up that follows finds nothing to do
    res = s.send(m.CustomerDisconnected(call_id="c1"))
    assert isinstance(res.reply, m.Rejected) and res.reply.code == "BadRequest"


def test_a_heartbeat_keeps_the_desktop_live_and_without_ha_data_nothing_moves() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.connect("c1")
    for _ in range(5):
        s.tick(60)
        s.ok(m.DesktopHeartbeat(agent_id="A"))
        assert run_checks(s) == ([], [])
    s.tick(100)
    alarms, _ = run_checks(s)
    assert len(alarms) == 1
    assert s.states("A")[:2] == ("Busy", "Talking")  # no SaveAgentForHA: shown as it is


# ---- 10. the smaller rows --------------------------------------------------------------------


def test_a_conference_owner_with_the_customer_on_hold_transfers_to_the_external_party() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.Consult(agent_id="A", target_number="+15550001"))
    s.ok(m.Conference(agent_id="A"))
    s.ok(m.HoldCall(agent_id="A"))
    res = s.ok(m.Transfer(agent_id="A"))
    assert media(res) == [
        ("TransferCall", {"agent_id": "A", "call_id": "c0", "session_id": "c0",
                          "from_agent_id": "A", "to_number": "+15550001"}),
        ("StopHold", {"agent_id": "A", "call_id": "c0"})]
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")
    s.ok(m.WrapupContact(agent_id="A", session_id="c0", completion_code=m.EXTERNAL_TRANSFER_CODE))


def test_transferred_to_external_number_only_for_a_call_transferred_externally() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.HangUp(agent_id="A", session_id="c0"))
    s.no(m.WrapupContact(agent_id="A", session_id="c0", completion_code=m.EXTERNAL_TRANSFER_CODE),
         "BadRequest")
    s.ok(m.WrapupContact(agent_id="A", session_id="c0", completion_code="Sale"))


def test_a_second_action_of_a_running_job_is_refused_not_merged() -> None:
    s = Sim()
    s.job("J", max_agents=5)
    s.ready_on_job("A")
    before = s.zone.jobs["J"]
    res = s.send(m.JobStarted(job_id="J", action_name="sms", zone="z1",
                              campaign_type="progressive", required_skills=["other"],
                              min_agents=0, max_agents=1, priority=1, licenses=1,
                              completion_codes=["X"], default_completion_code="X",
                              wrapup_seconds=5, wrapup_extensions=0))
    assert isinstance(res.reply, m.Rejected) and res.reply.code == "BadRequest"
    assert "action" in res.reply.message
    assert s.zone.jobs["J"] == before and s.agent("A").job_id == "J"
