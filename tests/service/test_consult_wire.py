"""SCENARIOS.md 6-8 end to end on the wire: pending consults, consultative transfer, conference."""

from __future__ import annotations

from typing import TypeVar

from pam_protocol import messages as m
from tests.service.conftest import Pam
from tests.service.test_dispatch import PROGRESSIVE, staff

E = TypeVar("E", bound=m.Event)


async def expect(pam: Pam, cls: type[E], timeout: float = 10.0, **fields: object) -> E:
    """The next event of ``cls`` on pam.events with those fields (earlier others skipped)."""
    ev = await pam.events.wait_for(cls, timeout=timeout, **fields)
    assert isinstance(ev, cls), ev
    return ev


async def state_changes(pam: Pam, cause: str, *agents: str) -> dict[str, m.Agent]:
    """The AgentStateChanged snapshots one command published for each of ``agents``.

    State events of a command come before its other events, so waiting for them first
    leaves the command's notifications and instructions in the stream."""
    got: dict[str, m.Agent] = {}
    while set(got) != set(agents):
        ev = await expect(pam, m.AgentStateChanged, cause=cause)
        assert ev.snapshot.agent_id in agents, (cause, ev.snapshot.agent_id, agents)
        got[ev.snapshot.agent_id] = ev.snapshot
    return got


async def talking(pam: Pam, agents: list[str]) -> dict[str, str]:
    """Job J running, ``agents`` attached to it, each talking to a customer of its own.
    Returns each agent's call id."""
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, agents)
    for aid in agents:
        assert await pam.states(aid) == ("Ready", "Idle", "JobAttached")
    calls: dict[str, str] = {}
    for i in range(len(agents)):
        r = await pam.ok(m.CustomerConnected(job_id="J", call_id=f"c{i}", customer={}))
        assert r.agent_id is not None and r.agent_id not in calls
        calls[r.agent_id] = f"c{i}"
        await expect(pam, m.ConnectCall, agent_id=r.agent_id, call_id=f"c{i}")
    assert sorted(calls) == sorted(agents)
    for aid in agents:
        a = await pam.status(aid)
        assert (a.agent_state, a.call_state, a.session_id) == ("Busy", "Talking", calls[aid])
    return calls


async def idle_colleague(pam: Pam, aid: str) -> None:
    """``aid`` logged in, Ready/Idle and attached to J, with no call."""
    await staff(pam, pam.client, [aid])
    assert await pam.states(aid) == ("Ready", "Idle", "JobAttached")


# --------------------------------------------------------------------------
# 6. Pending consults
# --------------------------------------------------------------------------


async def test_scenario_06_pending_consults_on_the_wire(pam: Pam) -> None:
    calls = await talking(pam, ["A", "B", "C", "D"])

    # C (talking) consults busy B: the consult waits on B, C talks on
    r = await pam.ok(m.Consult(agent_id="C", target_agent_id="B"))
    assert r.agent is not None
    assert (r.agent.call_state, r.agent.outgoing_consult) == ("Talking", "B")
    first = await expect(pam, m.ConsultPending, agent_id="B")
    assert (first.from_agent_id, first.pending) == ("C", 1)

    # A consults B: a second one waits
    await pam.ok(m.Consult(agent_id="A", target_agent_id="B"))
    second = await expect(pam, m.ConsultPending, agent_id="B")
    assert (second.from_agent_id, second.pending) == ("A", 2)

    full = await pam.status("B")
    assert (full.agent_state, full.call_state, full.session_id) == ("Busy", "Talking", calls["B"])
    assert [(p.from_agent_id, p.session_id) for p in full.pending_consults] == [
        ("C", calls["C"]), ("A", calls["A"])]

    # a third consult on B is LimitReached, from a new agent D ...
    d_before = await pam.status("D")
    await pam.no(m.Consult(agent_id="D", target_agent_id="B"), "LimitReached")
    assert await pam.status("D") == d_before  # D has no consult outstanding
    # ... and from C again, which already has one waiting on B: B is full first
    c_before = await pam.status("C")
    await pam.no(m.Consult(agent_id="C", target_agent_id="B"), "LimitReached")
    assert await pam.status("C") == c_before
    assert await pam.status("B") == full  # the refusals changed nothing on B

    # B rejects C's consult: A's is left; C is free to consult again
    r = await pam.ok(m.RejectConsult(agent_id="B", from_agent_id="C"))
    assert r.agent is not None
    assert [p.from_agent_id for p in r.agent.pending_consults] == ["A"]
    b = await pam.status("B")
    assert [p.from_agent_id for p in b.pending_consults] == ["A"]
    assert (b.agent_state, b.call_state, b.session_id) == ("Busy", "Talking", calls["B"])
    c = await pam.status("C")
    assert (c.call_state, c.outgoing_consult) == ("Talking", None)
    assert (await pam.status("A")).outgoing_consult == "B"

    # there is room again: D's consult now waits, and it is the next ConsultPending
    # on the stream (the two refused consults published none)
    await pam.ok(m.Consult(agent_id="D", target_agent_id="B"))
    third = await expect(pam, m.ConsultPending, agent_id="B")
    assert (third.from_agent_id, third.pending) == ("D", 2)
    assert [p.from_agent_id for p in (await pam.status("B")).pending_consults] == ["A", "D"]


