"""Each command applied once: redelivery after a crash, bad input, roles, routing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pam_protocol import messages as m
from pam_protocol.client import PamClient, ReplyTimeout, UnknownZone
from pam_service.auth import Policy
from tests.service.conftest import Pam, eventually


class Crash(Exception):
    pass


async def test_redelivery_after_commit_before_ack_applies_once_and_announces_once(
        pam: Pam) -> None:
    active = pam.services[0]
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
    v0 = (await pam.status("A")).version
    standby = await pam.start(instance="standby")
    worker = active.workers["z1"]

    async def die() -> None:
        # the process dies after the Redis write: its connection drops, nothing is acked
        worker.after_commit = None
        await active.conn.close()  # type: ignore[union-attr]
        raise Crash

    worker.after_commit = die
    mid = uuid.uuid4().hex
    reply = await pam.send(m.Ready(agent_id="A"), message_id=mid, timeout=30)
    assert isinstance(reply, m.Accepted) and reply.agent is not None
    assert reply.agent.version == v0 + 1
    assert standby.workers["z1"].active
    # exactly one state event for that Ready, published by the standby from the outbox
    ev = await pam.events.wait_for(m.AgentStateChanged, cause="Ready")
    assert isinstance(ev, m.AgentStateChanged) and ev.snapshot.version == v0 + 1
    # that change was never confirmed announced: A is in doubt (Unknown) until its
    # desktop resyncs (docs/deployment.md, "Agents in doubt"; tests/service/
    # test_failover_resync.py)
    unk = await pam.events.wait_for(m.AgentStateChanged)
    assert isinstance(unk, m.AgentStateChanged) and unk.cause == "MarkUnknown"
    assert unk.seq == ev.seq + 1 and unk.snapshot.version == v0 + 2
    await pam.no(m.NotReady(agent_id="A", reason_code=3), "Unavailable")
    assert (await pam.status("A")).agent_state.value == "NotReady"  # resynced
    await pam.ok(m.NotReady(agent_id="A", reason_code=3))
    nxt = await pam.events.wait_for(m.AgentStateChanged, cause="NotReady")
    assert isinstance(nxt, m.AgentStateChanged) and nxt.seq > unk.seq  # no repeat
    assert (await pam.status("A")).version == v0 + 4
    pam.services.remove(active)


async def test_resent_command_is_answered_from_the_cache_before_and_after_a_takeover(
        pam: Pam) -> None:
    active = pam.services[0]
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
    mid = uuid.uuid4().hex
    first = await pam.send(m.Ready(agent_id="A"), message_id=mid)
    assert isinstance(first, m.Accepted) and first.agent is not None
    # token 1: nobody held z1 before, every dedup key is this instance's own, so only
    # ids it committed are looked up in Redis (pam_service.dedup)
    assert active.workers["z1"].repeats.trusted_from <= time.monotonic()
    assert await pam.send(m.Ready(agent_id="A"), message_id=mid) == first
    standby = await pam.start(instance="standby")
    await active.stop()
    pam.services.remove(active)
    # the new holder cannot know its predecessor's ids: it asks Redis for every one
    assert await pam.send(m.Ready(agent_id="A"), message_id=mid, timeout=30) == first
    assert standby.workers["z1"].repeats.trusted_from > time.monotonic()
    status = await pam.status("A")
    assert status.agent_state.value == "Ready" and status.version == first.agent.version


HAND_PICKED: list[bytes] = [
    b"", b"null", b"[]", b"42", b'"Ready"', b"{", b"\xff\xfe", b'{"type": 7}',
    b'{"type": "Ready", "agent_id": 7}', b'{"type": "Ready", "agent_id": ""}',
    b'{"type": "NotReady", "agent_id": "A"}',
    b'{"type": "NotReady", "agent_id": "A", "reason_code": -1}',
    b'{"type": "Login", "agent_id": "A"}',
    b'{"type": "Consult", "agent_id": "A", "target_agent_id": []}',
    b'{"agent_id": "A"}', b'{"type": "Nope"}', b"x" * 70_000,
    json.dumps({"type": "Ready", "agent_id": "A" * 500}).encode(),
]

junk = st.one_of(
    st.binary(max_size=200),
    st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=8)),
                    max_size=4).map(lambda d: json.dumps(d).encode()),
    st.fixed_dictionaries({"type": st.sampled_from(sorted(m.COMMAND_NAMES))},
                          optional={"agent_id": st.one_of(st.integers(), st.none(), st.just([]))}
                          ).map(lambda d: json.dumps(d).encode()),
)


def is_valid(body: bytes) -> bool:
    try:
        m.command_decoder.decode(body)
    except Exception:
        return False
    return True


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(generated=st.lists(junk, min_size=150, max_size=150, unique=True))
async def test_bad_input_storm_changes_nothing_and_valid_commands_take_effect(
        pam: Pam, generated: list[bytes]) -> None:
    login = m.encoder.encode(m.Login(agent_id="zz", zone="z1", extension="1",
                                     skills=[m.Skill(name="s", level=1)], time_zone="UTC",
                                     locale="en_US"))
    truncated = [login[:i] for i in range(1, len(login))]  # every cut of a valid command
    retyped = [login.replace(b'"zone":"z1"', b'"zone":%d' % i) for i in range(200)]
    bad = [b for b in HAND_PICKED + generated + truncated + retyped if not is_valid(b)]
    assert len(bad) >= 500
    dead = await pam.client.channel.declare_queue("pam.dead", durable=True,
                                                  arguments={"x-queue-type": "quorum"})
    agents: list[str] = []
    replies: list[asyncio.Task[m.AnyReply]] = []
    unanswered: set[str] = set()
    for i, body in enumerate(bad):
        if i % 2:  # half with reply_to, half dead-lettered
            replies.append(asyncio.create_task(pam.client.send_raw("z1", body, timeout=60)))
        else:
            unanswered.add(await pam.client.publish("z1", body))
        if i % 25 == 0:
            aid = f"a{i}"
            agents.append(aid)
            replies.append(asyncio.create_task(pam.client.send(
                "z1", m.Login(agent_id=aid, zone="z1", extension="1", skills=[],
                              time_zone="UTC", locale="en_US"), timeout=60)))
    results = await asyncio.gather(*replies)
    rejected = [r for r in results if isinstance(r, m.Rejected)]
    assert all(r.code in ("BadRequest", "UnknownCommand") for r in rejected), rejected[:3]
    assert len([r for r in results if isinstance(r, m.Accepted)]) == len(agents)
    seen: set[str] = set()
    async with dead.iterator(timeout=30) as it:
        async for msg in it:
            await msg.ack()
            assert (msg.headers or {}).get("x-pam-reason")
            seen.add(msg.message_id or "")
            if unanswered <= seen:
                break
    assert unanswered <= seen
    for aid in agents:  # every valid command took effect, the service still answers
        assert (await pam.status(aid)).agent_state == "NotReady"


async def test_command_for_an_unserved_zone_raises_unknown_zone(pam: Pam) -> None:
    with pytest.raises(UnknownZone):
        await pam.send(m.Ready(agent_id="A"), zone="nowhere")


async def test_role_outside_its_commands_is_unauthorized_and_changes_nothing(
        pam: Pam, tmp_path: Path) -> None:
    roles = tmp_path / "roles.toml"
    roles.write_text('[users.guest]\nrole = "blender"\n')
    for svc in pam.services:
        svc.settings.policy = Policy.load(roles)
    r = await pam.send(m.Login(agent_id="A", zone="z1", extension="1", skills=[],
                               time_zone="UTC", locale="en_US"))
    assert isinstance(r, m.Rejected) and r.code == "Unauthorized" and "blender" in r.message
    r = await pam.send(m.GetZoneStatus(zone="z1"))
    assert isinstance(r, m.Accepted) and r.agents == []


def test_agent_role_may_command_only_its_own_agent(tmp_path: Path) -> None:
    roles = tmp_path / "roles.toml"
    roles.write_text('[users.desk1]\nrole = "agent"\nagents = ["a1"]\n')
    p = Policy.load(roles)
    assert p.check("desk1", m.Ready(agent_id="a1")) is None
    assert "only agents" in (p.check("desk1", m.Ready(agent_id="a2")) or "")
    assert p.check("desk1", m.JobEnded(job_id="J")) is not None
    assert p.check(None, m.Ready(agent_id="a1")) is not None
    assert Policy.development_default().check("guest", m.JobEnded(job_id="J")) is None


async def test_client_connects_with_the_url_user_as_user_id(pam: Pam) -> None:
    async with await PamClient.connect(pam.amqp_url) as c:
        assert c.user_id == "guest"


async def test_a_batch_holding_one_message_id_twice_is_checked_once_per_delivery() -> None:
    """Regression: the same command delivered twice in one batch (a client re-sending
    during a failover) once made the dedup metrics go negative and failed the batch."""
    from types import SimpleNamespace
    from typing import cast

    from aio_pika.abc import AbstractIncomingMessage
    from prometheus_client import REGISTRY

    from pam_service.batch import Item
    from pam_service.service import PamService, Settings

    svc = PamService(Settings(zones=["zdup"], key_prefix=f"pamtest-{uuid.uuid4().hex[:10]}"))
    w = svc.workers["zdup"]

    def delivery(mid: str) -> AbstractIncomingMessage:
        return cast(AbstractIncomingMessage, SimpleNamespace(message_id=mid, redelivered=False))

    ready = m.Ready(agent_id="A")
    def counts() -> dict[str, float]:
        return {how: REGISTRY.get_sample_value(
            "pam_dedup_ids_total", {"zone": "zdup", "how": how}) or 0.0
            for how in ("ahead", "known_new", "lookup")}

    before = counts()
    # looked up with the previous commit: both deliveries are answered from that lookup
    w.repeats.looked = {"m1": None}
    items = [Item(delivery("m1"), 0.0, cmd=ready), Item(delivery("m1"), 0.0, cmd=ready)]
    assert await w.repeats.seen(items, w.store.seen) == {"m1": None}
    # known new to an instance that trusts its record of committed ids: no lookup either
    w.repeats.trusted_from = 0.0
    items = [Item(delivery("m2"), 0.0, cmd=ready), Item(delivery("m2"), 0.0, cmd=ready)]
    assert await w.repeats.seen(items, w.store.seen) == {"m2": None}
    after = counts()
    assert after["ahead"] - before["ahead"] == 2
    assert after["known_new"] - before["known_new"] == 2
    assert after["lookup"] == before["lookup"]
    await svc.redis.aclose()


async def test_a_command_that_expires_waiting_in_pams_prefetch_is_dead_lettered_not_applied(
        pam: Pam) -> None:
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
    dead = await pam.client.channel.declare_queue("pam.dead", durable=True,
                                                  arguments={"x-queue-type": "quorum"})
    worker = pam.services[0].workers["z1"]
    held, gate = asyncio.Event(), asyncio.Event()

    async def hold() -> None:  # the batch loop stalls after a commit (as in a Redis outage)
        worker.after_commit = None
        held.set()
        await gate.wait()

    worker.after_commit = hold
    first = asyncio.create_task(pam.send(m.GetAgentStatus(agent_id="A")))
    await held.wait()
    late = asyncio.create_task(
        pam.client.send("z1", m.Ready(agent_id="A"), expiration=0.2, timeout=3))
    await eventually(lambda: worker.deadlines)  # delivered to PAM, waiting
    deadline = max(worker.deadlines.values())
    await eventually(lambda: time.monotonic() > deadline)
    gate.set()
    await first
    with pytest.raises(ReplyTimeout):
        await late
    async with dead.iterator(timeout=10) as it:
        async for msg in it:
            await msg.ack()
            reason = str((msg.headers or {}).get("x-pam-reason"))
            if reason.startswith("Expired"):
                break
    assert "expiration" in reason
    assert (await pam.status("A")).agent_state == "NotReady"  # never applied late
    assert not worker.deadlines



async def test_an_expiration_counts_from_the_senders_timestamp_when_it_has_one(
        pam: Pam) -> None:
    """A command stamped long ago reaches PAM within its expiration as the broker counts
    it (from when it was queued): PAM counts from the stamp, and does not apply it."""
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
    dead = await pam.client.channel.declare_queue("pam.dead", durable=True,
                                                  arguments={"x-queue-type": "quorum"})
    stamped = datetime.now(UTC) - timedelta(seconds=60)
    mid = uuid.uuid4().hex
    await pam.client.commands.publish(aio_pika.Message(
        m.encoder.encode(m.Ready(agent_id="A")), message_id=mid, expiration=5,
        timestamp=stamped, content_type="application/json", user_id=pam.client.user_id),
        routing_key="z1", mandatory=True)
    async with dead.iterator(timeout=10) as it:
        async for msg in it:
            await msg.ack()
            if msg.message_id == mid:
                break
    assert str((msg.headers or {}).get("x-pam-reason")).startswith("Expired")
    assert (await pam.status("A")).agent_state == "NotReady"
    # stamped now (PamClient stamps a command it gives an expiration), it is applied
    r = await pam.client.send("z1", m.Ready(agent_id="A"), expiration=5)
    assert isinstance(r, m.Accepted) and r.agent is not None
    assert r.agent.agent_state == "Ready"


async def test_force_commands_are_for_supervisors_only(pam: Pam, tmp_path: Path) -> None:
    roles = tmp_path / "roles.toml"
    roles.write_text('[users.guest]\nrole = "agent"\nagents = ["A"]\n')
    for svc in pam.services:
        svc.settings.policy = Policy.load(roles)
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
    for cmd in (m.ForceLogout(agent_id="A"), m.ForceNotReady(agent_id="A", reason_code=1)):
        r = await pam.send(cmd)
        assert isinstance(r, m.Rejected) and r.code == "Unauthorized", r
    assert (await pam.status("A")).agent_state == "NotReady"
