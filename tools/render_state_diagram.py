"""Render the transition table into docs/state-machine.md (between markers).

Usage: python tools/render_state_diagram.py docs/state-machine.md [--check]
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from pam_protocol.docsync import sync
from pam_protocol.states import AgentState, CallState, JobState
from pam_service.domain import machine as sm

BEGIN = "<!-- BEGIN GENERATED: tools/render_state_diagram.py -->"
END = "<!-- END GENERATED -->"


def _states(chosen: frozenset[Any], every: frozenset[Any]) -> str:
    if chosen == every:
        return "any"
    if len(chosen) > len(every) / 2:
        return "not " + ", ".join(sorted(s.value for s in every - chosen))
    return ", ".join(sorted(s.value for s in chosen))


def _source(s: sm.Src) -> str:
    parts = []
    for name, chosen, every in (("agent", s.agent, sm.ALL_A), ("call", s.call, sm.ALL_C),
                                ("job", s.job, sm.ALL_J)):
        if chosen != every:
            parts.append(f"{name}: {_states(chosen, every)}")
    return "; ".join(parts) or "any"


def _target(t: sm.To) -> str:
    parts = [f"{n}: {'(effect decides)' if v == '*' else str(v)}"
             for n, v in (("agent", t.agent), ("call", t.call), ("job", t.job)) if v is not None]
    return "; ".join(parts) or "unchanged"


def _name(f: Any) -> str:
    if f is None:
        return ""
    n: str = f.__name__
    return "(inline)" if n == "<lambda>" else n


def table_markdown() -> str:
    out = ["| input | source states | guard | outcome | effect | note |",
           "|---|---|---|---|---|---|"]
    for inp, entries in sm.TABLE.items():
        for e in entries:
            if isinstance(e, sm.Row):
                outcome = _target(e.to)
                out.append(f"| `{inp.__name__}` | {_source(e.src)} | {_name(e.guard)} | "
                           f"{outcome} | {_name(e.effect)} | {e.note} |")
            else:
                alarm = f" + alarm {e.alarm}" if e.alarm else ""
                out.append(f"| `{inp.__name__}` | {_source(e.src)} | {_name(e.guard)} | "
                           f"**Rejected/{e.code}**{alarm} | | {e.message} |")
    return "\n".join(out)


def mermaid(kind: str) -> str:
    """A state diagram of one sub-state: edges from rows with a concrete target."""
    every: frozenset[Any]
    if kind == "agent":
        every = frozenset(AgentState)
    elif kind == "call":
        every = frozenset(CallState)
    else:
        every = frozenset(JobState)
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for inp, entries in sm.TABLE.items():
        for e in entries:
            if not isinstance(e, sm.Row):
                continue
            target = getattr(e.to, kind)
            src = getattr(e.src, kind)
            if target is None or target == "*" or src == every:
                continue
            for s in src:
                if s != target:
                    edges[(s.value, target.value)].add(inp.__name__)
    lines = ["```mermaid", "stateDiagram-v2"]
    for (a, b), names in sorted(edges.items()):
        lines.append(f"    {a} --> {b}: {', '.join(sorted(names))}")
    lines.append("```")
    return "\n".join(lines)


def end_of_work_markdown() -> str:
    rows = ["| pending job state | becomes | off its job (licence freed) | callbacks returned "
            "| desktop told | when | note |", "|---|---|---|---|---|---|---|"]
    for js, mv in sm.END_OF_WORK_JOB.items():
        rows.append(f"| {js.value} | {mv.to.value} | {'yes' if mv.detach else 'no'} | "
                    f"{'yes' if mv.returns_callbacks else 'no'} | "
                    f"{mv.notify.__name__ if mv.notify else ''} | "
                    f"{_name(mv.guard) if mv.guard else 'always'} | {mv.note} |")
    agent = ["| agent state | settles to |", "|---|---|"]
    for st, to in sm.END_OF_WORK_AGENT.items():
        agent.append(f"| {st.value} | {to.value if to is not None else '(stays)'} |")
    agent.append("| any other | Ready (then its oldest pending callback, on outbound work) |")
    return ("Step 2, pending job moves (`END_OF_WORK_JOB`):\n\n" + "\n".join(rows)
            + "\n\nStep 3, the agent state (`END_OF_WORK_AGENT`):\n\n" + "\n".join(agent))


def render() -> str:
    return "\n\n".join([
        BEGIN,
        "### Agent state\n\n" + mermaid("agent"),
        "### Call state\n\n" + mermaid("call"),
        "### Job state\n\n" + mermaid("job"),
        "Edges come from rows whose source is restricted for that sub-state and whose "
        "target is fixed; rows that apply in any state, and targets an effect decides "
        "(the end-of-work rules), appear only in the table.",
        "### The end of work\n\nWhat `finish_work` does when an agent's work ends, from "
        "its two tables (the steps are described above).\n\n" + end_of_work_markdown(),
        "### The transition table\n\nEntries are tried in order; the first whose source "
        "states match and whose guard holds decides.\n\n" + table_markdown(),
        END,
    ])


def main(argv: list[str]) -> int:
    return sync(Path(argv[1]), BEGIN, END, render(), argv, "make diagram")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
