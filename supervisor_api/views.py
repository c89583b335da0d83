"""What the supervisor sees: rich renderables and sentences built from PAM's snapshots.

Pure: the time is passed in (or read when rendering); no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from pam_protocol import messages as m

AGENT_STYLE = {"Ready": "green", "Busy": "yellow", "WorkNotReady": "cyan",
               "NotReady": "red", "PendingNotReady": "magenta", "PendingLogout": "magenta",
               "Unknown": "bold red"}
SEVERITY_STYLE = {"critical": "bold white on red", "major": "bold red", "minor": "yellow",
                  "warning": "yellow", "info": "cyan"}


def duration(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def reason_text(a: m.AgentSnapshot) -> str:
    if a.reason_code is None:
        return ""
    return f"{a.reason_code} {a.reason}" if a.reason else str(a.reason_code)


def job_text(a: m.AgentSnapshot) -> str:
    job = a.job_id or ""
    if a.next_job_id and a.next_job_id != a.job_id:
        job = f"{job} -> {a.next_job_id}" if job else f"-> {a.next_job_id}"
    return job


def agents_table(agents: Iterable[m.AgentSnapshot], zone: str, now: datetime,
                 title: str | None = None) -> Table:
    t = Table(title=title or f"Agents of zone {zone}", title_justify="left")
    for col in ("Agent", "Agent state", "Call state", "Job state", "Job", "Reason",
                "In state", "Pending"):
        t.add_column(col, no_wrap=col != "Reason")
    rows = sorted(agents, key=lambda a: a.agent_id)
    for a in rows:
        pending = []
        if a.pending_consults:
            pending.append(f"{len(a.pending_consults)} consult")
        if a.pending_callbacks:
            pending.append(f"{len(a.pending_callbacks)} callback")
        name = a.agent_id + (f" ({a.agent_name})" if a.agent_name else "")
        t.add_row(name, Text(a.agent_state, style=AGENT_STYLE.get(a.agent_state, "")),
                  a.call_state, a.job_state, job_text(a), reason_text(a),
                  duration((now - a.since).total_seconds()), ", ".join(pending))
    if not rows:
        t.caption = "no agent logged in"
    return t


class LiveAgents:
    """The zone's agents kept current from events; renders with the time at render."""

    def __init__(self, zone: str, agents: Iterable[m.AgentSnapshot],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.zone = zone
        self.clock = clock
        self.agents = {a.agent_id: a for a in agents}
        self.events = 0

    def apply(self, ev: m.AgentStateChanged) -> bool:
        """Take a state change; False when it is older than what is shown."""
        s = ev.snapshot
        cur = self.agents.get(s.agent_id)
        if cur is not None and cur.version >= s.version:
            return False
        self.events += 1
        if s.agent_state == "Logout":
            self.agents.pop(s.agent_id, None)
        else:
            self.agents[s.agent_id] = s
        return True

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        now = self.clock()
        yield agents_table(self.agents.values(), self.zone, now,
                           title=f"Agents of zone {self.zone} (live, {self.events} changes; "
                                 f"{now:%H:%M:%S} UTC)")


def alarm_line(a: m.Alarm, now: datetime) -> Text:
    t = Text()
    t.append(f"{now:%Y-%m-%dT%H:%M:%SZ}  ")
    t.append(f"{a.severity.upper():8}", style=SEVERITY_STYLE.get(a.severity, ""))
    t.append(f"  {a.code}  ", style="bold")
    if a.agent_id:
        t.append(f"agent {a.agent_id}  ")
    t.append(a.message)
    return t


def release_outcome(a: m.AgentSnapshot) -> str:
    if a.job_state == "JobInbound":
        return (f"Released {a.agent_id} from outbound: it is now JobInbound, free for "
                f"inbound calls ({a.agent_state}/{a.call_state}).")
    if a.job_state == "PendingManualInbound":
        return (f"{a.agent_id} is busy ({a.call_state}): PAM will release it from outbound "
                f"when its current work ends (job state PendingManualInbound).")
    return f"PAM accepted the release of {a.agent_id}; its job state is {a.job_state}."


def force_outcome(a: m.AgentSnapshot, what: str) -> str:
    if a.agent_state in ("PendingNotReady", "PendingLogout"):
        return (f"{a.agent_id} is busy ({a.call_state}): PAM will make it {what} when its "
                f"current work ends ({a.agent_state}).")
    return f"{a.agent_id} is now {a.agent_state}."


def move_outcome(a: m.AgentSnapshot, job_id: str) -> str:
    if a.job_state == "PendingManualJobMovement":
        return (f"{a.agent_id} is busy ({a.call_state}): PAM will move it to job {job_id} "
                f"when its current work ends (job state PendingManualJobMovement).")
    if a.job_id == job_id and a.job_state == "PendingJobAttach":
        return (f"Moved {a.agent_id} to job {job_id}: waiting for its nailing "
                f"(PendingJobAttach).")
    if a.job_id == job_id and a.job_state == "JobAttached":
        return f"{a.agent_id} is on job {job_id} (JobAttached)."
    return (f"PAM accepted the move of {a.agent_id} to job {job_id}; its job state is "
            f"{a.job_state}{' on job ' + a.job_id if a.job_id else ''}.")
