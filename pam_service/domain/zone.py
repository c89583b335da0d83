"""One zone's agents and job-tasks in memory, and every wire command applied to them.

Pure like the machine: the service feeds it decoded commands and a context,
commits the returned :class:`Result` durably, and only then acknowledges. The
zone resolves what the per-agent table cannot: which agent a live customer,
preview or callback goes to (through a :class:`Pool`), which agent owns a call,
the job-task commands, and allocation (which idle agents each job-task gets).
Everything one wire command causes is one :class:`Result`, committed at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import msgspec

from pam_protocol import messages as m
from pam_protocol.messages import Agent, JobTask
from pam_protocol.states import AgentState, CallState, JobState
from pam_service.domain import machine as sm

A = AgentState
C = CallState
J = JobState

#: The commands only a desktop sends: hearing one proves the desktop is alive.
DESKTOP = frozenset({"agent"})
FREE_JOB_STATES = frozenset({J.JOB_DETACHED, J.JOB_END})
#: Job states in which an idle Ready agent on a job may be moved (donated, trimmed).
MOVABLE_JOB_STATES = frozenset({J.JOB_ATTACHED, J.PENDING_JOB_ATTACH})
#: The state machine's reason for each detach the allocator plans.
DETACH_REASONS = {"donate": "donated to another job", "over_max": "licences reduced",
                  "skills_lost": "skills lost", "job_removed": "job ended"}


class Pool(Protocol):
    """The available-agent pool (the Rust dispatcher, or :class:`PyPool`)."""

    def sync(self, agent: Agent, job: JobTask | None) -> None:
        """Record the agent's current state (adds, moves or removes it)."""

    def load(self, agents: Iterable[Agent], jobs: Mapping[str, JobTask]) -> None:
        """Start again from these agents (a takeover): :meth:`clear`, then each synced
        with its job-task (from ``jobs``, by ``job_id``)."""

    def match(self, job: JobTask) -> str | None:
        """Take the agent the job's strategy picks, or None."""

    def clear(self) -> None: ...


class Allocator(Protocol):
    """Allocation, given to the zone by its owner: ``dispatcher_rs.Allocator`` in the
    service (pam_service.pool); ``dispatcher_rs.reference.Allocator`` has the same API.
    See docs/dispatcher.md for the rules."""

    def upsert_agent(self, agent_id: str, skills: dict[str, int], idle: bool,
                     job_task: str | None = None) -> None: ...

    def upsert_agents(self, rows: Iterable[tuple[str, dict[str, int], bool, str | None]]
                      ) -> None: ...

    def remove_agent(self, agent_id: str) -> None: ...

    def upsert_job(self, job_task: str, required_skills: Iterable[str], min_agents: int,
                   max_agents: int, priority: int, licenses: int) -> None: ...

    def remove_job(self, job_task: str) -> None: ...

    def plan(self) -> Sequence[tuple[str, str, str, str]]: ...


def pool_key(agent: Agent, job: JobTask) -> tuple[int, float, str]:
    """Order of preference: (highest skill level first if the strategy says so),
    then longest idle, then agent id."""
    level = 0
    if job.strategy == "skill_level" and job.required_skills:
        skill = job.required_skills[0]
        level = max((s.level for s in agent.skills if s.name == skill), default=0)
    return (-level, agent.since.timestamp(), agent.agent_id)


class PyPool:
    """A plain-Python pool: the reference behaviour, O(n) per match."""

    def __init__(self) -> None:
        self.by_job: dict[str, dict[str, tuple[int, float, str]]] = {}
        self.where: dict[str, str] = {}

    def sync(self, agent: Agent, job: JobTask | None) -> None:
        old = self.where.pop(agent.agent_id, None)
        if old is not None:
            self.by_job.get(old, {}).pop(agent.agent_id, None)
        if job is not None and sm.is_available(agent, job):
            self.by_job.setdefault(job.job_id, {})[agent.agent_id] = pool_key(agent, job)
            self.where[agent.agent_id] = job.job_id

    def load(self, agents: Iterable[Agent], jobs: Mapping[str, JobTask]) -> None:
        self.clear()
        for a in agents:
            self.sync(a, jobs.get(a.job_id) if a.job_id else None)

    def match(self, job: JobTask) -> str | None:
        cands = self.by_job.get(job.job_id)
        if not cands:
            return None
        best = min(cands.values())
        del cands[best[2]]
        self.where.pop(best[2], None)
        return best[2]

    def clear(self) -> None:
        self.by_job.clear()
        self.where.clear()


