"""The blender against a running PAM: demand signals in, agents blended on the wire."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from bench.harness import Proxy, amqp_url, free_port, until
from blender.app import BlenderApp
from blender.config import BlenderConfig
from blender.policy import PolicyConfig
from pam_protocol import messages as m
from pam_protocol.acd import DemandPublisher, InboundDemand
from pam_protocol.client import DEFAULT_HEARTBEAT_S
from tests.ops import answers, heartbeats, http_get, says
from tests.service.conftest import Pam

JOB = m.JobStarted(job_id="J", action_name="call", zone="z1", campaign_type="progressive",
                   required_skills=["sales"], completion_codes=["Sale", "NoSale"],
                   default_completion_code="NoSale", min_agents=0, max_agents=1_000_000,
                   priority=1, licenses=1_000_000, wrapup_seconds=30, wrapup_extensions=0)
# every decision may act (no dwell, no step interval) and moves half the pool
FAST = BlenderConfig(policy=PolicyConfig(max_share=0.5, dwell_s=0, step_interval_s=0))


async def ready_on_job(pam: Pam, aid: str, level: int) -> None:
    await pam.ok(m.Login(agent_id=aid, zone="z1", extension="x" + aid,
                         skills=[m.Skill(name="sales", level=level)], time_zone="UTC",
                         locale="en_US"))
    await pam.ok(m.Ready(agent_id=aid))
    await pam.events.wait_for(m.NailAgent, agent_id=aid)
    await pam.ok(m.NailingEstablished(agent_id=aid))
    assert await pam.states(aid) == ("Ready", "Idle", "JobAttached")


def demand(waiting: int, sl: float) -> InboundDemand:
    return InboundDemand(zone="z1", waiting_calls=waiting, service_level=sl,
                         ts=datetime.now(UTC))


async def until_job_states(pam: Pam, want: dict[str, set[str]],
                           timeout: float = 10.0) -> dict[str, str]:
    """Follow AgentStateChanged events until each agent's job state is one it may be in."""
    latest: dict[str, tuple[int, str]] = {}
    for aid in want:
        a = await pam.status(aid)
        latest[aid] = (a.version, a.job_state)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not all(latest[a][1] in ok for a, ok in want.items()):
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"job states {latest} never became {want}")
        _, ev = await pam.events.next(left)
        if isinstance(ev, m.AgentStateChanged) and ev.snapshot.agent_id in latest:
            s = ev.snapshot
            if s.version > latest[s.agent_id][0]:
                latest[s.agent_id] = (s.version, s.job_state)
    return {a: js for a, (_, js) in latest.items()}


