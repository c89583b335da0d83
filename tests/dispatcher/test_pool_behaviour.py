"""Behaviour of the pool, on the Rust module and on the Python reference alike."""

from __future__ import annotations

import heapq
import random
from collections import Counter
from typing import Any

import pytest

import dispatcher_rs
from dispatcher_rs import reference

READY = ("Ready", "Idle", "JobAttached")


@pytest.fixture(params=["rust", "reference"])
def pool(request: pytest.FixtureRequest) -> Any:
    return dispatcher_rs.Pool() if request.param == "rust" else reference.Pool()


def test_the_availability_rule_needs_ready_idle_attached_and_nailed() -> None:
    for impl in (dispatcher_rs, reference):
        assert impl.is_available_state("Ready", "Idle", "JobAttached", True)
        assert not impl.is_available_state("Ready", "Idle", "JobAttached", False)
        assert impl.is_available_state("Ready", "Idle", "JobAttached", False, needs_nailing=False)
        assert not impl.is_available_state("PendingNotReady", "Idle", "JobAttached", True)
        assert not impl.is_available_state("Ready", "Wrapup", "JobAttached", True)
        assert not impl.is_available_state("Ready", "Idle", "PendingInbound", True)


def test_state_codes_are_indexes_in_the_state_tuples() -> None:
    assert dispatcher_rs.AGENT_STATES == reference.AGENT_STATES
    assert dispatcher_rs.CALL_STATES == reference.CALL_STATES
    assert dispatcher_rs.JOB_STATES == reference.JOB_STATES
    ready = dispatcher_rs.AGENT_STATES.index("Ready")
    assert dispatcher_rs.is_available_state(ready, 0, 0, True)
    assert not dispatcher_rs.is_available_state(
        ready, 0, dispatcher_rs.JOB_STATES.index("JobEnd"), True
    )


def test_unknown_state_or_strategy_is_a_value_error_naming_it(pool: Any) -> None:
    with pytest.raises(ValueError, match="Sleeping"):
        pool.update("a", "j", "Sleeping", "Idle", "JobAttached", True, 0, {})
    with pytest.raises(ValueError, match="99"):
        pool.update("a", "j", "Ready", 99, "JobAttached", True, 0, {})
    with pytest.raises(ValueError, match="round_robin"):
        pool.set_job("j", "round_robin")
    with pytest.raises(ValueError, match="match_skill"):
        pool.set_job("j", "skill_level")
    assert pool.agent_count() == 0


@pytest.mark.parametrize(
    ("agent_state", "call_state", "job_state", "nailed"),
    [
        ("NotReady", "Idle", "JobAttached", True),
        ("PendingNotReady", "Idle", "JobAttached", True),
        ("Ready", "Idle", "JobInbound", True),
        ("Ready", "Idle", "PendingInbound", True),
        ("Ready", "Idle", "PendingManualInbound", True),
        ("Ready", "Wrapup", "JobAttached", True),
        ("Ready", "Idle", "JobAttached", False),
    ],
)
def test_an_unavailable_agent_is_never_chosen(
    pool: Any, agent_state: str, call_state: str, job_state: str, nailed: bool
) -> None:
    pool.set_job("j")
    # The unavailable agent has idled longest: it would be first if it were available.
    pool.update("bad", "j", agent_state, call_state, job_state, nailed, 0, {})
    pool.update("good", "j", *READY, True, 100, {})
    assert not pool.is_available("bad")
    assert pool.match_many(["j", "j"]) == ["good", None]


def test_an_unnailed_agent_is_chosen_when_the_job_needs_no_nailing(pool: Any) -> None:
    pool.set_job("j", needs_nailing=False)
    assert pool.update("a", "j", *READY, False, 0, {})
    assert pool.match_call("j") == "a"


def test_skill_level_picks_the_highest_level_then_the_longest_idle(pool: Any) -> None:
    pool.set_job("j", "skill_level", "spanish")
    pool.update_many(
        [
            ("low", "j", *READY, True, 0, {"spanish": 2}),
            ("high_recent", "j", *READY, True, 50, {"spanish": 9}),
            ("high_old", "j", *READY, True, 10, {"spanish": 9}),
            ("none", "j", *READY, True, 0, {"french": 10}),
        ]
    )
    assert pool.match_many(["j"] * 5) == ["high_old", "high_recent", "low", "none", None]


def test_ties_are_broken_by_agent_id(pool: Any) -> None:
    pool.set_job("j")
    for agent in ["c", "a", "b"]:
        pool.update(agent, "j", *READY, True, 7, None)
    assert pool.match_many(["j"] * 3) == ["a", "b", "c"]


def test_a_matched_agent_returns_only_when_updated(pool: Any) -> None:
    pool.set_job("j")
    pool.update("a", "j", *READY, True, 0, {})
    assert pool.match_call("j") == "a"
    assert pool.match_call("j") is None
    # The confirmation failed: the service reports the agent's real (unchanged) state.
    assert pool.update("a", "j", *READY, True, 0, None)
    assert pool.match_call("j") == "a"
    assert not pool.update("a", "j", "Ready", "Talking", "JobAttached", True, 0, None)
    assert len(pool) == 0


def test_rebuild_replaces_the_agents_and_keeps_the_jobs(pool: Any) -> None:
    pool.set_job("j")
    pool.update("old", "j", *READY, True, 0, {})
    pool.rebuild([("new", "j", *READY, True, 0, {})])
    assert (pool.agent_count(), len(pool), pool.match_call("j")) == (1, 1, "new")


def test_a_bad_row_leaves_a_rebuild_undone(pool: Any) -> None:
    pool.set_job("j")
    pool.update("old", "j", *READY, True, 0, {})
    with pytest.raises(ValueError):
        pool.rebuild(
            [("new", "j", *READY, True, 0, {}), ("x", "j", "Nope", "Idle", 0, True, 0, {})]
        )
    assert pool.is_available("old") and not pool.is_available("new")


def test_longest_idle_shares_calls_fairly_over_many_calls(pool: Any) -> None:
    """10 agents, 20,000 calls of random length arriving faster than agents free up: each
    agent's share of the calls is within 10% of the fair share."""
    rng = random.Random(7)
    agents = [f"agent{i:02d}" for i in range(10)]
    pool.set_job("j")
    for a in agents:
        pool.update(a, "j", *READY, True, 0, {})
    busy: list[tuple[int, str]] = []  # (free at, agent)
    now = 0
    calls: Counter[str] = Counter()
    for _ in range(20_000):
        now += rng.randint(1, 40)
        while busy and busy[0][0] <= now:
            free_at, a = heapq.heappop(busy)
            pool.update(a, "j", *READY, True, free_at, None)
        a = pool.match_call("j")
        if a is None:
            continue  # the call waits elsewhere; no agent was free
        calls[a] += 1
        pool.update(a, "j", "Ready", "Talking", "JobAttached", True, now, None)
        heapq.heappush(busy, (now + rng.randint(60, 400), a))
    fair = sum(calls.values()) / len(agents)
    assert set(calls) == set(agents)
    assert all(abs(n - fair) <= 0.1 * fair for n in calls.values()), calls
