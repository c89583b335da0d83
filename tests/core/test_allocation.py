"""Allocation in the zone is the dispatcher's: `dispatcher_rs.Allocator`, kept in step
incrementally, its moves confirmed by the state machine (docs/dispatcher.md)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant

import dispatcher_rs
from dispatcher_rs import reference
from pam_protocol import messages as m
from pam_service.domain.zone import Zone
from tests.core.sim import Sim
from tests.core.test_hypothesis import AgentMachine


class Spy:
    """An allocator that records the calls the zone makes, and can add moves to a plan."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner if inner is not None else dispatcher_rs.Allocator()
        self.calls: list[tuple[str, Any]] = []
        self.inject: list[tuple[str, str, str, str]] = []

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.inner, name)

        def call(*args: Any) -> Any:
            self.calls.append((name, args[0] if args else None))
            return fn(*args)
        return call

    def plan(self) -> list[tuple[str, str, str, str]]:
        self.calls.append(("plan", None))
        moves, self.inject = [*self.inner.plan(), *self.inject], []
        return moves


def assigned(s: Sim, job: str) -> set[str]:
    return set(s.zone.jobs[job].assigned)


def test_the_zone_allocates_with_the_rust_allocator() -> None:
    s = Sim()
    assert isinstance(s.zone.allocator, dispatcher_rs.Allocator)
    s.job("J", min_agents=1)
    s.login("A")
    s.ok(m.Ready(agent_id="A"))
    assert s.zone.allocator.agent_job("A") == "J"
    assert s.zone.allocator.job_agents("J") == 1


def test_a_higher_priority_job_below_its_minimum_takes_the_least_proficient_idle_agent_of_a_lower_priority_job_above_its_minimum() -> None:  # noqa: E501
    s = Sim()
    s.job("MID", priority=3, min_agents=1, max_agents=1)
    s.ready_on_job("D", job_id="MID", level=0)  # at its minimum: never a donor
    s.job("EQUAL", priority=5, min_agents=1, max_agents=2)
    s.ready_on_job("E1", job_id="EQUAL", level=0)  # same priority as HIGH: not a donor
    s.ready_on_job("E2", job_id="EQUAL", level=0)
    s.job("HIGHER", priority=7, min_agents=0, max_agents=1)
    s.ready_on_job("F", job_id="HIGHER", level=0)  # higher priority: not a donor
    s.job("LOW", priority=1, min_agents=1)
    s.ready_on_job("A", job_id="LOW", level=9)
    s.ready_on_job("B", job_id="LOW", level=2)
    s.ready_on_job("C", job_id="LOW", level=4)
    res = s.ok(m.JobStarted(job_id="HIGH", action_name="call", zone="z1",
                            campaign_type="progressive", required_skills=["sales"],
                            min_agents=2, max_agents=5, priority=5, licenses=1_000_000,
                            completion_codes=[], default_completion_code="Done",
                            wrapup_seconds=30, wrapup_extensions=0))
    assert assigned(s, "HIGH") == {"B", "C"} and assigned(s, "LOW") == {"A"}
    assert (assigned(s, "MID"), assigned(s, "EQUAL"), assigned(s, "HIGHER")) == (
        {"D"}, {"E1", "E2"}, {"F"})
    donated = [(e.agent_id, e.job_id, e.reason) for e in s.events(res, m.AgentDetached)]
    assert donated == [("B", "LOW", "donated to another job"),
                       ("C", "LOW", "donated to another job")]
    # each went JobEnd on LOW before its attach to HIGH
    ends = [e.snapshot.agent_id for e in s.events(res, m.AgentStateChanged)
            if e.snapshot.job_state.value == "JobEnd"]
    assert ends == ["B", "C"]
    assert s.states("B") == ("Ready", "Idle", "PendingJobAttach")
    assert s.zone.allocator.plan() == []


def test_busy_agents_are_not_donated_and_donors_keep_their_minimum() -> None:
    s = Sim()
    s.job("LOW", priority=1, min_agents=1)
    s.ready_on_job("A", job_id="LOW", level=9)
    s.ready_on_job("B", job_id="LOW", level=1)
    assert s.connect("c1", job_id="LOW") == "A"  # longest idle takes the call
    s.job("HIGH", priority=5, min_agents=2)
    # B is LOW's only idle agent; A is busy. LOW keeps its minimum of one: only B goes.
    assert assigned(s, "HIGH") == {"B"} and assigned(s, "LOW") == {"A"}


def test_minimums_first_then_priority_never_past_max_or_licences() -> None:
    s = Sim()
    s.job("A", priority=1, min_agents=2, max_agents=5, licenses=3)
    s.job("B", priority=9, min_agents=0, max_agents=2, licenses=10)
    for i in range(7):
        s.login(f"x{i}")
        s.ok(m.Ready(agent_id=f"x{i}"))
    # x0, x1 fill A's minimum; x2, x3 go to B by priority up to its max; x4 takes A's last
    # licence; x5, x6 stay free.
    assert assigned(s, "A") == {"x0", "x1", "x4"} and assigned(s, "B") == {"x2", "x3"}
    assert s.states("x5") == ("Ready", "Idle", "JobDetached")
    s.job("A", priority=1, min_agents=2, max_agents=5, licenses=4)  # one more licence
    assert len(assigned(s, "A")) == 4 and len(assigned(s, "B")) == 2
    s.job("A", priority=1, min_agents=2, max_agents=5, licenses=2)  # two fewer
    assert len(assigned(s, "A")) == 2
    assert s.zone.allocator.job_agents("A") == 2  # type: ignore[attr-defined]


