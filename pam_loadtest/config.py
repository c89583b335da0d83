"""The load test's scenario: every figure has a default; a TOML file overrides them.

Example scenario file::

    agents = 600
    zones = ["z1", "z2"]
    duration_s = 90
    [talk]
    mean_s = 20.0
    [desktop]
    consult_share = 0.1
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import msgspec


class Talk(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: Talk time is lognormal with this mean and this sigma of the underlying normal.
    mean_s: float = 12.0
    sigma: float = 0.5
    min_s: float = 2.0


class Desktop(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    wrapup_mean_s: float = 3.0
    #: Share of wrap-ups that let the default completion code apply.
    default_code_share: float = 0.3
    hold_share: float = 0.15
    hold_s: float = 2.0
    #: Share of calls in which the agent consults a colleague (then transfers or conferences).
    consult_share: float = 0.08
    transfer_share_of_consults: float = 0.5
    consult_s: float = 2.0
    conference_s: float = 3.0
    #: Per-minute probability that an idle Ready agent takes a NotReady break.
    break_per_min: float = 0.15
    break_s: float = 10.0
    reason_codes: list[int] = msgspec.field(default_factory=lambda: [1, 2, 3, 7, 9])
    #: Share of breaks that are walkaways (alarm P_POMAGT16).
    walkaway_share: float = 0.05
    preview_dial_share: float = 0.85
    #: Agents log in over this many seconds at the start.
    login_spread_s: float = 5.0
    #: Agents log out over the last this-many seconds of the run (shift end).
    logout_spread_s: float = 5.0


class Dialer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: Calls launched per tick per available agent, by campaign type (pacing).
    pacing: dict[str, float] = msgspec.field(default_factory=lambda: {
        "progressive": 0.5, "predictive": 0.8, "cruise_control": 0.6, "preview": 0.5})
    tick_s: float = 0.5
    #: Share of agents' skill sets that fit each campaign type (agents get job skills by index).
    campaigns: list[str] = msgspec.field(default_factory=lambda: [
        "progressive", "predictive", "cruise_control", "preview"])
    licenses: int = 1_000_000
    callback_per_min: float = 6.0
    answer_share: float = 0.8
    dial_s: float = 1.0


class Media(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    nail_s: float = 0.3
    #: Per-minute probability that an agent's nailing drops.
    nail_drop_per_min: float = 0.01


class Demand(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: The inbound-demand signal sent to the blender: a wave of waiting calls.
    enabled: bool = True
    period_s: float = 40.0
    peak_waiting: int = 12
    tick_s: float = 2.0


class Scenario(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    agents: int = 300
    zones: list[str] = msgspec.field(default_factory=lambda: ["z1", "z2"])
    duration_s: float = 60.0
    seed: int = 1
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    #: Commands in flight at once, over all agents (a window, so PAM is not flooded).
    max_in_flight: int = 256
    reply_timeout_s: float = 30.0
    #: After the run: how long to wait for outstanding replies and events to settle.
    drain_s: float = 10.0
    talk: Talk = Talk()
    desktop: Desktop = Desktop()
    dialer: Dialer = Dialer()
    media: Media = Media()
    demand: Demand = Demand()


def load(path: str | Path | None, **overrides: Any) -> Scenario:
    """Defaults, then the TOML file, then the command line's overrides (non-None)."""
    doc: dict[str, Any] = {}
    if path is not None:
        doc = tomllib.loads(Path(path).read_text())
    doc.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(doc, Scenario)
    except msgspec.ValidationError as e:
        where = f" in {path}" if path else ""
        raise SystemExit(f"pam-loadtest: bad scenario{where}: {e}") from e
