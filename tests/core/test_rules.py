"""One test per rule of pom-agent-states.txt, named after the rule, on the pure core."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pam_protocol import messages as m
from pam_service.domain import machine as sm
from tests.core.sim import Sim


def talking(s: Sim, *agents: str) -> None:
    for a in agents:
        s.ready_on_job(a)
    for i, _ in enumerate(agents):
        s.connect(f"c{i}")


def test_rule_login_puts_agent_not_ready_idle_detached_and_keeps_login_properties() -> None:
    s = Sim()
    s.ok(m.Login(agent_id="A", zone="z1", extension="4001", skills=[m.Skill(name="sales", level=3)],
                 time_zone="Europe/Paris", locale="fr_FR", agent_name="Ann"))
    a = s.agent("A")
    assert s.states("A") == ("NotReady", "Idle", "JobDetached")
    assert (a.extension, a.time_zone, a.locale) == ("4001", "Europe/Paris", "fr_FR")
    assert a.agent_name == "Ann"
    assert a.skills == (m.Skill(name="sales", level=3),)


def test_rule_login_twice_is_already_logged_in() -> None:
    s = Sim()
    s.login("A")
    s.no(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                 locale="en_US"), "AlreadyLoggedIn")


def test_rule_login_for_another_zone_is_bad_request() -> None:
    s = Sim()
    s.no(m.Login(agent_id="A", zone="z2", extension="1", skills=[], time_zone="UTC",
                 locale="en_US"), "BadRequest")


def test_rule_ready_makes_attached_agent_receive_calls() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    assert s.connect("c1") == "A"


def test_rule_not_ready_excludes_agent_from_pool() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.ok(m.NotReady(agent_id="A", reason_code=3))
    assert s.states("A")[0] == "NotReady"
    res = s.send(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    assert isinstance(res.reply, m.Rejected) and res.reply.code == "NoAgentAvailable"


def test_rule_not_ready_while_busy_is_pending_not_ready_until_work_ends() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.NotReady(agent_id="A", reason_code=7))
    assert s.states("A")[:2] == ("PendingNotReady", "Talking")
    s.ok(m.CustomerDisconnected(call_id="c0"))
    assert s.states("A")[:2] == ("PendingNotReady", "Wrapup")
    s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    assert s.states("A")[:2] == ("NotReady", "Idle")
    assert s.agent("A").reason_code == 7


def test_rule_not_ready_in_not_ready_changes_the_reason() -> None:
    s = Sim()
    s.login("A")
    s.ok(m.NotReady(agent_id="A", reason_code=7))
    v = s.agent("A").version
    s.ok(m.NotReady(agent_id="A", reason_code=9))
    assert s.agent("A").reason_code == 9 and s.agent("A").version == v + 1


def test_rule_ready_cancels_a_pending_not_ready() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.NotReady(agent_id="A", reason_code=7))
    s.ok(m.Ready(agent_id="A"))
    assert s.states("A")[:2] == ("Busy", "Talking")


def test_rule_walkaway_raises_major_alarm_P_POMAGT16() -> None:
    s = Sim()
    s.login("A")
    res = s.ok(m.NotReady(agent_id="A", reason_code=2, walkaway=True))
    (alarm,) = s.events(res, m.Alarm)
    assert (alarm.code, alarm.severity, alarm.agent_id) == ("P_POMAGT16", "major", "A")


def test_rule_logout_only_from_not_ready() -> None:
    s = Sim()
    s.login("A")
    s.ok(m.Ready(agent_id="A"))
    s.no(m.Logout(agent_id="A"), "InvalidTransition")
    s.ok(m.NotReady(agent_id="A", reason_code=1))
    s.ok(m.Logout(agent_id="A"))
    assert s.states("A")[0] == "Logout"
    s.no(m.Ready(agent_id="A"), "NotLoggedIn")


def test_rule_pending_logout_logs_out_idle_agent_at_once_and_busy_agent_after_work() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("B")
    s.ok(m.PendingLogout(agent_id="B"))
    assert s.states("B")[0] == "Logout"
    assert "B" not in s.zone.jobs["J"].assigned
    talking(s, "A")
    s.ok(m.PendingLogout(agent_id="A"))
    assert s.states("A")[:2] == ("PendingLogout", "Talking")
    s.ok(m.CustomerDisconnected(call_id="c0"))
    s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    assert s.states("A")[0] == "Logout"
    assert "A" not in s.zone.jobs["J"].assigned


def test_rule_busy_in_progressive_campaign_goes_from_idle_straight_to_talking() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    assert s.states("A")[:2] == ("Busy", "Talking")


def test_rule_customer_ending_the_call_puts_agent_in_wrapup_and_work_not_ready() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    res = s.ok(m.CustomerDisconnected(call_id="c0"))
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")
    (w,) = s.events(res, m.WrapupStarted)
    assert w.completion_codes == ["Sale", "NoSale", "CallBackLater"]
    assert (w.default_completion_code, w.wrapup_seconds, w.wrapup_extensions) == ("NoSale", 20, 1)


def test_rule_nailing_drop_while_busy_puts_agent_in_wrapup() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.NailingDropped(agent_id="A"))
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")
    assert not s.agent("A").nailed
    s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    assert s.states("A") == ("Ready", "Idle", "PendingJobAttach")


def test_rule_nailing_drop_while_idle_renails() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    res = s.ok(m.NailingDropped(agent_id="A"))
    assert s.states("A") == ("Ready", "Idle", "PendingJobAttach")
    assert s.events(res, m.NailAgent)


def test_rule_preview_dial_goes_dialing_and_preview_cancel_goes_wrapup() -> None:
    s = Sim()
    s.job("P", campaign="preview")
    s.ready_on_job("A", job_id="P")
    res = s.ok(m.PreviewContactReady(job_id="P", contact_id="k1", customer={}))
    assert s.events(res, m.PreviewOffered)
    assert s.states("A")[:2] == ("Busy", "Preview")
    s.ok(m.PreviewCancel(agent_id="A", session_id="k1"))
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")
    s.ok(m.WrapupContact(agent_id="A", session_id="k1"))
    s.ok(m.PreviewContactReady(job_id="P", contact_id="k2", customer={}))
    s.ok(m.PreviewDial(agent_id="A", session_id="k2"))
    assert s.states("A")[:2] == ("Busy", "Dialing")
    s.ok(m.DialResult(agent_id="A", session_id="k2", result="answered"))
    assert s.states("A")[:2] == ("Busy", "Talking")


def test_rule_preview_dial_with_another_session_is_bad_request() -> None:
    s = Sim()
    s.job("P", campaign="preview")
    s.ready_on_job("A", job_id="P")
    s.ok(m.PreviewContactReady(job_id="P", contact_id="k1", customer={}))
    s.no(m.PreviewDial(agent_id="A", session_id="other"), "BadRequest")


def test_rule_unanswered_dial_goes_to_wrapup() -> None:
    s = Sim()
    s.job("P", campaign="preview")
    s.ready_on_job("A", job_id="P")
    s.ok(m.PreviewContactReady(job_id="P", contact_id="k1", customer={}))
    s.ok(m.PreviewDial(agent_id="A", session_id="k1"))
    s.ok(m.DialResult(agent_id="A", session_id="k1", result="busy"))
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")


def test_rule_callback_state_offers_the_callback_preview_then_dial_or_cancel() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    res = s.ok(m.CallbackDue(job_id="J", callback_id="cb1", agent_id="A"))
    assert s.events(res, m.CallbackOffered)
    assert s.states("A")[:2] == ("Busy", "Callback")
    s.ok(m.PreviewDial(agent_id="A", session_id="cb1"))
    assert s.states("A")[:2] == ("Busy", "Dialing")


def test_rule_callback_for_busy_agent_is_pending_with_due_time_in_server_time_zone() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    due = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)
    res = s.ok(m.CallbackDue(job_id="J", callback_id="cb1", agent_id="A", due_time=due))
    (n,) = s.events(res, m.PreviewCallbackPending)
    assert n.due_time == "2026/11/26 14:30"  # the server's zone (UTC here)
    assert [c.callback_id for c in s.agent("A").pending_callbacks] == ["cb1"]
    s.ok(m.CustomerDisconnected(call_id="c0"))
    s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    assert s.states("A")[:2] == ("Busy", "Callback")
    assert s.agent("A").pending_callbacks == ()


def test_rule_pending_callback_due_time_is_utc_yyyy_MM_dd_HH_mm_when_configured() -> None:
    s = Sim(callback_due_utc=True)
    s.job()
    talking(s, "A")
    due = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)
    res = s.ok(m.CallbackDue(job_id="J", callback_id="cb1", agent_id="A", due_time=due))
    (n,) = s.events(res, m.PreviewCallbackPending)
    assert n.due_time == "2026/11/26 14:30"


def test_rule_pending_callback_due_time_formats_of_both_modes_agree() -> None:
    """yyyy/MM/dd HH:mm in both modes; the server's zone by default, UTC when set."""
    due = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)
    got = []
    for kw in ({"server_tz": ZoneInfo("Europe/Paris")}, {"callback_due_utc": True}):
        s = Sim(**kw)
        s.job()
        talking(s, "A")
        res = s.ok(m.CallbackDue(job_id="J", callback_id="cb1", agent_id="A", due_time=due))
        (n,) = s.events(res, m.PreviewCallbackPending)
        got.append(n.due_time)
    assert got == ["2026/11/26 15:30", "2026/11/26 14:30"]


