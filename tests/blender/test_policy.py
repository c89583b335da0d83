"""The blending policy, pure: thresholds with hysteresis, dwell, cap, order."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blender.policy import (
    Decision,
    LastMove,
    PolicyConfig,
    classify,
    decide,
    proficiency,
    side,
    step_cap,
)
from pam_protocol import messages as m
from pam_protocol.acd import InboundDemand

T0 = 1_800_000_000.0


def agent(aid: str, *, agent_state: str = "Ready", call_state: str = "Idle",
          job_state: str = "JobAttached", job_id: str | None = "J", level: int = 5,
          zone: str = "z1", since: float = T0, version: int = 1,
          skills: dict[str, int] | None = None) -> m.AgentSnapshot:
    doc: dict[str, Any] = dict(
        agent_id=aid, zone=zone, agent_state=agent_state, call_state=call_state,
        job_state=job_state, job_id=job_id, version=version,
        since=datetime.fromtimestamp(since, UTC),
        skills=[{"name": n, "level": lv} for n, lv in (skills or {"sales": level}).items()])
    return msgspec.convert(doc, m.AgentSnapshot)


def updated(a: m.AgentSnapshot, **fields: Any) -> m.AgentSnapshot:
    """The snapshot with some fields changed (state names as strings, as on the wire)."""
    return msgspec.convert({**msgspec.to_builtins(a), **fields}, m.AgentSnapshot)


def demand(waiting: int, sl: float = 0.95, oldest: float = 0.0, ts: float = T0,
           zone: str = "z1") -> InboundDemand:
    return InboundDemand(zone=zone, waiting_calls=waiting, service_level=sl,
                         oldest_wait_s=oldest, ts=datetime.fromtimestamp(ts, UTC))


HIGH = demand(10, sl=0.5)
LOW = demand(0, sl=0.99)


def ids(d: Decision) -> list[str]:
    return [mv.agent_id for mv in d.moves]


# ---- thresholds ----------------------------------------------------------

def test_defaults_leave_a_dead_band_between_high_and_low() -> None:
    cfg = PolicyConfig()
    assert cfg.low_waiting_calls < cfg.high_waiting_calls
    assert cfg.sl_low < cfg.sl_high
    assert classify(demand(cfg.high_waiting_calls), cfg)[0] == "inbound"
    assert classify(demand(cfg.high_waiting_calls - 1), cfg)[0] == "hold"
    assert classify(demand(cfg.low_waiting_calls), cfg)[0] == "outbound"
    assert classify(demand(cfg.low_waiting_calls + 1), cfg)[0] == "hold"


def test_each_high_condition_alone_moves_agents_to_inbound() -> None:
    agents = [agent(f"a{i}") for i in range(8)]
    for sig in (demand(5), demand(0, sl=0.7), demand(0, oldest=61)):
        d = decide(sig, agents, {}, T0)
        assert d.action == "inbound" and d.moves, sig
        assert all(mv.direction == "inbound" for mv in d.moves)


def test_low_needs_every_low_condition() -> None:
    blended = {f"a{i}": LastMove(T0 - 1000, "inbound") for i in range(4)}
    agents = [agent(f"a{i}", job_state="JobInbound", job_id=None) for i in range(4)]
    assert decide(demand(0, sl=0.99), agents, blended, T0).action == "outbound"
    assert decide(demand(2, sl=0.99), agents, blended, T0).action == "hold"
    assert decide(demand(0, sl=0.85), agents, blended, T0).action == "hold"
    assert decide(demand(0, sl=0.99, oldest=30), agents, blended, T0).action == "hold"


def test_signal_in_the_dead_band_moves_nobody() -> None:
    agents = [agent(f"a{i}") for i in range(8)]
    d = decide(demand(3, sl=0.85), agents, {}, T0)
    assert (d.action, d.moves) == ("hold", ())
    assert "hysteresis" in d.reason


def test_stale_signal_is_ignored() -> None:
    d = decide(demand(50, sl=0.1, ts=T0 - 31), [agent("a")], {}, T0)
    assert d.action == "hold" and not d.moves and "stale" in d.reason


def test_signal_of_another_zone_concerns_only_its_agents() -> None:
    d = decide(demand(10, zone="z2"), [agent("a", zone="z1")], {}, T0)
    assert d.moves == ()


# ---- cap, need, order -------------------------------------------------------

def test_cap_is_a_share_of_outbound_agents_with_a_minimum_step() -> None:
    cfg = PolicyConfig(max_share=0.25)
    d = decide(HIGH, [agent(f"a{i}") for i in range(8)], {}, T0, cfg)
    assert (d.cap, len(d.moves)) == (2, 2)
    d = decide(HIGH, [agent(f"a{i}") for i in range(3)], {}, T0, cfg)
    assert (d.cap, len(d.moves)) == (1, 1)
    d = decide(HIGH, [agent(f"a{i}") for i in range(8)], {}, T0, PolicyConfig(min_step=3))
    assert len(d.moves) == 3
    assert step_cap(0, cfg) == 0


def test_agents_already_covering_inbound_reduce_the_need() -> None:
    agents = [agent(f"o{i}") for i in range(20)] + [
        agent(f"i{i}", job_state="JobInbound", job_id=None) for i in range(5)]
    d = decide(demand(7), agents, {}, T0, PolicyConfig(max_share=0.5))
    assert len(d.moves) == 2  # 7 waiting, 5 inbound agents Ready and idle


def test_idle_agents_move_before_busy_ones_and_least_proficient_first() -> None:
    agents = [
        agent("busy-weak", agent_state="Busy", call_state="Talking", level=1),
        agent("idle-strong", level=9),
        agent("idle-weak", level=2),
        agent("idle-mid", level=5),
    ]
    d = decide(HIGH, agents, {}, T0, PolicyConfig(max_share=1.0))
    assert ids(d) == ["idle-weak", "idle-mid", "idle-strong", "busy-weak"]
    assert "busy" in d.moves[-1].reason


def test_proficiency_is_measured_on_the_agents_outbound_job() -> None:
    a = agent("a", skills={"sales": 9, "french": 1})
    b = agent("b", skills={"sales": 3, "french": 5})
    assert proficiency(a, {"J": ["french"]}) == 1
    assert proficiency(a, {}) == 5  # job unknown: all skills
    d = decide(HIGH, [a, b], {}, T0, PolicyConfig(max_share=0.5), {"J": ["french"]})
    assert ids(d) == ["a"]
    d = decide(HIGH, [a, b], {}, T0, PolicyConfig(max_share=0.5), {"J": ["sales"]})
    assert ids(d) == ["b"]


def test_not_ready_leaving_unknown_and_supervisor_moved_agents_are_not_blended() -> None:
    agents = [
        agent("nr", agent_state="NotReady"),
        agent("pnr", agent_state="PendingNotReady", call_state="Talking"),
        agent("leaving", agent_state="PendingLogout", call_state="Talking"),
        agent("unknown", agent_state="Unknown"),
        agent("moving", agent_state="Busy", call_state="Talking",
              job_state="PendingManualJobMovement"),
        agent("ok"),
    ]
    d = decide(HIGH, agents, {}, T0, PolicyConfig(max_share=1.0))
    assert ids(d) == ["ok"]


def test_busy_agents_stay_when_move_busy_is_off() -> None:
    agents = [agent("busy", agent_state="Busy", call_state="Talking"), agent("idle")]
    d = decide(HIGH, agents, {}, T0, PolicyConfig(max_share=1.0, move_busy=False))
    assert ids(d) == ["idle"]


def test_way_back_moves_idle_first_then_longest_in_inbound() -> None:
    moves = {"new": LastMove(T0 - 400, "inbound"), "old": LastMove(T0 - 900, "inbound"),
             "older-busy": LastMove(T0 - 2000, "inbound"), "mid": LastMove(T0 - 600, "inbound")}
    agents = [agent("new", job_state="JobInbound"), agent("old", job_state="JobInbound"),
              agent("mid", job_state="JobInbound"),
              agent("older-busy", agent_state="Busy", call_state="Talking",
                    job_state="JobInbound")]
    d = decide(LOW, agents, moves, T0, PolicyConfig(max_share=1.0))
    assert ids(d) == ["old", "mid", "new", "older-busy"]
    d = decide(LOW, agents, moves, T0, PolicyConfig(max_share=0.5))
    assert ids(d) == ["old", "mid"]


def test_way_back_leaves_a_supervisors_release_alone() -> None:
    agents = [agent("released", job_state="JobInbound"),
              agent("pending-manual", agent_state="Busy", call_state="Talking",
                    job_state="PendingManualInbound"),
              agent("blended", job_state="JobInbound")]
    moves = {"released": LastMove(T0 - 999, "inbound", by_blender=False),
             "pending-manual": LastMove(T0 - 999, "inbound", by_blender=True),
             "blended": LastMove(T0 - 999, "inbound")}
    cfg = PolicyConfig(max_share=1.0)
    assert ids(decide(LOW, agents, moves, T0, cfg)) == ["blended"]
    cfg = PolicyConfig(max_share=1.0, only_return_blended=False)
    assert ids(decide(LOW, agents, moves, T0, cfg)) == ["blended", "released"]


# ---- dwell and steps -------------------------------------------------------

def test_an_agent_is_not_moved_back_within_the_dwell_time() -> None:
    cfg = PolicyConfig(dwell_s=300, max_share=1.0)
    a = [agent("a", job_state="JobInbound")]
    assert decide(LOW, a, {"a": LastMove(T0 - 299, "inbound")}, T0, cfg).moves == ()
    d = decide(LOW, a, {"a": LastMove(T0 - 301, "inbound")}, T0 + 0, cfg)
    assert ids(d) == ["a"]
    d = decide(HIGH, [agent("b")], {"b": LastMove(T0 - 10, "outbound")}, T0, cfg)
    assert d.moves == () and d.in_dwell == 1 and "dwell" in d.reason


def test_a_step_the_same_way_waits_for_the_step_interval() -> None:
    cfg = PolicyConfig(step_interval_s=15, max_share=0.25, dwell_s=0)
    agents = [agent(f"a{i}") for i in range(8)] + [agent("x", job_state="JobInbound")]
    last = {"x": LastMove(T0 - 5, "inbound")}
    d = decide(HIGH, agents, last, T0, cfg)
    assert d.action == "hold" and "step_interval_s" in d.reason
    assert len(decide(HIGH, agents, last, T0 + 11, cfg).moves) == 2


def test_config_rejects_thresholds_without_a_gap() -> None:
    with pytest.raises(ValueError):
        PolicyConfig(low_waiting_calls=5, high_waiting_calls=5)
    with pytest.raises(ValueError):
        PolicyConfig(sl_low=0.9, sl_high=0.8)


# ---- no flapping over long sequences ---------------------------------------

@dataclass
class World:
    """Agents of one zone and the moves the policy made, applied as PAM would."""

    cfg: PolicyConfig
    agents: dict[str, m.AgentSnapshot]
    last: dict[str, LastMove] = field(default_factory=dict)
    log: list[tuple[float, str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, n: int, cfg: PolicyConfig) -> World:
        return cls(cfg, {f"a{i}": agent(f"a{i}", level=i % 7) for i in range(n)})

    def step(self, sig: InboundDemand, now: float) -> Decision:
        d = decide(sig, list(self.agents.values()), self.last, now, self.cfg)
        for mv in d.moves:
            a = self.agents[mv.agent_id]
            inbound = mv.direction == "inbound"
            self.agents[mv.agent_id] = updated(
                a, job_state="JobInbound" if inbound else "JobDetached",
                job_id=None if inbound else "J", version=a.version + 1)
            self.last[mv.agent_id] = LastMove(now, mv.direction)
            self.log.append((now, mv.agent_id, mv.direction))
        return d


def run(world: World, values: list[tuple[int, float]], period: float) -> Counter[str]:
    for i, (w, sl) in enumerate(values):
        now = T0 + i * period
        world.step(demand(w, sl=sl, ts=now), now)
    return Counter(direction for _, _, direction in world.log)


def test_signal_oscillating_around_the_high_threshold_only_moves_agents_in() -> None:
    cfg = PolicyConfig()
    w = World.of(20, cfg)
    # 4, 5, 4, 5 ... waiting calls every 5 s for an hour, service level fine
    moves = run(w, [(cfg.high_waiting_calls - 1 + (i % 2), 0.95) for i in range(720)], 5)
    assert moves["outbound"] == 0
    assert moves["inbound"] <= 20


def test_signal_oscillating_around_the_low_threshold_only_moves_agents_back() -> None:
    cfg = PolicyConfig()
    w = World.of(20, cfg)
    run(w, [(20, 0.5)] * 60, 5)  # everyone in
    w.log.clear()
    moves = run(w, [(cfg.low_waiting_calls + (i % 2), 0.95) for i in range(720)], 5)
    assert moves["inbound"] == 0
    assert 0 < moves["outbound"] <= 20


def test_signal_swinging_between_extremes_moves_each_agent_at_most_once_per_dwell() -> None:
    cfg = PolicyConfig(dwell_s=300)
    w = World.of(12, cfg)
    period, n = 5.0, 720  # an hour of a signal flipping high / low every 5 s
    run(w, [(30, 0.4) if i % 2 == 0 else (0, 0.99) for i in range(n)], period)
    per_agent = Counter(aid for _, aid, _ in w.log)
    assert max(per_agent.values()) <= n * period / cfg.dwell_s + 1
    by_agent: dict[str, list[float]] = {}
    for t, aid, _ in w.log:
        by_agent.setdefault(aid, []).append(t)
    for times in by_agent.values():
        assert all(b - a >= cfg.dwell_s for a, b in pairwise(times))


# ---- properties over random signal sequences -------------------------------

signals = st.lists(
    st.tuples(st.floats(0.5, 120), st.integers(0, 40), st.floats(0, 1), st.floats(0, 200),
              st.lists(st.booleans(), min_size=10, max_size=10)),
    min_size=1, max_size=60)
configs = st.builds(
    lambda share, step, dwell, interval: PolicyConfig(
        max_share=share, min_step=step, dwell_s=dwell, step_interval_s=interval),
    st.floats(0, 1), st.integers(1, 4), st.floats(0, 600), st.floats(0, 60))


@settings(max_examples=150, deadline=None)
@given(cfg=configs, seq=signals)
def test_property_no_move_within_dwell_and_never_more_than_the_cap(
        cfg: PolicyConfig, seq: list[tuple[float, int, float, float, list[bool]]]) -> None:
    w = World.of(10, cfg)
    now = T0
    for dt, waiting, sl, oldest, busy in seq:
        now += dt
        # agents' calls come and go between signals
        for i, b in enumerate(busy):
            a = w.agents[f"a{i}"]
            w.agents[a.agent_id] = updated(a, agent_state="Busy" if b else "Ready",
                                           call_state="Talking" if b else "Idle")
        before = dict(w.last)
        sides = {aid: side(a.job_state) for aid, a in w.agents.items()}
        d = w.step(demand(waiting, sl=sl, oldest=oldest, ts=now), now)
        moved = ids(d)
        assert len(moved) <= step_cap(d.pool, cfg)
        assert len(moved) == len(set(moved))
        for mv in d.moves:
            assert mv.direction == d.action
            assert sides[mv.agent_id] != mv.direction
            prev = before.get(mv.agent_id)
            assert prev is None or now - prev.at >= cfg.dwell_s


def test_agents_in_a_supervisors_thrash_interval_are_not_returned_to_outbound() -> None:
    cfg = PolicyConfig(max_share=1.0, only_return_blended=False)
    until = datetime.fromtimestamp(T0 + 60, UTC).isoformat()
    held = updated(agent("held", job_state="JobInbound", job_id=None), released_until=until)
    free = agent("free", job_state="JobInbound", job_id=None)
    assert ids(decide(LOW, [held, free], {}, T0, cfg)) == ["free"]
    later = demand(0, sl=0.99, ts=T0 + 61)
    assert sorted(ids(decide(later, [held, free], {}, T0 + 61, cfg))) == ["free", "held"]


# ---- inbound calls the ACD reported (PROTOCOL.md v1.1) ----------------------------


def test_an_agent_on_an_inbound_call_neither_covers_the_queue_nor_goes_back_first() -> None:
    free = [agent(f"i{i}", job_state="JobInbound", job_id=None) for i in range(5)]
    talking = [updated(a, inbound_call_id=f"in{i}") for i, a in enumerate(free[:3])]
    agents = [agent(f"o{i}") for i in range(20)] + talking + free[3:]
    d = decide(demand(7), agents, {}, T0, PolicyConfig(max_share=0.5))
    assert len(d.moves) == 5  # 7 waiting, only 2 inbound agents free to answer
    moves = {a.agent_id: LastMove(T0 - 900 + i, "inbound")
             for i, a in enumerate(talking + free[3:])}
    d = decide(LOW, talking + free[3:], moves, T0, PolicyConfig(max_share=1.0))
    assert ids(d)[:2] == ["i3", "i4"]  # the free ones first
    assert "inbound call" in d.moves[-1].reason
