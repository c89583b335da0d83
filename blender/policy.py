"""The blending policy: pure, no I/O, no clock (``now`` is passed in).

``decide(signal, agents, last_moves, now, config)`` looks at one zone's inbound demand
and its agents and returns a ``Decision``: which agents to send ``BlendToInbound`` or
``BlendToOutbound``, each with its reason. Three things keep it from flapping:

1. **Hysteresis** — a dead band between two sets of thresholds. Demand is *high*
   when ``waiting_calls >= high_waiting_calls`` or ``service_level < sl_low`` or
   ``oldest_wait_s >= high_oldest_wait_s``; it is *low* only when ``waiting_calls <=
   low_waiting_calls`` and ``service_level >= sl_high`` and ``oldest_wait_s <=
   low_oldest_wait_s``. In between, nothing moves. The thresholds must leave a gap
   (``low < high``), so a signal oscillating around one threshold can only ever move
   agents one way.
2. **Dwell** — an agent that moved (either way, by the blender or a supervisor) is not
   moved again before ``dwell_s`` seconds.
3. **Steps** — a decision moves at most ``max(min_step, floor(max_share * pool))``
   agents, where the pool is the zone's outbound agents (to inbound) or the blended
   inbound agents (back to outbound); and after a step in one direction the next step
   in the same direction waits ``step_interval_s``, so the ACD's figures can react.

Who moves first, to inbound: Ready idle agents before busy ones (a busy agent becomes
PendingInbound and only helps once its call ends); then the least proficient for its
outbound job (the mean level of the job's required skills, or of all its skills when
the job's skills are unknown); then agent id. NotReady agents are not moved (they take
no call either way). Back to outbound: idle before busy, then longest in inbound first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Literal

from msgspec import Meta, Struct

from pam_protocol.acd import InboundDemand
from pam_protocol.messages import AgentSnapshot

Direction = Literal["inbound", "outbound"]
Action = Literal["inbound", "outbound", "hold"]



class PolicyConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every figure of the policy, with its default (``[policy]`` in the TOML config)."""

    high_waiting_calls: Annotated[int, Meta(
        ge=0, description="high demand when at least this many calls wait")] = 5
    sl_low: Annotated[float, Meta(
        ge=0, le=1, description="high demand when the service level is below this")] = 0.80
    high_oldest_wait_s: Annotated[float, Meta(
        ge=0, description="high demand when the oldest call has waited this long (s)")] = 60.0
    low_waiting_calls: Annotated[int, Meta(
        ge=0, description="low demand needs at most this many waiting calls "
                          "(below high_waiting_calls)")] = 1
    sl_high: Annotated[float, Meta(
        ge=0, le=1, description="low demand needs a service level of at least this "
                                "(not below sl_low)")] = 0.90
    low_oldest_wait_s: Annotated[float, Meta(
        ge=0, description="low demand needs the oldest call to have waited at most this "
                          "long (s, below high_oldest_wait_s)")] = 20.0
    dwell_s: Annotated[float, Meta(
        ge=0, description="an agent that changed sides is not moved again before this "
                          "many seconds")] = 300.0
    max_share: Annotated[float, Meta(
        ge=0, le=1, description="a decision moves at most this share of the pool (the "
                                "zone's outbound agents; the blended inbound agents on the "
                                "way back)")] = 0.25
    min_step: Annotated[int, Meta(
        ge=1, description="... but at least this many agents, when that many can move")] = 1
    step_interval_s: Annotated[float, Meta(
        ge=0, description="after a step one way, the next step the same way waits this "
                          "many seconds")] = 15.0
    max_signal_age_s: Annotated[float, Meta(
        gt=0, description="a signal older than this (by its ts) is ignored (s)")] = 30.0
    move_busy: Annotated[bool, Meta(
        description="move busy agents to inbound too (PendingInbound until their call "
                    "ends)")] = True
    only_return_blended: Annotated[bool, Meta(
        description="send back to outbound only agents the blender moved in, never a "
                    "supervisor's release")] = True

    def __post_init__(self) -> None:
        if self.low_waiting_calls >= self.high_waiting_calls:
            raise ValueError("low_waiting_calls must be below high_waiting_calls")
        if self.sl_low > self.sl_high:
            raise ValueError("sl_low must not exceed sl_high")
        if self.low_oldest_wait_s >= self.high_oldest_wait_s:
            raise ValueError("low_oldest_wait_s must be below high_oldest_wait_s")


class LastMove(Struct, frozen=True):
    """The last time an agent changed sides (POSIX seconds), and who moved it."""

    at: float
    direction: Direction
    by_blender: bool = True


class Move(Struct, frozen=True):
    agent_id: str
    direction: Direction
    reason: str