def test_rule_skills_are_not_refreshed_on_attach_only_by_relogin() -> None:
    s = Sim()
    s.job()
    s.login("A", skills=("support",))
    s.ok(m.Ready(agent_id="A"))
    assert s.agent("A").job_id is None  # lacks "sales"
    s.ok(m.NotReady(agent_id="A", reason_code=1))
    s.ok(m.Logout(agent_id="A"))
    s.login("A", skills=("sales",))
    s.ok(m.Ready(agent_id="A"))
    assert s.agent("A").job_id == "J"


def test_rule_callback_agent_list_comes_from_the_cache_of_logged_in_agents() -> None:
    s = Sim()
    s.login("A")
    s.login("B")
    res = s.ok(m.ListCallbackAgents(agent_id="A"))
    assert isinstance(res.reply, m.Accepted) and res.reply.agents is not None
    assert [a.agent_id for a in res.reply.agents] == ["A", "B"]


def test_rule_redial_from_wrapup_goes_dialing_then_talking_again() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.CustomerDisconnected(call_id="c0"))
    s.ok(m.Redial(agent_id="A", session_id="c0"))
    assert s.states("A")[:2] == ("Busy", "Dialing")
    s.ok(m.DialResult(agent_id="A", session_id="c0", result="answered"))
    assert s.states("A")[:2] == ("Busy", "Talking")
    assert s.agent("A").call_origin == "redial"


