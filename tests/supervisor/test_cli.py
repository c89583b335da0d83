"""`pam-supervisor` against a running PAM (real RabbitMQ and Redis)."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from rich.console import Console

from pam_protocol import messages as m
from supervisor_api.cli import (
    EXIT_REJECTED,
    EXIT_UNKNOWN_ZONE,
    EXIT_UNREACHABLE,
    Context,
    amain,
)
from tests.service.conftest import Pam

JOB = m.JobStarted(job_id="J", action_name="call", zone="z1", campaign_type="progressive",
                   required_skills=["sales"], min_agents=0, max_agents=1_000_000, priority=1,
                   licenses=1_000_000, completion_codes=[], default_completion_code="Done",
                   wrapup_seconds=30, wrapup_extensions=0)
JOB_K = m.JobStarted(job_id="K", action_name="survey", zone="z1", campaign_type="progressive",
                     required_skills=["sales"], min_agents=0, max_agents=1_000_000, priority=1,
                     licenses=1_000_000, completion_codes=[], default_completion_code="Done",
                     wrapup_seconds=30, wrapup_extensions=0)


@dataclass
class Run:
    code: int
    out: str
    err: str


def console() -> Console:
    return Console(file=io.StringIO(), width=200, color_system=None)


async def cli(pam: Pam, *argv: str, ready: asyncio.Event | None = None) -> Run:
    out, err = console(), console()
    ctx = Context(out=out, err=err, ready=ready.set if ready else lambda: None)
    code = await amain([*argv, "--amqp-url", pam.amqp_url, "--timeout", "5"], ctx)
    assert isinstance(out.file, io.StringIO) and isinstance(err.file, io.StringIO)
    return Run(code, out.file.getvalue(), err.file.getvalue())


async def watching(pam: Pam, *argv: str) -> asyncio.Task[Run]:
    """Start a watching command; return once it is subscribed."""
    ready = asyncio.Event()
    task = asyncio.create_task(cli(pam, *argv, ready=ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([task, waiter], timeout=10, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    assert ready.is_set(), task.result() if task.done() else "never subscribed"
    return task


async def ready_on_job(pam: Pam, aid: str) -> None:
    await pam.ok(m.Login(agent_id=aid, zone="z1", extension="x" + aid,
                         skills=[m.Skill(name="sales", level=5)], time_zone="UTC",
                         locale="en_US"))
    await pam.ok(m.Ready(agent_id=aid))
    await pam.events.wait_for(m.NailAgent, agent_id=aid)
    await pam.ok(m.NailingEstablished(agent_id=aid))


def line_of(text: str, agent: str) -> str:
    return next(ln for ln in text.splitlines() if ln.strip(" │|").startswith(agent + " "))


async def test_agents_lists_the_zones_agents_with_their_states(pam: Pam) -> None:
    await pam.ok(JOB)
    await ready_on_job(pam, "A")
    await pam.ok(m.Login(agent_id="B", zone="z1", extension="2", agent_name="Bea", skills=[],
                         time_zone="UTC", locale="en_US"))
    await pam.ok(m.NotReady(agent_id="B", reason_code=7, reason="lunch"))
    r = await cli(pam, "agents", "--zone", "z1")
    assert r.code == 0, r.err
    a, b = line_of(r.out, "A"), line_of(r.out, "B")
    for word in ("Ready", "Idle", "JobAttached", " J "):
        assert word in a, a
    for word in ("NotReady", "Idle", "JobDetached", "7 lunch", "Bea"):
        assert word in b, b
    assert "In state" in r.out


async def test_agents_live_redraws_from_state_events(pam: Pam) -> None:
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
    task = await watching(pam, "agents", "--zone", "z1", "--live", "--count", "1")
    await pam.ok(m.Ready(agent_id="A"))
    r = await asyncio.wait_for(task, 10)
    assert r.code == 0, r.err
    first, second = r.out.split("Agents of zone z1 (live, 1 changes")
    assert "NotReady" in line_of(first, "A")
    assert "Ready" in line_of(second, "A") and "NotReady" not in line_of(second, "A")


async def test_release_moves_an_idle_agent_to_job_inbound(pam: Pam) -> None:
    await pam.ok(JOB)
    await ready_on_job(pam, "A")
    r = await cli(pam, "release", "A", "--zone", "z1")
    assert r.code == 0, r.err
    assert "Released A from outbound: it is now JobInbound" in r.out
    assert await pam.states("A") == ("Ready", "Idle", "JobInbound")


async def test_release_of_a_busy_agent_says_it_waits_for_the_end_of_the_call(pam: Pam) -> None:
    await pam.ok(JOB)
    await ready_on_job(pam, "A")
    await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    r = await cli(pam, "release", "A", "--zone", "z1")
    assert r.code == 0, r.err
    assert "A is busy (Talking): PAM will release it from outbound" in r.out
    assert (await pam.states("A"))[2] == "PendingManualInbound"


async def test_release_with_a_pending_consult_explains_ignored_and_exits_non_zero(
        pam: Pam) -> None:
    await pam.ok(JOB)
    for aid in "ABC":
        await ready_on_job(pam, aid)
    talkers = []
    for call in ("c1", "c2"):
        reply = await pam.ok(m.CustomerConnected(job_id="J", call_id=call, customer={}))
        assert reply.agent_id is not None
        talkers.append(reply.agent_id)
    consulted, other = talkers
    await pam.ok(m.Consult(agent_id=other, target_agent_id=consulted))
    before = await pam.status(consulted)
    r = await cli(pam, "release", consulted, "--zone", "z1")
    assert r.code == EXIT_REJECTED != 0
    assert ("PAM ignored the release: the agent has a pending callback or consult; "
            "alarm P_POMAGT50 was raised") in r.err
    assert "What to do: wait until the agent's pending callback or consult is over" in r.err
    assert await pam.status(consulted) == before
    alarm = await pam.events.wait_for(m.Alarm, code="P_POMAGT50")
    assert isinstance(alarm, m.Alarm) and alarm.agent_id == consulted


async def test_move_moves_an_idle_agent_to_another_job(pam: Pam) -> None:
    await pam.ok(JOB)
    await ready_on_job(pam, "A")
    await pam.ok(JOB_K)
    r = await cli(pam, "move", "A", "K", "--zone", "z1")
    assert r.code == 0, r.err
    assert "Moved A to job K" in r.out
    a = await pam.status("A")
    assert (a.job_id, a.job_state) == ("K", "PendingJobAttach")


async def test_move_to_an_unknown_job_explains_the_bad_request(pam: Pam) -> None:
    await pam.ok(JOB)
    await ready_on_job(pam, "A")
    r = await cli(pam, "move", "A", "NOPE", "--zone", "z1")
    assert r.code == EXIT_REJECTED
    assert "PAM refused the move to job NOPE as invalid" in r.err
    assert "What to do: check the agent id, the job id" in r.err


async def test_release_of_an_agent_not_logged_in_explains_it(pam: Pam) -> None:
    r = await cli(pam, "release", "ghost", "--zone", "z1")
    assert r.code == EXIT_REJECTED
    assert "agent ghost is not logged in" in r.err


async def test_alarms_prints_an_alarm_pam_raises(pam: Pam) -> None:
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
    task = await watching(pam, "alarms", "--zone", "z1", "--count", "1")
    await pam.ok(m.NotReady(agent_id="A", reason_code=2, walkaway=True))
    r = await asyncio.wait_for(task, 10)
    assert r.code == 0, r.err
    assert "Watching alarms of zone z1" in r.err
    (line,) = r.out.strip().splitlines()
    assert "MAJOR" in line and "P_POMAGT16" in line and "agent A" in line


async def test_unknown_zone_is_explained_with_its_own_exit_code(pam: Pam) -> None:
    r = await cli(pam, "agents", "--zone", "nowhere")
    assert r.code == EXIT_UNKNOWN_ZONE
    assert "no PAM serves zone 'nowhere'" in r.err


async def test_console_script_runs_as_a_process(pam: Pam) -> None:
    await pam.ok(m.Login(agent_id="A", zone="z1", extension="1", skills=[], time_zone="UTC",
                         locale="en_US"))
    env = {**os.environ, "PAM_AMQP_URL": pam.amqp_url, "PAM_ZONE": "z1", "COLUMNS": "160"}
    ok = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "supervisor_api", "agents"],
        capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "NotReady" in line_of(ok.stdout, "A")
    no = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "supervisor_api", "release", "ghost"],
        capture_output=True, text=True, env=env, timeout=60)
    assert no.returncode == EXIT_REJECTED
    assert "not logged in" in no.stderr


async def test_piped_output_keeps_every_column_and_zone_goes_before_the_command(
        pam: Pam) -> None:
    await pam.ok(JOB_K)
    await ready_on_job(pam, "A")
    await pam.ok(m.NotReady(agent_id="A", reason_code=12, reason="Lunch break"))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PAM_AMQP_URL"] = pam.amqp_url
    run = await asyncio.to_thread(  # piped, as in a log or `| grep`: not a terminal
        subprocess.run, [sys.executable, "-m", "supervisor_api", "--zone", "z1", "agents"],
        capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    line = line_of(run.stdout, "A")
    assert "12 Lunch break" in line and "K" in line.split() and "…" not in line


async def test_usage_and_connection_problems_are_explained(
        pam: Pam, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:  # argparse: exit 2, the reason on stderr
        await cli(pam, "agents", "--zone", "z1", "--count", "3")
    assert usage.value.code == 2
    assert "--count goes with --live" in capsys.readouterr().err
    out, err = console(), console()
    code = await amain(["agents", "--zone", "z1", "--amqp-url",
                        "amqp://guest:guest@127.0.0.1:5672/no-such-vhost-pam"],
                       Context(out=out, err=err))
    assert code == EXIT_UNREACHABLE
    assert isinstance(err.file, io.StringIO)
    said = " ".join(err.file.getvalue().split())  # the console wraps long lines
    assert "vhost 'no-such-vhost-pam': the vhost does not exist" in said


async def test_agents_and_jobs_as_json_and_csv(pam: Pam) -> None:
    import csv
    import json

    await pam.ok(JOB)
    await ready_on_job(pam, "A")
    r = await cli(pam, "agents", "--zone", "z1", "--json")
    assert r.code == 0, r.err
    [a] = json.loads(r.out)
    assert (a["agent_id"], a["agent_state"], a["job_id"], a["nailed"]) == ("A", "Ready", "J",
                                                                         True)
    r = await cli(pam, "agents", "--zone", "z1", "--csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert r.code == 0 and rows[0]["agent_id"] == "A" and rows[0]["job_state"] == "JobAttached"
    await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    r = await cli(pam, "jobs", "--zone", "z1", "--json")
    assert r.code == 0, r.err
    [j] = json.loads(r.out)
    assert (j["job_id"], j["agents"], j["calls_connected"], j["status"]) == ("J", 1, 1,
                                                                           "running")
    r = await cli(pam, "jobs", "--zone", "z1")
    assert r.code == 0 and "Job-tasks of zone z1" in r.out and "progressive" in r.out


async def test_force_not_ready_and_force_logout_from_the_command_line(pam: Pam) -> None:
    await pam.ok(JOB)
    await ready_on_job(pam, "A")
    r = await cli(pam, "force-not-ready", "A", "--reason-code", "31", "--reason", "Coaching",
                  "--zone", "z1")
    assert r.code == 0 and "A is now NotReady" in r.out, r
    a = await pam.status("A")
    assert (a.agent_state, a.reason_code, a.reason) == ("NotReady", 31, "Coaching")
    await pam.ok(m.Ready(agent_id="A"))
    await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    r = await cli(pam, "force-logout", "A", "--zone", "z1")
    assert r.code == 0 and "when its current work ends (PendingLogout)" in r.out, r
    await pam.ok(m.CustomerDisconnected(call_id="c1"))
    await pam.ok(m.WrapupContact(agent_id="A", session_id="c1"))
    r2 = await pam.send(m.GetAgentStatus(agent_id="A"))
    assert isinstance(r2, m.Rejected) and r2.code == "NotLoggedIn"  # logged out at the end
