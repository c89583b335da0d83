"""CallNotConnected: a contact that finds no agent is announced on the job's key, with
the job's seq, though nothing else changes (the Campaign Detail report counts it)."""

from __future__ import annotations

from pam_protocol import messages as m
from tests.service.conftest import Pam
from tests.service.test_dispatch import PROGRESSIVE


async def test_customer_connected_without_agent_announces_call_not_connected(pam: Pam) -> None:
    await pam.ok(PROGRESSIVE)
    changed = await pam.events.wait_for(m.JobChanged, job_id="J")
    r = await pam.send(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    assert isinstance(r, m.Rejected) and r.code == "NoAgentAvailable"
    while True:  # the routing key is the job's; the seq is the job's next one
        key, ev = await pam.events.next(10.0)
        if isinstance(ev, m.CallNotConnected):
            break
    assert key == "job.z1.J"
    assert (ev.job_id, ev.call_id, ev.kind, ev.zone) == ("J", "c1", "connect", "z1")
    assert ev.seq == changed.seq + 1
    # a preview contact without an agent too
    r = await pam.send(m.PreviewContactReady(job_id="J", contact_id="p1", customer={}))
    assert isinstance(r, m.Rejected) and r.code == "NoAgentAvailable"
    ev2 = await pam.events.wait_for(m.CallNotConnected, call_id="p1")
    assert isinstance(ev2, m.CallNotConnected) and ev2.kind == "preview"
    assert ev2.seq == ev.seq + 1 and ev2.at >= ev.at