class Decision(Struct, frozen=True, kw_only=True):
    zone: str
    action: Action
    reason: str
    moves: tuple[Move, ...] = ()
    #: Agents on the side the action moves from (the cap is a share of it).
    pool: int = 0
    #: Most agents this decision may move.
    cap: int = 0
    #: Agents that could move (after every filter but the cap).
    eligible: int = 0
    #: Agents left out because they moved less than ``dwell_s`` ago.
    in_dwell: int = 0


# State names as the wire spells them (PROTOCOL.md); the snapshot's enums are str enums.
#: Job states on the inbound side of the blend.
INBOUND_SIDE = frozenset({"JobInbound", "PendingInbound", "PendingManualInbound"})
#: Job states the blender may send back to outbound (PendingManualInbound is a supervisor's).
RETURNABLE = frozenset({"JobInbound", "PendingInbound"})
#: Agent states in which the blender leaves an agent alone.
NOT_MOVABLE = frozenset({"Logout", "PendingLogout", "Unknown"})
#: Agent states that take no call either way: not moved to inbound.
NOT_READY = frozenset({"NotReady", "PendingNotReady"})


def idle(a: AgentSnapshot) -> bool:
    """No call: none of PAM's, and none the ACD reported (InboundCallStarted, v1.1)."""
    return a.call_state == "Idle" and a.inbound_call_id is None


def busy_with(a: AgentSnapshot) -> str:
    return "inbound call" if a.inbound_call_id is not None else str(a.call_state)


def side(job_state: str) -> Direction:
    """Which side of the blend a job state is on (PendingOutbound is on its way out)."""
    return "inbound" if job_state in INBOUND_SIDE else "outbound"


def classify(signal: InboundDemand, cfg: PolicyConfig) -> tuple[Action, str]:
    """High, low or in the dead band, with the conditions that decided it."""
    w, sl, old = signal.waiting_calls, signal.service_level, signal.oldest_wait_s
    high = []
    if w >= cfg.high_waiting_calls:
        high.append(f"waiting_calls {w} >= {cfg.high_waiting_calls}")
    if sl < cfg.sl_low:
        high.append(f"service_level {sl:.3f} < {cfg.sl_low}")
    if old >= cfg.high_oldest_wait_s:
        high.append(f"oldest_wait_s {old:g} >= {cfg.high_oldest_wait_s:g}")
    if high:
        return "inbound", "high inbound demand: " + ", ".join(high)
    if (w <= cfg.low_waiting_calls and sl >= cfg.sl_high
            and old <= cfg.low_oldest_wait_s):
        return "outbound", (f"low inbound demand: waiting_calls {w} <= {cfg.low_waiting_calls}, "
                            f"service_level {sl:.3f} >= {cfg.sl_high}, "
                            f"oldest_wait_s {old:g} <= {cfg.low_oldest_wait_s:g}")
    return "hold", "demand between the thresholds (hysteresis band)"


def proficiency(agent: AgentSnapshot, job_skills: Mapping[str, Sequence[str]]) -> float:
    """The agent's mean level in its job's required skills (all its skills if unknown)."""
    levels = {s.name: s.level for s in agent.skills}
    required = job_skills.get(agent.job_id or "", ())
    if required:
        return sum(levels.get(r, 0) for r in required) / len(required)
    return sum(levels.values()) / len(levels) if levels else 0.0


def step_cap(pool: int, cfg: PolicyConfig) -> int:
    """Most agents one decision may move out of a pool of that size."""
    return min(pool, max(cfg.min_step, math.floor(cfg.max_share * pool)))


def in_dwell(agent_id: str, last_moves: Mapping[str, LastMove], now: float,
             cfg: PolicyConfig) -> bool:
    lm = last_moves.get(agent_id)
    return lm is not None and now - lm.at < cfg.dwell_s


def decide(signal: InboundDemand, agents: Iterable[AgentSnapshot],
           last_moves: Mapping[str, LastMove], now: float,
           cfg: PolicyConfig | None = None,
           job_skills: Mapping[str, Sequence[str]] | None = None) -> Decision:
    """What to do about one demand signal of one zone. Pure."""
    cfg = cfg or PolicyConfig()
    zone = signal.zone
    age = now - signal.ts.timestamp()
    if age > cfg.max_signal_age_s:
        return Decision(zone=zone, action="hold",
                        reason=f"stale signal: {age:.1f} s old > {cfg.max_signal_age_s:g} s")
    action, why = classify(signal, cfg)
    if action == "hold":
        return Decision(zone=zone, action="hold", reason=why)
    live = [a for a in agents if a.zone == zone and a.agent_state not in NOT_MOVABLE]
    last_step = max((lm.at for a in live if (lm := last_moves.get(a.agent_id)) is not None
                     and lm.by_blender and lm.direction == action), default=None)
    if last_step is not None and now - last_step < cfg.step_interval_s:
        return Decision(zone=zone, action="hold",
                        reason=f"{why}; last step to {action} {now - last_step:.1f} s ago "
                               f"< step_interval_s {cfg.step_interval_s:g}")
    if action == "inbound":
        return _to_inbound(signal, live, last_moves, now, cfg, job_skills or {}, why)
    return _to_outbound(zone, live, last_moves, now, cfg, why)


