"""A whole contact center against a running PAM, on the wire, through PamClient.

Simulated agent desktops (login, ready, calls, hold, consult / transfer / conference,
wrap-up, breaks, walkaways, logout at shift end), a simulated dialer (one job-task per
campaign type per zone, paced customers, previews, callbacks), a simulated media side
(nailing, dialling, customers hanging up after a talk time) and an inbound-demand
signal for the blender. The media side acts only on PAM's telephony instructions
(``telephony.<zone>``, docs/media.md): its lines and calls are its own model of what
it was told, never read from state events. Desktops act only on what PAM told them
(its events), so a command can meet a state that moved meanwhile; those refusals are
counted as races, not errors, when PAM's reply shows a newer version than the desktop
knew.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pam_loadtest.checkers import Checker
from pam_loadtest.config import Scenario
from pam_protocol import messages as m
from pam_protocol.client import EventStream, PamClient, ReplyTimeout

EXPECTED_LATE = {"CustomerDisconnected", "NailingEstablished", "NailingDropped", "DialResult"}


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    sent: int = 0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[dict[str, Any]] = field(default_factory=list)
    races: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    calls_connected: int = 0
    calls_abandoned: int = 0
    resyncs: int = 0
    previews: int = 0
    callbacks: int = 0
    series: list[dict[str, Any]] = field(default_factory=list)
    busy_samples: int = 0
    logged_samples: int = 0
    window_lat: list[float] = field(default_factory=list)
    window_sent: int = 0
    window_calls: int = 0


class LoadTest:
    def __init__(self, sc: Scenario, on_tick: Callable[[LoadTest], None] | None = None) -> None:
        self.sc = sc
        self.rng = random.Random(sc.seed)
        self.on_tick = on_tick
        self.stats = Stats()
        self.checker = Checker()
        self.view: dict[str, m.Agent] = {}
        self.zone_of: dict[str, str] = {}
        self.avail: dict[str, set[str]] = defaultdict(set)  # job -> available agents
        self.jobs: dict[str, list[tuple[str, str]]] = defaultdict(list)  # zone -> (job, type)
        self.job_type: dict[str, str] = {}
        self.inflight = asyncio.Semaphore(sc.max_in_flight)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stopping = False
        self.shift_over = False
        self.client: PamClient | None = None
        self.events: EventStream | None = None
        self.agents: list[str] = []
        self.call_seq = 0
        self.sending = 0
        self.offering: dict[str, int] = defaultdict(int)  # job -> offers awaiting a reply
        self.resyncing: set[str] = set()  # agents whose GetAgentStatus / SaveAgentForHA is out
        # the media side's own model, built only from telephony instructions
        self.lines: dict[str, tuple[int, bool]] = {}  # agent -> (nail order, established)
        self.nail_orders = 0
        self.media_calls: dict[str, str] = {}  # live customer call -> agent it is bridged to
        self.instructions: dict[str, int] = defaultdict(int)

    # ---- plumbing --------------------------------------------------------
    def spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    def later(self, delay: float, fn: Callable[[], Any]) -> None:
        async def go() -> None:
            await asyncio.sleep(max(0.0, delay))
            res = fn()
            if asyncio.iscoroutine(res):
                await res
        self.spawn(go())

    async def send(self, zone: str, cmd: m.Command) -> m.AnyReply | None:
        if self.stopping:  # the simulated day is over: nothing new is started
            return None
        self.sending += 1
        try:
            return await self._send(zone, cmd)
        finally:
            self.sending -= 1

    async def _send(self, zone: str, cmd: m.Command) -> m.AnyReply | None:
        assert self.client is not None
        name = type(cmd).__name__
        aid = getattr(cmd, "agent_id", None)
        known = self.view[aid].version if aid in self.view else 0
        mid = uuid.uuid4().hex
        async with self.inflight:
            self.checker.on_sent(mid, f"{name} to {zone}" + (f" for {aid}" if aid else ""))
            self.stats.sent += 1
            self.stats.window_sent += 1
            t0 = time.perf_counter()
            reply: m.AnyReply | None = None
            for _ in range(3):  # a timed-out command is re-sent with its message_id
                try:
                    reply = await self.client.send(zone, cmd, message_id=mid,
                                                   timeout=self.sc.reply_timeout_s)
                    break
                except ReplyTimeout:
                    continue
                except Exception as e:
                    self.error(f"client:{type(e).__name__}", name, str(e))
                    return None
            ms = (time.perf_counter() - t0) * 1000
        if reply is None:
            self.error("timeout", name, f"no reply after 3 tries ({mid})")
            return None
        self.checker.on_reply(mid)
        self.stats.latencies[name].append(ms)
        self.stats.window_lat.append(ms)
        if isinstance(reply, m.Rejected):
            self.classify(name, cmd, reply, known)
        return reply

    def error(self, code: str, name: str, message: str) -> None:
        self.stats.errors[code] += 1
        if len(self.stats.error_samples) < 50:
            self.stats.error_samples.append({"code": code, "command": name, "message": message})

    def classify(self, name: str, cmd: m.Command, r: m.Rejected, known: int) -> None:
        if r.code == "NoAgentAvailable":
            if name == "CustomerConnected":
                self.stats.calls_abandoned += 1
            return
        if r.code == "Unavailable" and r.agent is not None and (
                r.agent.agent_state.value == "Unknown"):
            # in doubt after a failover: the desktop resyncs, then carries on
            self.stats.races[f"{name}:{r.code}"] += 1
            self._absorb(r.agent)
            self.spawn(self._resync(r.agent.agent_id, r.agent.zone))
            return
        if r.agent is not None and r.agent.version > known:
            self.stats.races[f"{name}:{r.code}"] += 1  # acted on a state that moved since
            return
        if name == "Consult" and r.code in ("InvalidTransition", "LimitReached") and (
                "target" in r.message):
            self.stats.races[f"{name}:{r.code}"] += 1  # the colleague's state moved meanwhile
            return
        if name in EXPECTED_LATE and r.code in ("BadRequest", "InvalidTransition",
                                                "NotLoggedIn"):
            self.stats.races[f"{name}:{r.code}"] += 1  # a fact about a contact already over
            return
        if self.shift_over and r.code == "NotLoggedIn":
            self.stats.races[f"{name}:{r.code}"] += 1
            return
        self.error(r.code, name, r.message)

    # ---- the run ---------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        sc = self.sc
        self.client = await PamClient.connect(sc.amqp_url)
        self.events = await self.client.subscribe(
            [r.pattern(z) for z in sc.zones for r in m.ROUTES.values()])
        pump = asyncio.ensure_future(self._pump())
        try:
            await self._start_jobs()
            self.agents = [f"{sc.zones[i % len(sc.zones)]}-a{i:05d}" for i in range(sc.agents)]
            for i, aid in enumerate(self.agents):
                self.zone_of[aid] = sc.zones[i % len(sc.zones)]
                self.later(self.rng.uniform(0, sc.desktop.login_spread_s),
                           lambda aid=aid, i=i: self._login(aid, i))  # type: ignore[misc]
            loops = [asyncio.ensure_future(x) for x in (
                self._dialer(), self._breaks(), self._sampler(), self._demand())]
            self.later(max(0.0, sc.duration_s - sc.desktop.logout_spread_s), self._shift_end)
            await asyncio.sleep(sc.duration_s)
            self.stopping = True
            for lp in loops:
                lp.cancel()
            # every command already sent gets its answer; timers not yet fired are dropped
            deadline = time.monotonic() + sc.drain_s + 3 * sc.reply_timeout_s
            while self.sending and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            # let the last events arrive, then account
            await asyncio.sleep(0.5)
        finally:
            pump.cancel()
            for t in list(self.tasks):
                t.cancel()
            with contextlib.suppress(Exception):
                await self.client.close()
        return self.summary()

    async def _start_jobs(self) -> None:
        sc = self.sc
        for z in sc.zones:
            for ctype in sc.dialer.campaigns:
                job_id = f"{z}-{ctype}"
                self.jobs[z].append((job_id, ctype))
                self.job_type[job_id] = ctype
                r = await self.send(z, m.JobStarted(
                    job_id=job_id, action_name="calls", zone=z, campaign_type=ctype,  # type: ignore[arg-type]
                    required_skills=[f"skill-{ctype}"], min_agents=1,
                    max_agents=sc.agents, priority=1 + sc.dialer.campaigns.index(ctype),
                    licenses=sc.dialer.licenses,
                    completion_codes=["Sale", "NoSale", "CallBackLater", "WrongNumber"],
                    default_completion_code="NoSale", wrapup_seconds=30, wrapup_extensions=1,
                    strategy="skill_level" if ctype == "predictive" else "longest_idle"))
                if not isinstance(r, m.Accepted):
                    raise SystemExit(f"pam-loadtest: JobStarted {job_id} refused: {r}")

    async def _login(self, aid: str, i: int) -> None:
        campaigns = self.sc.dialer.campaigns
        skills = [m.Skill(name=f"skill-{campaigns[i % len(campaigns)]}",
                          level=self.rng.randint(1, 10))]
        if self.rng.random() < 0.3:
            skills.append(m.Skill(name=f"skill-{self.rng.choice(campaigns)}",
                                  level=self.rng.randint(1, 10)))
        unique = list({s.name: s for s in reversed(skills)}.values())
        zone = self.zone_of[aid]
        r = await self.send(zone, m.Login(agent_id=aid, zone=zone, extension=aid[-5:],
                                          skills=unique, time_zone="UTC", locale="en_US"))
        if isinstance(r, m.Accepted) and r.agent is not None:
            self._absorb(r.agent)
            if r.heartbeat_seconds:
                self.spawn(self._heartbeat(aid, zone, r.heartbeat_seconds))
            await self.send(zone, m.Ready(agent_id=aid))

    async def _heartbeat(self, aid: str, zone: str, every: int) -> None:
        """A live desktop: DesktopHeartbeat every interval while logged in (v1.1)."""
        while not self.stopping:
            await asyncio.sleep(every * self.rng.uniform(0.5, 0.9))
            a = self.view.get(aid)
            if a is None or a.agent_state.value == "Logout":
                return
            await self.send(zone, m.DesktopHeartbeat(agent_id=aid))

    # ---- events ------------------------------------------------------------
    async def _pump(self) -> None:
        assert self.events is not None
        async for _rk, ev in self.events:
            self.checker.on_event(ev)
            try:
                self._react(ev)
            except Exception as e:  # the harness's own bug must not stop the checks
                self.error("harness", type(ev).__name__, repr(e))

    def _absorb(self, a: m.Agent) -> m.Agent | None:
        old = self.view.get(a.agent_id)
        if old is not None and old.version >= a.version:
            return None
        self.view[a.agent_id] = a
        job = a.job_id
        for j in ((old.job_id,) if old is not None and old.job_id else ()):
            self.avail[j].discard(a.agent_id)
        if job and (a.agent_state.value, a.call_state.value, a.job_state.value) == (
                "Ready", "Idle", "JobAttached") and a.nailed:
            self.avail[job].add(a.agent_id)
        elif job:
            self.avail[job].discard(a.agent_id)
        return old

    def _react(self, ev: m.Event) -> None:
        if isinstance(ev, m.AgentStateChanged):
            a = ev.snapshot
            old = self._absorb(a)
            if old is None and not (ev.previous is None or a.version == 1):
                return
            if a.agent_state.value == "Unknown":
                self.spawn(self._resync(a.agent_id, a.zone))
            elif (ev.step or ev.cause) == "ResolveUnknown":
                self._resume(a)
            else:
                self._desktop(a, ev.previous)
        elif isinstance(ev, m.POMAvailable):
            # a PAM instance took the zone over: a desktop resyncs (GetAgentStatus)
            if ev.agent_id in self.view:
                self.spawn(self._resync(ev.agent_id, ev.zone))
        elif isinstance(ev, m.TelephonyInstruction):
            self._media(ev)

    # ---- the media side: only telephony instructions -------------------------
    def _media(self, ev: m.TelephonyInstruction) -> None:
        self.instructions[type(ev).__name__] += 1
        aid = ev.agent_id
        if isinstance(ev, m.NailAgent):
            self.nail_orders += 1
            order = self.nail_orders
            self.lines[aid] = (order, False)
            self.later(self.sc.media.nail_s, lambda: self._nailed(ev.zone, aid, order))
        elif isinstance(ev, m.UnnailAgent):
            self.lines.pop(aid, None)  # a nail still being set up is abandoned too
        elif isinstance(ev, m.ConnectCall):
            self.stats.calls_connected += 1
            self.stats.window_calls += 1
            self.media_calls[ev.call_id] = aid
            self._hangup_later(ev.zone, ev.call_id)
        elif isinstance(ev, m.DialCustomer):
            answered = self.rng.random() < self.sc.dialer.answer_share
            self.later(self.sc.dialer.dial_s, lambda: self._dial_result(ev, answered))
        elif isinstance(ev, m.ReleaseCall):
            self.media_calls.pop(ev.call_id, None)  # PAM ended it: no disconnect to report
        elif isinstance(ev, m.TransferCall):
            if ev.to_agent_id is not None:
                self.media_calls[ev.call_id] = ev.to_agent_id
            else:  # handed to an outside party: the call is no longer PAM's to report
                self.media_calls.pop(ev.call_id, None)
        # ConsultCall, ConferenceCall, DropParty, PlayHold, StopHold: legs and music on
        # a call the simulated switch bridges; nothing to report back to PAM

    async def _nailed(self, zone: str, aid: str, order: int) -> None:
        if self.lines.get(aid) != (order, False):
            return  # unnailed, or nailed again since: this order is void
        self.lines[aid] = (order, True)
        await self.send(zone, m.NailingEstablished(agent_id=aid))

    async def _dial_result(self, ev: m.DialCustomer, answered: bool) -> None:
        r = await self.send(ev.zone, m.DialResult(
            agent_id=ev.agent_id, session_id=ev.session_id,
            result="answered" if answered else "no_answer"))
        if answered and isinstance(r, m.Accepted):
            self.media_calls[ev.session_id] = ev.agent_id
            self._hangup_later(ev.zone, ev.session_id)

    def _hangup_later(self, zone: str, call_id: str) -> None:
        t = self.sc.talk
        talk = max(t.min_s, self.rng.lognormvariate(math.log(t.mean_s) - t.sigma ** 2 / 2,
                                                    t.sigma))
        self.later(talk, lambda: self._customer_hangs_up(zone, call_id))

    async def _customer_hangs_up(self, zone: str, call_id: str) -> None:
        if self.media_calls.pop(call_id, None) is not None:
            await self.send(zone, m.CustomerDisconnected(call_id=call_id))

    # ---- the desktop ---------------------------------------------------------
    def _desktop(self, a: m.Agent, prev: m.Agent | None) -> None:
        """What the agent does on seeing its new state (acting later on a fresh view)."""
        d = self.sc.desktop
        aid, zone = a.agent_id, a.zone
        cs, ps = a.call_state.value, (prev.call_state.value if prev else "Idle")
        if cs == ps and (prev is None or prev.session_id == a.session_id):
            return
        if cs == "Wrapup":
            code = None if self.rng.random() < d.default_code_share else self.rng.choice(
                ["Sale", "NoSale", "CallBackLater"])
            sid = a.session_id or ""
            self.later(self.rng.expovariate(1 / d.wrapup_mean_s), lambda: self._if(
                aid, "Wrapup", sid, m.WrapupContact(agent_id=aid, session_id=sid,
                                                    completion_code=code)))
        elif cs in ("Preview", "Callback"):
            sid = a.session_id or ""
            cmd: m.Command = (m.PreviewDial(agent_id=aid, session_id=sid)
                              if self.rng.random() < d.preview_dial_share
                              else m.PreviewCancel(agent_id=aid, session_id=sid))
            if cs == "Preview":
                self.stats.previews += 1
            else:
                self.stats.callbacks += 1
            self.later(self.rng.uniform(0.3, 1.5), lambda: self._if(aid, cs, sid, cmd))
        elif cs == "Talking" and ps in ("Idle", "Dialing"):
            sid = a.session_id or ""
            roll = self.rng.random()
            if roll < d.hold_share:
                self.later(self.rng.uniform(0.5, 2), lambda: self._hold(aid, sid))
            elif roll < d.hold_share + d.consult_share:
                self.later(self.rng.uniform(0.5, 2), lambda: self._consult(aid, zone, sid))
        elif cs == "Consult" and a.consult_initiator and a.peer_agent_id:
            sid = a.session_id or ""
            final: m.Command = (m.Transfer(agent_id=aid)
                                if self.rng.random() < d.transfer_share_of_consults
                                else m.Conference(agent_id=aid))
            self.later(d.consult_s, lambda: self._if(aid, "Consult", sid, final))
        elif cs == "ConferenceOwner" and ps == "Consult":
            sid = a.session_id or ""
            self.later(d.conference_s, lambda: self._if(
                aid, "ConferenceOwner", sid, m.EndConference(agent_id=aid)))
        elif cs == "Idle" and self.shift_over:
            self._log_out(aid)

    async def _resync(self, aid: str, zone: str) -> None:
        """What a desktop does on POMAvailable, or when told it is Unknown: ask for its
        state (GetAgentStatus, or SaveAgentForHA with its data), which also ends Unknown,
        and carry on from the snapshot in the reply."""
        if aid in self.resyncing:
            return
        self.resyncing.add(aid)
        try:
            cmd: m.Command = (m.SaveAgentForHA(agent_id=aid, data={"desktop": aid})
                              if self.rng.random() < 0.3 else m.GetAgentStatus(agent_id=aid))
            r = await self.send(zone, cmd)
        finally:
            self.resyncing.discard(aid)
        if isinstance(r, m.Accepted) and r.agent is not None:
            self.stats.resyncs += 1
            old = self._absorb(r.agent)
            if old is not None and old.agent_state.value == "Unknown":
                self._resume(r.agent)

    def _resume(self, a: m.Agent) -> None:
        """Carry on after a resync: an idle agent (PAM resolves it NotReady) says Ready
        again; one in wrap-up or with a preview acts on it as on first sight."""
        if a.agent_state.value == "NotReady" and a.call_state.value == "Idle":
            if self.shift_over:
                self._log_out(a.agent_id)
            else:
                self.later(self.rng.uniform(0.1, 0.5), lambda: self._back(a.agent_id))
        elif a.agent_state.value != "Logout":
            self._desktop(a, None)

    async def _if(self, aid: str, call_state: str, sid: str, cmd: m.Command) -> None:
        """Send ``cmd`` only if the desktop still sees the state it decided on."""
        a = self.view.get(aid)
        if a is None or a.call_state.value != call_state or (a.session_id or "") != sid:
            return
        await self.send(a.zone, cmd)

    async def _hold(self, aid: str, sid: str) -> None:
        a = self.view.get(aid)
        if a is None or a.call_state.value != "Talking" or a.session_id != sid:
            return
        r = await self.send(a.zone, m.HoldCall(agent_id=aid))
        if isinstance(r, m.Accepted):
            self.later(self.sc.desktop.hold_s, lambda: self._if(
                aid, "Hold", sid, m.UnholdCall(agent_id=aid)))

    async def _consult(self, aid: str, zone: str, sid: str) -> None:
        a = self.view.get(aid)
        if a is None or a.call_state.value != "Talking" or a.session_id != sid:
            return
        # a colleague that is Ready and idle (or, rarely, an external number)
        cands = [x for x in self.view.values() if x.zone == zone and x.agent_id != aid
                 and x.agent_state.value == "Ready" and x.call_state.value == "Idle"]
        if not cands or self.rng.random() < 0.1:
            r = await self.send(zone, m.Consult(agent_id=aid, target_number="+15550100"))
            if isinstance(r, m.Accepted):
                self.later(self.sc.desktop.consult_s, lambda: self._if(
                    aid, "Consult", sid, m.CancelConsult(agent_id=aid)))
            return
        target = self.rng.choice(cands[:50])
        r = await self.send(zone, m.Consult(agent_id=aid, target_agent_id=target.agent_id))
        if isinstance(r, m.Accepted) and r.agent is not None and r.agent.outgoing_consult:
            # the colleague was busy: the consult waits; withdraw it after a while
            self.later(self.sc.desktop.consult_s, lambda: self._withdraw(aid, sid))

    async def _withdraw(self, aid: str, sid: str) -> None:
        a = self.view.get(aid)
        if a is not None and a.outgoing_consult and a.session_id == sid and (
                a.call_state.value in ("Talking", "Hold")):
            await self.send(a.zone, m.CancelConsult(agent_id=aid))

    async def _breaks(self) -> None:
        d = self.sc.desktop
        while True:
            await asyncio.sleep(1.0)
            if self.shift_over:
                continue
            p = d.break_per_min / 60
            for a in list(self.view.values()):
                if (a.agent_state.value == "Ready" and a.call_state.value == "Idle"
                        and self.rng.random() < p):
                    walk = self.rng.random() < d.walkaway_share
                    self.spawn(self._take_break(a.agent_id, walk))
            # the media side drops a line it holds up now and then
            for aid, (_, up) in list(self.lines.items()):
                if up and self.rng.random() < self.sc.media.nail_drop_per_min / 60:
                    self.lines.pop(aid, None)
                    self.spawn(self.send(self.zone_of[aid], m.NailingDropped(agent_id=aid)))

    async def _take_break(self, aid: str, walkaway: bool) -> None:
        zone = self.zone_of[aid]
        r = await self.send(zone, m.NotReady(agent_id=aid, walkaway=walkaway,
                                             reason_code=self.rng.choice(
                                                 self.sc.desktop.reason_codes)))
        if isinstance(r, m.Accepted):
            self.later(self.rng.expovariate(1 / self.sc.desktop.break_s), lambda: self._back(aid))

    async def _back(self, aid: str) -> None:
        a = self.view.get(aid)
        if a is not None and a.agent_state.value == "NotReady" and not self.shift_over:
            await self.send(a.zone, m.Ready(agent_id=aid))

    def _shift_end(self) -> None:
        self.shift_over = True
        spread = self.sc.desktop.logout_spread_s
        for aid in self.agents:
            self.later(self.rng.uniform(0, spread * 0.5), lambda aid=aid: self._log_out(aid))  # type: ignore[misc]

    def _log_out(self, aid: str) -> None:
        a = self.view.get(aid)
        if a is None or a.agent_state.value == "Logout":
            return
        zone = a.zone

        async def go() -> None:
            cur = self.view.get(aid)
            if cur is None:
                return
            if cur.agent_state.value in ("Ready",) or (
                    cur.agent_state.value in ("Busy", "WorkNotReady")):
                await self.send(zone, m.NotReady(agent_id=aid, reason_code=0))
            cur = self.view.get(aid)
            if cur is not None and cur.agent_state.value == "NotReady" and (
                    cur.call_state.value == "Idle"):
                await self.send(zone, m.Logout(agent_id=aid))
        self.spawn(go())

    # ---- the dialer -----------------------------------------------------------
    async def _dialer(self) -> None:
        dl = self.sc.dialer
        next_cb = time.monotonic()
        while True:
            await asyncio.sleep(dl.tick_s)
            if self.shift_over:
                continue
            for zone, jobs in self.jobs.items():
                for job_id, ctype in jobs:
                    # agents free now, less the customers already on their way to them
                    n = max(0, len(self.avail.get(job_id, ())) - self.offering[job_id])
                    want = n * dl.pacing.get(ctype, 0.5)
                    k = int(want) + (1 if self.rng.random() < want - int(want) else 0)
                    for _ in range(k):
                        self.call_seq += 1
                        cid = f"{job_id}-{self.call_seq}"
                        offer: m.Command
                        if ctype == "preview":
                            offer = m.PreviewContactReady(job_id=job_id, contact_id=cid,
                                                          customer={"n": self.call_seq})
                        else:
                            offer = m.CustomerConnected(job_id=job_id, call_id=cid,
                                                        customer={"n": self.call_seq})
                        self.spawn(self._offer(zone, job_id, offer))
            if time.monotonic() >= next_cb and dl.callback_per_min > 0:
                next_cb = time.monotonic() + self.rng.expovariate(dl.callback_per_min / 60)
                live = [a for a in self.view.values() if a.job_id and a.agent_state.value in (
                    "Ready", "Busy", "WorkNotReady")]
                if live:
                    a = self.rng.choice(live)
                    self.call_seq += 1
                    self.spawn(self.send(a.zone, m.CallbackDue(
                        job_id=a.job_id or "", callback_id=f"cb-{self.call_seq}",
                        agent_id=a.agent_id)))

    async def _offer(self, zone: str, job_id: str, cmd: m.Command) -> None:
        self.offering[job_id] += 1
        try:
            await self.send(zone, cmd)
        finally:
            self.offering[job_id] -= 1

    # ---- the inbound-demand signal (for the blender) ---------------------------
    async def _demand(self) -> None:
        dm = self.sc.demand
        if not dm.enabled:
            return
        try:
            from pam_protocol.acd import DemandPublisher, InboundDemand
        except ImportError:  # pragma: no cover - the blender ships with PAM
            return
        async with await DemandPublisher.connect(self.sc.amqp_url) as acd:
            t0 = time.monotonic()
            while True:
                t = time.monotonic() - t0
                wave = max(0.0, math.sin(2 * math.pi * t / dm.period_s))
                waiting = round(dm.peak_waiting * wave)
                for z in self.sc.zones:
                    await acd.publish(InboundDemand(
                        zone=z, waiting_calls=waiting, service_level=1 - 0.5 * wave,
                        oldest_wait_s=30 * wave, ts=datetime.now(UTC)))
                await asyncio.sleep(dm.tick_s)

    # ---- figures ------------------------------------------------------------
    async def _sampler(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            s = self.stats
            by: dict[str, int] = defaultdict(int)
            for a in self.view.values():
                by[a.agent_state.value] += 1
            logged = sum(v for k, v in by.items() if k != "Logout")
            busy = by.get("Busy", 0) + by.get("WorkNotReady", 0) + by.get("PendingNotReady", 0)
            s.logged_samples += logged
            s.busy_samples += busy
            lat = sorted(s.window_lat)
            s.series.append({
                "t": round(time.monotonic() - s.started, 1), "commands": s.window_sent,
                "calls": s.window_calls,
                "p50_ms": lat[len(lat) // 2] if lat else None,
                "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
                "agents": dict(by)})
            s.window_lat, s.window_sent, s.window_calls = [], 0, 0
            if self.on_tick is not None:
                self.on_tick(self)

    def summary(self) -> dict[str, Any]:
        s = self.stats
        violations = self.checker.finish()
        elapsed = time.monotonic() - s.started

        def pct(xs: list[float], p: float) -> float:
            xs = sorted(xs)
            return round(xs[min(len(xs) - 1, int(p * len(xs)))], 2) if xs else 0.0

        all_lat = [x for v in s.latencies.values() for x in v]
        return {
            "commands": s.sent,
            "commands_per_s": round(s.sent / elapsed, 1),
            "errors": sum(s.errors.values()),
            "violations": len(violations),
            "elapsed_s": round(elapsed, 1),
            "agents": self.sc.agents, "zones": self.sc.zones, "seed": self.sc.seed,
            "duration_s": self.sc.duration_s,
            "latency_ms": {"all": {"p50": pct(all_lat, .5), "p95": pct(all_lat, .95),
                                   "p99": pct(all_lat, .99), "max": pct(all_lat, 1.0)},
                           **{k: {"n": len(v), "p50": pct(v, .5), "p95": pct(v, .95),
                                  "p99": pct(v, .99), "max": pct(v, 1.0)}
                              for k, v in sorted(s.latencies.items())}},
            "calls_connected": s.calls_connected,
            "telephony_instructions": dict(sorted(self.instructions.items())),
            "resyncs": s.resyncs,
            "calls_abandoned_no_agent": s.calls_abandoned,
            "previews_offered": s.previews, "callbacks_offered": s.callbacks,
            "agent_occupancy": round(s.busy_samples / s.logged_samples, 3)
            if s.logged_samples else 0.0,
            "errors_by_code": dict(s.errors),
            "error_samples": s.error_samples,
            "races_by_command": dict(s.races),
            "violations_by_kind": self.checker.summary(),
            "violation_details": [v.as_dict() for v in violations[:50]],
            "events_checked": self.checker.events,
            "series": s.series,
        }
