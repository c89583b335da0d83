"""Issue 17 on the wire, against a running PAM (real RabbitMQ and Redis): HangUp, the
telephony instructions of every leg in their order, UnnailAgent, inbound calls and
returned callbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from pam_protocol import messages as m
from tests.service.conftest import Pam
from tests.service.test_consult_wire import expect, idle_colleague, talking
from tests.service.test_dispatch import PROGRESSIVE, staff


async def instructions(pam: Pam, first: type[m.TelephonyInstruction], n: int,
                       **fields: Any) -> list[m.TelephonyInstruction]:
    """The telephony instruction ``first`` (with ``fields``; earlier events skipped) and
    the ``n - 1`` telephony instructions that follow it on the stream, in order."""
    got: list[m.TelephonyInstruction] = [await expect(pam, first, **fields)]
    while len(got) < n:
        ev = await pam.events.wait_for(m.TelephonyInstruction)
        assert isinstance(ev, m.TelephonyInstruction)
        got.append(ev)
    return got


async def test_hang_up_on_the_wire(pam: Pam) -> None:
    calls = await talking(pam, ["A"])
    await pam.no(m.HangUp(agent_id="A", session_id="nope"), "BadRequest")
    r = await pam.ok(m.HangUp(agent_id="A", session_id=calls["A"]))
    assert r.agent is not None
    assert (r.agent.agent_state, r.agent.call_state, r.agent.job_state) == (
        "WorkNotReady", "Wrapup", "JobAttached")
    assert r.agent.nailed
    rel = await expect(pam, m.ReleaseCall, agent_id="A")
    assert rel.call_id == calls["A"]
    await expect(pam, m.WrapupStarted, agent_id="A", session_id=calls["A"])
    await pam.ok(m.WrapupContact(agent_id="A", session_id=calls["A"]))
    assert await pam.states("A") == ("Ready", "Idle", "JobAttached")


async def test_consult_conference_owner_change_and_passive_leaving_on_the_wire(pam: Pam) -> None:
    calls = await talking(pam, ["A"])
    await idle_colleague(pam, "B")
    c = calls["A"]
    await pam.ok(m.Consult(agent_id="A", target_agent_id="B"))
    _, consult = await instructions(pam, m.PlayHold, 2, agent_id="A", call_id=c)
    assert isinstance(consult, m.ConsultCall)
    assert (consult.call_id, consult.session_id, consult.target_agent_id,
            consult.target_number) == (c, c, "B", None)

    await pam.ok(m.Conference(agent_id="A"))
    conf, stop = await instructions(pam, m.ConferenceCall, 2)
    assert isinstance(conf, m.ConferenceCall) and isinstance(stop, m.StopHold)
    assert (conf.owner_agent_id, conf.party_agent_id, conf.session_id) == ("A", "B", c)

    await pam.ok(m.ChangeConferenceOwner(agent_id="A"))
    owner = await expect(pam, m.ConferenceCall, owner_agent_id="B")
    assert owner.party_agent_id == "A"

    await pam.ok(m.EndConference(agent_id="A"))  # A is now the passive party: it leaves
    drop = await expect(pam, m.DropParty, call_id=c)
    assert (drop.agent_id, drop.number, drop.session_id) == ("A", None, c)
    assert (await pam.states("B"))[:2] == ("Busy", "Talking")
    assert (await pam.states("A"))[:2] == ("Ready", "Idle")


async def test_consult_cancel_and_transfer_to_a_number_on_the_wire(pam: Pam) -> None:
    calls = await talking(pam, ["A"])
    c = calls["A"]
    await pam.ok(m.Consult(agent_id="A", target_number="+15550001"))
    consult = await expect(pam, m.ConsultCall, agent_id="A")
    assert (consult.target_number, consult.target_agent_id, consult.session_id) == (
        "+15550001", None, c)
    await pam.ok(m.CancelConsult(agent_id="A"))
    drop, stop = await instructions(pam, m.DropParty, 2, call_id=c)
    assert isinstance(drop, m.DropParty) and drop.number == "+15550001"
    assert isinstance(stop, m.StopHold)

    await pam.ok(m.Consult(agent_id="A", target_number="+15550002"))
    await pam.ok(m.Transfer(agent_id="A"))
    tr = await expect(pam, m.TransferCall, from_agent_id="A")
    assert (tr.to_number, tr.to_agent_id, tr.call_id) == ("+15550002", None, c)
    assert (await pam.states("A"))[:2] == ("WorkNotReady", "Wrapup")


async def test_transfer_to_an_agent_on_the_wire(pam: Pam) -> None:
    calls = await talking(pam, ["A"])
    await idle_colleague(pam, "B")
    await pam.ok(m.Consult(agent_id="A", target_agent_id="B"))
    await pam.ok(m.Transfer(agent_id="A"))
    tr = await expect(pam, m.TransferCall, from_agent_id="A")
    assert (tr.to_agent_id, tr.call_id) == ("B", calls["A"])
    assert (await pam.states("B"))[:2] == ("Busy", "Talking")


async def test_unnail_when_the_job_pauses_on_the_wire(pam: Pam) -> None:
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A"])
    assert await pam.states("A") == ("Ready", "Idle", "JobAttached")
    await pam.ok(m.JobPaused(job_id="J"))
    await expect(pam, m.UnnailAgent, agent_id="A")
    a = await pam.status("A")
    assert (a.job_state, a.nailed) == ("JobEnd", False)


async def test_blend_to_outbound_waits_for_the_inbound_call_on_the_wire(pam: Pam) -> None:
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A"])
    await pam.ok(m.BlendToInbound(agent_id="A"))
    await expect(pam, m.UnnailAgent, agent_id="A")
    await pam.ok(m.InboundCallStarted(agent_id="A", call_id="in1"))
    r = await pam.ok(m.BlendToOutbound(agent_id="A"))
    assert r.agent is not None and r.agent.job_state == "PendingOutbound"
    # no outbound call for an agent talking on an inbound one
    await pam.no(m.CustomerConnected(job_id="J", call_id="c1", customer={}), "NoAgentAvailable")
    await pam.ok(m.InboundCallEnded(agent_id="A", call_id="in1"))
    await expect(pam, m.BlendedToOutbound, agent_id="A")
    await expect(pam, m.NailAgent, agent_id="A", job_id="J")


async def test_callback_returned_on_logout_on_the_wire(pam: Pam) -> None:
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A"])
    await pam.ok(m.NotReady(agent_id="A", reason_code=1))
    await pam.ok(m.CallbackDue(job_id="J", callback_id="cb1", agent_id="A"))
    await pam.ok(m.Logout(agent_id="A"))
    back = await expect(pam, m.CallbackReturned, callback_id="cb1")
    assert (back.job_id, back.agent_id, back.reason) == ("J", "A", "logout")
    assert m.routing_key(back) == "job.z1.J"


async def test_named_callback_refused_for_an_agent_that_cannot_take_the_job_on_the_wire(
        pam: Pam) -> None:
    await pam.ok(PROGRESSIVE)
    await pam.ok(msgspec.structs.replace(PROGRESSIVE, job_id="FR", required_skills=["french"]))
    await staff(pam, pam.client, ["A"])
    await pam.no(m.CallbackDue(job_id="FR", callback_id="cb", agent_id="A"), "InvalidTransition")
    assert (await pam.states("A"))[:2] == ("Ready", "Idle")


async def test_a_move_sticks_and_the_old_job_is_refilled_on_the_wire(pam: Pam) -> None:
    await pam.ok(msgspec.structs.replace(PROGRESSIVE, priority=5, min_agents=1, max_agents=1))
    for aid, level, job in (("A", 1, "J"), ("B", 5, "K")):
        if job == "K":
            await pam.ok(msgspec.structs.replace(PROGRESSIVE, job_id="K", priority=1))
        await pam.ok(m.Login(agent_id=aid, zone="z1", extension=aid,
                             skills=[m.Skill(name="sales", level=level)], time_zone="UTC",
                             locale="en_US"))
        await pam.ok(m.Ready(agent_id=aid))
        await pam.ok(m.NailingEstablished(agent_id=aid))
        assert (await pam.status(aid)).job_id == job
    r = await pam.ok(m.MoveAgentToJob(agent_id="A", job_id="K"))
    assert r.agent is not None and r.agent.job_id == "K"
    assert (await pam.status("A")).job_id == "K"
    assert (await pam.status("B")).job_id == "J"


async def test_list_callback_agents_carries_no_colleague_customer_data_on_the_wire(
        pam: Pam) -> None:
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["B"])
    await pam.ok(m.SaveAgentForHA(agent_id="B", data={"card": "4111-secret"}))
    await pam.ok(m.CustomerConnected(job_id="J", call_id="c1",
                                     customer={"name": "Ada Secret"}))
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="A", skills=[], time_zone="UTC",
                         locale="en_US"))
    r = await pam.ok(m.ListCallbackAgents(agent_id="A"))
    assert r.agents is not None and {a.agent_id for a in r.agents} == {"A", "B"}
    body = m.encoder.encode(r)
    assert b"Ada Secret" not in body and b"4111-secret" not in body
    b = next(a for a in r.agents if a.agent_id == "B")
    assert (b.call_state, b.customer, b.ha_data) == ("Talking", {}, {})


async def test_desktop_liveness_alarm_shown_in_wrapup_and_pam_wraps_up_on_the_wire(
        pam: Pam) -> None:
    first = pam.services.pop(0)
    await first.stop()
    await pam.start(heartbeat_s=1, wrapup_grace_s=0.0)  # a silent desktop: 3 s
    await pam.ok(msgspec.structs.replace(PROGRESSIVE, wrapup_seconds=1, wrapup_extensions=0))
    r = await pam.ok(m.Login(agent_id="A", zone="z1", extension="A",
                             skills=[m.Skill(name="sales", level=3)], time_zone="UTC",
                             locale="en_US"))
    assert r.heartbeat_seconds == 1
    await pam.ok(m.Ready(agent_id="A"))
    await pam.ok(m.NailingEstablished(agent_id="A"))
    await pam.ok(m.SaveAgentForHA(agent_id="A", data={"screen": "order"}))
    await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    # the desktop now says nothing
    # one commit: the agent shown in Wrapup, its WrapupStarted, then the alarm
    shown = await expect(pam, m.AgentStateChanged, timeout=20, cause="DesktopLost")
    assert (shown.snapshot.call_state, shown.snapshot.session_id) == ("Wrapup", "c1")
    ws = await expect(pam, m.WrapupStarted, agent_id="A")
    assert ws.heartbeat_seconds == 1
    alarm = await expect(pam, m.Alarm, code="P_POMAGT_DESKTOP")
    assert alarm.agent_id == "A"
    done = await expect(pam, m.CallCompleted, timeout=20, agent_id="A")
    assert (done.completion_code, done.defaulted) == ("NoSale", True)
    a = await pam.status("A")
    assert (a.agent_state, a.call_state) == ("Ready", "Idle")


async def test_conference_owner_on_hold_transfers_to_the_external_party_on_the_wire(
        pam: Pam) -> None:
    calls = await talking(pam, ["A"])
    c = calls["A"]
    await pam.ok(m.Consult(agent_id="A", target_number="+15550009"))
    await pam.ok(m.Conference(agent_id="A"))
    conf = await expect(pam, m.ConferenceCall, owner_agent_id="A")
    assert (conf.party_number, conf.party_agent_id) == ("+15550009", None)
    await pam.ok(m.HoldCall(agent_id="A"))
    await pam.ok(m.Transfer(agent_id="A"))
    tr, stop = await instructions(pam, m.TransferCall, 2, from_agent_id="A")
    assert isinstance(tr, m.TransferCall) and tr.to_number == "+15550009"
    assert isinstance(stop, m.StopHold) and stop.call_id == c
    # the external-transfer code is allowed for this call, and only for such a call
    await pam.ok(m.WrapupContact(agent_id="A", session_id=c,
                                 completion_code=m.EXTERNAL_TRANSFER_CODE))


async def test_a_second_action_of_a_running_job_is_refused_on_the_wire(pam: Pam) -> None:
    await pam.ok(PROGRESSIVE)
    r = await pam.no(msgspec.structs.replace(PROGRESSIVE, action_name="second", licenses=1),
                     "BadRequest")
    assert "action" in r.message
    z = await pam.ok(m.GetZoneStatus(zone="z1"))
    assert z.jobs is not None
    (job,) = [j for j in z.jobs if j.job_id == "J"]
    assert (job.action_name, job.licenses) == (PROGRESSIVE.action_name, PROGRESSIVE.licenses)


async def test_callback_due_time_in_the_servers_zone_on_the_wire(pam: Pam) -> None:
    first = pam.services.pop(0)
    await first.stop()
    await pam.start(server_tz=ZoneInfo("Asia/Kolkata"))
    await talking(pam, ["A"])
    due = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)
    await pam.ok(m.CallbackDue(job_id="J", callback_id="cb1", agent_id="A", due_time=due))
    n = await expect(pam, m.PreviewCallbackPending, agent_id="A")
    assert n.due_time == "2026/11/26 20:00"  # UTC+05:30, the UTC mode's format