def test_rule_hold_and_unhold_play_and_stop_the_hold_application() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    res = s.ok(m.HoldCall(agent_id="A"))
    assert s.states("A")[1] == "Hold" and s.events(res, m.PlayHold)
    res = s.ok(m.UnholdCall(agent_id="A"))
    assert s.states("A")[1] == "Talking" and s.events(res, m.StopHold)
    s.no(m.UnholdCall(agent_id="A"), "InvalidTransition")


def consult_pair(s: Sim) -> None:
    s.job()
    s.ready_on_job("A")
    s.connect("c0")
    s.ready_on_job("B")
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))


def test_rule_consult_idle_agent_puts_both_in_consult_with_customer_on_hold() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.connect("c0")
    s.ready_on_job("B")
    res = s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    assert s.states("A")[:2] == ("Busy", "Consult") and s.states("B")[:2] == ("Busy", "Consult")
    assert s.events(res, m.PlayHold)


def test_rule_consult_busy_agent_gives_pending_consult_at_most_two() -> None:
    s = Sim()
    s.job()
    talking(s, "A", "B", "C", "D")
    res = s.ok(m.Consult(agent_id="C", target_agent_id="B"))
    (n,) = s.events(res, m.ConsultPending)
    assert n.agent_id == "B" and n.from_agent_id == "C"
    s.ok(m.Consult(agent_id="D", target_agent_id="B"))
    s.no(m.Consult(agent_id="A", target_agent_id="B"), "LimitReached")
    assert len(s.agent("B").pending_consults) == 2


