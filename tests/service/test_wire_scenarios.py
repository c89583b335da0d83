"""SCENARIOS.md 1-5, 9, 14, 15 end to end on the wire."""

from __future__ import annotations

import uuid

from pam_protocol import messages as m
from tests.service.conftest import Pam

JOB = m.JobStarted(job_id="J", action_name="call", zone="z1", campaign_type="progressive",
                   required_skills=["sales"], completion_codes=["Sale", "NoSale"],
                   default_completion_code="NoSale", wrapup_seconds=20, wrapup_extensions=1,
                   min_agents=0, max_agents=1_000_000, priority=1, licenses=1_000_000)


async def ready_on_job(pam: Pam, aid: str) -> None:
    await pam.ok(m.Login(agent_id=aid, zone="z1", extension="x" + aid,
                         skills=[m.Skill(name="sales", level=5)], time_zone="UTC",
                         locale="en_US"))
    await pam.ok(m.Ready(agent_id=aid))
    await pam.events.wait_for(m.NailAgent, agent_id=aid)
    await pam.ok(m.NailingEstablished(agent_id=aid))
    assert await pam.states(aid) == ("Ready", "Idle", "JobAttached")


async def test_scenario_01_login_ready_connect_on_the_wire(pam: Pam) -> None:
    await pam.ok(JOB)
    r = await pam.ok(m.Login(agent_id="A", zone="z1", extension="100",
                             skills=[m.Skill(name="sales", level=5)], time_zone="UTC",
                             locale="en_US"))
    assert r.agent is not None
    assert (r.agent.agent_state, r.agent.call_state, r.agent.job_state) == (
        "NotReady", "Idle", "JobDetached")
    await pam.ok(m.Ready(agent_id="A"))
    assert await pam.states("A") == ("Ready", "Idle", "PendingJobAttach")
    await pam.events.wait_for(m.NailAgent, agent_id="A")
    await pam.ok(m.NailingEstablished(agent_id="A"))
    await pam.events.wait_for(m.JobAttached, agent_id="A")
    r = await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    assert r.agent_id == "A"
    assert (await pam.states("A"))[:2] == ("Busy", "Talking")
    cc = await pam.events.wait_for(m.ConnectCall, call_id="c1")
    assert isinstance(cc, m.ConnectCall) and cc.agent_id == "A" and cc.seq > 0


async def test_scenario_02_wrapup_on_the_wire(pam: Pam) -> None:
    await pam.ok(JOB)
    await ready_on_job(pam, "A")
    await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    await pam.ok(m.CustomerDisconnected(call_id="c1"))
    w = await pam.events.wait_for(m.WrapupStarted, agent_id="A")
    assert isinstance(w, m.WrapupStarted)
    assert (w.completion_codes, w.default_completion_code, w.wrapup_seconds,
            w.wrapup_extensions) == (["Sale", "NoSale"], "NoSale", 20, 1)
    await pam.ok(m.WrapupContact(agent_id="A", session_id="c1"))
    done = await pam.events.wait_for(m.CallCompleted, agent_id="A")
    assert isinstance(done, m.CallCompleted) and done.completion_code == "NoSale"
    assert (await pam.states("A"))[:2] == ("Ready", "Idle")


async def test_scenario_03_not_ready_while_busy_on_the_wire(pam: Pam) -> None:
    await pam.ok(JOB)
    await ready_on_job(pam, "A")
    await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    await pam.ok(m.NotReady(agent_id="A", reason_code=7))
    assert (await pam.states("A"))[0] == "PendingNotReady"
    r = await pam.send(m.CustomerConnected(job_id="J", call_id="c2", customer={}))
    assert isinstance(r, m.Rejected) and r.code == "NoAgentAvailable"
    await pam.ok(m.CustomerDisconnected(call_id="c1"))
    await pam.ok(m.WrapupContact(agent_id="A", session_id="c1"))
    a = await pam.status("A")
    assert (a.agent_state, a.reason_code) == ("NotReady", 7)
    await pam.ok(m.NotReady(agent_id="A", reason_code=9))
    assert (await pam.status("A")).reason_code == 9


async def test_scenario_04_walkaway_alarm_on_the_wire(pam: Pam) -> None:
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
    await pam.ok(m.NotReady(agent_id="A", reason_code=2, walkaway=True))
    a = await pam.events.wait_for(m.Alarm, code="P_POMAGT16")
    assert isinstance(a, m.Alarm) and (a.severity, a.agent_id) == ("major", "A")


async def test_scenario_05_logout_only_from_not_ready_on_the_wire(pam: Pam) -> None:
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
    await pam.ok(m.Ready(agent_id="A"))
    before = await pam.status("A")
    await pam.no(m.Logout(agent_id="A"), "InvalidTransition")
    assert await pam.status("A") == before


async def test_scenario_09_nailing_drop_on_the_wire(pam: Pam) -> None:
    await pam.ok(JOB)
    await ready_on_job(pam, "A")
    await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    await pam.ok(m.NailingDropped(agent_id="A"))
    assert (await pam.states("A"))[:2] == ("WorkNotReady", "Wrapup")


async def test_scenario_14_same_message_id_twice_one_change_two_identical_replies(
        pam: Pam) -> None:
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
    v0 = (await pam.status("A")).version
    mid = uuid.uuid4().hex
    r1 = await pam.send(m.Ready(agent_id="A"), message_id=mid)
    r2 = await pam.send(m.Ready(agent_id="A"), message_id=mid)
    assert isinstance(r1, m.Accepted) and r1 == r2
    assert (await pam.status("A")).version == v0 + 1
    first = await pam.events.wait_for(m.AgentStateChanged, cause="Ready")
    assert isinstance(first, m.AgentStateChanged) and first.snapshot.version == v0 + 1
    # the next state event of A is the GetAgentStatus-free Logout below, not a second Ready
    await pam.ok(m.NotReady(agent_id="A", reason_code=1))
    nxt = await pam.events.wait_for(m.AgentStateChanged)
    assert isinstance(nxt, m.AgentStateChanged) and nxt.cause == "NotReady"


async def test_scenario_15_bad_input_is_rejected_and_service_keeps_serving(pam: Pam) -> None:
    r = await pam.client.send_raw("z1", b"this is not json")
    assert isinstance(r, m.Rejected) and r.code == "BadRequest"
    r = await pam.client.send_raw("z1", b'{"type": "Dance", "agent_id": "A"}')
    assert isinstance(r, m.Rejected) and r.code == "UnknownCommand"
    r = await pam.client.send_raw("z1", b'{"type": "Ready"}')
    assert isinstance(r, m.Rejected) and r.code == "BadRequest" and "agent_id" in r.message
    # without reply_to: dead-lettered with the reason
    dead = await pam.client.channel.declare_queue("pam.dead", durable=True,
                                                  arguments={"x-queue-type": "quorum"})
    mid = await pam.client.publish("z1", b'{"type": "Ready"}')
    msg = None
    async with dead.iterator(timeout=10) as it:
        async for msg in it:
            await msg.ack()
            if msg.message_id == mid:
                break
    assert msg is not None and msg.message_id == mid
    assert "agent_id" in str((msg.headers or {}).get("x-pam-reason"))
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
