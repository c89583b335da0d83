"""The simulated desktops across a takeover that finds agents in doubt: they resync
(GetAgentStatus / SaveAgentForHA, on POMAvailable or on being told they are Unknown)
and carry on; the run stays free of errors and violations."""

from __future__ import annotations

import asyncio

from pam_loadtest.config import Demand, Desktop, Scenario
from pam_loadtest.sim import LoadTest
from pam_protocol import messages as m
from tests.service.conftest import Pam, eventually


class Crash(Exception):
    pass


async def test_desktops_resync_after_a_takeover_with_agents_in_doubt(pam: Pam) -> None:
    active = pam.services[0]
    standby = await pam.start(instance="standby")
    worker = active.workers["z1"]
    crashed = asyncio.Event()

    async def die() -> None:
        # once the load is under way, the active instance dies right after a commit:
        # that batch's agents are in doubt for the standby
        if asyncio.get_running_loop().time() < start + 4:
            return
        if not any(rk.endswith(".state") for _, rk, _ in await worker.store.outbox()):
            return  # this batch changed no agent: wait for one that did
        worker.after_commit = None
        crashed.set()
        await active.conn.close()  # type: ignore[union-attr]
        raise Crash

    start = asyncio.get_running_loop().time()
    worker.after_commit = die
    sc = Scenario(agents=24, zones=["z1"], duration_s=10, amqp_url=pam.amqp_url, drain_s=8,
                  reply_timeout_s=5, demand=Demand(enabled=False),
                  desktop=Desktop(login_spread_s=1, logout_spread_s=3, consult_share=0.2,
                                  hold_share=0.3, break_per_min=6))
    lt = LoadTest(sc)
    summary = await lt.run()
    assert crashed.is_set() and standby.workers["z1"].active
    pam.services.remove(active)
    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["violations"] == 0, summary["violation_details"]
    assert summary["resyncs"] > 0
    marked = {e.snapshot.agent_id for e in await _state_events(pam)
              if e.cause == "MarkUnknown"}
    assert marked, "the takeover found no agent in doubt"

    # nobody is left Unknown: every agent in doubt was resynced by its desktop
    async def settled() -> bool:
        r = await pam.ok(m.GetZoneStatus(zone="z1"))
        return not any(a.agent_state.value == "Unknown" for a in r.agents or [])
    await eventually(settled, 10)


async def _state_events(pam: Pam) -> list[m.AgentStateChanged]:
    out: list[m.AgentStateChanged] = []
    while True:
        try:
            _, ev = await pam.events.next(0.2)
        except TimeoutError:
            return out
        if isinstance(ev, m.AgentStateChanged):
            out.append(ev)
