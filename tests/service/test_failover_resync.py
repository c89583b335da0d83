"""Agents in doubt at a takeover (docs/deployment.md, "Agents in doubt"): the active
instance dies between its Redis commit and the broker's confirms; the standby finds
those agents' changes in the outbox, marks them Unknown, rejects their commands
Unavailable until GetAgentStatus / SaveAgentForHA resyncs them, and resolves an agent
whose desktop never resyncs after ``resync_timeout_s``."""

from __future__ import annotations

import asyncio

from pam_protocol import messages as m
from tests.service.conftest import Pam, eventually
from tests.service.test_dispatch import PROGRESSIVE, staff


class Crash(Exception):
    pass


class States:
    """Every AgentStateChanged of the run, read off the event stream as it comes."""

    def __init__(self, pam: Pam) -> None:
        self.pam = pam
        self.seen: list[m.AgentStateChanged] = []
        self.others: list[m.Event] = []

    async def pump(self) -> None:
        while True:
            try:
                _, ev = await self.pam.events.next(0.05)
            except TimeoutError:
                return
            if isinstance(ev, m.AgentStateChanged):
                self.seen.append(ev)
            else:
                self.others.append(ev)

    def causes(self, aid: str) -> list[str]:
        return [e.cause for e in self.seen if e.snapshot.agent_id == aid]

    async def until(self, aid: str, step: str, timeout: float = 15.0) -> m.AgentStateChanged:
        async def found() -> m.AgentStateChanged | None:
            await self.pump()
            return next((e for e in self.seen if e.snapshot.agent_id == aid
                         and e.step == step), None)
        got = await eventually(found, timeout)
        assert isinstance(got, m.AgentStateChanged)
        return got


async def test_takeover_marks_agents_in_doubt_unknown_until_their_desktops_resync(
        pam: Pam) -> None:
    active = pam.services[0]
    for aid in "ABCD":
        await pam.ok(m.Login(agent_id=aid, zone="z1", extension=aid, skills=[], time_zone="UTC",
                             locale="en_US"))
    await pam.ok(m.Ready(agent_id="C"))  # confirmed long before the crash: not in doubt
    standby = await pam.start(instance="standby", resync_timeout_s=3.0)
    worker = active.workers["z1"]
    gate = asyncio.Event()
    commits = 0

    async def hook() -> None:
        nonlocal commits
        commits += 1
        if commits == 1:  # hold the batch loop so the next commands make one batch
            await gate.wait()
            return
        # the process dies after the Redis write: no publish, no confirm, no ack
        worker.after_commit = None
        await active.conn.close()  # type: ignore[union-attr]
        raise Crash

    worker.after_commit = hook
    first = asyncio.create_task(pam.send(m.GetAgentStatus(agent_id="C"), timeout=30))
    await eventually(lambda: commits == 1)
    sent = [asyncio.create_task(pam.send(m.Ready(agent_id=aid), timeout=30)) for aid in "ABD"]
    await eventually(lambda: worker.inbox.qsize() >= 3)
    gate.set()
    await first
    # answered by the standby from the dedup records: the changes were committed
    for r in await asyncio.gather(*sent):
        assert isinstance(r, m.Accepted) and r.agent is not None, r
        assert r.agent.agent_state.value == "Ready"
    assert standby.workers["z1"].active
    pam.services.remove(active)

    st = States(pam)
    for aid in "ABD":
        ev = await st.until(aid, "MarkUnknown")
        assert ev.snapshot.agent_state.value == "Unknown"
        assert ev.previous is not None and ev.previous.agent_state.value == "Ready"
    # the Ready events were announced (from the outbox) before the agents went Unknown
    assert st.causes("A")[-2:] == ["Ready", "MarkUnknown"]
    assert "MarkUnknown" not in st.causes("C")
    assert (await pam.states("C"))[0] == "Ready"

    # in doubt: out of the pool, every state-changing command of its desktop refused
    for cmd in (m.NotReady(agent_id="A", reason_code=2), m.Ready(agent_id="A"),
                m.Logout(agent_id="A"), m.NotReady(agent_id="B", reason_code=1)):
        r = await pam.no(cmd, "Unavailable")
        assert "GetAgentStatus" in r.message
        assert r.agent is not None and r.agent.agent_state.value == "Unknown"

    # GetAgentStatus resyncs A: idle, so NotReady (no call until it says Ready)
    r = await pam.ok(m.GetAgentStatus(agent_id="A"))
    assert r.agent is not None and r.agent.agent_state.value == "NotReady"
    resolved = await st.until("A", "ResolveUnknown")
    assert resolved.snapshot == r.agent and resolved.cause == "GetAgentStatus"
    await pam.ok(m.Ready(agent_id="A"))

    # SaveAgentForHA resyncs B and keeps its data
    r = await pam.ok(m.SaveAgentForHA(agent_id="B", data={"screen": "wrapup-form"}))
    assert r.agent is not None and r.agent.agent_state.value == "NotReady"
    assert r.agent.ha_data == {"screen": "wrapup-form"}
    await st.until("B", "ResolveUnknown")
    await pam.ok(m.NotReady(agent_id="B", reason_code=1))

    # D's desktop never resyncs: PAM resolves it after resync_timeout_s
    ev = await st.until("D", "ResolveUnknown", timeout=20)
    assert ev.snapshot.agent_state.value == "NotReady" and ev.cause == "ResolveUnknown"
    assert (await pam.states("D"))[0] == "NotReady"
    # every logged-in agent was told the zone is served again
    assert {e.agent_id for e in st.others if isinstance(e, m.POMAvailable)} >= set("ABCD")


async def test_a_quiet_zone_trims_its_outbox_so_a_crash_leaves_nobody_in_doubt(
        pam: Pam) -> None:
    active = pam.services[0]
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A"])  # its last command changes A: JobAttached
    store = active.workers["z1"].store

    async def trimmed() -> bool:
        return await store.r.xlen(store.k_outbox) == 0

    # no further command comes: the confirmed entries go without waiting for one
    await eventually(trimmed)
    standby = await pam.start(instance="standby")
    await active.conn.close()  # type: ignore[union-attr]  # dies, with no graceful stop
    pam.services.remove(active)
    r = await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    assert standby.workers["z1"].active
    assert r.agent_id == "A"  # not in doubt: still Ready and in the pool
    st = States(pam)
    await st.pump()
    assert "MarkUnknown" not in st.causes("A")