# --------------------------------------------------------------------------
# 7. Consultative transfer
# --------------------------------------------------------------------------


async def test_scenario_07_consultative_transfer_on_the_wire(pam: Pam) -> None:
    calls = await talking(pam, ["A"])
    call = calls["A"]
    await idle_colleague(pam, "B")

    # A consults idle B: both Consult, the customer hears hold music
    r = await pam.ok(m.Consult(agent_id="A", target_agent_id="B"))
    assert r.agent is not None and r.agent.call_state == "Consult"
    snaps = await state_changes(pam, "Consult", "A", "B")
    for aid in ("A", "B"):
        assert (snaps[aid].agent_state, snaps[aid].call_state) == ("Busy", "Consult")
    assert (snaps["A"].consult_initiator, snaps["A"].peer_agent_id) == (True, "B")
    assert (snaps["B"].consult_initiator, snaps["B"].peer_agent_id) == (False, "A")
    assert snaps["B"].session_id == call
    hold = await expect(pam, m.PlayHold, agent_id="A")
    assert hold.call_id == call
    assert (await pam.states("A"))[:2] == (await pam.states("B"))[:2] == ("Busy", "Consult")

    # A transfers: A is Ready/Idle at once, B owns the call
    r = await pam.ok(m.Transfer(agent_id="A"))
    assert r.agent is not None
    assert (r.agent.agent_state, r.agent.call_state) == ("Ready", "Idle")
    snaps = await state_changes(pam, "Transfer", "A", "B")
    assert (snaps["A"].agent_state, snaps["A"].call_state) == ("Ready", "Idle")
    assert (snaps["B"].agent_state, snaps["B"].call_state) == ("Busy", "Talking")
    unhold = await expect(pam, m.StopHold, agent_id="A")
    assert unhold.call_id == call
    handed = await expect(pam, m.CallNotify, agent_id="B")
    assert (handed.call_id, handed.job_id, handed.origin) == (call, "J", "transferred")

    a = await pam.status("A")
    assert (a.agent_state, a.call_state, a.job_state) == ("Ready", "Idle", "JobAttached")
    assert (a.session_id, a.peer_agent_id) == (None, None)
    b = await pam.status("B")
    assert (b.agent_state, b.call_state, b.session_id) == ("Busy", "Talking", call)
    assert (b.call_origin, b.peer_agent_id) == ("transferred", None)

    # A really is free: the next customer goes to A (B is busy)
    r2 = await pam.ok(m.CustomerConnected(job_id="J", call_id="c-next", customer={}))
    assert r2.agent_id == "A"

    # the customer of the transferred call hangs up: B wraps up, not A
    await pam.ok(m.CustomerDisconnected(call_id=call))
    w = await expect(pam, m.WrapupStarted)
    assert (w.agent_id, w.session_id) == ("B", call)
    assert (w.completion_codes, w.default_completion_code) == (
        list(PROGRESSIVE.completion_codes), PROGRESSIVE.default_completion_code)
    assert await pam.states("B") == ("WorkNotReady", "Wrapup", "JobAttached")
    a = await pam.status("A")
    assert (a.agent_state, a.call_state, a.session_id) == ("Busy", "Talking", "c-next")

    await pam.ok(m.WrapupContact(agent_id="B", session_id=call))
    done = await expect(pam, m.CallCompleted, session_id=call)
    assert (done.agent_id, done.completion_code) == ("B", "NoSale")
    assert (await pam.states("B"))[:2] == ("Ready", "Idle")


# --------------------------------------------------------------------------
# 8. Conference
# --------------------------------------------------------------------------


async def conference(pam: Pam, owner: str, passive: str, call: str) -> None:
    """``owner`` (talking on ``call``) consults idle ``passive``, then conferences."""
    await pam.ok(m.Consult(agent_id=owner, target_agent_id=passive))
    await state_changes(pam, "Consult", owner, passive)
    await expect(pam, m.PlayHold, agent_id=owner, call_id=call)
    r = await pam.ok(m.Conference(agent_id=owner))
    assert r.agent is not None and r.agent.call_state == "ConferenceOwner"
    snaps = await state_changes(pam, "Conference", owner, passive)
    assert (snaps[owner].agent_state, snaps[owner].call_state) == ("Busy", "ConferenceOwner")
    assert (snaps[passive].agent_state, snaps[passive].call_state) == (
        "Busy", "ConferencePassive")
    await expect(pam, m.StopHold, agent_id=owner, call_id=call)  # customer back in the call
    assert (await pam.states(owner))[1] == "ConferenceOwner"
    assert (await pam.states(passive))[1] == "ConferencePassive"