def test_skills_gate_allocation_and_the_most_proficient_free_agent_goes_first() -> None:
    s = Sim()
    s.job("K", required_skills=["sales", "support"], max_agents=1)
    s.login("sales_only", skills=("sales",), level=9)
    s.ok(m.Ready(agent_id="sales_only"))
    assert s.agent("sales_only").job_id is None
    s.login("weak", skills=("sales", "support"), level=1)
    s.login("strong", skills=("sales", "support"), level=8)
    s.job("K", required_skills=["sales", "support"], max_agents=0)
    s.ok(m.Ready(agent_id="weak"))
    s.ok(m.Ready(agent_id="strong"))
    s.job("K", required_skills=["sales", "support"], max_agents=1)
    assert assigned(s, "K") == {"strong"}


def test_one_agent_changing_touches_only_that_agent_in_the_allocator() -> None:
    spy = Spy()
    s = Sim(allocator=lambda: spy)
    for j in ("J", "K", "P"):
        s.job(j, max_agents=10)
    for i in range(30):
        s.login(f"a{i}")
        s.ok(m.Ready(agent_id=f"a{i}"))
    s.login("new")
    spy.calls.clear()
    s.ok(m.Ready(agent_id="new"))
    touched = {arg for name, arg in spy.calls if name != "plan"}
    assert touched == {"new"}, spy.calls
    assert {name for name, _ in spy.calls} == {"upsert_agent", "plan"}
    assert s.agent("new").job_id is None  # 30 agents fill the three jobs
    on_k = assigned(s, "K")
    spy.calls.clear()
    s.ok(m.JobPaused(job_id="K"))
    names = {name for name, _ in spy.calls}
    assert "upsert_agents" not in names and ("remove_job", "K") in spy.calls
    touched = {arg for name, arg in spy.calls if name in ("upsert_agent", "remove_agent")}
    assert touched == on_k  # its agents, freed (JobEnd); no other agent


def test_a_refused_move_changes_nothing_and_is_tried_again_on_the_next_command() -> None:
    spy = Spy()
    s = Sim(allocator=lambda: spy)
    s.job("J", licenses=1)
    s.job("K", required_skills=["support"])
    s.ready_on_job("A", job_id="J")
    s.login("B")
    s.ok(m.Ready(agent_id="B"))  # J is full, B lacks K's skill: free
    before = s.agent("B")
    spy.inject = [("attach", "B", "K", "priority")]  # a move the machine refuses
    res = s.ok(m.Login(agent_id="C", zone="z1", extension="xC", skills=[], time_zone="UTC",
                       locale="en_US"))
    assert s.agent("B") == before and "B" not in res.agents
    assert s.zone.held == set()  # held back for that command only
    assert s.zone.allocator.plan() == []
    s.job("J", licenses=2)
    assert assigned(s, "J") == {"A", "B"}


def test_stale_moves_are_skipped() -> None:
    spy = Spy()
    s = Sim(allocator=lambda: spy)
    s.job("J")
    s.ready_on_job("A", job_id="J")
    spy.inject = [("detach", "A", "K", "donate"), ("attach", "A", "J", "priority")]
    s.ok(m.Login(agent_id="C", zone="z1", extension="xC", skills=[], time_zone="UTC",
                 locale="en_US"))
    assert s.states("A") == ("Ready", "Idle", "JobAttached") and assigned(s, "J") == {"A"}


def test_takeover_rebuilds_the_allocator_from_the_records() -> None:
    s = Sim()
    s.job("J", licenses=2)
    for a in "ABC":
        s.login(a)
        s.ok(m.Ready(agent_id=a))
    spy = Spy()
    twin = Zone("z1", None, allocator=lambda: spy)
    twin.load(s.zone.agents.values(), s.zone.jobs.values(), s.zone.calls)
    assert [name for name, _ in spy.calls] == ["upsert_job", "upsert_agents"]
    assert spy.job_agents("J") == 2 and spy.agent_job("C") is None
    assert spy.plan() == []  # the records are already allocated
    s.zone = twin
    s.job("J", licenses=3)
    assert assigned(s, "J") == {"A", "B", "C"}


class AllocatorAgreementMachine(AgentMachine):
    """The random command sequences of test_hypothesis on two zones, one allocating with
    the Rust allocator, one with the Python reference: same replies, same records. After
    each command the Rust allocator agrees with the records and has nothing left to do."""

    def __init__(self) -> None:
        super().__init__()
        self.twin = Sim(allocator=reference.Allocator)

    def send(self, cmd: m.Command) -> None:
        super().send(cmd)
        res = self.twin.send(cmd)
        assert res.reply == self.s.log[-1][1].reply, cmd
        assert self.twin.zone.agents == self.s.zone.agents
        assert self.twin.zone.jobs == self.s.zone.jobs

    @invariant()
    def allocator_in_step_with_the_records(self) -> None:
        zone = self.s.zone
        alloc: Any = zone.allocator
        assert zone.held == set()
        for j in zone.jobs.values():
            if j.status == "running":
                assert alloc.job_agents(j.job_id) == len(j.assigned), j
        for a in zone.agents.values():
            if a.job_id is not None:
                assert alloc.agent_job(a.agent_id) == a.job_id, a
        assert alloc.plan() == []


TestAllocatorAgreement = AllocatorAgreementMachine.TestCase
TestAllocatorAgreement.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
