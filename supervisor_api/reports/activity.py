"""The reports of issue #8 computed from PAM's events: pure functions, no I/O.

* :func:`segments`: one agent's ordered events -> the Agent Activity Details rows;
* :func:`campaign_detail`: segments, completions and unanswered contacts -> one
  :class:`CampaignRow` per job-task;
* :func:`agent_summary`: segments -> one :class:`SummaryRow` per agent and day.

A segment starts where what the agent does changes: at ``snapshot.since`` of the
``AgentStateChanged`` whose snapshot maps to another row (activity, job, session,
Not Ready reason) than the one before (``since`` moves exactly when the agent, call or
job state or the Not Ready reason changes). It lasts until the next such change.
Changes that map to the same row (e.g. a Ready agent whose job state goes from
PendingJobAttach to JobAttached) continue the segment; two changes at the same
instant (one command) make one segment, as the second left it. See docs/reports.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from msgspec import Struct

from pam_protocol import messages as m
from pam_protocol.states import AgentState as A
from pam_protocol.states import CallState as C

# Activity names as POM's Agent Activity Details report prints them.
LOGIN = "Login"
READY = "Ready"
NOT_READY = "Not Ready"
PREVIEW = "Preview"
CALLBACK = "Callback"
DIALING = "Dialing"
CALL_CONNECT = "Call Connect"
CALL_CONTINUE = "Call Continue(transferred)"
HOLD = "Hold"
CONSULT = "Consult"
CONFERENCE = "Conference"
WRAPUP = "Wrap-up"
LOGOUT = "Logout"
UNKNOWN = "Unknown"

#: Time with a customer (or a colleague about the customer's call): "talk" in reports.
TALK_ACTIVITIES = frozenset({CALL_CONNECT, CALL_CONTINUE, HOLD, CONSULT, CONFERENCE})
#: Working a contact before it is connected.
PREVIEW_ACTIVITIES = frozenset({PREVIEW, CALLBACK, DIALING})
#: Logged in but not available (the agent state is NotReady).
NOT_READY_ACTIVITIES = frozenset({LOGIN, NOT_READY})
#: The activities that count a call as handled by the agent (its session, once).
CALL_START_ACTIVITIES = frozenset({CALL_CONNECT, CALL_CONTINUE})

_CALL_ACTIVITY = {
    C.PREVIEW: PREVIEW, C.CALLBACK: CALLBACK, C.DIALING: DIALING, C.HOLD: HOLD,
    C.CONSULT: CONSULT, C.CONFERENCE_OWNER: CONFERENCE, C.CONFERENCE_PASSIVE: CONFERENCE,
    C.WRAPUP: WRAPUP,
}


class ActivityRow(Struct, frozen=True, kw_only=True):
    """One segment of an agent's time (Agent Activity Details)."""

    agent_id: str
    zone: str
    start: datetime
    #: None while the segment is still open (no later state change known).
    end: datetime | None
    duration_s: float | None
    activity: str
    #: The job of the contact during a call (``call_job_id``), else the agent's job.
    job_id: str | None
    #: The call, preview contact or callback id.
    session_id: str | None
    #: On Wrap-up rows: the code the contact was disposed with.
    completion_code: str | None = None
    #: On Not Ready rows: the reason code and text the desktop gave.
    reason_code: int | None = None
    reason: str | None = None


class CodeCount(Struct, frozen=True, kw_only=True):
    code: str
    count: int
    #: Of the job-task's completed contacts in the range, rounded to 2 decimals.
    percent: float


class CampaignRow(Struct, frozen=True, kw_only=True):
    """One job-task's calls in the range (Campaign Detail)."""

    job_id: str
    zone: str
    action_name: str | None
    #: Contacts (distinct call / session ids) that reached an agent (Call Connect).
    calls_connected: int
    #: Contacts that found no available agent (``CallNotConnected`` events).
    calls_no_agent: int
    #: Contacts wrapped up with a completion code (``CallCompleted`` events).
    calls_completed: int
    #: Completion codes with counts and percentages of ``calls_completed``.
    codes: list[CodeCount]
    talk_s: float
    wrapup_s: float
    #: talk_s / the connected calls whose talk is over (None without one).
    avg_talk_s: float | None
    #: wrapup_s / number of finished wrap-ups (None without one).
    avg_wrapup_s: float | None


class SummaryRow(Struct, frozen=True, kw_only=True):
    """One agent's day (Agent Summary)."""

    agent_id: str
    day: date
    calls_handled: int
    logged_in_s: float
    talk_s: float
    preview_s: float
    wrapup_s: float
    idle_s: float
    not_ready_s: float
    #: Not-ready seconds by reason ("12 Lunch"; "Login" for the time before the
    #: first Ready or Not Ready after logging in).
    not_ready_by_reason: dict[str, float]
    #: (talk + preview + wrap-up) / (logged-in - not-ready); None when that is 0.
    occupancy: float | None
    #: calls_handled per logged-in hour; None without logged-in time.
    calls_per_hour: float | None