async def test_high_demand_blends_least_proficient_idle_agents_in_and_low_demand_back(
        pam: Pam, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pam.blender")
    await pam.ok(JOB)
    for aid, level in (("A", 2), ("B", 8), ("C", 5), ("D", 9)):
        await ready_on_job(pam, aid, level)
    async with BlenderApp(["z1"], pam.amqp_url, FAST) as app, \
            await DemandPublisher.connect(pam.amqp_url) as acd:
        assert set(app.agents["z1"]) == {"A", "B", "C", "D"}
        await acd.publish(demand(12, 0.55))
        # cap: half of the 4 outbound agents; the two least proficient go first
        await until_job_states(pam, {"A": {"JobInbound"}, "C": {"JobInbound"}})
        assert (await pam.states("B"))[2] == (await pam.states("D"))[2] == "JobAttached"
        r = await pam.send(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
        assert isinstance(r, m.Accepted) and r.agent_id in {"B", "D"}  # no outbound to A, C

        # back: half of the 2 blended agents per decision
        back = {"PendingJobAttach", "JobAttached", "JobDetached"}
        await acd.publish(demand(0, 0.99))
        await until_job_states(pam, {"A": back})
        await acd.publish(demand(0, 0.99))
        await until_job_states(pam, {"C": back})
    decisions = [r for r in caplog.records if r.getMessage() == "decision"]
    first = decisions[0].__dict__
    assert first["action"] == "inbound" and "waiting_calls 12 >= 5" in first["reason"]
    assert first["signal"]["waiting_calls"] == 12
    assert [mv["agent_id"] for mv in first["moves"]] == ["A", "C"]
    assert all(mv["result"] == "Accepted" for mv in first["moves"])
    assert [d.__dict__["action"] for d in decisions] == ["inbound", "outbound", "outbound"]


async def test_busy_agent_goes_pending_inbound_then_inbound_when_its_call_ends(
        pam: Pam) -> None:
    await pam.ok(JOB)
    await ready_on_job(pam, "A", 5)
    r = await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    assert r.agent_id == "A"
    async with BlenderApp(["z1"], pam.amqp_url, FAST), \
            await DemandPublisher.connect(pam.amqp_url) as acd:
        await acd.publish(demand(0, 0.40))  # service level alone is low
        await until_job_states(pam, {"A": {"PendingInbound"}})
        await pam.ok(m.CustomerDisconnected(call_id="c1"))
        await pam.ok(m.WrapupContact(agent_id="A", session_id="c1"))
        await until_job_states(pam, {"A": {"JobInbound"}})


async def test_blender_keeps_agents_current_from_events(pam: Pam) -> None:
    async with BlenderApp(["z1"], pam.amqp_url, FAST) as app:
        assert app.agents["z1"] == {}
        await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                             locale="en_US"))
        await pam.ok(m.Ready(agent_id="A"))
        want = await pam.status("A")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (got := app.agents["z1"].get("A")) is None or got.version < want.version:
            assert loop.time() < deadline, "the blender never saw A's state events"
            await pam.events.wait_for(m.AgentStateChanged, timeout=deadline - loop.time())
        assert got == want


async def test_pam_blender_process_logs_decisions_as_json_and_stops_on_sigterm(
        pam: Pam) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "blender", "--zones", "z1", "--amqp-url", pam.amqp_url,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    assert proc.stderr is not None
    logs: list[dict[str, object]] = []

    async def until_log(msg: str) -> dict[str, object]:
        assert proc.stderr is not None
        while True:
            line = await asyncio.wait_for(proc.stderr.readline(), 20)
            assert line, "pam-blender exited early: " + json.dumps(logs)[-2000:]
            if line.startswith(b"{"):
                logs.append(json.loads(line))
                if logs[-1]["msg"] == msg:
                    return logs[-1]

    try:
        started = await until_log("blender started")
        assert started["zones"] == ["z1"]
        async with await DemandPublisher.connect(pam.amqp_url) as acd:
            await acd.publish(demand(2, 0.85))
        d = await until_log("decision")
        assert (d["zone"], d["action"], d["moves"]) == ("z1", "hold", [])
        assert "hysteresis" in str(d["reason"])
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b'"stopping (signal)"' in err



async def test_pam_blender_healthz_and_readyz_follow_its_connection(pam: Pam) -> None:
    # the blender reaches RabbitMQ through a proxy that does not listen yet
    vhost = pam.amqp_url.rsplit("/", 1)[1]
    proxy, port = Proxy(), free_port()
    base = f"http://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "blender", "--zones", "z1", "--amqp-url",
        amqp_url(vhost, proxy.port), "--metrics-port", str(port), "--metrics-addr", "127.0.0.1",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    try:
        await until(lambda: asyncio.to_thread(answers, base + "/healthz"), 30, "/healthz")
        assert await asyncio.to_thread(http_get, base + "/healthz") == (200, "ok\n")
        await until(lambda: says(base + "/readyz", 503, "not started"), 30, "/readyz 503")
        await proxy.start()
        await until(lambda: says(base + "/readyz", 200, "ready"), 60, "/readyz 200")
        # its URL set no heartbeat: the blender asked for the short default
        assert set((await asyncio.to_thread(heartbeats, vhost)).values()) >= {
            DEFAULT_HEARTBEAT_S}
        await proxy.cut()  # the connection drops: alive, not ready
        await until(lambda: says(base + "/readyz", 503, "not connected to RabbitMQ"), 30,
                    "/readyz 503 again")
        assert await asyncio.to_thread(http_get, base + "/healthz") == (200, "ok\n")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        await proxy.close()
    assert proc.returncode == 0, err.decode()[-2000:]
