"""What the load-testing harness checks while it loads, from PAM's events and replies.

Pure: fed routing keys, decoded events and replies, no I/O. Each violation names the
agent (or call) and carries the events that show it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pam_protocol import messages as m

AVAILABLE = ("Ready", "Idle", "JobAttached")


@dataclass
class Violation:
    kind: str
    subject: str
    message: str
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message,
                "evidence": self.evidence}


def _brief(ev: m.Event) -> dict[str, Any]:
    d: dict[str, Any] = {"type": type(ev).__name__, "seq": ev.seq}
    if isinstance(ev, m.AgentStateChanged):
        s = ev.snapshot
        d.update(agent_id=s.agent_id, version=s.version, cause=ev.cause, step=ev.step,
                 state=[s.agent_state.value, s.call_state.value, s.job_state.value],
                 session_id=s.session_id)
        if ev.previous is not None:
            p = ev.previous
            d["previous"] = [p.agent_state.value, p.call_state.value, p.job_state.value]
            d["previous_nailed"] = p.nailed
    for k in ("agent_id", "call_id", "session_id", "code"):
        if hasattr(ev, k):
            d[k] = getattr(ev, k)
    return d


def scope(ev: m.Event) -> str | None:
    """The seq counter an event belongs to (docs/protocol.md, `seq`)."""
    if isinstance(ev, m.AgentStateChanged):
        return f"{ev.zone}/a:{ev.snapshot.agent_id}"
    if isinstance(ev, m.JobEvent):
        return f"{ev.zone}/j:{ev.job_id}"
    aid = getattr(ev, "agent_id", None)
    return f"{ev.zone}/a:{aid}" if aid else f"{ev.zone}/zone"


class Checker:
    """Feeds on events in delivery order and replies; collects violations."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self.last_seq: dict[str, int] = {}
        self.last_version: dict[str, int] = {}
        self.calls_seen: dict[str, str] = {}
        self.recent: dict[str, list[m.Event]] = defaultdict(list)
        self.events = 0
        self.sent: dict[str, str] = {}
        self.answered: set[str] = set()

    def _keep(self, key: str, ev: m.Event) -> list[dict[str, Any]]:
        lst = self.recent[key]
        lst.append(ev)
        del lst[:-6]
        return [_brief(e) for e in lst]

    def violate(self, kind: str, subject: str, message: str, evidence: list[dict[str, Any]]
                ) -> None:
        self.violations.append(Violation(kind, subject, message, evidence))

    # ---- events --------------------------------------------------------
    def on_event(self, ev: m.Event) -> None:
        self.events += 1
        sc = scope(ev)
        if sc is not None:
            last = self.last_seq.get(sc)
            if last is not None and ev.seq != last + 1:
                ev_list = self._keep(sc, ev)
                if ev.seq <= last:
                    self.violate("announced_twice", sc, f"seq {ev.seq} after {last}", ev_list)
                else:
                    self.violate("seq_gap", sc, f"seq {ev.seq} after {last}: "
                                 f"{ev.seq - last - 1} event(s) missing", ev_list)
            self.last_seq[sc] = max(ev.seq, last or 0)
            self._keep(sc, ev)
        if isinstance(ev, m.AgentStateChanged):
            self._state(ev)
        elif isinstance(ev, m.ConnectCall):
            self._connect(ev)

    def _state(self, ev: m.AgentStateChanged) -> None:
        s, p = ev.snapshot, ev.previous
        key = f"{ev.zone}/{s.agent_id}"
        last_v = self.last_version.get(key)
        if last_v is not None and s.version != last_v + 1:
            self.violate("version_not_consecutive", s.agent_id,
                         f"version {s.version} after {last_v}",
                         [_brief(e) for e in self.recent[scope(ev) or ""]])
        self.last_version[key] = s.version
        if p is None:
            return
        if (ev.step or ev.cause) == "OfferContact" and not (
                (p.agent_state.value, p.call_state.value, p.job_state.value) == AVAILABLE
                and p.nailed):
            self.violate("offered_while_unavailable", s.agent_id,
                         f"offered {s.session_id} while "
                         f"{p.agent_state.value}/{p.call_state.value}/{p.job_state.value}"
                         f"{'' if p.nailed else ' (not nailed)'}",
                         [_brief(e) for e in self.recent[scope(ev) or ""]])
        busy_before = p.call_state.value not in ("Idle", "Wrapup")
        busy_now = s.call_state.value not in ("Idle", "Wrapup")
        # Work that waited for the agent (a pending consult, a pending callback) is
        # delivered in the same transition that ends its previous work: not two calls.
        delivered = (s.call_state.value == "Consult" and not s.consult_initiator) or (
            s.call_state.value == "Callback")
        if (busy_before and busy_now and p.session_id and s.session_id
                and p.session_id != s.session_id and not delivered):
            self.violate("agent_two_calls", s.agent_id,
                         f"moved from call {p.session_id} to {s.session_id} without ending it",
                         [_brief(e) for e in self.recent[scope(ev) or ""]])

    def _connect(self, ev: m.ConnectCall) -> None:
        key = f"{ev.zone}/{ev.call_id}"
        other = self.calls_seen.get(key)
        if other is not None:
            self.violate("call_two_agents", ev.call_id,
                         f"call {ev.call_id} connected to {other} and to {ev.agent_id}",
                         [_brief(ev)])
        self.calls_seen[key] = ev.agent_id

    # ---- commands ------------------------------------------------------
    def on_sent(self, message_id: str, what: str) -> None:
        self.sent[message_id] = what

    def on_reply(self, message_id: str) -> None:
        self.answered.add(message_id)

    def finish(self) -> list[Violation]:
        for mid, what in self.sent.items():
            if mid not in self.answered:
                self.violate("unanswered", mid, f"{what} got no reply", [])
        return self.violations

    def summary(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for v in self.violations:
            out[v.kind] += 1
        return dict(out)
