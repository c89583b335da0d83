"""Call flows through the dispatcher on the wire; one call, one agent, even across instances."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import msgspec
import pytest

from pam_protocol import messages as m
from pam_protocol.client import PamClient
from pam_service.service import PamService
from tests.service.conftest import AMQP, Pam, eventually, rabbitmqctl

PREVIEW = m.JobStarted(job_id="J2", action_name="preview", zone="z1", campaign_type="preview",
                       required_skills=["sales"], completion_codes=["Sale", "NoSale"],
                       default_completion_code="NoSale", min_agents=0, max_agents=1_000_000,
                       priority=1, licenses=1_000_000, wrapup_seconds=30, wrapup_extensions=0)
PROGRESSIVE = msgspec.structs.replace(PREVIEW, job_id="J", campaign_type="progressive")


async def staff(pam: Pam, client: PamClient, agents: list[str]) -> None:
    for aid in agents:
        r = await client.send("z1", m.Login(agent_id=aid, zone="z1", extension=aid,
                                            skills=[m.Skill(name="sales", level=3)],
                                            time_zone="UTC", locale="en_US"))
        assert isinstance(r, m.Accepted), r
        await client.send("z1", m.Ready(agent_id=aid))
        await client.send("z1", m.NailingEstablished(agent_id=aid))


async def test_scenario_10_preview_on_the_wire(pam: Pam) -> None:
    await pam.ok(PREVIEW)
    await staff(pam, pam.client, ["A"])
    r = await pam.ok(m.PreviewContactReady(job_id="J2", contact_id="p1", customer={}))
    assert r.agent_id == "A"
    offered = await pam.events.wait_for(m.PreviewOffered, agent_id="A")
    assert isinstance(offered, m.PreviewOffered) and offered.session_id == "p1"
    await pam.ok(m.PreviewCancel(agent_id="A", session_id="p1"))
    assert (await pam.states("A"))[:2] == ("WorkNotReady", "Wrapup")
    await pam.ok(m.WrapupContact(agent_id="A", session_id="p1"))
    await pam.ok(m.PreviewContactReady(job_id="J2", contact_id="p2", customer={}))
    await pam.ok(m.PreviewDial(agent_id="A", session_id="p2"))
    assert (await pam.states("A"))[:2] == ("Busy", "Dialing")
    await pam.events.wait_for(m.DialCustomer, agent_id="A", session_id="p2")
    await pam.ok(m.DialResult(agent_id="A", session_id="p2", result="answered"))
    assert (await pam.states("A"))[:2] == ("Busy", "Talking")


async def test_longest_idle_agent_gets_the_call_on_the_wire(pam: Pam) -> None:
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A", "B", "C"])
    got: list[str] = []
    for i in range(3):  # each freed agent goes to the back of the queue
        r = await pam.ok(m.CustomerConnected(job_id="J", call_id=f"c{i}", customer={}))
        assert r.agent_id is not None
        got.append(r.agent_id)
    assert sorted(got) == ["A", "B", "C"]
    await pam.ok(m.CustomerDisconnected(call_id="c0"))
    await pam.ok(m.WrapupContact(agent_id=got[0], session_id="c0"))
    r = await pam.ok(m.CustomerConnected(job_id="J", call_id="c3", customer={}))
    assert r.agent_id == got[0]


@pytest.mark.parametrize("round_", range(3))
async def test_two_instances_racing_on_the_same_calls_never_double_assign(
        pam: Pam, round_: int) -> None:
    """Two active instances (each the consumer of its own vhost's queue, so the broker
    cannot keep them apart) share one Redis: only fencing stands between them."""
    other_vhost = f"pamtest-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", other_vhost)
    rabbitmqctl("set_permissions", "-p", other_vhost, "guest", ".*", ".*", ".*")
    try:
        rival = PamService(pam.settings(amqp_url=AMQP + other_vhost, instance="rival"))
        await rival.start()
        async with await PamClient.connect(AMQP + other_vhost) as c2:
            await pam.ok(PROGRESSIVE)
            agents = [f"a{i}" for i in range(12)]
            await staff(pam, pam.client, agents)
            # the rival takes the zone over now (its first delivery), so the first
            # instance, which still believes itself active, is fenced at its next commit
            # whatever the timing: from then on every takeover fences the other one.
            # First the staffing's last changes leave the outbox, or the takeover would
            # put those agents in doubt (docs/deployment.md, "Agents in doubt").
            store = pam.services[0].workers["z1"].store

            async def trimmed() -> bool:
                return await store.r.xlen(store.k_outbox) == 0

            await eventually(trimmed)
            r = await c2.send("z1", m.GetAgentStatus(agent_id=agents[0]))
            assert isinstance(r, m.Accepted)
            calls = [f"call-{round_}-{i}" for i in range(30)]
            sends = []
            for cid in calls:  # every call offered through both instances at once
                for c in (pam.client, c2):
                    sends.append(c.send("z1", m.CustomerConnected(job_id="J", call_id=cid,
                                                                  customer={}),
                                        timeout=60))
            replies = await asyncio.gather(*sends)
        fenced = rival.workers["z1"].fenced + pam.services[0].workers["z1"].fenced
        await rival.stop()
    finally:
        rabbitmqctl("delete_vhost", other_vhost)
    accepted = [r for r in replies if isinstance(r, m.Accepted)]
    assert fenced >= 1  # the instances really raced: one had a batch refused
    # no call accepted twice, no agent given two calls, at most one call per agent
    per_call = Counter(r.agent.session_id for r in accepted if r.agent)
    assert all(n == 1 for n in per_call.values()), per_call
    chosen = [r.agent_id for r in accepted]
    assert len(chosen) == len(set(chosen)) == len(agents)
    # Redis agrees: the call index and the agents' records tell the same story
    calls_raw = await pam.redis.hgetall(f"{pam.prefix}:{{z1}}:calls")
    owners = {str(k, "utf-8") if isinstance(k, bytes) else k:
              str(v, "utf-8") if isinstance(v, bytes) else v for k, v in calls_raw.items()}
    assert len(set(owners.values())) == len(owners) == len(agents)
    for cid, aid in owners.items():
        raw = await pam.redis.hget(f"{pam.prefix}:{{z1}}:agents", aid)
        assert raw is not None
        a = msgspec.json.decode(raw, type=m.Agent)
        assert (a.session_id, a.call_state) == (cid, "Talking")