def _to_inbound(signal: InboundDemand, live: list[AgentSnapshot],
                last_moves: Mapping[str, LastMove], now: float, cfg: PolicyConfig,
                job_skills: Mapping[str, Sequence[str]], why: str) -> Decision:
    outbound = [a for a in live if side(a.job_state) == "outbound"]
    covering = sum(1 for a in live if a.job_state in INBOUND_SIDE
                   and (a.job_state != "JobInbound" or (a.agent_state == "Ready" and idle(a))))
    movable = [a for a in outbound
               if a.agent_state not in NOT_READY
               and a.job_state != "PendingManualJobMovement"
               and (cfg.move_busy or idle(a))]
    dwelling = [a for a in movable if in_dwell(a.agent_id, last_moves, now, cfg)]
    eligible = [a for a in movable if not in_dwell(a.agent_id, last_moves, now, cfg)]
    cap = step_cap(len(outbound), cfg)
    need = max(cfg.min_step, signal.waiting_calls - covering)
    count = min(cap, need, len(eligible))

    def key(a: AgentSnapshot) -> tuple[int, float, str]:
        return (0 if idle(a) else 1, proficiency(a, job_skills),
                a.agent_id)

    chosen = sorted(eligible, key=key)[:count]
    moves = tuple(Move(a.agent_id, "inbound", _inbound_reason(a, job_skills)) for a in chosen)
    reason = (f"{why}; {len(outbound)} outbound, {covering} inbound ready or coming, "
              f"need {need}, cap {cap}")
    if not moves:
        reason += f"; no agent can move ({len(dwelling)} in dwell)"
    return Decision(zone=signal.zone, action="inbound", reason=reason, moves=moves,
                    pool=len(outbound), cap=cap, eligible=len(eligible), in_dwell=len(dwelling))


def _inbound_reason(a: AgentSnapshot, job_skills: Mapping[str, Sequence[str]]) -> str:
    where = f"job {a.job_id}" if a.job_id else "no job"
    busy = "idle" if idle(a) else (
        f"busy ({a.call_state}): inbound when its work ends")
    return f"{busy}; proficiency {proficiency(a, job_skills):g} on {where}"


def _to_outbound(zone: str, live: list[AgentSnapshot], last_moves: Mapping[str, LastMove],
                 now: float, cfg: PolicyConfig, why: str) -> Decision:
    def blended(a: AgentSnapshot) -> bool:
        lm = last_moves.get(a.agent_id)
        return lm is not None and lm.by_blender and lm.direction == "inbound"

    # a supervisor's release carries a thrash interval PAM enforces; don't even try
    returnable = [a for a in live
                  if a.job_state in RETURNABLE
                  and (a.released_until is None or a.released_until.timestamp() <= now)
                  and (not cfg.only_return_blended or blended(a))]
    dwelling = [a for a in returnable if in_dwell(a.agent_id, last_moves, now, cfg)]
    eligible = [a for a in returnable if not in_dwell(a.agent_id, last_moves, now, cfg)]
    cap = step_cap(len(returnable), cfg)

    def inbound_since(a: AgentSnapshot) -> float:
        lm = last_moves.get(a.agent_id)
        return lm.at if lm is not None and lm.direction == "inbound" else a.since.timestamp()

    def key(a: AgentSnapshot) -> tuple[int, float, str]:
        return (0 if idle(a) else 1, inbound_since(a), a.agent_id)

    chosen = sorted(eligible, key=key)[:cap]
    moves = tuple(
        Move(a.agent_id, "outbound",
             f"{'idle' if idle(a) else 'busy (' + busy_with(a) + ')'}"
             f"; in inbound {now - inbound_since(a):.0f} s")
        for a in chosen)
    reason = f"{why}; {len(returnable)} blended inbound, cap {cap}"
    if not moves:
        reason += f"; no agent can move ({len(dwelling)} in dwell)"
    return Decision(zone=zone, action="outbound", reason=reason, moves=moves,
                    pool=len(returnable), cap=cap, eligible=len(eligible),
                    in_dwell=len(dwelling))