def test_rule_pending_consult_is_delivered_when_the_agents_work_ends() -> None:
    s = Sim()
    s.job()
    talking(s, "A", "B")
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    s.ok(m.CustomerDisconnected(call_id="c1"))
    s.ok(m.WrapupContact(agent_id="B", session_id="c1"))
    assert s.states("B")[:2] == ("Busy", "Consult") and s.states("A")[:2] == ("Busy", "Consult")
    assert s.agent("B").pending_consults == ()


def test_rule_pending_consult_can_be_rejected() -> None:
    s = Sim()
    s.job()
    talking(s, "A", "B")
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    s.ok(m.RejectConsult(agent_id="B"))
    assert s.agent("B").pending_consults == () and s.agent("A").outgoing_consult is None
    s.ok(m.CustomerDisconnected(call_id="c1"))
    s.ok(m.WrapupContact(agent_id="B", session_id="c1"))
    assert s.states("B")[:2] == ("Ready", "Idle")


def test_rule_cancel_consult_returns_initiator_to_talking_and_frees_the_other() -> None:
    s = Sim()
    consult_pair(s)
    s.ok(m.CancelConsult(agent_id="A"))
    assert s.states("A")[:2] == ("Busy", "Talking") and s.states("B")[:2] == ("Ready", "Idle")


def test_rule_passive_agent_nailing_drop_is_not_identified_the_owner_releases_it() -> None:
    s = Sim()
    consult_pair(s)
    s.ok(m.NailingDropped(agent_id="B"))
    assert s.states("B")[:2] == ("Busy", "Consult") and not s.agent("B").nailed
    s.ok(m.CancelConsult(agent_id="A"))
    assert s.states("B") == ("Ready", "Idle", "PendingJobAttach")


def test_rule_consultative_transfer_frees_initiator_and_receiver_owns_call_and_wrapup() -> None:
    s = Sim()
    consult_pair(s)
    s.ok(m.Transfer(agent_id="A"))
    assert s.states("A")[:2] == ("Ready", "Idle")
    assert s.states("B")[:2] == ("Busy", "Talking")
    assert s.agent("B").call_origin == "transferred"
    s.ok(m.CustomerDisconnected(call_id="c0"))
    assert s.states("B")[:2] == ("WorkNotReady", "Wrapup")
    assert s.states("A")[:2] == ("Ready", "Idle")


def test_rule_transfer_needs_both_parties_in_consult() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.no(m.Transfer(agent_id="A"), "InvalidTransition")


def test_rule_conference_makes_initiator_owner_and_other_passive() -> None:
    s = Sim()
    consult_pair(s)
    s.ok(m.Conference(agent_id="A"))
    assert s.states("A")[1] == "ConferenceOwner" and s.states("B")[1] == "ConferencePassive"


def test_rule_change_conference_owner_swaps_owner_and_passive_and_wrapup_duty() -> None:
    s = Sim()
    consult_pair(s)
    s.ok(m.Conference(agent_id="A"))
    s.ok(m.ChangeConferenceOwner(agent_id="A"))
    assert s.states("A")[1] == "ConferencePassive" and s.states("B")[1] == "ConferenceOwner"
    s.no(m.ChangeConferenceOwner(agent_id="A"), "InvalidTransition")
    s.ok(m.CustomerDisconnected(call_id="c0"))
    assert s.states("B")[1] == "Wrapup" and s.states("A")[:2] == ("Ready", "Idle")


def test_rule_ending_the_conference_frees_passive_and_owner_talks_on() -> None:
    s = Sim()
    consult_pair(s)
    s.ok(m.Conference(agent_id="A"))
    s.ok(m.EndConference(agent_id="B"))  # either agent may end it
    assert s.states("B")[:2] == ("Ready", "Idle") and s.states("A")[:2] == ("Busy", "Talking")


