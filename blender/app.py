"""The blender's wiring: ACD demand signals in, blend commands to PAM out.

- Learns each zone's agents with ``GetZoneStatus`` and keeps them current from
  ``pam.events`` (``agent.<zone>.*.state``); job-tasks' required skills from
  ``job.<zone>.*`` (``JobChanged``).
- Consumes ``InboundDemand`` from the ACD's exchange (``demand.<zone>``) into a private
  queue; the newest signal of a zone supersedes one not yet acted on.
- For each signal: ``blender.policy.decide``, then ``BlendToInbound`` /
  ``BlendToOutbound`` through ``PamClient``, then one JSON log line for the decision.

Only ``pam_protocol.client`` and ``pam_protocol.messages`` are used: the blender is a
user of PAM, like a desktop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import aio_pika
import msgspec
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractQueue

from blender.config import BlenderConfig
from blender.policy import RETURNABLE, Decision, Direction, LastMove, Move, decide, side
from pam_protocol import decoding
from pam_protocol import messages as m
from pam_protocol.acd import InboundDemand, demand_decoder, demand_routing_key
from pam_protocol.client import EventStream, PamClient, PamError

log = logging.getLogger("pam.blender")

#: Commands whose side changes count as the blender's own moves.
BLEND_CAUSES = frozenset({"BlendToInbound", "BlendToOutbound"})


class MoveOutcome(msgspec.Struct, frozen=True, kw_only=True):
    agent_id: str
    to: Direction
    reason: str
    #: "Accepted", a Rejected code, or "error" (timeout, unknown zone, ...).
    result: str
    job_state: str | None = None
    message: str | None = None


class BlenderApp:
    """One blender process: serves ``zones``; ``start()``, then ``stop()``."""

    def __init__(self, zones: Sequence[str], amqp_url: str,
                 config: BlenderConfig | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        if not zones:
            raise ValueError("the blender needs at least one zone")
        self.zones = list(dict.fromkeys(zones))
        self.amqp_url = amqp_url
        self.config = config or BlenderConfig()
        self.clock = clock
        self.agents: dict[str, dict[str, m.AgentSnapshot]] = {z: {} for z in self.zones}
        self.last_moves: dict[str, dict[str, LastMove]] = {z: {} for z in self.zones}
        self.job_skills: dict[str, dict[str, tuple[str, ...]]] = {
            z: {j: tuple(s) for j, s in self.config.jobs.items()} for z in self.zones}
        self.latest: dict[str, InboundDemand] = {}
        #: Demand signals dropped as invalid (pam_protocol.decoding).
        self.rejected_signals = 0
        self.decisions = 0
        self._wake = asyncio.Event()
        self._busy = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.client: PamClient | None = None
        self._events: EventStream | None = None
        self._acd_channel: AbstractChannel | None = None
        self._acd_exchange: AbstractExchange | None = None
        self._acd_queue: AbstractQueue | None = None

    # ---- lifecycle -------------------------------------------------------
    async def start(self) -> None:
        """Connect, learn the zones' agents, then start acting on demand signals.

        Raises ``pam_protocol.client.UnknownZone`` when no PAM serves a zone, and
        connection errors when the broker cannot be reached.
        """
        self.client = client = await PamClient.connect(self.amqp_url)
        try:
            # subscribe first: a change between GetZoneStatus and here cannot be lost
            patterns = [m.ROUTES[r].pattern(z) for z in self.zones for r in ("state", "job")]
            self._events = await client.subscribe(patterns)
            self._tasks.append(asyncio.create_task(self._events_loop(), name="blender-events"))
            for zone in self.zones:
                await self._load_zone(zone)
            ch = self._acd_channel = await client.conn.channel()
            self._acd_exchange = await ch.declare_exchange(
                self.config.acd.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
            q = self._acd_queue = await ch.declare_queue(exclusive=True, auto_delete=True)
            for zone in self.zones:
                await q.bind(self._acd_exchange, routing_key=demand_routing_key(zone))
            self._tasks.append(asyncio.create_task(self._worker(), name="blender-worker"))
            await q.consume(self._on_signal, no_ack=True)
        except BaseException:
            await self.stop()
            raise
        log.info("blender started", extra={
            "zones": self.zones, "exchange": self.config.acd.exchange,
            "agents": {z: len(a) for z, a in self.agents.items()}})

    async def not_ready(self) -> str | None:
        """Why the blender is not doing its work (``/readyz``), or None: connected to
        RabbitMQ, following its zones' events and taking the ACD's demand signals."""
        if self.client is None:
            return "not started: RabbitMQ out of reach or no PAM answering for its zones"
        # (a robust connection is not "closed" while it reconnects: ask whether it is up)
        if self.client.conn.is_closed or not self.client.conn.connected.is_set():
            return "not connected to RabbitMQ"
        if self._events is None or self._events.channel.is_closed:
            return "not following the zones' events"
        if self._acd_queue is None or self._acd_channel is None or self._acd_channel.is_closed:
            return "not taking the ACD's demand signals"
        return None

    async def stop(self) -> None:
        """Stop taking signals, finish the decision in flight, disconnect."""
        if self._acd_channel is not None:
            with contextlib.suppress(Exception):
                await self._acd_channel.close()
            self._acd_channel = None
        async with self._busy:  # the decision in flight completes (its commands are sent)
            for t in self._tasks:
                t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self._tasks.clear()
        if self._events is not None:
            await self._events.close()
            self._events = None
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
            self.client = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # ---- agents ----------------------------------------------------------
    async def _load_zone(self, zone: str) -> None:
        assert self.client is not None
        reply = await self.client.send(zone, m.GetZoneStatus(zone=zone),
                                       timeout=self.config.blender.command_timeout_s)
        if isinstance(reply, m.Rejected):
            raise PamError(f"GetZoneStatus {zone}: {reply.code}: {reply.message}")
        for snap in reply.agents or []:
            self._merge(snap)
        if self.config.blender.adopt_inbound_on_start:
            moves = self.last_moves[zone]
            for a in self.agents[zone].values():
                if a.job_state in RETURNABLE and a.agent_id not in moves:
                    moves[a.agent_id] = LastMove(a.since.timestamp(), "inbound", True)

    def _merge(self, snap: m.AgentSnapshot, cause: str | None = None) -> bool:
        """Keep the newest snapshot of an agent; note side changes as moves."""
        zone = snap.zone
        if zone not in self.agents:
            return False
        known = self.agents[zone]
        cur = known.get(snap.agent_id)
        if cur is not None and cur.version >= snap.version:
            return False
        if snap.agent_state == "Logout":
            known.pop(snap.agent_id, None)
            self.last_moves[zone].pop(snap.agent_id, None)
            return True
        known[snap.agent_id] = snap
        if cur is not None and side(cur.job_state) != side(snap.job_state):
            self.last_moves[zone][snap.agent_id] = LastMove(
                self.clock(), side(snap.job_state), cause in BLEND_CAUSES)
        return True

    async def _events_loop(self) -> None:
        assert self._events is not None
        async for _, ev in self._events:
            try:
                if isinstance(ev, m.AgentStateChanged):
                    self._merge(ev.snapshot, ev.cause)
                elif isinstance(ev, m.JobChanged) and ev.job.zone in self.job_skills:
                    skills = self.job_skills[ev.job.zone]
                    if ev.job.status == "ended":
                        skills.pop(ev.job.job_id, None)
                    else:
                        skills[ev.job.job_id] = ev.job.required_skills
            except Exception:  # one odd event must not stop the blender
                log.exception("cannot apply event", extra={"event": type(ev).__name__})

    # ---- signals and decisions ------------------------------------------
    async def _on_signal(self, msg: AbstractIncomingMessage) -> None:
        try:
            sig = decoding.decode(demand_decoder, msg.body, decoding.MAX_COMMAND_BODY,
                                  "demand signal", decoding.MAX_DEPTH)
        except decoding.BadInput as e:
            self.rejected_signals += 1
            log.warning("invalid demand signal dropped", extra={
                "routing_key": msg.routing_key, "reason": e.message,
                "body": msg.body[:200].decode("utf-8", "replace")})
            return
        if sig.zone not in self.agents:
            log.warning("demand signal for a zone not served", extra={
                "zone": sig.zone, "routing_key": msg.routing_key})
            return
        if sig.zone in self.latest:
            log.debug("signal superseded", extra={"zone": sig.zone})
        self.latest[sig.zone] = sig
        self._wake.set()

    async def _worker(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.latest:
                zone = next(iter(self.latest))
                sig = self.latest.pop(zone)
                async with self._busy:
                    try:
                        await self.handle(sig)
                    except Exception:
                        log.exception("decision failed", extra={"zone": zone})

    async def handle(self, sig: InboundDemand) -> Decision:
        """Decide on one signal, carry the moves out, log the decision (one line)."""
        zone = sig.zone
        now = self.clock()
        decision = decide(sig, list(self.agents[zone].values()), self.last_moves[zone], now,
                          self.config.policy_for(zone), self.job_skills[zone])
        outcomes = await asyncio.gather(*(self._move(zone, mv, now) for mv in decision.moves))
        self.decisions += 1
        log.info("decision", extra={
            "zone": zone, "action": decision.action, "reason": decision.reason,
            "signal": msgspec.to_builtins(sig), "signal_age_s": round(now - sig.ts.timestamp(), 3),
            "pool": decision.pool, "cap": decision.cap, "eligible": decision.eligible,
            "in_dwell": decision.in_dwell,
            "moves": [msgspec.to_builtins(o) for o in outcomes]})
        return decision

    async def _move(self, zone: str, mv: Move, now: float) -> MoveOutcome:
        assert self.client is not None
        cmd: m.Command = (m.BlendToInbound(agent_id=mv.agent_id) if mv.direction == "inbound"
                          else m.BlendToOutbound(agent_id=mv.agent_id))
        try:
            reply = await self.client.send(zone, cmd,
                                           timeout=self.config.blender.command_timeout_s)
        except PamError as e:
            return MoveOutcome(agent_id=mv.agent_id, to=mv.direction, reason=mv.reason,
                               result="error", message=str(e))
        snap = reply.agent
        if isinstance(reply, m.Rejected):
            if snap is not None:
                self._merge(snap)
            return MoveOutcome(agent_id=mv.agent_id, to=mv.direction, reason=mv.reason,
                               result=reply.code, message=reply.message,
                               job_state=snap.job_state if snap else None)
        if snap is not None:
            self._merge(snap, type(cmd).__name__)
            if side(snap.job_state) == mv.direction:
                self.last_moves[zone][mv.agent_id] = LastMove(now, mv.direction, True)
        return MoveOutcome(agent_id=mv.agent_id, to=mv.direction, reason=mv.reason,
                           result="Accepted", job_state=snap.job_state if snap else None)