async def test_scenario_08_conference_on_the_wire(pam: Pam) -> None:
    call = (await talking(pam, ["A"]))["A"]
    await idle_colleague(pam, "B")
    await conference(pam, "A", "B", call)

    # ChangeConferenceOwner swaps owner and passive (and back); only the owner may
    await pam.ok(m.ChangeConferenceOwner(agent_id="A"))
    snaps = await state_changes(pam, "ChangeConferenceOwner", "A", "B")
    assert (snaps["A"].call_state, snaps["B"].call_state) == (
        "ConferencePassive", "ConferenceOwner")
    assert ((await pam.states("A"))[1], (await pam.states("B"))[1]) == (
        "ConferencePassive", "ConferenceOwner")
    before = await pam.status("A")
    await pam.no(m.ChangeConferenceOwner(agent_id="A"), "InvalidTransition")
    assert await pam.status("A") == before
    await pam.ok(m.ChangeConferenceOwner(agent_id="B"))
    snaps = await state_changes(pam, "ChangeConferenceOwner", "A", "B")
    assert (snaps["A"].call_state, snaps["B"].call_state) == (
        "ConferenceOwner", "ConferencePassive")

    # EndConference: the passive agent B is free, the owner A talks on
    r = await pam.ok(m.EndConference(agent_id="A"))
    assert r.agent is not None and r.agent.call_state == "Talking"
    snaps = await state_changes(pam, "EndConference", "A", "B")
    assert (snaps["A"].agent_state, snaps["A"].call_state) == ("Busy", "Talking")
    assert (snaps["B"].agent_state, snaps["B"].call_state) == ("Ready", "Idle")
    a = await pam.status("A")
    assert (a.agent_state, a.call_state, a.session_id, a.peer_agent_id) == (
        "Busy", "Talking", call, None)
    b = await pam.status("B")
    assert (b.agent_state, b.call_state, b.session_id, b.peer_agent_id) == (
        "Ready", "Idle", None, None)

    # a second conference; the customer drops: the owner A wraps up, passive B is free
    await conference(pam, "A", "B", call)
    await pam.ok(m.CustomerDisconnected(call_id=call))
    w = await expect(pam, m.WrapupStarted)
    assert (w.agent_id, w.session_id) == ("A", call)
    assert (await pam.states("A"))[:2] == ("WorkNotReady", "Wrapup")
    assert (await pam.states("B"))[:2] == ("Ready", "Idle")
    assert (await pam.status("B")).peer_agent_id is None


async def test_scenario_08_change_conference_owner_hands_over_the_call_on_the_wire(
        pam: Pam) -> None:
    call = (await talking(pam, ["A"]))["A"]
    await idle_colleague(pam, "B")
    await conference(pam, "A", "B", call)

    # A hands the conference to B, then B ends it: A (now passive) is free, B owns the call
    await pam.ok(m.ChangeConferenceOwner(agent_id="A"))
    await state_changes(pam, "ChangeConferenceOwner", "A", "B")
    await pam.ok(m.EndConference(agent_id="B"))
    snaps = await state_changes(pam, "EndConference", "A", "B")
    assert (snaps["A"].agent_state, snaps["A"].call_state) == ("Ready", "Idle")
    assert (snaps["B"].agent_state, snaps["B"].call_state) == ("Busy", "Talking")
    b = await pam.status("B")
    assert (b.call_state, b.session_id) == ("Talking", call)

    # B, now the call's owner, conferences A in and hands ownership back to A;
    # the customer drops: owner A wraps up, passive B is free
    await conference(pam, "B", "A", call)
    await pam.ok(m.ChangeConferenceOwner(agent_id="B"))
    snaps = await state_changes(pam, "ChangeConferenceOwner", "A", "B")
    assert (snaps["A"].call_state, snaps["B"].call_state) == (
        "ConferenceOwner", "ConferencePassive")
    await pam.ok(m.CustomerDisconnected(call_id=call))
    w = await expect(pam, m.WrapupStarted)
    assert (w.agent_id, w.session_id) == ("A", call)
    assert (await pam.states("A"))[:2] == ("WorkNotReady", "Wrapup")
    assert (await pam.states("B"))[:2] == ("Ready", "Idle")
