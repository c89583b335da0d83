"""The blender's TOML configuration; every figure has a default (an empty file is valid).

    [acd]
    exchange = "pam.acd"          # the ACD's durable topic exchange (key demand.<zone>)

    [blender]
    command_timeout_s = 10.0      # wait this long for PAM's reply to a blend command
    adopt_inbound_on_start = false

    [policy]                      # blender.policy.PolicyConfig: every zone
    high_waiting_calls = 5
    sl_low = 0.80
    # ...

    [zones.z2]                    # overrides of [policy] for one zone
    high_waiting_calls = 10

    [jobs]                        # required skills of a job-task, used for proficiency
    J1 = ["sales", "french"]      # until PAM announces the job (JobChanged events)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from blender.policy import PolicyConfig
from pam_protocol.acd import ACD_EXCHANGE


class AcdConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    exchange: Annotated[str, Meta(min_length=1)] = ACD_EXCHANGE


class AppConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: How long to wait for PAM's reply to a BlendToInbound / BlendToOutbound.
    command_timeout_s: Annotated[float, Meta(gt=0.0)] = 10.0
    #: At start-up, count agents already in JobInbound as blended (so they may be sent
    #: back to outbound). Off by default: a supervisor's release looks the same.
    adopt_inbound_on_start: bool = False


class BlenderConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    acd: AcdConfig = AcdConfig()
    blender: AppConfig = AppConfig()
    policy: PolicyConfig = PolicyConfig()
    zones: dict[str, dict[str, Any]] = {}
    jobs: dict[str, list[str]] = {}

    def __post_init__(self) -> None:
        for zone in self.zones:  # fail at load time, not at the first signal
            self.policy_for(zone)

    def policy_for(self, zone: str) -> PolicyConfig:
        """``[policy]`` with the zone's overrides applied (validated as a whole)."""
        override = self.zones.get(zone)
        if not override:
            return self.policy
        try:
            return msgspec.convert({**msgspec.structs.asdict(self.policy), **override},
                                   PolicyConfig)
        except msgspec.ValidationError as e:
            raise ValueError(f"zones.{zone}: {e}") from e


def load(path: str | Path | None) -> BlenderConfig:
    """Read the config file (``None``: all defaults). Raises ValueError with the cause."""
    if path is None:
        return BlenderConfig()
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from e
    return parse(doc, source=str(path))


def parse(doc: dict[str, Any], source: str = "config") -> BlenderConfig:
    try:
        return msgspec.convert(doc, BlenderConfig)
    except (msgspec.ValidationError, ValueError) as e:
        raise ValueError(f"{source}: {e}") from e
