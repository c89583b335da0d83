"""SupervisorClient on the wire, and the pure parts: explanations and views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import aio_pika
import msgspec
import pytest

from pam_protocol import messages as m
from supervisor_api.client import SupervisorClient
from supervisor_api.errors import EXPLANATIONS, CommandRejected, explain
from supervisor_api.views import LiveAgents, duration, move_outcome, release_outcome
from tests.service.conftest import Pam

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def snap(aid: str, version: int = 1, **fields: Any) -> m.AgentSnapshot:
    doc: dict[str, Any] = dict(agent_id=aid, zone="z1", agent_state="Ready", call_state="Idle",
                               job_state="JobAttached", job_id="J", version=version,
                               since=NOW - timedelta(seconds=75))
    doc.update(fields)
    return msgspec.convert(doc, m.AgentSnapshot)


def test_every_rejected_code_has_a_sentence_and_a_hint() -> None:
    assert set(EXPLANATIONS) == set(get_args(m.RejectCode))
    for code in get_args(m.RejectCode):
        sentence, hint = explain(m.Rejected(code=code, message="why.", alarm="P_X"),
                                 action="the release", zone="z1", agent="A", user="sup")
        assert "why" in sentence and "{" not in sentence + hint and hint


def test_ignored_names_the_alarm_it_raised() -> None:
    r = m.Rejected(code="Ignored", message="the agent has a pending callback or consult",
                   alarm="P_POMAGT50")
    e = CommandRejected(r, action="the release", zone="z1", agent="B")
    assert e.sentence == ("PAM ignored the release: the agent has a pending callback or "
                          "consult; alarm P_POMAGT50 was raised")
    assert str(e).startswith(e.sentence) and "What to do:" in str(e)


def test_views_format_times_and_outcomes() -> None:
    assert [duration(s) for s in (5, 75, 3725)] == ["5s", "1m 15s", "1h 02m"]
    assert "now JobInbound" in release_outcome(snap("A", job_state="JobInbound", job_id=None))
    busy = snap("A", agent_state="Busy", call_state="Talking",
                job_state="PendingManualJobMovement", next_job_id="K")
    assert "when its current work ends" in move_outcome(busy, "K")


def test_live_view_keeps_the_newest_version_and_drops_logged_out_agents() -> None:
    view = LiveAgents("z1", [snap("A", 3), snap("B", 1)], clock=lambda: NOW)
    assert not view.apply(m.AgentStateChanged(snapshot=snap("A", 2, agent_state="NotReady"),
                                              previous=None, cause="NotReady"))
    assert view.apply(m.AgentStateChanged(snapshot=snap("A", 4, agent_state="NotReady"),
                                          previous=None, cause="NotReady"))
    assert view.apply(m.AgentStateChanged(snapshot=snap("B", 2, agent_state="Logout"),
                                          previous=None, cause="Logout"))
    assert set(view.agents) == {"A"} and view.agents["A"].agent_state == "NotReady"


async def test_client_lists_agents_and_watch_yields_state_changes_and_alarms_once(
        pam: Pam) -> None:
    async with await SupervisorClient.connect(pam.amqp_url) as sup, \
            sup.watch("z1") as watch:
        assert await sup.zone_agents("z1") == []
        await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                             locale="en_US"))
        (a,) = await sup.zone_agents("z1")
        assert a.agent_id == "A"
        first = await anext(watch)
        assert isinstance(first, m.AgentStateChanged) and first.cause == "Login"
        # a redelivered event (same seq) is dropped
        conn = await aio_pika.connect(pam.amqp_url)
        async with conn:
            ch = await conn.channel()
            ex = await ch.get_exchange("pam.events")
            await ex.publish(aio_pika.Message(m.encoder.encode(first)),
                             routing_key="agent.z1.A.state")
        await pam.ok(m.NotReady(agent_id="A", reason_code=2, walkaway=True))
        got = [await anext(watch), await anext(watch)]
        kinds = sorted(type(ev).__name__ for ev in got)
        assert kinds == ["AgentStateChanged", "Alarm"], got
        state = next(ev for ev in got if isinstance(ev, m.AgentStateChanged))
        assert state.cause == "NotReady"
        alarm = next(ev for ev in got if isinstance(ev, m.Alarm))
        assert alarm.code == "P_POMAGT16"


async def test_client_raises_command_rejected_with_the_reply(pam: Pam) -> None:
    async with await SupervisorClient.connect(pam.amqp_url) as sup:
        with pytest.raises(CommandRejected) as e:
            await sup.release_from_outbound("z1", "ghost")
    assert e.value.code == "NotLoggedIn" and e.value.rejected.code == "NotLoggedIn"
