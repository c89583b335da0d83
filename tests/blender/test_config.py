"""The blender's TOML configuration: defaults, per-zone overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from blender.config import load
from blender.policy import PolicyConfig


def test_no_file_and_an_empty_file_give_every_default(tmp_path: Path) -> None:
    f = tmp_path / "blender.toml"
    f.write_text("")
    assert load(None) == load(f)
    assert load(f).policy == PolicyConfig()
    assert load(f).acd.exchange == "pam.acd"


def test_zone_overrides_apply_over_the_policy_section(tmp_path: Path) -> None:
    f = tmp_path / "blender.toml"
    f.write_text("""
[acd]
exchange = "acd.demand"

[policy]
high_waiting_calls = 8
dwell_s = 120

[zones.z2]
high_waiting_calls = 20
max_share = 0.5

[jobs]
J1 = ["sales", "french"]
""")
    cfg = load(f)
    assert cfg.acd.exchange == "acd.demand"
    assert (cfg.policy_for("z1").high_waiting_calls, cfg.policy_for("z1").dwell_s) == (8, 120)
    z2 = cfg.policy_for("z2")
    assert (z2.high_waiting_calls, z2.max_share, z2.dwell_s) == (20, 0.5, 120)
    assert cfg.jobs == {"J1": ["sales", "french"]}


@pytest.mark.parametrize(("text", "hint"), [
    ("[policy]\nhigh_waitng_calls = 3\n", "high_waitng_calls"),
    ("[policy]\nmax_share = 1.5\n", "max_share"),
    ("[policy]\nlow_waiting_calls = 9\n", "low_waiting_calls must be below"),
    ("[zones.z3]\nsl_low = 0.99\nsl_high = 0.5\n", "zones.z3"),
    ("[policy\n", "not valid TOML"),
])
def test_a_bad_file_is_refused_with_the_reason(tmp_path: Path, text: str, hint: str) -> None:
    f = tmp_path / "blender.toml"
    f.write_text(text)
    with pytest.raises(ValueError, match=r"blender\.toml") as e:
        load(f)
    assert hint in str(e.value)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="No such file"):
        load(tmp_path / "nope.toml")