def test_rule_customer_drop_in_conference_owner_wraps_up_passive_idle() -> None:
    s = Sim()
    consult_pair(s)
    s.ok(m.Conference(agent_id="A"))
    s.ok(m.CustomerDisconnected(call_id="c0"))
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")
    assert s.states("B")[:2] == ("Ready", "Idle")


def test_rule_conference_owner_can_hold_the_customer() -> None:
    s = Sim()
    consult_pair(s)
    s.ok(m.Conference(agent_id="A"))
    s.ok(m.HoldCall(agent_id="A"))
    assert s.states("A")[1] == "Hold"
    s.ok(m.UnholdCall(agent_id="A"))
    assert s.states("A")[1] == "ConferenceOwner"


def test_rule_external_transfer_is_wrapped_up_with_transferred_to_external_number() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.Consult(agent_id="A", target_number="+15551234"))
    assert s.states("A")[1] == "Consult"
    res = s.ok(m.Transfer(agent_id="A"))
    (w,) = s.events(res, m.WrapupStarted)
    assert w.default_completion_code == m.EXTERNAL_TRANSFER_CODE
    assert m.EXTERNAL_TRANSFER_CODE in w.completion_codes
    res = s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    (done,) = s.events(res, m.CallCompleted)
    assert done.completion_code == m.EXTERNAL_TRANSFER_CODE


def test_rule_external_party_in_conference_then_transfer_disposes_the_call() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.Consult(agent_id="A", target_number="+15551234"))
    s.ok(m.Conference(agent_id="A"))
    assert s.states("A")[1] == "ConferenceOwner"
    s.ok(m.Transfer(agent_id="A"))
    assert s.states("A")[:2] == ("WorkNotReady", "Wrapup")


def test_rule_wrapup_without_code_records_the_default_code() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.CustomerDisconnected(call_id="c0"))
    res = s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    (done,) = s.events(res, m.CallCompleted)
    assert (done.completion_code, done.defaulted) == ("NoSale", True)
    assert s.states("A")[:2] == ("Ready", "Idle")


def test_rule_wrapup_code_outside_the_jobs_codes_is_bad_request() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.CustomerDisconnected(call_id="c0"))
    s.no(m.WrapupContact(agent_id="A", session_id="c0", completion_code="Bogus"), "BadRequest")


def test_rule_wrapup_extensions_are_limited_to_the_jobs_number() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.CustomerDisconnected(call_id="c0"))
    s.ok(m.ExtendWrapup(agent_id="A"))
    s.no(m.ExtendWrapup(agent_id="A"), "LimitReached")


def test_rule_job_end_when_campaign_pauses_or_ends() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.ok(m.JobPaused(job_id="J"))
    assert s.states("A")[2] == "JobEnd" and s.zone.jobs["J"].assigned == ()
    s.ok(m.JobResumed(job_id="J"))
    assert s.states("A")[2] == "PendingJobAttach"


def test_rule_job_end_does_not_end_the_call_of_a_busy_agent() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.JobEnded(job_id="J"))
    assert s.states("A") == ("Busy", "Talking", "JobEnd")
    s.ok(m.CustomerDisconnected(call_id="c0"))
    res = s.ok(m.WrapupContact(agent_id="A", session_id="c0", completion_code="Sale"))
    assert s.events(res, m.CallCompleted)[0].job_id == "J"


def test_rule_job_end_when_agent_is_donated_to_a_job_short_of_agents() -> None:
    s = Sim()
    s.job("LOW", priority=1, min_agents=1)
    s.ready_on_job("A", job_id="LOW", level=9)
    s.ready_on_job("B", job_id="LOW", level=2)
    s.job("HIGH", priority=5, min_agents=1)
    assert s.agent("B").job_id == "HIGH" and s.agent("A").job_id == "LOW"


def test_rule_job_inbound_on_release_from_outbound_when_idle() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.ok(m.ReleaseFromOutbound(agent_id="A"))
    assert s.states("A")[2] == "JobInbound" and "A" not in s.zone.jobs["J"].assigned