@dataclass
class Result:
    reply: m.Accepted | m.Rejected
    agents: dict[str, Agent] = field(default_factory=dict)
    jobs: dict[str, JobTask] = field(default_factory=dict)
    events: list[m.Event] = field(default_factory=list)
    calls: dict[str, str | None] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.agents or self.jobs or self.events or self.calls)


class _View(Mapping[str, Any]):
    """The zone's records as the machine's World: every key is 'loaded', absent records
    read as None. A view, not a copy: copying the zone's dict for every step made each
    command cost in proportion to the zone (267 µs at 20,000 agents against 49 µs at
    1,000); the machine only reads it, and the zone changes it only after the step."""

    __slots__ = ("_d",)

    def __init__(self, d: dict[str, Any]) -> None:
        self._d = d

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        return self._d.get(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self._d.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)


def _gates_changed(old: JobTask | None, new: JobTask) -> bool:
    return old is None or (old.status, old.strategy, old.required_skills) != (
        new.status, new.strategy, new.required_skills)


def colleague(a: Agent) -> Agent:
    """An agent as ListCallbackAgents shows it to another agent's desktop: id, name,
    skills and state; every other field left at its empty default (docs/security.md)."""
    return Agent(agent_id=a.agent_id, zone=a.zone, agent_state=a.agent_state,
                 call_state=a.call_state, job_state=a.job_state, version=a.version,
                 since=a.since, agent_name=a.agent_name, skills=a.skills)


def rejected(code: m.RejectCode, message: str) -> Result:
    return Result(reply=m.Rejected(code=code, message=message))


