"""Random command sequences over several agents; invariants after every step."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pam_protocol import messages as m
from pam_protocol.states import AgentState, CallState, consistent
from pam_service.pool import RustPool
from tests.core.sim import CODES, Sim

AGENTS = ["A", "B", "C", "D"]
JOBS = ["J", "K", "P"]
agent_ids = st.sampled_from(AGENTS)
job_ids = st.sampled_from(JOBS)
sessions = st.sampled_from(["c1", "c2", "c3", "p1", "cb1", "x"])

simple = st.sampled_from([
    m.Ready, m.Logout, m.PendingLogout, m.HoldCall, m.UnholdCall, m.CancelConsult,
    m.RejectConsult, m.Transfer, m.Conference, m.EndConference, m.ChangeConferenceOwner,
    m.ExtendWrapup, m.GetAgentStatus, m.ListCallbackAgents, m.ReleaseFromOutbound, m.ForceLogout,
    m.BlendToInbound, m.BlendToOutbound, m.NailingEstablished, m.NailingDropped,
    m.SaveAgentForHA, m.DesktopHeartbeat,
])


class AgentMachine(RuleBasedStateMachine):
    pool_factory: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.s = Sim(pool=self.pool_factory() if self.pool_factory else None)
        self.versions: dict[str, int] = {}
        self.rejections = 0

    def send(self, cmd: m.Command) -> None:
        before_agents = dict(self.s.zone.agents)
        before_jobs = dict(self.s.zone.jobs)
        before_calls = dict(self.s.zone.calls)
        res = self.s.send(cmd)
        if isinstance(res.reply, m.Rejected):
            self.rejections += 1
            # a rejected command changes nothing
            assert self.s.zone.agents == before_agents, cmd
            assert self.s.zone.jobs == before_jobs or res.reply.code == "NoAgentAvailable"
            assert self.s.zone.calls == before_calls
            # (a contact that found no agent is announced: CallNotConnected)
            assert all(isinstance(e, m.Alarm) or (isinstance(e, m.CallNotConnected)
                                                  and res.reply.code == "NoAgentAvailable")
                       for e in res.events)
        for aid, a in res.agents.items():
            # versions only grow: by one per announced change, announced in order
            seen = [e.snapshot.version for e in res.events
                    if isinstance(e, m.AgentStateChanged) and e.snapshot.agent_id == aid]
            start = before_agents[aid].version if aid in before_agents else 0
            assert seen == list(range(start + 1, start + 1 + len(seen))), (aid, seen)
            assert a.version == seen[-1] > self.versions.get(aid, 0)
            self.versions[aid] = a.version

    @initialize(licences=st.integers(1, 4), preview=st.booleans())
    def staffed_zone(self, licences: int, preview: bool) -> None:
        """Start from a working zone so short runs reach deep states."""
        self.job_command("P" if preview else "J", "start", licences, 0, 2)
        for i, aid in enumerate(AGENTS):
            self.login(aid, i + 1, ("sales", "support"))
            self.send(m.Ready(agent_id=aid))
            self.send(m.NailingEstablished(agent_id=aid))

    @rule(aid=agent_ids, level=st.integers(1, 9), skills=st.sampled_from(
        [("sales",), ("sales", "support"), ("support",)]))
    def login(self, aid: str, level: int, skills: tuple[str, ...]) -> None:
        self.send(m.Login(agent_id=aid, zone="z1", extension=f"x{aid}",
                          skills=[m.Skill(name=s, level=level) for s in skills],
                          time_zone="UTC", locale="en_US"))

    @rule(cls=simple, aid=agent_ids)
    def simple_command(self, cls: Any, aid: str) -> None:
        self.send(cls(agent_id=aid))

    @rule(aid=agent_ids, code=st.integers(0, 9))
    def force_not_ready(self, aid: str, code: int) -> None:
        self.send(m.ForceNotReady(agent_id=aid, reason_code=code))

    @rule(aid=agent_ids, code=st.integers(0, 9), walkaway=st.booleans())
    def not_ready(self, aid: str, code: int, walkaway: bool) -> None:
        self.send(m.NotReady(agent_id=aid, reason_code=code, walkaway=walkaway))

    @rule(aid=agent_ids, to=agent_ids, external=st.booleans())
    def consult(self, aid: str, to: str, external: bool) -> None:
        if external:
            self.send(m.Consult(agent_id=aid, target_number="+155500"))
        else:
            self.send(m.Consult(agent_id=aid, target_agent_id=to))

    @rule(aid=agent_ids, use_own=st.booleans(), code=st.sampled_from([None, *CODES, "Bad"]))
    def wrapup(self, aid: str, use_own: bool, code: str | None) -> None:
        a = self.s.zone.agents.get(aid)
        sid = a.session_id if (a and use_own and a.session_id) else "x"
        self.send(m.WrapupContact(agent_id=aid, session_id=sid, completion_code=code))

    @rule(aid=agent_ids, kind=st.sampled_from(["dial", "cancel", "redial"]),
          result=st.sampled_from(["answered", "no_answer", "busy", "failed"]))
    def dialing(self, aid: str, kind: str, result: str) -> None:
        a = self.s.zone.agents.get(aid)
        sid = a.session_id if a and a.session_id else "x"
        if kind == "dial":
            self.send(m.PreviewDial(agent_id=aid, session_id=sid))
            self.send(m.DialResult(agent_id=aid, session_id=sid, result=result))  # type: ignore[arg-type]
        elif kind == "cancel":
            self.send(m.PreviewCancel(agent_id=aid, session_id=sid))
        else:
            self.send(m.Redial(agent_id=aid, session_id=sid))

    @rule(job=job_ids, n=st.integers(0, 1000))
    def customer(self, job: str, n: int) -> None:
        if job == "P":
            self.send(m.PreviewContactReady(job_id=job, contact_id=f"p{n}", customer={}))
        else:
            self.send(m.CustomerConnected(job_id=job, call_id=f"c{n}", customer={}))

    @rule(data=st.data())
    def hang_up(self, data: st.DataObject) -> None:
        calls = sorted(self.s.zone.calls) or ["nope"]
        self.send(m.CustomerDisconnected(call_id=data.draw(st.sampled_from(calls))))

    @rule(aid=agent_ids, data=st.data())
    def desktop_hang_up(self, aid: str, data: st.DataObject) -> None:
        a = self.s.zone.agents.get(aid)
        own = a.session_id if a is not None and a.session_id else "nope"
        self.send(m.HangUp(agent_id=aid, session_id=data.draw(st.sampled_from([own, "x"]))))

    @rule(aid=agent_ids, n=st.integers(0, 2), end=st.booleans())
    def inbound_call(self, aid: str, n: int, end: bool) -> None:
        cls = m.InboundCallEnded if end else m.InboundCallStarted
        self.send(cls(agent_id=aid, call_id=f"in{n}"))

    @rule(job=job_ids, aid=st.none() | agent_ids, n=st.integers(0, 9))
    def callback(self, job: str, aid: str | None, n: int) -> None:
        self.send(m.CallbackDue(job_id=job, callback_id=f"cb{n}", agent_id=aid))

    @rule(job=job_ids, kind=st.sampled_from(["start", "pause", "resume", "end"]),
          lic=st.integers(0, 3), mn=st.integers(0, 2), prio=st.integers(1, 5))
    def job_command(self, job: str, kind: str, lic: int, mn: int, prio: int) -> None:
        if kind == "start":
            self.send(m.JobStarted(
                job_id=job, action_name="a", zone="z1",
                campaign_type="preview" if job == "P" else "progressive",
                required_skills=["support"] if job == "K" else ["sales"], min_agents=mn,
                max_agents=max(mn, 3), licenses=lic, priority=prio, completion_codes=CODES,
                default_completion_code="NoSale", wrapup_extensions=1, wrapup_seconds=30))
        else:
            cls = {"pause": m.JobPaused, "resume": m.JobResumed, "end": m.JobEnded}[kind]
            self.send(cls(job_id=job))

    @rule(aid=agent_ids, job=job_ids)
    def move(self, aid: str, job: str) -> None:
        self.send(m.MoveAgentToJob(agent_id=aid, job_id=job))

    # ---- invariants ----------------------------------------------------
    @invariant()
    def states_are_consistent(self) -> None:
        for a in self.s.zone.agents.values():
            event(f"reached {a.call_state.value}/{a.job_state.value}")
            assert consistent(a.agent_state, a.call_state), a
            if a.call_state is not CallState.IDLE:
                assert a.agent_state is not AgentState.READY, a
            assert len(a.pending_consults) <= 2, a

    @invariant()
    def an_agent_on_an_inbound_call_does_no_outbound_work(self) -> None:
        for a in self.s.zone.agents.values():
            if a.inbound_call_id is not None:
                assert a.job_id is None and a.job_state.value in (
                    "JobInbound", "PendingOutbound"), a

    @invariant()
    def each_customer_call_has_exactly_one_owner(self) -> None:
        owners = list(self.s.zone.calls.values())
        assert len(owners) == len(set(owners)), "an agent owns two calls"
        for cid, aid in self.s.zone.calls.items():
            a = self.s.zone.agents[aid]
            assert a.session_id == cid, (cid, a)
            assert a.call_state in (CallState.TALKING, CallState.HOLD, CallState.CONSULT,
                                    CallState.CONFERENCE_OWNER, CallState.WRAPUP,
                                    CallState.DIALING), a
            if a.call_state is CallState.CONSULT:
                assert a.consult_initiator, a

    @invariant()
    def conference_has_one_owner_and_one_passive(self) -> None:
        agents = self.s.zone.agents
        for a in agents.values():
            if a.call_state is CallState.CONFERENCE_PASSIVE:
                assert a.peer_agent_id is not None
                owner = agents[a.peer_agent_id]
                assert owner.peer_agent_id == a.agent_id
                assert owner.call_state is CallState.CONFERENCE_OWNER or (
                    owner.call_state is CallState.HOLD
                    and owner.held_from is CallState.CONFERENCE_OWNER), owner
            if a.call_state is CallState.CONSULT and a.peer_agent_id:
                peer = agents[a.peer_agent_id]
                assert peer.call_state is CallState.CONSULT and peer.peer_agent_id == a.agent_id
                assert peer.consult_initiator != a.consult_initiator

    @invariant()
    def pending_consults_wait_on_live_initiators(self) -> None:
        agents = self.s.zone.agents
        for b in agents.values():
            for pc in b.pending_consults:
                init = agents[pc.from_agent_id]
                assert init.outgoing_consult == b.agent_id, (b, init)
        for a in agents.values():
            if a.outgoing_consult is not None:
                assert any(pc.from_agent_id == a.agent_id
                           for pc in agents[a.outgoing_consult].pending_consults), a

    @invariant()
    def licences_and_membership_agree(self) -> None:
        for j in self.s.zone.jobs.values():
            assert len(j.assigned) <= j.capacity, j
            assert len(set(j.assigned)) == len(j.assigned)
            for aid in j.assigned:
                assert self.s.zone.agents[aid].job_id == j.job_id
        for a in self.s.zone.agents.values():
            if a.job_id is not None:
                assert a.agent_id in self.s.zone.jobs[a.job_id].assigned, a


TestAgentMachine = AgentMachine.TestCase
TestAgentMachine.settings = settings(
    max_examples=250, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class RustPoolAgentMachine(AgentMachine):
    """The same machine with the service's pool, the Rust dispatcher."""

    pool_factory = RustPool


TestRustPoolAgentMachine = RustPoolAgentMachine.TestCase
TestRustPoolAgentMachine.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