def test_rule_release_thrash_interval_keeps_the_blender_from_moving_the_agent_back() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.ok(m.ReleaseFromOutbound(agent_id="A", thrash_seconds=60))
    before = s.agent("A")
    res = s.no(m.BlendToOutbound(agent_id="A"), "Ignored")
    assert "thrash interval" in res.reply.message  # type: ignore[union-attr]
    assert s.agent("A") == before
    s.tick(61)
    s.ok(m.BlendToOutbound(agent_id="A"))
    assert s.states("A")[2] != "JobInbound"


def test_rule_release_without_thrash_interval_lets_the_blender_return_the_agent() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.ok(m.ReleaseFromOutbound(agent_id="A"))
    s.ok(m.BlendToOutbound(agent_id="A"))
    assert s.states("A")[2] != "JobInbound"


def test_rule_job_inbound_agents_get_no_job() -> None:
    s = Sim()
    s.login("A")
    s.ok(m.BlendToInbound(agent_id="A"))
    s.ok(m.Ready(agent_id="A"))
    s.job()
    assert s.states("A") == ("Ready", "Idle", "JobInbound")


def test_rule_pending_inbound_while_busy_completes_after_the_call() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.BlendToInbound(agent_id="A"))
    assert s.states("A")[2] == "PendingInbound"
    s.ok(m.CustomerDisconnected(call_id="c0"))
    res = s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    assert s.states("A") == ("Ready", "Idle", "JobInbound")
    assert s.events(res, m.BlendedToInbound)


def test_rule_pending_outbound_while_busy_in_inbound_completes_after_the_work() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.ok(m.BlendToInbound(agent_id="A"))
    talking(s, "B")
    s.ok(m.Consult(agent_id="B", target_agent_id="A"))  # busy in work PAM sees
    s.ok(m.BlendToOutbound(agent_id="A"))
    assert s.states("A") == ("Busy", "Consult", "PendingOutbound")
    res = s.ok(m.CancelConsult(agent_id="B"))
    assert s.events(res, m.BlendedToOutbound)
    assert s.states("A") == ("Ready", "Idle", "PendingJobAttach")


def test_rule_pending_manual_inbound_while_busy_then_job_inbound() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.ReleaseFromOutbound(agent_id="A"))
    assert s.states("A")[2] == "PendingManualInbound"
    s.ok(m.CustomerDisconnected(call_id="c0"))
    s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    assert s.states("A")[2] == "JobInbound"


def test_rule_release_from_outbound_ignored_with_pending_callback_raises_P_POMAGT50() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.CallbackDue(job_id="J", callback_id="cb", agent_id="A"))
    res = s.no(m.ReleaseFromOutbound(agent_id="A"), "Ignored")
    (alarm,) = s.events(res, m.Alarm)
    assert alarm.code == "P_POMAGT50"


def test_rule_release_from_outbound_ignored_during_agent_manager_HA() -> None:
    s = Sim(degraded=True)
    s.job()
    s.ready_on_job("A")
    res = s.no(m.ReleaseFromOutbound(agent_id="A"), "Ignored")
    assert s.events(res, m.Alarm)[0].code == "P_POMAGT50"


def test_rule_pending_manual_job_movement_then_attached_to_new_job_and_old_job_refilled() -> None:
    s = Sim()
    s.job("J")
    s.job("K", required_skills=["sales"])
    talking(s, "A")
    s.ok(m.MoveAgentToJob(agent_id="A", job_id="K"))
    assert s.states("A")[2] == "PendingManualJobMovement"
    s.login("B")  # NotReady: not allocated yet
    s.ok(m.CustomerDisconnected(call_id="c0"))
    s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    assert s.agent("A").job_id == "K" and s.states("A")[2] == "PendingJobAttach"
    s.ok(m.NailingEstablished(agent_id="A"))
    assert s.states("A")[2] == "JobAttached"
    s.ok(m.Ready(agent_id="B"))
    assert s.agent("B").job_id in ("J", "K")


