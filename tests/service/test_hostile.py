"""Hostile input on the wire (PROTOCOL.md v1.1 input rules): every message answered once
with a contract code or dead-lettered with its reason, the zone answering the next valid
command at once, nothing changed."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import msgspec
import pytest
from aio_pika.abc import AbstractQueue

from pam_protocol import messages as m
from pam_protocol.examples import example, hostile_bodies
from pam_protocol.messages import Agent, JobTask
from pam_service.pool import RustPool
from tests.service.conftest import Pam

DEEP = b'{"type":"Ready","agent_id":"x","deep":' + b"[" * 5000 + b"]" * 5000 + b"}"
CODES = {"BadRequest", "UnknownCommand"}


def login(aid: str, **kw: Any) -> m.Login:
    return m.Login(agent_id=aid, zone="z1", extension="1", skills=[], time_zone="UTC",
                   locale="en_US", **kw)


async def zone_state(pam: Pam) -> bytes:
    """Every agent and job of the zone, versions included."""
    r = await pam.ok(m.GetZoneStatus(zone="z1"))
    return m.encoder.encode((r.agents, r.jobs))


@pytest.fixture
async def dead(pam: Pam) -> AsyncIterator[AbstractQueue]:
    q = await pam.client.channel.declare_queue("pam.dead", durable=True,
                                               arguments={"x-queue-type": "quorum"})
    yield q


async def dead_letter(q: AbstractQueue, message_id: str) -> aio_pika.abc.AbstractIncomingMessage:
    async with q.iterator(timeout=20) as it:
        async for msg in it:
            await msg.ack()
            if msg.message_id == message_id:
                return msg
    raise AssertionError(f"no dead letter for {message_id}")


async def test_deeply_nested_json_is_bad_request_and_the_zone_answers_at_once(pam: Pam) -> None:
    await pam.ok(login("A"))
    before = await zone_state(pam)
    r = await pam.client.send_raw("z1", DEEP, timeout=10)
    assert isinstance(r, m.Rejected) and r.code == "BadRequest" and "deeper than 32" in r.message
    # the zone was not held up: the next command is answered (no retry loop in between)
    await pam.ok(m.GetAgentStatus(agent_id="A"))
    assert await zone_state(pam) == before


async def test_deeply_nested_json_without_reply_to_is_dead_lettered_with_its_reason(
        pam: Pam, dead: AbstractQueue) -> None:
    mid = await pam.client.publish("z1", DEEP)
    msg = await dead_letter(dead, mid)
    assert "deeper than 32" in str((msg.headers or {})["x-pam-reason"])
    await pam.ok(login("A"))


async def test_invalid_utf8_in_an_ignored_field_is_bad_request_and_changes_nothing(
        pam: Pam) -> None:
    await pam.ok(login("A"))
    r = await pam.client.send_raw("z1", b'{"type":"GetAgentStatus","agent_id":"A","\xff":1}')
    assert isinstance(r, m.Rejected) and r.code == "BadRequest" and "UTF-8" in r.message
    body = m.encoder.encode(login("B"))[:-1] + b',"x":"\xff"}'
    r = await pam.client.send_raw("z1", body)
    assert isinstance(r, m.Rejected) and r.code == "BadRequest"
    r = await pam.send(m.GetAgentStatus(agent_id="B"))
    assert isinstance(r, m.Rejected) and r.code == "NotLoggedIn"  # B was never logged in


@pytest.mark.parametrize("body", [
    # a skill without its level
    b'{"type":"Login","agent_id":"B","zone":"z1","extension":"1","skills":[{"name":"s"}],'
    b'"time_zone":"UTC","locale":"en_US"}',
    # a Login without skills
    b'{"type":"Login","agent_id":"B","zone":"z1","extension":"1","time_zone":"UTC",'
    b'"locale":"en_US"}',
    # JobStarted without default_completion_code, then without min_agents
    json.dumps({k: v for k, v in msgspec.to_builtins(example("JobStarted")).items()
                if k != "default_completion_code"}).encode(),
    json.dumps({k: v for k, v in msgspec.to_builtins(example("JobStarted")).items()
                if k != "min_agents"}).encode(),
])
async def test_a_required_field_left_out_is_bad_request_never_a_default(
        pam: Pam, body: bytes) -> None:
    before = await zone_state(pam)
    r = await pam.client.send_raw("z1", body)
    assert isinstance(r, m.Rejected) and r.code == "BadRequest", r
    assert await zone_state(pam) == before


class FailingPool(RustPool):
    """The real pool, made to fail for one agent: a stand-in for a defect in applying a
    command (fault injection through the service's pool seam)."""

    def sync(self, agent: Agent, job: JobTask | None) -> None:
        if agent.agent_id == "boom":
            raise RuntimeError("injected fault")
        super().sync(agent, job)


async def test_a_command_that_fails_to_apply_is_rejected_dead_lettered_and_not_retried(
        pam: Pam, dead: AbstractQueue) -> None:
    for svc in pam.services:
        await svc.stop()
    pam.services.clear()
    await pam.start(pool_factory=lambda: FailingPool())
    await pam.ok(login("A"))
    # the poison command and a valid one, sent together: likely in one batch
    boom, other = await asyncio.gather(pam.send(login("boom")), pam.send(login("B")))
    assert isinstance(boom, m.Rejected) and boom.code == "BadRequest"
    assert "internal error" in boom.message
    assert isinstance(other, m.Accepted)
    r = await pam.send(m.GetAgentStatus(agent_id="boom"))
    assert isinstance(r, m.Rejected) and r.code == "NotLoggedIn"
    assert (await pam.status("A")).agent_state == "NotReady"  # the reload kept the rest
    async with dead.iterator(timeout=20) as it:
        async for msg in it:
            await msg.ack()
            if b'"boom"' in msg.body:
                assert "ApplyFailed: RuntimeError" in str((msg.headers or {})["x-pam-reason"])
                break


async def test_hostile_storm_each_answered_once_zone_unchanged_and_answering(pam: Pam) -> None:
    await pam.ok(login("A"))
    before = await zone_state(pam)
    bodies = hostile_bodies(random.Random(1404), 600)
    replies = await asyncio.gather(*(pam.client.send_raw("z1", b, timeout=60) for b in bodies))
    assert all(isinstance(r, m.Rejected) and r.code in CODES for r in replies), [
        r for r in replies if not (isinstance(r, m.Rejected) and r.code in CODES)][:3]
    await pam.ok(m.GetAgentStatus(agent_id="A"))
    assert await zone_state(pam) == before
