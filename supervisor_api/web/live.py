"""The dashboard's live picture of the zones, fed by PAM's events (no polling).

One ``Board`` per dashboard process: it subscribes to the zones' agent state changes,
notifications (``POMAvailable`` / ``POMNotAvailable``), job events and alarms *before*
asking PAM for each zone's snapshot (``GetZoneStatus``), so no change falls between the
two; after that every change arrives as an event. Events are delivered at least once and
snapshots may cross events in flight, so an agent's record is replaced only by a higher
``version``. Each browser's server-sent-event stream is an ``asyncio.Queue`` the board
fans changes out to (``subscribe``).

A zone is *unavailable* when its PAM said so (``POMNotAvailable``), or when its snapshot
request goes unanswered (no active instance: a failover in progress). A background task
asks again with back-off until the zone answers; ``POMAvailable`` marks it available
and triggers a fresh snapshot (the new instance may hold changes we missed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from pam_protocol import messages as m
from pam_protocol.client import EventStream, PamError, ReplyTimeout, UnknownZone
from supervisor_api.client import SupervisorClient

log = logging.getLogger("pam.dashboard")


class Today(msgspec.Struct, frozen=True, kw_only=True):
    """An agent's figures for the current day (from the report store)."""

    calls: int = 0
    talk_s: float = 0.0
    wrapup_s: float = 0.0
    idle_s: float = 0.0
    not_ready_s: float = 0.0


class AlarmRow(msgspec.Struct, frozen=True, kw_only=True):
    received: datetime
    zone: str
    code: str
    severity: str
    agent_id: str | None
    message: str


class ZoneInfo(msgspec.Struct, frozen=True, kw_only=True):
    zone: str
    available: bool
    #: Why not available, for the banner.
    reason: str | None = None


class JobRow(msgspec.Struct, frozen=True, kw_only=True):
    zone: str
    job_id: str
    action_name: str
    campaign_type: str
    status: str
    priority: int
    min_agents: int
    max_agents: int
    licenses: int
    assigned: int
    #: Since the serving PAM instance took the zone over (exact daily figures: the
    #: Campaign Detail report).
    calls_connected: int
    calls_no_agent: int


Change = tuple[Literal["agent", "job", "alarm", "zone", "today", "resync", "close"], Any]