def test_rule_pending_job_attach_becomes_job_attached_once_nailed() -> None:
    s = Sim()
    s.job()
    s.login("A")
    res = s.ok(m.Ready(agent_id="A"))
    assert s.states("A")[2] == "PendingJobAttach" and s.events(res, m.NailAgent)
    res = s.ok(m.NailingEstablished(agent_id="A"))
    assert s.states("A")[2] == "JobAttached" and s.events(res, m.JobAttached)


def test_rule_licences_are_taken_on_attach_and_never_exceeded() -> None:
    s = Sim()
    s.job(licenses=2)
    for a in "ABC":
        s.login(a)
        s.ok(m.Ready(agent_id=a))
    assert len(s.zone.jobs["J"].assigned) == 2
    assert s.states("C")[2] == "JobDetached"


def test_rule_unknown_state_during_failover_until_resynchronised() -> None:
    from pam_service.domain import machine as sm

    s = Sim()
    s.login("A")
    s.zone._agent_input(sm.MarkUnknown(agent_id="A"), s.ctx())
    assert s.states("A")[0] == "Unknown"
    s.no(m.Ready(agent_id="A"), "Unavailable")
    s.zone._agent_input(sm.ResolveUnknown(agent_id="A"), s.ctx())
    assert s.states("A")[0] == "NotReady"


def test_rule_a_third_consult_on_a_full_target_is_limit_reached_whoever_sends_it() -> None:
    s = Sim()
    s.job()
    talking(s, "A", "B", "C")
    s.ok(m.Consult(agent_id="C", target_agent_id="B"))
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))
    s.no(m.Consult(agent_id="C", target_agent_id="B"), "LimitReached")  # C's again
    s.ok(m.RejectConsult(agent_id="B", from_agent_id="A"))
    s.no(m.Consult(agent_id="C", target_agent_id="B"), "InvalidTransition")  # not full now


def test_rule_a_pending_consult_ends_with_the_initiators_call() -> None:
    s = Sim()
    s.job()
    talking(s, "A", "B", "C", "D")
    s.ok(m.Consult(agent_id="C", target_agent_id="B"))
    res = s.ok(m.CustomerDisconnected(call_id="c2"))  # C's customer hangs up
    assert s.agent("B").pending_consults == ()
    assert {e.snapshot.agent_id for e in s.events(res, m.AgentStateChanged)} == {"B", "C"}
    s.ok(m.Consult(agent_id="D", target_agent_id="B"))
    s.ok(m.Consult(agent_id="A", target_agent_id="B"))  # two live ones: not full before
    assert [p.from_agent_id for p in s.agent("B").pending_consults] == ["D", "A"]


def test_rule_release_from_outbound_of_an_agent_in_doubt_is_ignored_with_P_POMAGT50() -> None:
    s = Sim()
    s.job()
    talking(s, "A")
    s.zone.internal(sm.MarkUnknown(agent_id="A"), s.ctx())
    res = s.no(m.ReleaseFromOutbound(agent_id="A"), "Ignored")
    (alarm,) = s.events(res, m.Alarm)
    assert (alarm.code, alarm.agent_id) == ("P_POMAGT50", "A")
    assert s.states("A")[2] == "JobAttached"


def test_rule_an_agent_blended_to_inbound_returns_its_pending_callback_to_the_dialer() -> None:
    """v1.1 (issue 17 item 5): a callback PAM will not deliver is never silently kept."""
    s = Sim()
    s.job()
    talking(s, "A")
    s.ok(m.CallbackDue(job_id="J", callback_id="cb", agent_id="A"))
    s.ok(m.BlendToInbound(agent_id="A"))
    s.ok(m.CustomerDisconnected(call_id="c0"))
    res = s.ok(m.WrapupContact(agent_id="A", session_id="c0"))
    assert s.states("A") == ("Ready", "Idle", "JobInbound")  # no outbound callback
    back = s.events(res, m.CallbackReturned)
    assert [(e.job_id, e.callback_id, e.agent_id, e.reason) for e in back] == [
        ("J", "cb", "A", "blended to inbound")]
    assert s.agent("A").pending_callbacks == ()
    res = s.ok(m.BlendToOutbound(agent_id="A"))
    assert not s.events(res, m.CallbackOffered)