AgentEvent = m.AgentStateChanged | m.CallCompleted


# ---------------------------------------------------------------------------
# Agent Activity Details
# ---------------------------------------------------------------------------


def time_zone(name: str) -> ZoneInfo:
    """An IANA time zone by name (``Europe/Paris``); ValueError naming it otherwise."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError) as e:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {name!r} (an IANA name, e.g. Europe/Paris, "
                         f"America/New_York, UTC)") from e


def report_span(start: datetime | None, end: datetime | None,
                now: datetime | None = None) -> tuple[datetime, datetime]:
    """A report's span as both the CLI and the dashboard take it: ``start`` defaults to
    today's midnight UTC, ``end`` to now plus a second (so this second's events count);
    a time without offset is UTC. ValueError when ``end`` is not after ``start``."""
    now = now or datetime.now(UTC)
    start = start or now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = end or now + timedelta(seconds=1)
    start = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
    end = end if end.tzinfo is not None else end.replace(tzinfo=UTC)
    if end <= start:
        raise ValueError(f"the end ({end.isoformat()}) must be after the start "
                         f"({start.isoformat()})")
    return start, end


def activity_name(snap: m.AgentSnapshot, cause: str, current: str | None = None) -> str:
    """POM's name for what the snapshot shows the agent doing.

    ``cause`` is the command that led there and ``current`` the activity until then:
    an agent who has just logged in is Not Ready without a reason, which POM shows as
    Login until the first Ready or Not Ready."""
    st = snap.agent_state
    if st is A.LOGOUT:
        return LOGOUT
    call = snap.call_state
    if call is C.TALKING:
        return CALL_CONTINUE if snap.call_origin == "transferred" else CALL_CONNECT
    if call in _CALL_ACTIVITY:
        return _CALL_ACTIVITY[call]
    if st is A.READY:
        return READY
    if st is A.UNKNOWN:
        return UNKNOWN
    if snap.reason_code is None and (cause == "Login" or current == LOGIN):
        return LOGIN
    return NOT_READY


def _key(act: str, snap: m.AgentSnapshot) -> tuple[Any, ...]:
    in_call = snap.call_state is not C.IDLE
    job = (snap.call_job_id or snap.job_id) if in_call else snap.job_id
    reason = (snap.reason_code, snap.reason) if act == NOT_READY else (None, None)
    return (act, job, snap.session_id if in_call else None, *reason)


def _row(agent_id: str, zone: str, key: tuple[Any, ...], start: datetime,
         end: datetime | None) -> ActivityRow:
    act, job, session, reason_code, reason = key
    return ActivityRow(agent_id=agent_id, zone=zone, start=start, end=end,
                       duration_s=None if end is None else (end - start).total_seconds(),
                       activity=act, job_id=job, session_id=session,
                       reason_code=reason_code, reason=reason)


def segments(events: Iterable[AgentEvent]) -> list[ActivityRow]:
    """One agent's segments from its events in order (state changes and completions).

    A Logout is a row of its own with no duration; the time until the next Login
    belongs to no segment. The last segment is open (``end`` None). Wrap-up rows get
    the completion code of the ``CallCompleted`` of their session (or, without it, of
    the snapshot that ended the wrap-up)."""
    rows: list[ActivityRow] = []
    closing_code: list[str | None] = []  # per row: completion_code of what ended it
    completed: list[m.CallCompleted] = []
    cur: tuple[tuple[Any, ...], datetime, str, str] | None = None  # key, start, agent, zone
    for ev in events:
        if isinstance(ev, m.CallCompleted):
            completed.append(ev)
            continue
        snap = ev.snapshot
        act = activity_name(snap, ev.cause, cur[0][0] if cur else None)
        key = _key(act, snap)
        if cur is not None and key == cur[0]:
            continue  # the same row goes on
        if cur is not None and snap.since <= cur[1] and act != LOGOUT:
            # a second change at the same instant (one command moved the agent twice,
            # e.g. Ready and then attached to a job): the row shows where it ended up
            cur = (key, cur[1], cur[2], cur[3])
            continue
        if cur is not None:
            rows.append(_row(cur[2], cur[3], cur[0], cur[1], snap.since))
            closing_code.append(snap.completion_code if ev.cause == "WrapupContact" else None)
            cur = None
        if act == LOGOUT:
            rows.append(_row(snap.agent_id, snap.zone, key, snap.since, snap.since))
            closing_code.append(None)
        else:
            cur = (key, snap.since, snap.agent_id, snap.zone)
    if cur is not None:
        rows.append(_row(cur[2], cur[3], cur[0], cur[1], None))
        closing_code.append(None)
    return [_with_code(r, code, completed) for r, code in zip(rows, closing_code, strict=True)]


def _with_code(row: ActivityRow, closing: str | None,
               completed: Sequence[m.CallCompleted]) -> ActivityRow:
    if row.activity != WRAPUP:
        return row
    code = closing
    for c in completed:
        at = c.at
        if c.session_id == row.session_id and (at is None or (
                at >= row.start and (row.end is None or at <= row.end))):
            code = c.completion_code
            break
    return msgspec.structs.replace(row, completion_code=code)


def overlapping(rows: Iterable[ActivityRow], start: datetime, end: datetime) -> list[ActivityRow]:
    """The rows that share time with [start, end) (a Logout: that happened in it)."""
    out = []
    for r in rows:
        if r.activity == LOGOUT:
            if start <= r.start < end:
                out.append(r)
        elif r.start < end and (r.end is None or r.end > start):
            out.append(r)
    return out


# ---------------------------------------------------------------------------
# Campaign Detail
# ---------------------------------------------------------------------------


def campaign_detail(rows: Iterable[ActivityRow], completed: Iterable[m.CallCompleted],
                    not_connected: Iterable[m.CallNotConnected], jobs: Iterable[m.JobTask],
                    start: datetime, end: datetime, job_id: str | None = None,
                    listed: Iterable[tuple[str, str]] = ()) -> list[CampaignRow]:
    """One row per job-task (zone, job id) with anything in [start, end).

    Segments count when they start in the range (whole, so averages are of whole
    segments; open ones count as connected calls, not in the times); completions and
    unanswered contacts when their ``at`` is in it. ``jobs`` are the latest known
    records (action name, configured completion codes): every configured code is
    listed, with 0 when unused. ``listed`` (zone, job id) pairs get a row even without
    calls (job-tasks started or changed in the range)."""
    acc: dict[tuple[str, str], dict[str, Any]] = {}

    def slot(zone: str, job: str) -> dict[str, Any]:
        return acc.setdefault((zone, job), {"sessions": set(), "open": set(), "codes": {},
                                            "completed": 0,
                                            "no_agent": 0, "talk": 0.0, "wrapup": 0.0,
                                            "wrapups": 0})

    def wanted(job: str | None) -> bool:
        return job is not None and (job_id is None or job == job_id)

    for zone, job in listed:
        if wanted(job):
            slot(zone, job)
    for r in rows:
        if not wanted(r.job_id) or not start <= r.start < end:
            continue
        assert r.job_id is not None
        s = slot(r.zone, r.job_id)
        if r.activity in CALL_START_ACTIVITIES and r.session_id is not None:
            s["sessions"].add(r.session_id)
        if r.duration_s is None:
            if r.activity in TALK_ACTIVITIES and r.session_id is not None:
                s["open"].add(r.session_id)
            continue
        if r.activity in TALK_ACTIVITIES:
            s["talk"] += r.duration_s
        elif r.activity == WRAPUP:
            s["wrapup"] += r.duration_s
            s["wrapups"] += 1
    for c in completed:
        if wanted(c.job_id) and c.at is not None and start <= c.at < end:
            s = slot(c.zone, c.job_id)
            s["completed"] += 1
            code = c.completion_code or "(none)"
            s["codes"][code] = s["codes"].get(code, 0) + 1
    for n in not_connected:
        if wanted(n.job_id) and start <= n.at < end:
            slot(n.zone, n.job_id)["no_agent"] += 1
    records = {(j.zone, j.job_id): j for j in jobs if wanted(j.job_id)}
    out = []
    for (zone, job), s in sorted(acc.items()):
        rec = records.get((zone, job))
        codes: dict[str, int] = dict(s["codes"])
        if rec is not None:
            for configured in (*rec.completion_codes, rec.default_completion_code):
                if configured is not None:
                    codes.setdefault(configured, 0)
        total = s["completed"]
        connected = len(s["sessions"])
        finished = len(s["sessions"] - s["open"])
        out.append(CampaignRow(
            job_id=job, zone=zone, action_name=rec.action_name if rec else None,
            calls_connected=connected, calls_no_agent=s["no_agent"], calls_completed=total,
            codes=[CodeCount(code=k, count=v, percent=round(100.0 * v / total, 2) if total
                             else 0.0)
                   for k, v in sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))],
            talk_s=s["talk"], wrapup_s=s["wrapup"],
            avg_talk_s=round(s["talk"] / finished, 3) if finished else None,
            avg_wrapup_s=round(s["wrapup"] / s["wrapups"], 3) if s["wrapups"] else None))
    return out


# ---------------------------------------------------------------------------
# Agent Summary
# ---------------------------------------------------------------------------


def _tz(tz: str | tzinfo | None) -> tzinfo:
    if tz is None:
        return UTC
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _day_pieces(a: datetime, b: datetime, tz: tzinfo) -> list[tuple[date, float]]:
    """[a, b) cut at the local midnights of ``tz``: (local day, seconds) pieces."""
    out = []
    while a < b:
        local = a.astimezone(tz)
        nxt = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
        cut = min(b, nxt.astimezone(UTC))
        out.append((local.date(), (cut - a).total_seconds()))
        a = cut
    return out


def reason_label(row: ActivityRow) -> str:
    if row.activity == LOGIN:
        return LOGIN
    if row.reason_code is None:
        return "(none)"
    return f"{row.reason_code} {row.reason}" if row.reason else str(row.reason_code)


def agent_summary(rows: Iterable[ActivityRow], start: datetime, end: datetime, now: datetime,
                  tz: str | tzinfo | None = None) -> list[SummaryRow]:
    """One row per agent and day (UTC, or the local days of ``tz``) within [start, end).

    Segment time is clipped to the range (an open segment runs until ``now``) and
    split at midnight. A call is handled on the day its Call Connect or Call
    Continue(transferred) segment starts; each session counts once per agent."""
    zone = _tz(tz)
    acc: dict[tuple[str, date], dict[str, Any]] = {}

    def slot(agent: str, day: date) -> dict[str, Any]:
        return acc.setdefault((agent, day), {
            "sessions": set(), "logged": 0.0, "talk": 0.0, "preview": 0.0, "wrapup": 0.0,
            "idle": 0.0, "nr": 0.0, "reasons": {}})

    for r in rows:
        if r.activity == LOGOUT:
            continue
        if r.activity in CALL_START_ACTIVITIES and start <= r.start < end:
            slot(r.agent_id, r.start.astimezone(zone).date())["sessions"].add(r.session_id)
        a = max(r.start, start)
        b = min(r.end if r.end is not None else max(now, r.start), end)
        for day, secs in _day_pieces(a, b, zone):
            s = slot(r.agent_id, day)
            s["logged"] += secs
            if r.activity in TALK_ACTIVITIES:
                s["talk"] += secs
            elif r.activity in PREVIEW_ACTIVITIES:
                s["preview"] += secs
            elif r.activity == WRAPUP:
                s["wrapup"] += secs
            elif r.activity == READY:
                s["idle"] += secs
            elif r.activity in NOT_READY_ACTIVITIES:
                s["nr"] += secs
                label = reason_label(r)
                s["reasons"][label] = s["reasons"].get(label, 0.0) + secs
    out = []
    for (agent, day), s in sorted(acc.items()):
        calls = len(s["sessions"])
        available = s["logged"] - s["nr"]
        busy = s["talk"] + s["preview"] + s["wrapup"]
        out.append(SummaryRow(
            agent_id=agent, day=day, calls_handled=calls, logged_in_s=s["logged"],
            talk_s=s["talk"], preview_s=s["preview"], wrapup_s=s["wrapup"], idle_s=s["idle"],
            not_ready_s=s["nr"], not_ready_by_reason=dict(sorted(s["reasons"].items())),
            occupancy=round(busy / available, 4) if available > 0 else None,
            calls_per_hour=round(calls * 3600.0 / s["logged"], 2) if s["logged"] > 0 else None))
    return out


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, dict):
        return "; ".join(f"{k}={_cell(x)}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:g}" if v == int(v) and abs(v) < 1e15 else repr(round(v, 4))
    return str(v)


def to_csv(rows: Sequence[Struct]) -> str:
    """Rows as CSV with a header of field names. A field holding a list of rows
    (CampaignRow.codes) becomes one line per item, the other columns repeated; a
    dict (SummaryRow.not_ready_by_reason) one ``key=value; ...`` cell."""
    if not rows:
        return ""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    info = msgspec.inspect.type_info(type(rows[0]))
    assert isinstance(info, msgspec.inspect.StructType)
    nested: str | None = None
    inner: list[str] = []
    for f in info.fields:
        t = f.type
        if isinstance(t, msgspec.inspect.ListType) and isinstance(
                t.item_type, msgspec.inspect.StructType):
            nested, inner = f.name, [x.name for x in t.item_type.fields]
            break
    head = [f.name for f in info.fields if f.name != nested]
    w.writerow(head + inner)
    for r in rows:
        base = [_cell(getattr(r, f)) for f in head]
        items = getattr(r, nested) if nested else []
        if not items:
            w.writerow(base + [""] * len(inner))
        for it in items:
            w.writerow(base + [_cell(getattr(it, f)) for f in inner])
    return buf.getvalue()
