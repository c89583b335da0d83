"""requirements.lock agrees with pyproject.toml: every requirement (the project's, its
extras', the build backend's) is locked at a version its specifier allows, with hashes.
When this fails: `make lock` (docs/deployment.md, "Installing")."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*(.+?))?\s*\\?$")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}")


@dataclass
class Pin:
    version: Version
    marker: Marker | None
    hashes: int = 0
    line: str = field(default="")


def read_lock(text: str) -> dict[str, list[Pin]]:
    pins: dict[str, list[Pin]] = {}
    last: Pin | None = None
    for line in text.splitlines():
        if (mt := PIN.match(line)) is not None:
            name, version, marker = mt.groups()
            last = Pin(Version(version), Marker(marker) if marker else None, line=line)
            pins.setdefault(canonicalize_name(name), []).append(last)
        elif HASH.match(line) and last is not None:
            last.hashes += 1
        elif line.strip() and not line.lstrip().startswith("#"):
            raise AssertionError(f"requirements.lock: unexpected line {line!r}")
    return pins


def requirements(pyproject: Mapping[str, Any]) -> list[tuple[str, Requirement]]:
    project = pyproject["project"]
    assert isinstance(project, dict)
    out = [("project.dependencies", Requirement(r)) for r in project["dependencies"]]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        out += [(f"optional-dependencies.{extra}", Requirement(r)) for r in reqs]
    build = pyproject["build-system"]
    assert isinstance(build, dict)
    out += [("build-system.requires", Requirement(r)) for r in build["requires"]]
    return out


def disagreements(pyproject: Mapping[str, Any], lock: dict[str, list[Pin]]) -> list[str]:
    """What makes the lock disagree with pyproject.toml, one sentence each (for Python 3.11
    and 3.12 on Linux: the lock is universal, a pin may hold for some Pythons only)."""
    problems = []
    for where, req in requirements(pyproject):
        pins = lock.get(canonicalize_name(req.name), [])
        if not pins:
            problems.append(f"{req} ({where}) is not in requirements.lock")
            continue
        for python in ("3.11", "3.12"):
            env = {"python_version": python, "python_full_version": f"{python}.7",
                   "sys_platform": "linux", "platform_system": "Linux",
                   "implementation_name": "cpython",
                   "platform_python_implementation": "CPython", "extra": ""}
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            chosen = [p for p in pins if p.marker is None or p.marker.evaluate(env)]
            if not chosen:
                problems.append(f"{req} ({where}): no pin in requirements.lock for Python "
                                f"{python}")
            problems += [f"{req} ({where}): requirements.lock pins {p.version}, which it "
                         f"does not allow" for p in chosen
                         if not req.specifier.contains(p.version, prereleases=True)]
            # the extras' own requirements, e.g. redis[hiredis] -> hiredis, are checked
            # through the locked package's metadata by `pip check` in `make setup`
    return problems


def test_every_requirement_is_locked_at_an_allowed_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = read_lock((ROOT / "requirements.lock").read_text())
    assert disagreements(pyproject, lock) == [], "run `make lock`"


def test_every_pin_carries_hashes() -> None:
    lock = read_lock((ROOT / "requirements.lock").read_text())
    assert lock, "requirements.lock pins nothing"
    unhashed = [p.line for pins in lock.values() for p in pins if p.hashes == 0]
    assert unhashed == []


def test_a_lock_that_lags_behind_pyproject_is_caught() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = read_lock((ROOT / "requirements.lock").read_text())
    pyproject["project"]["dependencies"] += ["not-locked-anywhere>=1"]
    del lock["msgspec"]
    lock["aiormq"] = [Pin(Version("0.1"), None, hashes=1)]
    problems = disagreements(pyproject, lock)
    assert any(p.startswith("not-locked-anywhere>=1 ") for p in problems)
    assert any(p.startswith("msgspec") and "not in requirements.lock" in p for p in problems)
    assert any(p.startswith("aiormq==") and "pins 0.1" in p for p in problems)


def test_the_runtime_lock_pins_the_project_dependencies_as_the_full_lock_does() -> None:
    # requirements-runtime.lock (infra/Dockerfile's) is the full lock less the dev extra
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = read_lock((ROOT / "requirements-runtime.lock").read_text())
    full = read_lock((ROOT / "requirements.lock").read_text())
    runtime_only = {"project": {"dependencies": pyproject["project"]["dependencies"]},
                    "build-system": {"requires": []}}
    assert disagreements(runtime_only, runtime) == [], "run `make lock`"
    assert {n: [(p.version, p.marker) for p in pins] for n, pins in runtime.items()} == {
        n: [(p.version, p.marker) for p in full[n]] for n in runtime}, "run `make lock`"
    assert all(p.hashes for pins in runtime.values() for p in pins)
