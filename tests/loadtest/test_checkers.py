"""The harness's checkers, fed streams with a planted violation of each kind."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from pam_loadtest.checkers import Checker
from pam_loadtest.config import load
from pam_protocol import messages as m
from pam_protocol.states import AgentState, CallState, JobState

T = datetime(2026, 1, 1, tzinfo=UTC)


def agent(aid: str, version: int, a: str = "Ready", c: str = "Idle", j: str = "JobAttached",
          session: str | None = None, nailed: bool = True) -> m.Agent:
    return m.Agent(agent_id=aid, zone="z1", agent_state=AgentState(a), call_state=CallState(c),
                   job_state=JobState(j), version=version, since=T, session_id=session,
                   nailed=nailed)


def changed(seq: int, new: m.Agent, prev: m.Agent | None, step: str = "Ready"
            ) -> m.AgentStateChanged:
    cause = {"OfferContact": "CustomerConnected", "CallEnded": "CustomerDisconnected"}.get(
        step, step)
    return m.AgentStateChanged(seq=seq, zone="z1", snapshot=new, previous=prev, cause=cause,
                               step=step)


def clean_stream() -> list[m.Event]:
    a1 = agent("A", 1, "NotReady", j="JobDetached", nailed=False)
    a2 = agent("A", 2)
    a3 = agent("A", 3, "Busy", "Talking", session="c1")
    return [changed(1, a1, None, "Login"), changed(2, a2, a1),
            changed(3, a3, a2, "OfferContact"),
            m.ConnectCall(seq=4, zone="z1", agent_id="A", call_id="c1")]


def kinds(events: list[m.Event]) -> dict[str, int]:
    c = Checker()
    for e in events:
        c.on_event(e)
    c.finish()
    return c.summary()


def test_a_clean_stream_has_no_violation() -> None:
    assert kinds(clean_stream()) == {}


def test_offer_to_an_agent_that_was_not_available_is_reported() -> None:
    ev = clean_stream()
    a2 = agent("A", 2, "NotReady")
    ev[1] = changed(2, a2, ev[0].snapshot)  # type: ignore[attr-defined]
    ev[2] = changed(3, agent("A", 3, "Busy", "Talking", session="c1"), a2, "OfferContact")
    assert kinds(ev) == {"offered_while_unavailable": 1}


def test_offer_to_an_agent_not_nailed_is_reported() -> None:
    ev = clean_stream()
    a2 = agent("A", 2, nailed=False)
    ev[1] = changed(2, a2, ev[0].snapshot)  # type: ignore[attr-defined]
    ev[2] = changed(3, agent("A", 3, "Busy", "Talking", session="c1"), a2, "OfferContact")
    assert kinds(ev) == {"offered_while_unavailable": 1}


def test_agent_with_two_calls_is_reported() -> None:
    ev = clean_stream()
    a3 = ev[2].snapshot  # type: ignore[attr-defined]
    ev.append(changed(5, agent("A", 4, "Busy", "Talking", session="c2"), a3, "Transfer"))
    assert kinds(ev) == {"agent_two_calls": 1}


def test_a_pending_consult_delivered_as_the_last_work_ends_is_not_two_calls() -> None:
    ev = clean_stream()
    a3 = ev[2].snapshot  # type: ignore[attr-defined]
    nxt = msgspec.structs.replace(agent("A", 4, "Busy", "Consult", session="c9"),
                                  consult_initiator=False)
    ev.append(changed(5, nxt, a3, "CallEnded"))
    assert kinds(ev) == {}


def test_call_with_two_agents_is_reported() -> None:
    ev = clean_stream()
    ev.append(m.ConnectCall(seq=1, zone="z1", agent_id="B", call_id="c1"))
    assert kinds(ev) == {"call_two_agents": 1}


def test_a_missing_event_is_a_seq_gap() -> None:
    ev = clean_stream()
    del ev[1]  # seq 2 never arrives (and version 2 with it)
    assert kinds(ev) == {"seq_gap": 1, "version_not_consecutive": 1}


def test_an_event_announced_twice_is_reported() -> None:
    ev = clean_stream()
    ev.append(ev[-1])
    assert kinds(ev) == {"announced_twice": 1, "call_two_agents": 1}


def test_a_command_without_reply_is_reported() -> None:
    c = Checker()
    c.on_sent("m1", "Ready to z1 for A")
    c.on_sent("m2", "Ready to z1 for B")
    c.on_reply("m2")
    (v,) = c.finish()
    assert (v.kind, v.subject) == ("unanswered", "m1")


def test_violations_name_the_agent_and_carry_the_events() -> None:
    ev = clean_stream()
    del ev[1]
    c = Checker()
    for e in ev:
        c.on_event(e)
    gap = next(v for v in c.violations if v.kind == "seq_gap")
    assert gap.subject == "z1/a:A" and gap.evidence and gap.evidence[-1]["seq"] == 3


def test_scenario_file_overrides_defaults_and_flags_override_the_file(tmp_path: object) -> None:
    from pathlib import Path

    p = Path(str(tmp_path)) / "s.toml"
    p.write_text('agents = 40\nzones = ["a"]\n[talk]\nmean_s = 5.0\n')
    sc = load(p, agents=7, duration_s=None)
    assert (sc.agents, sc.zones, sc.talk.mean_s, sc.duration_s) == (7, ["a"], 5.0, 60.0)
    p.write_text("bogus = 1\n")
    with pytest.raises(SystemExit, match="bad scenario"):
        load(p)
    assert msgspec.structs.asdict(load(None))["agents"] == 300