class Board:
    def __init__(self, sup: SupervisorClient, zones: Iterable[str], *,
                 today: Callable[[list[str]], Awaitable[dict[str, Today]]] | None = None,
                 max_alarms: int = 500, retry_s: float = 1.0,
                 today_every_s: float = 1.0, today_on_change: bool = True) -> None:
        self.sup = sup
        self.zones = list(zones)
        self.agents: dict[str, dict[str, m.AgentSnapshot]] = {z: {} for z in self.zones}
        self.jobs: dict[str, dict[str, m.JobTask]] = {z: {} for z in self.zones}
        self.counts: dict[tuple[str, str], list[int]] = {}
        self.zone_info: dict[str, ZoneInfo] = {
            z: ZoneInfo(zone=z, available=False, reason="connecting") for z in self.zones}
        self.alarms: deque[AlarmRow] = deque(maxlen=max_alarms)
        self.today: dict[str, Today] = {}
        self._today_source = today
        #: Agents whose figures to re-read; read together at most every ``today_every_s``
        #: (a busy zone changes hundreds of agents a second; the store is read in bulk).
        self._dirty: set[str] = set()
        self._today_every_s = today_every_s
        self._today_task: asyncio.Task[None] | None = None
        #: Re-read on every state change (when no in-process ingester says "stored").
        self.today_on_change = today_on_change
        self._subscribers: set[asyncio.Queue[Change]] = set()
        self._stream: EventStream | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._resnap: dict[str, asyncio.Task[None]] = {}
        self._retry_s = retry_s
        self.started = asyncio.Event()

    # ---- life ------------------------------------------------------------
    async def start(self) -> None:
        patterns: list[str] = []
        for z in self.zones:
            patterns += [m.ROUTES[r].pattern(z) for r in ("state", "notify", "alarm", "job")]
        self._stream = await self.sup.pam.subscribe(patterns)
        self._spawn(self._pump(self._stream))
        await asyncio.gather(*(self.snapshot(z) for z in self.zones))
        self.started.set()

    def not_ready(self) -> str | None:
        """Why the board is not following its zones (``/readyz``), or None."""
        conn = self.sup.pam.conn
        if conn.is_closed or not conn.connected.is_set():
            return "not connected to RabbitMQ"
        if not self.started.is_set():
            return "loading the zones"
        if self._stream is None or self._stream.channel.is_closed:
            return "not following the zones' events"
        return None

    async def stop(self) -> None:
        for q in list(self._subscribers):  # end the browsers' streams: the server can stop
            while not q.empty():
                q.get_nowait()
            q.put_nowait(("close", None))
        tasks = [*self._tasks, *self._resnap.values()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._stream is not None:
            with contextlib.suppress(Exception):
                await self._stream.close()

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    # ---- subscribers (one per browser stream) -----------------------------
    def subscribe(self) -> asyncio.Queue[Change]:
        q: asyncio.Queue[Change] = asyncio.Queue(maxsize=10_000)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Change]) -> None:
        self._subscribers.discard(q)

    def _fan_out(self, change: Change) -> None:
        for q in list(self._subscribers):
            try:
                q.put_nowait(change)
            except asyncio.QueueFull:  # a stalled browser: it gets a fresh snapshot
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(("resync", None))

    # ---- snapshots -------------------------------------------------------
    async def snapshot(self, zone: str) -> bool:
        """Ask PAM for the zone; on failure mark it unavailable and keep asking."""
        try:
            reply = await self.sup.zone_status(zone)
        except (ReplyTimeout, UnknownZone, PamError) as e:
            reason = ("no PAM instance serves this zone" if isinstance(e, UnknownZone)
                      else "PAM does not answer (failover in progress?)")
            self._set_zone(zone, False, reason)
            self._schedule_resnap(zone)
            return False
        for a in reply.agents or []:
            self._put_agent(a)
        live = {a.agent_id for a in reply.agents or []}
        for aid in [a for a in self.agents[zone] if a not in live]:
            gone = self.agents[zone].pop(aid)
            self._fan_out(("agent", _logged_out(gone)))
        for j in reply.jobs or []:
            self.counts[(zone, j.job_id)] = [j.calls_connected, j.calls_no_agent]
            self._put_job(zone, j)
        self._set_zone(zone, True, None)
        self.refresh_today(live)
        return True

    def _schedule_resnap(self, zone: str, delay: float | None = None) -> None:
        if zone in self._resnap and not self._resnap[zone].done():
            return

        async def again() -> None:
            wait = self._retry_s if delay is None else delay
            while True:
                await asyncio.sleep(wait)
                if await self.snapshot(zone):
                    return
                wait = min(wait * 2, 15.0)

        self._resnap[zone] = asyncio.ensure_future(again())

    # ---- events ----------------------------------------------------------
    async def _pump(self, stream: EventStream) -> None:
        async for _, ev in stream:
            try:
                await self.apply(ev)
            except Exception:  # one odd event must not stop the board
                log.exception("could not apply an event", extra={"event": type(ev).__name__})

    async def apply(self, ev: m.AnyEvent) -> None:
        zone = ev.zone
        if zone not in self.agents:
            return
        if isinstance(ev, m.AgentStateChanged):
            self._put_agent(ev.snapshot)
        elif isinstance(ev, m.POMNotAvailable):
            self._set_zone(zone, False, "PAM announced the zone is going down (failover)")
            # a standby takes the zone over on its first command: ask until one answers
            self._schedule_resnap(zone)
        elif isinstance(ev, m.POMAvailable):
            if not self.zone_info[zone].available:
                self._set_zone(zone, True, None)
                await self.snapshot(zone)
        elif isinstance(ev, m.Alarm):
            row = AlarmRow(received=datetime.now(UTC), zone=zone, code=ev.code,
                           severity=ev.severity, agent_id=ev.agent_id, message=ev.message)
            self.alarms.append(row)
            self._fan_out(("alarm", row))
        elif isinstance(ev, m.JobChanged):
            self._put_job(zone, ev.job)
        elif isinstance(ev, m.AgentAttached | m.AgentDetached):
            # membership changes announce themselves, not with a whole JobChanged
            job = self.jobs[zone].get(ev.job_id)
            if job is not None:
                members = set(job.assigned)
                if isinstance(ev, m.AgentAttached):
                    members.add(ev.agent_id)
                else:
                    members.discard(ev.agent_id)
                self._put_job(zone, msgspec.structs.replace(job, assigned=tuple(sorted(members))))
        elif isinstance(ev, m.CallNotify) and ev.job_id and ev.origin == "connect":
            self._count(zone, ev.job_id, 0)
        elif isinstance(ev, m.CallNotConnected):
            self._count(zone, ev.job_id, 1)

    def _count(self, zone: str, job_id: str, which: int) -> None:
        c = self.counts.setdefault((zone, job_id), [0, 0])
        c[which] += 1
        job = self.jobs[zone].get(job_id)
        if job is not None:
            self._fan_out(("job", self.job_row(zone, job)))

    def _put_agent(self, a: m.AgentSnapshot) -> None:
        zone_agents = self.agents.setdefault(a.zone, {})
        cur = zone_agents.get(a.agent_id)
        if cur is not None and cur.version >= a.version:
            return  # a duplicate or an older record
        if a.agent_state == "Logout":
            zone_agents.pop(a.agent_id, None)
        else:
            zone_agents[a.agent_id] = a
        self._fan_out(("agent", a))
        if self.today_on_change and (cur is None or cur.call_state != a.call_state
                                     or cur.agent_state != a.agent_state):
            self.refresh_today([a.agent_id])

    def _put_job(self, zone: str, j: m.JobTask) -> None:
        cur = self.jobs[zone].get(j.job_id)
        if cur == j:
            return
        self.jobs[zone][j.job_id] = j
        self._fan_out(("job", self.job_row(zone, j)))

    def _set_zone(self, zone: str, available: bool, reason: str | None) -> None:
        info = ZoneInfo(zone=zone, available=available, reason=reason)
        if info != self.zone_info.get(zone):
            self.zone_info[zone] = info
            self._fan_out(("zone", info))

    def refresh_today(self, agent_ids: Iterable[str]) -> None:
        """Re-read these agents' figures soon (coalesced with other requests)."""
        if self._today_source is None:
            return
        self._dirty.update(agent_ids)
        if self._dirty and (self._today_task is None or self._today_task.done()):
            self._today_task = self._spawn(self._flush_today())

    async def _flush_today(self) -> None:
        assert self._today_source is not None
        while self._dirty:
            ids, self._dirty = sorted(self._dirty), set()
            try:
                figures = await self._today_source(ids)
            except Exception:
                log.exception("could not read today's figures from the report store")
                figures = {}
            for aid, t in figures.items():
                if self.today.get(aid) != t:
                    self.today[aid] = t
                    self._fan_out(("today", {"agent_id": aid, **msgspec.to_builtins(t)}))
            await asyncio.sleep(self._today_every_s)

    # ---- views -----------------------------------------------------------
    def job_row(self, zone: str, j: m.JobTask) -> JobRow:
        c = self.counts.get((zone, j.job_id), [0, 0])
        return JobRow(zone=zone, job_id=j.job_id, action_name=j.action_name,
                      campaign_type=j.campaign_type, status=j.status, priority=j.priority,
                      min_agents=j.min_agents, max_agents=j.max_agents, licenses=j.licenses,
                      assigned=len(j.assigned), calls_connected=c[0], calls_no_agent=c[1])

    def all_agents(self) -> list[m.AgentSnapshot]:
        return [a for z in self.zones for a in sorted(self.agents[z].values(),
                                                      key=lambda a: a.agent_id)]

    def all_jobs(self) -> list[JobRow]:
        return [self.job_row(z, j) for z in self.zones
                for j in sorted(self.jobs[z].values(), key=lambda j: j.job_id)]

    def find(self, agent_id: str) -> m.AgentSnapshot | None:
        for z in self.zones:
            a = self.agents[z].get(agent_id)
            if a is not None:
                return a
        return None


def _logged_out(a: m.AgentSnapshot) -> m.AgentSnapshot:
    return msgspec.structs.replace(a, agent_state=m.AgentState.LOGOUT, version=a.version + 1)
