"""The batch step without a broker or Redis: every fate of a delivery (reply, repeat,
dead letter with its reason, a command that fails to apply) from plain objects, as h11
is tested without sockets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from dispatcher_rs import Allocator
from pam_protocol import decoding
from pam_protocol import messages as m
from pam_protocol.messages import Agent, JobTask
from pam_service import batch as bs
from pam_service import fate
from pam_service.auth import Policy
from pam_service.domain import machine as sm
from pam_service.domain.zone import Zone
from pam_service.pool import RustPool
from pam_service.store import Committed

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@dataclass
class Msg:
    """A delivery as the batch step reads it (what an aio-pika IncomingMessage has)."""

    body: bytes
    message_id: str | None = "m1"
    reply_to: str | None = "replies"
    correlation_id: str | None = None
    user_id: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    routing_key: str | None = "z1"
    content_type: str | None = "application/json"
    expiration: Any = None
    redelivered: bool | None = False


def login(aid: str) -> bytes:
    return m.encoder.encode(m.Login(agent_id=aid, zone="z1", extension="1", skills=[],
                                    time_zone="UTC", locale="en_US"))


def run(zone: Zone, msgs: list[Msg], cached: dict[str, bytes | None] | None = None,
        policy: Policy | None = None, failed: dict[int, bs.CommandFailed] | None = None,
        deadlines: dict[int, float] | None = None) -> tuple[list[bs.Item], bs.Plan]:
    items = [bs.validate(msg, 0.0, failed or {}, decoding.MAX_COMMAND_BODY) for msg in msgs]
    bs.expire(items, deadlines or {}, 1.0)
    plan = bs.plan(zone, items, cached or {}, policy or Policy.development_default(),
                   sm.Context(zone="z1", now=NOW), trim=[])
    return items, plan


def wire(items: list[bs.Item], plan: bs.Plan) -> list[tuple[str, str, Any, bytes]]:
    entries = [(f"1-{i}", i + 1) for i in range(len(plan.batch.events))]
    return bs.outgoing(items, plan.batch, Committed(entries=entries))


def replies(out: list[tuple[str, str, Any, bytes]]) -> list[m.AnyReply]:
    return [m.reply_decoder.decode(body) for ex, _, _, body in out if ex == ""]


def dead(out: list[tuple[str, str, Any, bytes]]) -> list[str]:
    return [props.headers["x-pam-reason"] for ex, _, props, _ in out if ex == "pam.dlx"]


def test_a_new_command_is_applied_answered_and_announced() -> None:
    zone = Zone("z1", None, Allocator)
    items, plan = run(zone, [Msg(login("A"))])
    assert plan.applied == 1 and plan.writes
    assert [mid for mid, _ in plan.batch.dedup] == ["m1"]
    out = wire(items, plan)
    [r] = replies(out)
    assert isinstance(r, m.Accepted) and r.agent is not None
    assert any(ex == "pam.events" and rk == "agent.z1.A.state" for ex, rk, _, _ in out)
    assert dead(out) == []
    assert zone.agents["A"].agent_state == "NotReady"


def test_a_repeat_gets_its_cached_reply_and_changes_nothing() -> None:
    zone = Zone("z1", None, Allocator)
    cached_reply = m.encoder.encode(m.Accepted(agent_id="earlier"))
    items, plan = run(zone, [Msg(login("A"))], cached={"m1": cached_reply})
    assert plan.applied == 0 and not plan.writes and "A" not in zone.agents
    assert items[0].duplicate and items[0].reply == cached_reply
    assert plan.results == [("Login", "duplicate")]


def test_the_same_message_id_twice_in_one_batch_is_applied_once() -> None:
    zone = Zone("z1", None, Allocator)
    items, plan = run(zone, [Msg(login("A")), Msg(login("A"))])
    assert plan.applied == 1 and items[1].duplicate and items[1].reply == items[0].reply


@pytest.mark.parametrize(("body", "code"), [
    (b'{"type":"Ready","agent_id":"x","d":' + b"[" * 40 + b"]" * 40 + b"}", "BadRequest"),
    (b'{"type":"Nope","agent_id":"A"}', "UnknownCommand"),
    (b"\xff", "BadRequest"),
])
def test_bad_input_is_answered_with_reply_to_and_dead_lettered_without(
        body: bytes, code: str) -> None:
    zone = Zone("z1", None, Allocator)
    items, plan = run(zone, [Msg(body), Msg(body, message_id="m2", reply_to=None)])
    assert plan.applied == 0 and not plan.writes
    out = wire(items, plan)
    [r] = replies(out)
    assert isinstance(r, m.Rejected) and r.code == code
    [reason] = dead(out)
    assert reason.startswith(f"{code}: ")


def test_no_message_id_is_bad_request() -> None:
    items, _ = run(Zone("z1", None, Allocator), [Msg(login("A"), message_id=None)])
    assert items[0].reject is not None and "message_id" in items[0].reject.message


def test_unauthorized_is_answered_and_remembered(tmp_path: Any) -> None:
    roles = tmp_path / "roles.toml"
    roles.write_text('[users.bl]\nrole = "blender"\n')
    zone = Zone("z1", None, Allocator)
    items, plan = run(zone, [Msg(login("A"), user_id="bl")], policy=Policy.load(roles))
    [r] = replies(wire(items, plan))
    assert isinstance(r, m.Rejected) and r.code == "Unauthorized"
    assert "A" not in zone.agents and [mid for mid, _ in plan.batch.dedup] == ["m1"]


def test_a_quiet_rejection_without_reply_to_is_not_dead_lettered() -> None:
    zone = Zone("z1", None, Allocator)
    cc = m.encoder.encode(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    job = m.encoder.encode(m.JobStarted(
        job_id="J", action_name="a", zone="z1", campaign_type="progressive",
        required_skills=[], min_agents=0, max_agents=10, priority=1, licenses=10,
        completion_codes=[], default_completion_code="Done", wrapup_seconds=30,
        wrapup_extensions=0))
    items, plan = run(zone, [Msg(job, message_id="j"), Msg(cc, reply_to=None),
                             Msg(b'{"type":"Ready","agent_id":"nobody"}', message_id="r",
                                 reply_to=None)])
    reasons = dead(wire(items, plan))
    assert items[1].reject is not None and items[1].reject.code == "NoAgentAvailable"
    assert reasons == ["NotLoggedIn: " + items[2].reject.message]  # type: ignore[union-attr]


def test_an_expired_command_is_not_applied_and_dead_lettered() -> None:
    zone = Zone("z1", None, Allocator)
    msg = Msg(login("A"), expiration=1)
    items, plan = run(zone, [msg], deadlines={id(msg): 0.5})
    assert items[0].expired and plan.applied == 0 and "A" not in zone.agents
    out = wire(items, plan)
    assert replies(out) == [] and dead(out)[0].startswith("Expired: ")


class FailingPool(RustPool):
    def sync(self, agent: Agent, job: JobTask | None) -> None:
        if agent.agent_id == "boom":
            raise RuntimeError("injected fault")
        super().sync(agent, job)


def test_a_command_that_fails_to_apply_is_refused_on_the_next_try_and_dead_lettered() -> None:
    zone = Zone("z1", FailingPool(), Allocator)
    msgs = [Msg(login("A")), Msg(login("boom"), message_id="m2")]
    with pytest.raises(bs.CommandFailed) as e:
        run(zone, msgs)
    assert e.value.msg is msgs[1]
    assert fate.of_error(e.value, 0, 20) is fate.Fate.DEAD_LETTER
    # the worker reloads the zone and tries the batch again, the failed command refused
    zone = Zone("z1", FailingPool(), Allocator)
    items, plan = run(zone, msgs, failed={id(msgs[1]): e.value})
    assert plan.applied == 1 and "boom" not in zone.agents
    out = wire(items, plan)
    r = replies(out)[1]
    assert isinstance(r, m.Rejected) and r.code == "BadRequest" and "internal error" in r.message
    assert dead(out) == ["ApplyFailed: RuntimeError: injected fault"]  # with reply_to too


def test_failures_other_than_poison_are_retried_then_requeued() -> None:
    assert fate.of_error(RedisConnectionError("gone"), 0, 3) is fate.Fate.RETRY
    assert fate.of_error(RedisConnectionError("gone"), 2, 3) is fate.Fate.REQUEUE
    assert fate.of_error(ValueError("bug"), 0, 3) is fate.Fate.RETRY
    assert fate.of_error(OSError("db away"), 10_000, None) is fate.Fate.RETRY
    assert fate.of_error(decoding.BadInput("BadRequest", "x"), 0, None) is fate.Fate.DEAD_LETTER
    assert fate.is_retryable(RedisConnectionError("gone"))
    assert not fate.is_retryable(ValueError("bug"))