class Zone:
    """The in-memory state of one zone, authoritative while this instance is active."""

    def __init__(self, name: str, pool: Pool | None, allocator: Callable[[], Allocator]
                 ) -> None:
        self.name = name
        self.agents: dict[str, Agent] = {}
        self.jobs: dict[str, JobTask] = {}
        self.calls: dict[str, str] = {}
        self.pool: Pool = pool if pool is not None else PyPool()
        #: Allocation (the dispatcher's, given by the owner), kept in step with every
        #: agent and job-task change (job-task name: the job id, unique in a zone).
        self.new_allocator = allocator
        self.allocator: Allocator = self.new_allocator()
        #: Running job-tasks as last given to the allocator: (skills, min, max, priority, lic).
        self.alloc_jobs: dict[str, tuple[tuple[str, ...], int, int, int, int]] = {}
        #: Agents a refused allocation step concerned: not moved again in that command.
        self.held: set[str] = set()
        #: ``{name: level}`` per skills tuple (agents share a few), as the allocator takes them.
        self.skill_levels: dict[tuple[m.Skill, ...], dict[str, int]] = {}
        #: Per job: calls connected, calls that found no agent, since this instance
        #: took the zone over. Not part of the durable record (a per-call write of the
        #: job would cost more than the call); the event stream has the exact counts.
        self.counters: dict[str, list[int]] = {}
        #: v1.1 desktop liveness: when each agent's desktop was last heard (a command only
        #: a desktop sends), and the agents whose silence has been alarmed. In memory
        #: only: after a takeover every desktop's clock starts again from the takeover.
        self.seen: dict[str, datetime] = {}
        self.silent: set[str] = set()

    # ---- loading (takeover) --------------------------------------------
    def load(self, agents: Iterable[Agent], jobs: Iterable[JobTask],
             calls: dict[str, str]) -> None:
        self.agents = {a.agent_id: a for a in agents}
        self.jobs = {j.job_id: j for j in jobs}
        self.calls = dict(calls)
        self.allocator = self.new_allocator()
        self.alloc_jobs.clear()
        self.held.clear()
        for j in self.jobs.values():
            self._sync_job(j)
        self.pool.load(self.agents.values(), self.jobs)
        rows = [row for a in self.agents.values() if (row := self._alloc_row(a)) is not None]
        self.allocator.upsert_agents(rows)

    def _index(self, a: Agent) -> None:
        job = self.jobs.get(a.job_id) if a.job_id else None
        self.pool.sync(a, job)
        self._sync_agent(a)

    def _alloc_row(self, a: Agent) -> tuple[str, dict[str, int], bool, str | None] | None:
        """The agent as the allocator sees it, or None if it takes no part.

        Every agent on a job-task counts towards it (its licence), idle or not; only a
        Ready idle one (JobAttached or PendingJobAttach) may be moved. An agent on no job
        is free when Ready, Idle and JobDetached or JobEnd; any other takes no part."""
        ready = a.agent_state is A.READY and a.call_state is C.IDLE
        skills = self.skill_levels.get(a.skills)
        if skills is None:
            if len(self.skill_levels) >= 4096:
                self.skill_levels.clear()
            skills = self.skill_levels[a.skills] = {s.name: s.level for s in a.skills}
        if a.job_id is not None:
            idle = ready and a.job_state in MOVABLE_JOB_STATES
            return (a.agent_id, skills, idle and a.agent_id not in self.held, a.job_id)
        if ready and a.job_state in FREE_JOB_STATES:
            return (a.agent_id, skills, a.agent_id not in self.held, None)
        return None

    def _sync_agent(self, a: Agent) -> None:
        row = self._alloc_row(a)
        if row is None:
            self.allocator.remove_agent(a.agent_id)
        else:
            self.allocator.upsert_agent(*row)

    def _sync_job(self, j: JobTask) -> None:
        if j.status == "running":
            spec = (j.required_skills, j.min_agents, j.max_agents, j.priority, j.licenses)
            if self.alloc_jobs.get(j.job_id) != spec:
                self.allocator.upsert_job(j.job_id, *spec)
                self.alloc_jobs[j.job_id] = spec
        elif self.alloc_jobs.pop(j.job_id, None) is not None:
            self.allocator.remove_job(j.job_id)  # its agents leave through the machine

    # ---- applying ------------------------------------------------------
    def _world(self) -> sm.World:
        return sm.World(agents=_View(self.agents), jobs=_View(self.jobs))

    def _step(self, res: Result, inp: sm.Input, ctx: sm.Context) -> sm.Outcome:
        out = sm.apply(self._world(), inp, ctx)
        self._absorb(res, out.agents, out.jobs, out.events, out.calls)
        for a in out.agents.values():
            if a.next_job_id is not None and a.job_state is J.JOB_END:
                # a move left its old job: joining the new one is a change of its own
                self._step(res, sm.CompleteMove(agent_id=a.agent_id), ctx)
        return out

    def _absorb(self, res: Result, agents: dict[str, Agent], jobs: dict[str, JobTask],
                events: list[m.Event], calls: dict[str, str | None]) -> None:
        gating = [j for j in jobs.values() if _gates_changed(self.jobs.get(j.job_id), j)]
        self.jobs.update(jobs)
        res.jobs.update(jobs)
        for j in jobs.values():
            self._sync_job(j)
        for a in agents.values():
            self.agents[a.agent_id] = a
            res.agents[a.agent_id] = a
        for a in agents.values():
            self._index(a)
        for j in gating:  # a job's status and strategy gate its agents' availability
            for aid in j.assigned:
                if aid in self.agents and aid not in agents:
                    self._index(self.agents[aid])
        for cid, owner in calls.items():
            res.calls[cid] = owner
            if owner is None:
                self.calls.pop(cid, None)
            else:
                self.calls[cid] = owner
        res.events.extend(events)

    # ---- queries -----------------------------------------------------------
    def state_counts(self) -> dict[tuple[str, str], int]:
        """Logged-in agents by (sub-state kind, state name), for the metrics."""
        counts: dict[tuple[str, str], int] = {}
        for a in list(self.agents.values()):
            if a.agent_state is A.LOGOUT:
                continue
            for kind, st in (("agent_state", a.agent_state), ("call_state", a.call_state),
                             ("job_state", a.job_state)):
                counts[(kind, st.value)] = counts.get((kind, st.value), 0) + 1
        return counts

    def logged_in(self) -> list[str]:
        """The agents not logged out."""
        return [a.agent_id for a in self.agents.values() if a.agent_state is not A.LOGOUT]

    def in_doubt(self, changed: Iterable[str]) -> list[str]:
        """Of the agents whose last change may not have reached their desktop (a
        takeover's unconfirmed outbox), those to mark Unknown: logged in, not Unknown."""
        return sorted(aid for aid in changed if (a := self.agents.get(aid)) is not None
                      and a.agent_state not in (A.LOGOUT, A.UNKNOWN))

    def unknown_since(self) -> list[datetime]:
        """Since when each Unknown agent has been Unknown."""
        return [a.since for a in self.agents.values() if a.agent_state is A.UNKNOWN]

    def stale_unknown(self, cutoff: datetime) -> list[str]:
        """Agents Unknown since ``cutoff`` or before (their desktop never resynced)."""
        return sorted(a.agent_id for a in self.agents.values()
                      if a.agent_state is A.UNKNOWN and a.since <= cutoff)

    def handle(self, cmd: m.Command, ctx: sm.Context) -> Result:
        """Apply one wire command; mutate memory; return what to commit and announce."""
        res = self._handle(cmd, ctx)
        # Every change a command leads to names that command as its cause (PROTOCOL.md);
        # the machine's own step (OfferContact, AttachToJob, ...) stays in ``step``.
        name = type(cmd).__name__
        if type(cmd).senders == DESKTOP and isinstance(cmd, m.AgentCommand):
            self.seen[cmd.agent_id] = ctx.now
            self.silent.discard(cmd.agent_id)
            if isinstance(cmd, m.Login) and isinstance(res.reply, m.Accepted):
                res.reply = msgspec.structs.replace(res.reply,
                                                    heartbeat_seconds=ctx.heartbeat_seconds)
        events = res.events
        for i, e in enumerate(events):
            if type(e) is m.AgentStateChanged and e.cause != name:
                events[i] = msgspec.structs.replace(e, cause=name)
        return res

    def _handle(self, cmd: m.Command, ctx: sm.Context) -> Result:
        if isinstance(cmd, m.JobStarted | m.JobPaused | m.JobResumed | m.JobEnded):
            return self._job_command(cmd, ctx)
        if isinstance(cmd, m.CustomerConnected):
            return self._offer(cmd.job_id, "connect", cmd.call_id, cmd.customer, ctx,
                               check_call=True)
        if isinstance(cmd, m.PreviewContactReady):
            return self._offer(cmd.job_id, "preview", cmd.contact_id, cmd.customer, ctx)
        if isinstance(cmd, m.CallbackDue) and cmd.agent_id is None:
            return self._offer(cmd.job_id, "callback", cmd.callback_id, cmd.customer, ctx)
        if isinstance(cmd, m.CustomerDisconnected):
            owner = self.calls.get(cmd.call_id)
            if owner is None:
                return rejected("BadRequest", f"call_id {cmd.call_id!r} is not a call of this zone")
            return self._agent_input(sm.CallEnded(agent_id=owner, call_id=cmd.call_id), ctx)
        if isinstance(cmd, m.GetZoneStatus):
            if cmd.zone != self.name:
                return rejected("BadRequest", "zone differs from the zone the command was sent to")
            live = [a for a in self.agents.values() if a.agent_state is not A.LOGOUT]
            jobs = [msgspec.structs.replace(
                j, calls_connected=self.counters.get(j.job_id, [0, 0])[0],
                calls_no_agent=self.counters.get(j.job_id, [0, 0])[1])
                for j in sorted(self.jobs.values(), key=lambda j: j.job_id)]
            return Result(reply=m.Accepted(agents=sorted(live, key=lambda a: a.agent_id),
                                           jobs=jobs))
        res = self._agent_input(cmd, ctx)
        if isinstance(cmd, m.GetAgentStatus | m.SaveAgentForHA) and isinstance(
                res.reply, m.Accepted) and self.agents[cmd.agent_id].agent_state is A.UNKNOWN:
            # the desktop resyncs after a failover: the agent leaves Unknown, and the
            # reply carries the snapshot it resumes from
            self._step(res, sm.ResolveUnknown(agent_id=cmd.agent_id), ctx)
            res.reply = msgspec.structs.replace(res.reply, agent=self.agents[cmd.agent_id])
        if isinstance(cmd, m.ListCallbackAgents) and isinstance(res.reply, m.Accepted):
            # what a desktop needs to pick a colleague, nothing of its customer or HA data
            live = [colleague(a) for a in self.agents.values() if a.agent_state is not A.LOGOUT]
            res.reply = m.Accepted(agent=res.reply.agent,
                                   agents=sorted(live, key=lambda a: a.agent_id))
        return res

    def desktop_checks(self, ctx: sm.Context, grace_s: float = 30.0
                       ) -> tuple[list[sm.Internal], list[m.Event], datetime | None]:
        """Desktop liveness (PROTOCOL.md v1.1), for the worker to run on a timer.

        Returns the inputs to apply (DesktopLost, WrapupTimeout), the alarms to publish
        (``P_POMAGT_DESKTOP``, once per silence) and when to look again. A desktop is
        live when heard within three ``heartbeat_seconds``; an agent never heard (after
        a takeover) is counted from now."""
        hb = timedelta(seconds=ctx.heartbeat_seconds)
        inputs: list[sm.Internal] = []
        alarms: list[m.Event] = []
        due: datetime | None = None
        for aid, a in self.agents.items():
            if a.agent_state is A.LOGOUT:
                self.seen.pop(aid, None)
                self.silent.discard(aid)
                continue
            last = self.seen.setdefault(aid, ctx.now)
            dead_at = last + 3 * hb
            if ctx.now < dead_at:
                due = dead_at if due is None else min(due, dead_at)
                continue
            if aid not in self.silent:
                self.silent.add(aid)
                alarms.append(m.Alarm(code="P_POMAGT_DESKTOP", severity="minor", agent_id=aid,
                                      zone=self.name,
                                      message=f"the desktop of agent {aid} has been silent for "
                                              f"{(ctx.now - last).total_seconds():.0f} s"))
                inputs.append(sm.DesktopLost(agent_id=aid))
                continue
            if a.call_state is C.WRAPUP:
                w = a.wrapup or m.WrapupSpec()
                limit = a.since + timedelta(seconds=w.wrapup_seconds * (1 + w.wrapup_extensions)
                                            + grace_s)
                if ctx.now >= limit:
                    inputs.append(sm.WrapupTimeout(agent_id=aid, session_id=a.session_id))
                else:
                    due = limit if due is None else min(due, limit)
        return inputs, alarms, due

    def internal(self, inp: sm.Internal, ctx: sm.Context) -> Result:
        """Apply an input no wire command carries (``MarkUnknown`` at a takeover,
        ``ResolveUnknown`` when the resync times out)."""
        return self._agent_input(inp, ctx)

    def _agent_input(self, inp: sm.Input, ctx: sm.Context) -> Result:
        res = Result(reply=m.Accepted())
        out = self._step(res, inp, ctx)
        res.reply = out.reply
        if out.accepted:
            if isinstance(inp, m.MoveAgentToJob) and inp.agent_id in self.agents:
                # a supervisor's move sticks: the allocator may not donate the moved
                # agent back in this command; its old job is refilled with another
                self.held.add(inp.agent_id)
                self._sync_agent(self.agents[inp.agent_id])
            self._allocate(res, ctx)
            final = self.agents.get(inp.agent_id)  # type: ignore[union-attr]
            if final is not None and isinstance(res.reply, m.Accepted):
                # the reply shows the agent as the whole command left it
                res.reply = msgspec.structs.replace(res.reply, agent=final)
        return res

    # ---- dialer --------------------------------------------------------
    def _offer(self, job_id: str, kind: str, session_id: str, customer: dict[str, Any],
               ctx: sm.Context, *, check_call: bool = False) -> Result:
        job = self.jobs.get(job_id)
        if job is None or job.status == "ended":
            return rejected("BadRequest", f"job_id {job_id!r} is not a job-task of this zone")
        # A paused job offers its agents nothing: a contact that still comes (the dialer
        # had it in flight) is answered like any that finds no agent.
        running = job.status == "running"
        if check_call and session_id in self.calls:
            return rejected("BadRequest", f"call_id {session_id!r} is already connected")
        res = Result(reply=m.Accepted())
        # The pool proposes; the machine confirms against the agent's record. A stale
        # proposal (the pool lagging the record) is skipped, never double-booked.
        while True:
            aid = self.pool.match(job) if running else None
            counts = self.counters.setdefault(job_id, [0, 0])
            if aid is None:
                counts[1] += 1
                res.events.append(m.CallNotConnected(job_id=job_id, call_id=session_id,
                                                     kind=kind, at=ctx.now,  # type: ignore[arg-type]
                                                     zone=self.name))
                res.reply = m.Rejected(code="NoAgentAvailable",
                                       message=f"no agent available for job {job_id}"
                                       + ("" if running else " (the job is paused)"))
                return res
            out = self._step(res, sm.OfferContact(agent_id=aid, kind=kind,  # type: ignore[arg-type]
                                                  job_id=job_id, session_id=session_id,
                                                  customer=customer), ctx)
            if out.accepted:
                counts[0] += 1
                res.reply = m.Accepted(agent_id=aid, agent=self.agents[aid])
                return res

    def _job_command(self, cmd: m.JobStarted | m.JobPaused | m.JobResumed | m.JobEnded,
                     ctx: sm.Context) -> Result:
        current = self.jobs.get(cmd.job_id)
        new, reply, follow = sm.apply_job(current, cmd, ctx)
        res = Result(reply=reply)
        if new is None:
            return res
        self._absorb(res, {}, {new.job_id: new}, [m.JobChanged(job_id=new.job_id, job=new,
                                                               cause=type(cmd).__name__,
                                                               zone=self.name)], {})
        for inp in follow:
            self._step(res, inp, ctx)
        self._trim(new.job_id, res, ctx)
        self._allocate(res, ctx)
        job = self.jobs[new.job_id]
        if (isinstance(cmd, m.JobStarted | m.JobResumed) and job.status == "running"
                and len(job.assigned) < job.min_agents):
            # the job (re)starts below its minimum: the blender and supervisors hear now,
            # not only when an agent leaves it
            res.events.append(m.JobAgentShortage(job_id=job.job_id, assigned=len(job.assigned),
                                                 min_agents=job.min_agents, zone=self.name))
        res.reply = m.Accepted(job=job)
        return res

    def _trim(self, job_id: str, res: Result, ctx: sm.Context) -> None:
        """A re-sent JobStarted may lower licences or maximum: the excess agents leave,
        idle ones first (a busy one keeps its call and leaves the job)."""
        job = self.jobs[job_id]
        excess = len(job.assigned) - job.capacity
        if excess <= 0:
            return
        members = sorted((self.agents[a] for a in job.assigned),
                         key=lambda a: (a.call_state is not C.IDLE, a.agent_id))
        for a in members[:excess]:
            self._step(res, sm.DetachFromJob(agent_id=a.agent_id, job_id=job_id,
                                             reason="licences reduced"), ctx)

    # ---- allocation ----------------------------------------------------
    def _allocate(self, res: Result, ctx: sm.Context) -> None:
        """Carry out the allocator's plan (docs/dispatcher.md: skills, minimums, then
        priority; a job below its minimum takes the least proficient idle agent of a
        lower-priority job above its own). The allocator proposes, the machine confirms
        each move: a move the records no longer support is skipped, a refused one holds
        the agent back for the rest of this command (so it is not proposed again and
        again); either way the allocator is given the agent's real state again."""
        try:
            for _ in range(10_000):  # bounded: a plan with no change in between is empty
                moves = self.allocator.plan()
                if not moves:
                    return
                for action, aid, job_id, reason in moves:
                    inp = self._move_input(action, aid, job_id, reason)
                    if inp is None:
                        if aid in self.agents:
                            self._sync_agent(self.agents[aid])
                        continue
                    out = self._step(res, inp, ctx)
                    if not out.accepted:
                        self.held.add(aid)
                        self._sync_agent(self.agents[aid])
        finally:
            held, self.held = self.held, set()
            for aid in held:  # tried again on the next command
                self._sync_agent(self.agents[aid])

    def _move_input(self, action: str, aid: str, job_id: str,
                    reason: str) -> sm.Input | None:
        """The machine input for one planned move, or None if the records say it is stale."""
        a = self.agents.get(aid)
        if a is None:
            return None
        if action == "attach":
            job = self.jobs.get(job_id)
            if a.job_id is not None or job is None or job.status != "running":
                return None
            if reason == "donate":
                return sm.AttachToJob(agent_id=aid, job_id=job_id, reason="donated")
            return sm.AttachToJob(agent_id=aid, job_id=job_id)
        if a.job_id != job_id:
            return None
        return sm.DetachFromJob(agent_id=aid, job_id=job_id,
                                reason=DETACH_REASONS.get(reason, reason))
