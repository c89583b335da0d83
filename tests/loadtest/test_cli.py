"""The `pam-loadtest` command: what cannot start says why in one line, with a distinct
exit status (its --help and docs/loadtest.md list them), never with a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from bench.harness import free_port
from pam_protocol import topology
from tests.service.conftest import AMQP, Pam

# pam_loadtest.__main__: the meanings pam-supervisor gives them, where they apply
EXIT_OK, EXIT_USAGE, EXIT_UNKNOWN_ZONE, EXIT_TIMEOUT, EXIT_UNREACHABLE, EXIT_JOB_REFUSED = (
    0, 2, 3, 4, 5, 6)


def argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "pam_loadtest", "--quiet", *args]


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PAM_AMQP_URL"}


def loadtest(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv(*args), capture_output=True, text=True, timeout=60, env=env(),
                          cwd=cwd)


async def aloadtest(*args: str, cwd: Path) -> tuple[int, str]:
    """Run it beside a PAM of this test's event loop (so without blocking the loop)."""
    proc = await asyncio.create_subprocess_exec(
        *argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=cwd)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


def assert_clear(code: int, err: str, expected: int, *phrases: str) -> None:
    assert code == expected, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pam-loadtest: "), err[-2000:]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def test_a_broker_that_is_down_exits_5_with_the_masked_url() -> None:
    port = free_port()
    proc = loadtest("--amqp-url", f"amqp://guest:hunter2@127.0.0.1:{port}/")
    assert_clear(proc.returncode, proc.stderr, EXIT_UNREACHABLE,
                 f"cannot reach RabbitMQ at amqp://guest:***@127.0.0.1:{port}/",
                 "that RabbitMQ runs")
    assert "hunter2" not in proc.stderr


def test_a_vhost_that_does_not_exist_exits_5_saying_so() -> None:
    name = f"pamtest-nosuchvhost-{uuid.uuid4().hex}"
    proc = loadtest("--amqp-url", AMQP + name)
    assert_clear(proc.returncode, proc.stderr, EXIT_UNREACHABLE,
                 f"vhost {name!r}", "does not exist", f"rabbitmqctl add_vhost {name}")


def test_a_scenario_file_that_does_not_exist_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent.toml"
    proc = loadtest("--scenario", str(missing))
    assert_clear(proc.returncode, proc.stderr, EXIT_USAGE,
                 f"cannot read the scenario file {missing}", "No such file")


@pytest.mark.parametrize(("text", "phrase"), [
    ("agents = ", "is not valid TOML"),
    ('agents = "many"', "bad scenario"),
    ("zones = []", "names no zone"),
])
def test_a_scenario_that_is_not_one_exits_2(tmp_path: Path, text: str, phrase: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    proc = loadtest("--scenario", str(path))
    assert_clear(proc.returncode, proc.stderr, EXIT_USAGE, phrase)


@pytest.mark.parametrize(("args", "phrase"), [
    (("--zones", ""), "--zones names no zone"),
    (("--zones", "z1,,z2"), "an empty zone name"),
    (("--zones", "z#"), "zone name 'z#' cannot be a routing key"),
    (("--amqp-url", "http://guest:hunter2@x/"), "starts with amqp:// or amqps://"),
    (("--json", "/nonexistent-dir/out.json"), "does not exist"),
])
def test_bad_usage_exits_2_before_connecting(args: tuple[str, ...], phrase: str) -> None:
    proc = loadtest(*args)
    assert_clear(proc.returncode, proc.stderr, EXIT_USAGE, phrase)
    assert "hunter2" not in proc.stderr


def test_a_zone_no_pam_serves_exits_3_naming_it(vhost: str, tmp_path: Path) -> None:
    proc = loadtest("--zones", "z9", "--amqp-url", AMQP + vhost, cwd=tmp_path)
    assert_clear(proc.returncode, proc.stderr, EXIT_UNKNOWN_ZONE,
                 "no PAM serves zone 'z9'", "pam-service --zones")


async def test_a_zone_whose_pam_does_not_answer_exits_4(vhost: str, tmp_path: Path) -> None:
    # the zone's queue as PAM declares it, but no PAM consuming it
    conn = await aio_pika.connect(AMQP + vhost)
    async with conn:
        ch = await conn.channel()
        await topology.declare(ch)
        await topology.declare_zone(ch, "z1")
    scenario = tmp_path / "quick.toml"
    scenario.write_text("reply_timeout_s = 0.5\n")
    code, err = await aloadtest("--zones", "z1", "--amqp-url", AMQP + vhost,
                                "--scenario", str(scenario), cwd=tmp_path)
    assert_clear(code, err, EXIT_TIMEOUT, "no reply from PAM for zone 'z1' within 0.5 s",
                 "a pam-service with --zones z1 runs")


async def test_jobs_pam_refuses_exit_6_with_the_reason(pam: Pam, tmp_path: Path) -> None:
    scenario = tmp_path / "bogus.toml"
    scenario.write_text('[dialer]\ncampaigns = ["bogus"]\n')
    code, err = await aloadtest("--zones", "z1", "--amqp-url", pam.amqp_url,
                                "--scenario", str(scenario), cwd=tmp_path)
    assert_clear(code, err, EXIT_JOB_REFUSED, "JobStarted z1-bogus refused",
                 "PAM refused to start the scenario's jobs")


async def short_run(pam: Pam, tmp_path: Path, agents: int, seconds: float,
                    spread_s: float) -> tuple[int, str, dict[str, Any]]:
    """A run of ``agents`` with no dialer demand; its exit code, stderr and summary."""
    scenario = tmp_path / "short.toml"
    scenario.write_text(f"agents = {agents}\nduration_s = {seconds}\ndrain_s = 2\n"
                        f"[demand]\nenabled = false\n[desktop]\nlogin_spread_s = {spread_s}\n"
                        f"logout_spread_s = {spread_s}\n")
    code, err = await aloadtest("--zones", "z1", "--amqp-url", pam.amqp_url,
                                "--scenario", str(scenario), "--json", str(tmp_path / "s.json"),
                                cwd=tmp_path)
    assert "Traceback" not in err, err[-3000:]
    return code, err, json.loads((tmp_path / "s.json").read_text())


async def test_a_short_run_against_a_pam_exits_0(pam: Pam, tmp_path: Path) -> None:
    code, err, summary = await short_run(pam, tmp_path, agents=4, seconds=3, spread_s=0.5)
    assert code == EXIT_OK, err[-3000:]
    assert summary["errors"] == 0 and summary["violations"] == 0


async def test_a_run_shorter_than_a_sample_still_gives_its_summary_and_chart(
        pam: Pam, tmp_path: Path) -> None:
    # under a second: no per-second sample (the agents' plot used to fail on it)
    code, err, summary = await short_run(pam, tmp_path, agents=2, seconds=0.3, spread_s=0.1)
    assert code in (0, 1), err[-3000:]  # the run's own verdict
    chart = summary["chart"]
    assert chart is not None and (tmp_path / chart).is_file()


def test_help_lists_the_exit_statuses() -> None:
    proc = subprocess.run([sys.executable, "-m", "pam_loadtest", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for line in ("0    the run had no errors", "1    the run had errors or violations",
                 "2    bad usage", "3    no PAM serves", "4    no reply from PAM",
                 "5    RabbitMQ cannot be reached", "6    PAM refused to start"):
        assert line in proc.stdout, proc.stdout
