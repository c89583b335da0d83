"""A zone driven in memory with a fake clock: the pure core, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dispatcher_rs
from pam_protocol import messages as m
from pam_service.domain import machine as sm
from pam_service.domain.zone import Result, Zone

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
CODES = ["Sale", "NoSale", "CallBackLater"]


class Sim:
    def __init__(self, zone: str = "z1", pool: Any = None, allocator: Any = None,
                 **ctx: Any) -> None:
        self.zone = Zone(zone, pool, allocator or dispatcher_rs.Allocator)
        self.now = T0
        self.ctx_kw = ctx
        self.log: list[tuple[m.Command, Result]] = []

    def ctx(self) -> sm.Context:
        return sm.Context(zone=self.zone.name, now=self.now, **self.ctx_kw)

    def tick(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)

    def send(self, cmd: m.Command) -> Result:
        self.tick()
        res = self.zone.handle(cmd, self.ctx())
        self.log.append((cmd, res))
        return res

    def ok(self, cmd: m.Command) -> Result:
        res = self.send(cmd)
        assert isinstance(res.reply, m.Accepted), (cmd, res.reply)
        return res

    def no(self, cmd: m.Command, code: str) -> Result:
        before = dict(self.zone.agents)
        res = self.send(cmd)
        assert isinstance(res.reply, m.Rejected), (cmd, res.reply)
        assert res.reply.code == code, res.reply
        assert self.zone.agents == before
        return res

    def agent(self, aid: str) -> m.Agent:
        return self.zone.agents[aid]

    def states(self, aid: str) -> tuple[str, str, str]:
        a = self.agent(aid)
        return (a.agent_state.value, a.call_state.value, a.job_state.value)

    # ---- story helpers -------------------------------------------------
    def login(self, aid: str, skills: tuple[str, ...] = ("sales",), level: int = 5) -> None:
        self.ok(m.Login(agent_id=aid, zone=self.zone.name, extension=f"x{aid}",
                        skills=[m.Skill(name=s, level=level) for s in skills], time_zone="UTC",
                        locale="en_US"))

    def job(self, job_id: str = "J", campaign: str = "progressive", **kw: Any) -> None:
        fields: dict[str, Any] = dict(job_id=job_id, action_name="call", zone=self.zone.name,
                                      campaign_type=campaign, required_skills=["sales"],
                                      completion_codes=CODES, default_completion_code="NoSale",
                                      wrapup_seconds=20, wrapup_extensions=1, min_agents=0,
                                      max_agents=1_000_000, priority=1, licenses=1_000_000)
        fields.update(kw)
        self.ok(m.JobStarted(**fields))

    def ready_on_job(self, aid: str, job_id: str = "J", **login: Any) -> None:
        """Login, Ready, attached and nailed: available for the job's calls."""
        self.login(aid, **login)
        self.ok(m.Ready(agent_id=aid))
        assert self.agent(aid).job_id == job_id, self.agent(aid)
        self.ok(m.NailingEstablished(agent_id=aid))
        assert self.states(aid) == ("Ready", "Idle", "JobAttached")

    def connect(self, call_id: str, job_id: str = "J") -> str:
        res = self.ok(m.CustomerConnected(job_id=job_id, call_id=call_id, customer={}))
        assert isinstance(res.reply, m.Accepted) and res.reply.agent_id
        return res.reply.agent_id

    def events(self, res: Result, cls: type[m.Event]) -> list[Any]:
        return [e for e in res.events if isinstance(e, cls)]
