"""The exact report rows of recording.morning(), checked by hand against the script."""

from __future__ import annotations

from datetime import date

from pam_protocol.messages import EXTERNAL_TRANSFER_CODE
from supervisor_api.reports.activity import ActivityRow, CampaignRow, CodeCount, SummaryRow
from tests.reports.recording import t

# (start, end, activity, job, session, completion code, reason code, reason)
Seg = tuple[str, str | None, str, str | None, str | None, str | None, int | None, str | None]

A_SEGMENTS: list[Seg] = [
    ("09:01:00", "09:02:00", "Login", None, None, None, None, None),
    # Ready, then attached to J by the same command, then nailed: one Ready row
    ("09:02:00", "09:05:00", "Ready", "J", None, None, None, None),
    ("09:05:00", "09:06:00", "Call Connect", "J", "c1", None, None, None),
    ("09:06:00", "09:06:30", "Hold", "J", "c1", None, None, None),
    ("09:06:30", "09:08:00", "Call Connect", "J", "c1", None, None, None),
    # wrap-up, then a redial of the same contact: no code yet
    ("09:08:00", "09:08:10", "Wrap-up", "J", "c1", None, None, None),
    ("09:08:10", "09:08:15", "Dialing", "J", "c1", None, None, None),
    ("09:08:15", "09:09:00", "Call Connect", "J", "c1", None, None, None),
    ("09:09:00", "09:09:20", "Wrap-up", "J", "c1", "Sale", None, None),
    ("09:09:20", "09:11:00", "Ready", "J", None, None, None, None),
    # B consults A, then transfers the call to A
    ("09:11:00", "09:12:00", "Consult", "J", "c2", None, None, None),
    ("09:12:00", "09:15:00", "Call Continue(transferred)", "J", "c2", None, None, None),
    ("09:15:00", "09:15:30", "Wrap-up", "J", "c2", "NoSale", None, None),  # the default
    ("09:15:30", "09:16:00", "Ready", "J", None, None, None, None),
    ("09:16:00", "09:30:00", "Not Ready", "J", None, None, 12, "Lunch"),
    ("09:30:00", "09:40:00", "Ready", "J", None, None, None, None),
    ("09:40:00", "09:45:00", "Not Ready", "J", None, None, 3, None),
    ("09:45:00", "09:45:00", "Logout", None, None, None, None, None),
]

B_SEGMENTS: list[Seg] = [
    ("09:03:00", "09:03:10", "Login", None, None, None, None, None),
    ("09:03:10", "09:10:00", "Ready", "J", None, None, None, None),
    ("09:10:00", "09:11:00", "Call Connect", "J", "c2", None, None, None),
    ("09:11:00", "09:12:00", "Consult", "J", "c2", None, None, None),
    ("09:12:00", "09:20:00", "Ready", "J", None, None, None, None),
    ("09:20:00", "09:21:00", "Call Connect", "J", "c3", None, None, None),
    ("09:21:00", "09:22:00", "Consult", "J", "c3", None, None, None),  # an external party
    ("09:22:00", "09:22:40", "Wrap-up", "J", "c3", EXTERNAL_TRANSFER_CODE, None, None),
    ("09:22:40", "09:50:00", "Ready", "J", None, None, None, None),
    ("09:50:00", None, "Call Connect", "J", "c4", None, None, None),  # still talking
]


def rows(agent: str, segs: list[Seg]) -> list[ActivityRow]:
    out = []
    for start, end, act, job, session, code, rc, reason in segs:
        s, e = t(start), t(end) if end else None
        out.append(ActivityRow(agent_id=agent, zone="z1", start=s, end=e,
                               duration_s=(e - s).total_seconds() if e else None,
                               activity=act, job_id=job, session_id=session,
                               completion_code=code, reason_code=rc, reason=reason))
    return out


A_ROWS = rows("A", A_SEGMENTS)
B_ROWS = rows("B", B_SEGMENTS)

# calls c1..c4 reached an agent, c0 found none; c4 is still talking at the end.
# talk: A 60+30+90+45 (c1) + 60 (consult) + 180 (c2 continued); B 60+60 (c2) + 60+60 (c3)
CAMPAIGN = [CampaignRow(
    job_id="J", zone="z1", action_name="call", calls_connected=4, calls_no_agent=1,
    calls_completed=3,
    codes=[CodeCount(code="NoSale", count=1, percent=33.33),
           CodeCount(code="Sale", count=1, percent=33.33),
           CodeCount(code=EXTERNAL_TRANSFER_CODE, count=1, percent=33.33)],
    talk_s=705.0, wrapup_s=100.0, avg_talk_s=235.0, avg_wrapup_s=25.0)]

# Summary of 2026-11-26 seen at 10:00 (B's open call counts until then)
SUMMARY_AT_10 = [
    SummaryRow(agent_id="A", day=date(2026, 11, 26), calls_handled=2, logged_in_s=2640.0,
               talk_s=465.0, preview_s=5.0, wrapup_s=60.0, idle_s=910.0, not_ready_s=1200.0,
               not_ready_by_reason={"12 Lunch": 840.0, "3": 300.0, "Login": 60.0},
               occupancy=round(530 / 1440, 4), calls_per_hour=round(2 / (2640 / 3600), 2)),
    SummaryRow(agent_id="B", day=date(2026, 11, 26), calls_handled=3, logged_in_s=3420.0,
               talk_s=840.0, preview_s=0.0, wrapup_s=40.0, idle_s=2530.0, not_ready_s=10.0,
               not_ready_by_reason={"Login": 10.0},
               occupancy=round(880 / 3410, 4), calls_per_hour=round(3 / (3420 / 3600), 2)),
]
