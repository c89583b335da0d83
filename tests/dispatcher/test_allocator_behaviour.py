"""Behaviour of the allocator, on the Rust module and on the Python reference alike."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

import dispatcher_rs
from dispatcher_rs import reference


@pytest.fixture(params=["rust", "reference"])
def alloc(request: pytest.FixtureRequest) -> Any:
    return dispatcher_rs.Allocator() if request.param == "rust" else reference.Allocator()


def test_an_agent_serves_a_job_only_with_all_its_skills(alloc: Any) -> None:
    alloc.upsert_job("j", ["sales", "spanish"], 1, 5, 1, 5)
    alloc.upsert_agent("only_sales", {"sales": 9}, True)
    assert alloc.plan() == []
    alloc.upsert_agent("both", {"sales": 1, "spanish": 1, "french": 4}, True)
    assert alloc.plan() == [("attach", "both", "j", "fill_min")]


def test_minimums_come_first_then_higher_priority(alloc: Any) -> None:
    alloc.upsert_job("low", ["s"], 2, 10, 1, 10)
    alloc.upsert_job("high", ["s"], 1, 10, 5, 10)
    for i in range(5):
        alloc.upsert_agent(f"a{i}", {"s": i}, True)
    assert alloc.plan() == [
        ("attach", "a4", "high", "fill_min"),
        ("attach", "a3", "low", "fill_min"),
        ("attach", "a2", "low", "fill_min"),
        ("attach", "a1", "high", "priority"),
        ("attach", "a0", "high", "priority"),
    ]


def test_equal_priorities_are_served_in_job_task_order(alloc: Any) -> None:
    alloc.upsert_job("7/b", [], 0, 1, 1, 1)
    alloc.upsert_job("7/a", [], 0, 1, 1, 1)
    alloc.upsert_agent("x", {}, True)
    assert alloc.plan() == [("attach", "x", "7/a", "priority")]


def test_max_and_licences_bound_a_job(alloc: Any) -> None:
    alloc.upsert_job("by_max", [], 0, 2, 2, 10)
    alloc.upsert_job("by_licences", [], 0, 10, 1, 1)
    for i in range(6):
        alloc.upsert_agent(f"a{i}", {}, True)
    alloc.plan()
    assert (alloc.job_agents("by_max"), alloc.job_agents("by_licences")) == (2, 1)
    assert sum(alloc.agent_job(f"a{i}") is None for i in range(6)) == 3


def test_donation_takes_the_least_proficient_idle_agent_of_a_job_above_its_minimum(
    alloc: Any,
) -> None:
    alloc.upsert_job("donor", ["s"], 1, 10, 1, 10)
    alloc.upsert_job("at_min", ["s"], 2, 10, 1, 10)
    for agent, level, job, idle in [
        ("strong", 9, "donor", True),
        ("weak", 2, "donor", True),
        ("weakest_but_busy", 1, "donor", False),
        ("m1", 0, "at_min", True),  # at its minimum: not donated
        ("m2", 0, "at_min", True),
    ]:
        alloc.upsert_agent(agent, {"s": level}, idle, job)
    assert alloc.plan() == []
    alloc.upsert_job("urgent", ["s"], 1, 10, 9, 10)
    assert alloc.plan() == [
        ("detach", "weak", "donor", "donate"),
        ("attach", "weak", "urgent", "donate"),
    ]
    alloc.upsert_job("urgent", ["s"], 3, 10, 9, 10)
    # "donor" gives its last idle agent and is at its minimum; "at_min" never gives: urgent
    # stays one short.
    assert alloc.plan() == [
        ("detach", "strong", "donor", "donate"),
        ("attach", "strong", "urgent", "donate"),
    ]
    assert (alloc.job_agents("donor"), alloc.job_agents("urgent")) == (1, 2)


def test_donation_is_judged_on_the_receiving_jobs_skills(alloc: Any) -> None:
    alloc.upsert_job("donor", ["a"], 0, 10, 1, 10)
    alloc.upsert_agent("x", {"a": 1, "b": 9}, True, "donor")
    alloc.upsert_agent("y", {"a": 9, "b": 2}, True, "donor")
    alloc.upsert_job("needs_b", ["b"], 1, 10, 5, 10)
    assert alloc.plan() == [
        ("detach", "y", "donor", "donate"),
        ("attach", "y", "needs_b", "donate"),
    ]


def test_donors_are_only_jobs_of_lower_priority(alloc: Any) -> None:
    """A donation goes to a higher-priority job: equal or higher priorities never give."""
    alloc.upsert_job("same", ["s"], 0, 10, 5, 10)
    alloc.upsert_job("higher", ["s"], 0, 10, 7, 10)
    alloc.upsert_agent("x", {"s": 1}, True, "same")
    alloc.upsert_agent("y", {"s": 1}, True, "higher")
    alloc.upsert_job("short", ["s"], 1, 10, 5, 10)
    assert alloc.plan() == []
    assert alloc.job_agents("short") == 0
    alloc.upsert_job("low", ["s"], 0, 10, 1, 10)
    alloc.upsert_agent("z", {"s": 9}, True, "low")
    assert alloc.plan() == [
        ("detach", "z", "low", "donate"),
        ("attach", "z", "short", "donate"),
    ]


def test_an_ended_job_releases_its_agents_to_other_jobs(alloc: Any) -> None:
    alloc.upsert_job("ending", [], 1, 5, 9, 5)
    alloc.upsert_job("other", [], 0, 5, 1, 5)
    alloc.upsert_agent("a", {}, True, "ending")
    alloc.remove_job("ending")
    assert alloc.plan() == [
        ("detach", "a", "ending", "job_removed"),
        ("attach", "a", "other", "priority"),
    ]


def test_busy_agents_are_never_moved(alloc: Any) -> None:
    alloc.upsert_job("over", [], 0, 0, 1, 10)
    alloc.upsert_agent("busy", {}, False, "over")
    assert alloc.plan() == []
    alloc.upsert_agent("busy", {}, True, "over")
    assert alloc.plan() == [("detach", "busy", "over", "over_max")]


def test_bad_job_definitions_are_value_errors(alloc: Any) -> None:
    with pytest.raises(ValueError, match="licenses"):
        alloc.upsert_job("j", [], 0, 1, 1, -1)
    with pytest.raises(ValueError, match="not a str"):
        alloc.upsert_job("j", "sales", 0, 1, 1, 1)
    assert alloc.job_agents("j") == 0


churn = st.lists(
    st.one_of(
        st.tuples(
            st.just("agent"),
            st.integers(0, 11),
            st.dictionaries(st.sampled_from("xyz"), st.integers(0, 5), max_size=3),
            st.booleans(),
        ),
        st.tuples(
            st.just("job"),
            st.integers(0, 3),
            st.lists(st.sampled_from("xyz"), max_size=2),
            st.integers(0, 4),
            st.integers(0, 6),
            st.integers(0, 6),
        ),
        st.tuples(st.just("end"), st.integers(0, 3)),
        st.tuples(st.just("leave"), st.integers(0, 11)),
        st.tuples(
            st.just("plan"),
        ),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(ops=churn)
def test_max_and_licences_are_never_exceeded_under_churn(ops: list[tuple[Any, ...]]) -> None:
    """A service that carries out every plan: after each plan, no job holds more than
    min(max, licences) agents unless all of them are busy, and every attach went to a job
    below its cap, to an idle agent having the job's skills."""
    alloc = dispatcher_rs.Allocator()
    jobs: dict[str, tuple[frozenset[str], int]] = {}
    agents: dict[str, tuple[dict[str, int], bool]] = {}
    for op in [*ops, ("plan",)]:
        if op[0] == "agent":
            agent, skills, idle = f"a{op[1]}", op[2], op[3]
            alloc.upsert_agent(agent, skills, idle, alloc.agent_job(agent))
            agents[agent] = (skills, idle)
        elif op[0] == "job":
            job, skills, lo, hi, lic = f"j{op[1]}", op[2], op[3], op[4], op[5]
            alloc.upsert_job(job, skills, lo, hi, op[1], lic)
            jobs[job] = (frozenset(skills), min(hi, lic))
        elif op[0] == "end":
            alloc.remove_job(f"j{op[1]}")
            jobs.pop(f"j{op[1]}", None)
        elif op[0] == "leave":
            alloc.remove_agent(f"a{op[1]}")
            agents.pop(f"a{op[1]}", None)
        else:
            counts = {j: alloc.job_agents(j) for j in jobs}
            for action, agent, job, reason in alloc.plan():
                if reason == "job_removed":
                    continue  # from a job that has ended (its agents were released then)
                if action == "attach":
                    skills, idle = agents[agent]
                    assert idle and jobs[job][0] <= skills.keys()
                    assert counts[job] < jobs[job][1], (job, counts)
                    counts[job] += 1
                else:
                    counts[job] -= 1
            for j, (_, cap) in jobs.items():
                assert counts[j] == alloc.job_agents(j)
                on_job = [a for a in agents if alloc.agent_job(a) == j]
                assert counts[j] <= cap or not any(agents[a][1] for a in on_job), j


def test_moves_cross_the_ffi_as_a_named_type() -> None:
    import dispatcher_rs

    for alloc in (dispatcher_rs.Allocator(), reference.Allocator()):
        alloc.upsert_job("J", ["s"], 1, 5, 1, 5)
        alloc.upsert_agent("A", {"s": 1}, True, None)
        [mv] = alloc.plan()
        assert isinstance(mv, dispatcher_rs.Move)
        assert (mv.action, mv.agent_id, mv.job_task, mv.reason) == ("attach", "A", "J",
                                                                    "fill_min")
