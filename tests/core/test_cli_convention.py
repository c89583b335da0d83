"""One command-line convention for every PAM tool: --version, bad values refused as one
line on stderr (no traceback, no usage block) with the documented exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pam_protocol import cli

BIN = Path(sys.executable).parent
REFUSED = "amqp://nobody:wrong@127.0.0.1:5672/"


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("tool", ["pam-service", "pam-blender", "pam-supervisor",
                                  "pam-loadtest"])
def test_every_tool_says_its_version(tool: str) -> None:
    r = run(tool, "--version")
    assert r.returncode == 0 and r.stdout.strip() == f"{tool} {cli.version()}"


@pytest.mark.parametrize(("argv", "code", "words"), [
    (["pam-service", "--zones", "z1", "--log-level", "verbose"], 2, "--log-level"),
    (["pam-service", "--zones", "z1", "--metrics-port", "70000"], 2, "from 1 to 65,535"),
    (["pam-service", "--zones", "z1", "--redis-wait-replicas", "-1"], 2, "from 0 to 100"),
    (["pam-service", "--zones", "z1", "--amqp-url", REFUSED], 2, "refused user 'nobody'"),
    (["pam-service"], 2, "--zones"),
    (["pam-blender", "--zones", "z1", "--log-level", "verbose"], 2, "--log-level"),
    (["pam-blender", "--zones", "z1", "--amqp-url", REFUSED], 2, "refused user 'nobody'"),
    (["pam-loadtest", "--agents", "-5"], 2, "from 1 to 1,000,000"),
    (["pam-loadtest", "--duration", "0"], 2, "--duration"),
    (["pam-supervisor", "agents", "--zone", "z1", "--count", "0"], 2, "at least 1"),
    (["pam-supervisor", "nope"], 2, "invalid choice"),
])
def test_a_bad_value_is_one_line_and_the_documented_status(
        argv: list[str], code: int, words: str) -> None:
    r = run(*argv)
    said = [line for line in r.stderr.splitlines() if not line.startswith("{")]  # not logs
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    assert len(said) == 1 and words in said[0], r.stderr
    assert said[0].startswith(argv[0]), said


@pytest.mark.parametrize("tool", ["pam-service", "pam-blender", "pam-loadtest"])
def test_the_help_ends_with_the_exit_status_table(tool: str) -> None:
    r = run(tool, "--help")
    assert r.returncode == 0 and "exit status" in r.stdout and "130" in r.stdout
