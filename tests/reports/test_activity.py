"""The reports as pure functions: a recorded event stream in, exact rows out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pam_protocol import messages as m
from supervisor_api.reports.activity import (
    ActivityRow,
    CampaignRow,
    SummaryRow,
    agent_summary,
    campaign_detail,
    overlapping,
    segments,
    to_csv,
)
from tests.reports.expected import A_ROWS, B_ROWS, CAMPAIGN, SUMMARY_AT_10, rows
from tests.reports.recording import DAY, afternoon, morning, t

END = datetime(2026, 11, 27, tzinfo=UTC)


def agent_events(agent: str, recording: Any = morning
                 ) -> list[m.AgentStateChanged | m.CallCompleted]:
    out: list[m.AgentStateChanged | m.CallCompleted] = []
    for ev, _ in recording():
        if (isinstance(ev, m.AgentStateChanged) and ev.snapshot.agent_id == agent) or (
                isinstance(ev, m.CallCompleted) and ev.agent_id == agent):
            out.append(ev)
    return out


def all_rows() -> list[ActivityRow]:
    return segments(agent_events("A")) + segments(agent_events("B"))


def campaign(start: datetime, end: datetime, job_id: str | None = None) -> list[CampaignRow]:
    events = [ev for ev, _ in morning()]
    return campaign_detail(
        all_rows(), [e for e in events if isinstance(e, m.CallCompleted)],
        [e for e in events if isinstance(e, m.CallNotConnected)],
        [e.job for e in events if isinstance(e, m.JobChanged)], start, end, job_id=job_id)


def test_agent_activity_segments_of_the_recorded_morning() -> None:
    assert segments(agent_events("A")) == A_ROWS
    assert segments(agent_events("B")) == B_ROWS


def test_preview_dialing_conference_pending_not_ready_and_callback() -> None:
    assert segments(agent_events("C", afternoon)) == rows("C", [
        ("13:00:10", "13:00:30", "Login", None, None, None, None, None),
        ("13:00:30", "13:02:00", "Ready", "P", None, None, None, None),
        ("13:02:00", "13:02:30", "Preview", "P", "p1", None, None, None),
        ("13:02:30", "13:02:40", "Dialing", "P", "p1", None, None, None),
        ("13:02:40", "13:03:00", "Call Connect", "P", "p1", None, None, None),
        ("13:03:00", "13:03:30", "Consult", "P", "p1", None, None, None),
        ("13:03:30", "13:05:00", "Conference", "P", "p1", None, None, None),
        # D ended the conference; C talks on (and asks for a break meanwhile)
        ("13:05:00", "13:06:00", "Call Connect", "P", "p1", None, None, None),
        ("13:06:00", "13:06:20", "Wrap-up", "P", "p1", "Sale", None, None),
        ("13:06:20", None, "Not Ready", "P", None, None, 5, "Break"),
    ])
    assert segments(agent_events("D", afternoon)) == rows("D", [
        ("13:01:00", "13:01:10", "Login", None, None, None, None, None),
        ("13:01:10", "13:03:00", "Ready", "P", None, None, None, None),
        ("13:03:00", "13:03:30", "Consult", "P", "p1", None, None, None),
        ("13:03:30", "13:05:00", "Conference", "P", "p1", None, None, None),
        ("13:05:00", "13:07:00", "Ready", "P", None, None, None, None),
        ("13:07:00", "13:07:30", "Callback", "P", "cb1", None, None, None),
        ("13:07:30", "13:07:40", "Wrap-up", "P", "cb1", "NoSale", None, None),
        ("13:07:40", None, "Ready", "P", None, None, None, None),
    ])


def test_segments_without_the_completion_events_take_the_code_from_the_snapshot() -> None:
    only_states = [e for e in agent_events("A") if isinstance(e, m.AgentStateChanged)]
    assert segments(only_states) == A_ROWS


def test_overlapping_keeps_whole_segments_that_share_time_with_the_range() -> None:
    assert overlapping(A_ROWS, t("09:10:00"), t("09:12:00")) == A_ROWS[9:11]
    assert overlapping(A_ROWS, t("09:45:00"), t("10:00:00")) == A_ROWS[-1:]  # the Logout
    assert overlapping(A_ROWS, t("09:45:01"), t("10:00:00")) == []
    assert overlapping(B_ROWS, t("11:00:00"), t("12:00:00")) == B_ROWS[-1:]  # still open


def test_campaign_detail_of_the_recorded_morning() -> None:
    assert campaign(DAY, END) == CAMPAIGN
    assert campaign(DAY, END, job_id="J") == CAMPAIGN
    assert campaign(DAY, END, job_id="K") == []


def test_campaign_detail_of_a_part_of_the_morning() -> None:
    (row,) = campaign(t("09:00:00"), t("09:10:00"))
    assert row.calls_connected == 1 and row.calls_no_agent == 1 and row.calls_completed == 1
    assert [(c.code, c.count, c.percent) for c in row.codes] == [
        ("Sale", 1, 100.0), ("NoSale", 0, 0.0)]
    assert (row.talk_s, row.avg_talk_s) == (225.0, 225.0)  # c1: 60 + 30 + 90 + 45
    assert (row.wrapup_s, row.avg_wrapup_s) == (30.0, 15.0)


def test_agent_summary_of_the_recorded_morning() -> None:
    assert agent_summary(all_rows(), DAY, END, now=t("10:00:00")) == SUMMARY_AT_10


def test_agent_summary_clips_to_the_range() -> None:
    got = agent_summary(all_rows(), t("09:30:00"), t("09:45:00"), now=t("10:00:00"))
    assert got == [
        SummaryRow(agent_id="A", day=date(2026, 11, 26), calls_handled=0, logged_in_s=900.0,
                   talk_s=0.0, preview_s=0.0, wrapup_s=0.0, idle_s=600.0, not_ready_s=300.0,
                   not_ready_by_reason={"3": 300.0}, occupancy=0.0, calls_per_hour=0.0),
        SummaryRow(agent_id="B", day=date(2026, 11, 26), calls_handled=0, logged_in_s=900.0,
                   talk_s=0.0, preview_s=0.0, wrapup_s=0.0, idle_s=900.0, not_ready_s=0.0,
                   not_ready_by_reason={}, occupancy=0.0, calls_per_hour=0.0)]


def _row(start: datetime, end: datetime | None, activity: str,
         session: str | None = None) -> ActivityRow:
    return ActivityRow(agent_id="X", zone="z1", start=start, end=end,
                       duration_s=(end - start).total_seconds() if end else None,
                       activity=activity, job_id="J", session_id=session)


def test_agent_summary_days_split_at_midnight_utc_or_in_the_given_time_zone() -> None:
    late = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    half = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)
    rows = [_row(late, half, "Ready"),
            _row(half, datetime(2026, 11, 27, 0, 40, tzinfo=UTC), "Call Connect", "c9"),
            _row(datetime(2026, 11, 27, 0, 40, tzinfo=UTC), None, "Ready")]
    now = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    start, end = datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC)
    utc = agent_summary(rows, start, end, now)
    assert [(r.day, r.logged_in_s, r.idle_s, r.talk_s, r.calls_handled, r.occupancy,
             r.calls_per_hour) for r in utc] == [
        (date(2026, 11, 26), 1800.0, 1800.0, 0.0, 0, 0.0, 0.0),
        (date(2026, 11, 27), 3600.0, 3000.0, 600.0, 1, round(600 / 3600, 4), 1.0)]
    ny = agent_summary(rows, start, end, now, tz="America/New_York")  # UTC-5: all the 26th
    assert [(r.day, r.logged_in_s, r.calls_handled) for r in ny] == [
        (date(2026, 11, 26), 5400.0, 1)]


def test_to_csv() -> None:
    assert to_csv(CAMPAIGN) == (
        "job_id,zone,action_name,calls_connected,calls_no_agent,calls_completed,talk_s,"
        "wrapup_s,avg_talk_s,avg_wrapup_s,code,count,percent\n"
        "J,z1,call,4,1,3,705,100,235,25,NoSale,1,33.33\n"
        "J,z1,call,4,1,3,705,100,235,25,Sale,1,33.33\n"
        "J,z1,call,4,1,3,705,100,235,25,Transferred to external number,1,33.33\n")
    assert to_csv(SUMMARY_AT_10[:1]) == (
        "agent_id,day,calls_handled,logged_in_s,talk_s,preview_s,wrapup_s,idle_s,"
        "not_ready_s,not_ready_by_reason,occupancy,calls_per_hour\n"
        "A,2026-11-26,2,2640,465,5,60,910,1200,12 Lunch=840; 3=300; Login=60,0.3681,2.73\n")
    assert to_csv(A_ROWS[14:15] + B_ROWS[-1:]) == (
        "agent_id,zone,start,end,duration_s,activity,job_id,session_id,completion_code,"
        "reason_code,reason\n"
        "A,z1,2026-11-26T09:16:00Z,2026-11-26T09:30:00Z,840,Not Ready,J,,,12,Lunch\n"
        "B,z1,2026-11-26T09:50:00Z,,,Call Connect,J,c4,,,\n")
    assert to_csv([]) == ""