def test_rule_a_live_customer_on_a_paused_job_finds_no_agent_until_it_resumes() -> None:
    s = Sim()
    s.job()
    s.ready_on_job("A")
    s.ok(m.JobPaused(job_id="J"))
    res = s.no(m.CustomerConnected(job_id="J", call_id="c1", customer={}), "NoAgentAvailable")
    assert isinstance(res.reply, m.Rejected) and "paused" in res.reply.message
    (nc,) = s.events(res, m.CallNotConnected)
    assert (nc.call_id, nc.kind) == ("c1", "connect")
    s.ok(m.JobResumed(job_id="J"))
    s.ok(m.NailingEstablished(agent_id="A"))
    assert s.connect("c2") == "A"


def test_rule_a_job_that_starts_or_resumes_below_its_minimum_announces_a_shortage() -> None:
    s = Sim()
    s.login("A")
    s.ok(m.Ready(agent_id="A"))
    s.job(min_agents=3, max_agents=10, licenses=5)
    started = s.log[-1][1]
    (short,) = s.events(started, m.JobAgentShortage)
    assert (short.job_id, short.assigned, short.min_agents) == ("J", 1, 3)
    s.ok(m.JobPaused(job_id="J"))
    res = s.ok(m.JobResumed(job_id="J"))
    assert [(e.assigned, e.min_agents) for e in s.events(res, m.JobAgentShortage)] == [(1, 3)]
    s.job(job_id="K", min_agents=0)
    assert not s.events(s.log[-1][1], m.JobAgentShortage)


def test_rule_moving_a_busy_agent_back_to_its_own_job_cancels_the_pending_move() -> None:
    s = Sim()
    s.job()
    s.job(job_id="K")
    talking(s, "A")
    s.ok(m.MoveAgentToJob(agent_id="A", job_id="K"))
    assert s.states("A")[2] == "PendingManualJobMovement"
    s.ok(m.MoveAgentToJob(agent_id="A", job_id="J"))
    assert s.states("A")[2] == "JobAttached" and s.agent("A").next_job_id is None
    # hypothesis found this: the move "back" had been left pending, and then a licence
    # cut on J could not take A off J (its detach only cancelled that move)
    s.job(licenses=0)
    assert s.zone.jobs["J"].assigned == () and s.agent("A").job_id is None


def test_rule_a_moved_agent_is_announced_job_end_on_its_old_job_then_attached() -> None:
    s = Sim()
    s.job()
    s.job(job_id="K")
    s.ready_on_job("A")
    s.ready_on_job("B")
    s.connect("c1")  # B or A talks; the other is idle
    idle = "A" if s.states("A")[1] == "Idle" else "B"
    busy = "B" if idle == "A" else "A"
    res = s.ok(m.MoveAgentToJob(agent_id=idle, job_id="K"))
    changes = [e for e in s.events(res, m.AgentStateChanged) if e.snapshot.agent_id == idle]
    assert [(e.snapshot.job_state.value, e.snapshot.job_id, e.cause, e.step)
            for e in changes] == [("JobEnd", None, "MoveAgentToJob", "MoveAgentToJob"),
                                  ("PendingJobAttach", "K", "MoveAgentToJob", "CompleteMove")]
    assert changes[1].snapshot.version == changes[0].snapshot.version + 1
    assert isinstance(res.reply, m.Accepted) and res.reply.agent is not None
    assert res.reply.agent.job_state.value == "PendingJobAttach"  # as the command left it
    s.ok(m.MoveAgentToJob(agent_id=busy, job_id="K"))  # busy: moves at the end of its work
    s.ok(m.CustomerDisconnected(call_id="c1"))
    res = s.ok(m.WrapupContact(agent_id=busy, session_id="c1"))
    jobs = [(e.snapshot.job_state.value, e.snapshot.job_id)
            for e in s.events(res, m.AgentStateChanged) if e.snapshot.agent_id == busy]
    assert jobs[-2:] == [("JobEnd", None), ("PendingJobAttach", "K")]
    assert s.zone.jobs["K"].assigned == (idle, busy) and s.zone.jobs["J"].assigned == ()
