"""SCENARIOS.md 11-13 end to end on the wire: blending, Release From Outbound ignored,
job end; and licences on the wire."""

from __future__ import annotations

import msgspec

from pam_protocol import messages as m
from tests.service.conftest import Pam
from tests.service.test_dispatch import PROGRESSIVE, staff


async def test_scenario_11_blending_on_the_wire(pam: Pam) -> None:
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A"])
    await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    await pam.ok(m.BlendToInbound(agent_id="A"))
    assert (await pam.states("A"))[2] == "PendingInbound"
    await pam.ok(m.CustomerDisconnected(call_id="c1"))
    await pam.ok(m.WrapupContact(agent_id="A", session_id="c1"))
    await pam.events.wait_for(m.BlendedToInbound, agent_id="A")
    assert await pam.states("A") == ("Ready", "Idle", "JobInbound")
    r = await pam.send(m.CustomerConnected(job_id="J", call_id="c2", customer={}))
    assert isinstance(r, m.Rejected) and r.code == "NoAgentAvailable"  # no outbound offered
    await pam.ok(m.BlendToOutbound(agent_id="A"))
    await pam.events.wait_for(m.BlendedToOutbound, agent_id="A")
    await pam.events.wait_for(m.NailAgent, agent_id="A")
    await pam.ok(m.NailingEstablished(agent_id="A"))
    r2 = await pam.ok(m.CustomerConnected(job_id="J", call_id="c3", customer={}))
    assert r2.agent_id == "A"


async def test_scenario_12_release_from_outbound_ignored_on_the_wire(pam: Pam) -> None:
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A", "B"])
    ra = await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    rb = await pam.ok(m.CustomerConnected(job_id="J", call_id="c2", customer={}))
    assert {ra.agent_id, rb.agent_id} == {"A", "B"}
    await pam.ok(m.Login(agent_id="C", zone="z1", extension="C",
                         skills=[m.Skill(name="sales", level=3)], time_zone="UTC",
                         locale="en_US"))
    await pam.ok(m.Consult(agent_id="A", target_agent_id="B"))  # B busy: pending consult
    await pam.events.wait_for(m.ConsultPending, agent_id="B")
    before = await pam.status("B")
    r = await pam.no(m.ReleaseFromOutbound(agent_id="B"), "Ignored")
    assert r.alarm == "P_POMAGT50"
    alarm = await pam.events.wait_for(m.Alarm, code="P_POMAGT50")
    assert isinstance(alarm, m.Alarm) and alarm.agent_id == "B"
    assert await pam.status("B") == before


async def test_scenario_13_job_end_frees_licences_on_the_wire(pam: Pam) -> None:
    await pam.ok(msgspec.structs.replace(PROGRESSIVE, licenses=2))
    await staff(pam, pam.client, ["A", "B"])
    await pam.ok(m.Login(agent_id="C", zone="z1", extension="C",
                         skills=[m.Skill(name="sales", level=3)], time_zone="UTC",
                         locale="en_US"))
    await pam.ok(m.Ready(agent_id="C"))
    zone = await pam.ok(m.GetZoneStatus(zone="z1"))
    assert zone.jobs is not None and len(zone.jobs[0].assigned) == 2  # licences respected
    assert (await pam.states("C"))[2] == "JobDetached"
    r = await pam.ok(m.JobEnded(job_id="J"))
    assert r.job is not None and r.job.assigned == () and r.job.status == "ended"
    for aid in ("A", "B"):
        assert (await pam.states(aid))[2] == "JobEnd"
    detached = await pam.events.wait_for(m.AgentDetached, job_id="J")
    assert isinstance(detached, m.AgentDetached) and detached.reason == "job ended"
