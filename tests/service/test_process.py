"""The `pam-service` process: JSON logs, metrics, graceful SIGTERM; a failed start says
why in one line and exits 2, never with a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bench.harness import Proxy, RedisServer, amqp_url, free_port, until
from pam_protocol import messages as m
from pam_protocol.client import DEFAULT_HEARTBEAT_S, PamClient
from pam_service.service import PamService, Settings
from tests.ops import answers, heartbeats, http_get, says
from tests.service.conftest import AMQP, REDIS, rabbitmqctl


async def test_service_process_serves_exposes_metrics_and_exits_cleanly_on_sigterm(
        vhost: str, redis_prefix: str) -> None:
    port = free_port()
    prefix = redis_prefix
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pam_service", "--zones", "z1", "--amqp-url", AMQP + vhost,
        "--redis-url", REDIS, "--key-prefix", prefix, "--metrics-port", str(port),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    try:
        async with await PamClient.connect(AMQP + vhost) as c:
            reply: m.AnyReply | None = None
            for _ in range(100):  # the process needs a moment to declare its queue
                try:
                    reply = await c.send("z1", m.Login(agent_id="A", zone="z1", extension="1",
                                                       skills=[], time_zone="UTC",
                                                       locale="en_US"),
                                         timeout=5, message_id="login-A")
                    break
                except Exception:
                    await asyncio.sleep(0.1)
            assert isinstance(reply, m.Accepted)
            await c.send("z1", m.Ready(agent_id="A"))
        url = f"http://127.0.0.1:{port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        text = body.decode()
        assert 'pam_commands_total{result="Accepted",type="Login",zone="z1"} 1.0' in text
        assert 'pam_agents{kind="agent_state",state="Ready",zone="z1"} 1.0' in text
        assert "pam_command_seconds_bucket" in text
        assert 'pam_batch_commands_count{zone="z1"}' in text
        # a zone nobody held before: its commands are known new, no lookup in Redis
        known_new = [line for line in text.splitlines()
                     if line.startswith('pam_dedup_ids_total{how="known_new",zone="z1"}')]
        assert known_new and float(known_new[0].split()[-1]) >= 2, known_new
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
    logs = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert any(rec["msg"] == "took over zone" and rec["zone"] == "z1" for rec in logs)
    assert any(rec["msg"] == "stopping (signal)" for rec in logs)


async def test_graceful_stop_tells_desktops_pom_not_available(
        vhost: str, redis_prefix: str) -> None:
    prefix = redis_prefix
    svc = PamService(Settings(zones=["z1"], amqp_url=AMQP + vhost, redis_url=REDIS,
                              key_prefix=prefix))
    await svc.start()
    async with await PamClient.connect(AMQP + vhost) as c:
        events = await c.subscribe(["agent.z1.A.notify"])
        await c.send("z1", m.Login(agent_id="A", zone="z1", extension="1", skills=[],
                                   time_zone="UTC", locale="en_US"))
        await svc.stop()
        ev = await events.wait_for(m.POMNotAvailable, agent_id="A")
        assert isinstance(ev, m.POMNotAvailable) and ev.seq > 0


def test_callback_due_times_are_in_the_hosts_time_zone_unless_one_is_set() -> None:
    host = PamService(Settings(zones=["z1"])).workers["z1"].ctx()
    assert host.server_tz.utcoffset(host.now) == datetime.now().astimezone().utcoffset()
    kolkata = ZoneInfo("Asia/Kolkata")
    ctx = PamService(Settings(zones=["z1"], server_tz=kolkata)).workers["z1"].ctx()
    assert ctx.server_tz is kolkata


# ---- a failed start: one clear line, a distinct exit status, never a traceback ----------

EXIT_CONFIG = 2  # pam_service.__main__.EXIT_CONFIG


def pam_service(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``pam-service`` to its exit (a configuration error ends it at once)."""
    return subprocess.run([sys.executable, "-m", "pam_service", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ})


def assert_refused(proc: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert proc.returncode == EXIT_CONFIG, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pam-service: "), proc.stderr[-2000:]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def test_a_vhost_that_does_not_exist_is_a_configuration_error() -> None:
    name = f"pamtest-nosuchvhost-{uuid.uuid4().hex}"
    proc = pam_service("--zones", "z1", "--amqp-url", AMQP + name, "--redis-url", REDIS)
    assert_refused(proc, f"vhost {name!r}", "does not exist or user 'guest' may not use it",
                   f"rabbitmqctl add_vhost {name}", f"set_permissions -p {name} guest")


def test_refused_credentials_are_a_configuration_error_naming_the_user(vhost: str) -> None:
    secret = uuid.uuid4().hex
    proc = pam_service("--zones", "z1", "--amqp-url",
                       f"amqp://guest:{secret}@127.0.0.1:5672/{vhost}", "--redis-url", REDIS)
    assert_refused(proc, "refused user 'guest'", "ACCESS_REFUSED", "guest:***@")
    assert secret not in proc.stderr


def test_a_user_without_permissions_on_the_vhost_is_told_what_to_grant(vhost: str) -> None:
    rabbitmqctl("set_permissions", "-p", vhost, "guest", "", "", "")
    proc = pam_service("--zones", "z1", "--amqp-url", AMQP + vhost, "--redis-url", REDIS)
    assert_refused(proc, "ACCESS_REFUSED", f"rabbitmqctl set_permissions -p {vhost} guest")


@pytest.mark.parametrize(("flag", "url", "phrase"), [
    ("--redis-url", "http://x", "a Redis URL starts with redis://, rediss://, unix://"),
    ("--redis-url", "redis://127.0.0.1:notaport/0", "is not a valid Redis URL"),
    ("--amqp-url", "http://guest:hunter2@x/", "a RabbitMQ URL starts with amqp:// or amqps://"),
    ("--amqp-url", "amqp://127.0.0.1:notaport/", "is not a valid URL"),
])
def test_a_url_of_the_wrong_kind_is_refused_at_start(flag: str, url: str, phrase: str) -> None:
    proc = pam_service("--zones", "z1", flag, url)
    assert_refused(proc, flag, phrase)
    assert "hunter2" not in proc.stderr


@pytest.mark.parametrize(("zones", "phrase"), [
    ("", "names no zone"),
    (" , ,", "names no zone"),
    ("z1,,z2", "an empty zone name"),
    ("z1,a b", "zone name 'a b' cannot be a routing key"),
    ("z#", "zone name 'z#' cannot be a routing key"),
    ("z*", "zone name 'z*' cannot be a routing key"),
])
def test_zones_that_cannot_be_served_are_refused(zones: str, phrase: str) -> None:
    assert_refused(pam_service("--zones", zones), phrase)


async def _stderr_until(proc: asyncio.subprocess.Process, msg: str) -> list[dict[str, Any]]:
    """The JSON log records up to and including the first whose ``msg`` is ``msg``."""
    assert proc.stderr is not None
    records: list[dict[str, Any]] = []
    while True:
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert line, f"pam-service ended before logging {msg!r}: {records}"
        if line.startswith(b"{"):
            records.append(json.loads(line))
            if records[-1]["msg"] == msg:
                return records


def test_a_redis_database_that_does_not_exist_is_a_configuration_error() -> None:
    proc = pam_service("--zones", "z1", "--redis-url", "redis://127.0.0.1:6379/99999")
    assert_refused(proc, "DB index is out of range", "--redis-url")


@pytest.mark.parametrize("scheme", ["redis", "redis+cluster"])
async def test_redis_unreachable_at_start_is_a_warning_and_the_service_starts(
        vhost: str, scheme: str) -> None:
    url = f"{scheme}://:hunter2@127.0.0.1:{free_port()}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pam_service", "--zones", "z1", "--amqp-url", AMQP + vhost,
        "--redis-url", url, stderr=subprocess.PIPE, env={**os.environ})
    try:
        records = await _stderr_until(proc, "started")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    warning = [r for r in records if r["msg"] == (
        "redis unreachable at start; commands wait until it is back")]
    assert warning and warning[0]["level"] == "warning", records
    assert warning[0]["redis_url"] == url.replace("hunter2", "***")
    assert "hunter2" not in json.dumps(records)
    assert proc.returncode == 0, err.decode()[-2000:]


async def test_a_broker_that_is_down_is_retried_until_stopped() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pam_service", "--zones", "z1",
        "--amqp-url", f"amqp://guest:guest@127.0.0.1:{free_port()}/", "--redis-url", REDIS,
        stderr=subprocess.PIPE, env={**os.environ})
    try:
        records = await _stderr_until(proc, "cannot reach RabbitMQ; retrying")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert records[-1]["level"] == "error"
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"Traceback" not in err


def test_help_lists_the_exit_statuses() -> None:
    proc = subprocess.run([sys.executable, "-m", "pam_service", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    assert "exit status" in proc.stdout and "usage or configuration" in proc.stdout


async def test_healthz_and_readyz_follow_rabbitmq_the_zones_and_redis(
        vhost: str, redis_prefix: str) -> None:
    # RabbitMQ through a proxy that is not listening yet, a private Redis to stop
    proxy, redis = Proxy(), RedisServer()
    await asyncio.to_thread(redis.start)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pam_service", "--zones", "z1,z2",
        "--amqp-url", amqp_url(vhost, proxy.port), "--redis-url", redis.url,
        "--key-prefix", redis_prefix, "--metrics-port", str(port), "--metrics-addr",
        "127.0.0.1", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    base = f"http://127.0.0.1:{port}"

    async def get(path: str) -> tuple[int, str]:
        return await asyncio.to_thread(http_get, base + path)

    def ready_says(status: int, text: str) -> Awaitable[bool]:
        return says(base + "/readyz", status, text)

    try:
        await until(lambda: asyncio.to_thread(answers, base + "/healthz"), 30, "/healthz")
        assert await get("/healthz") == (200, "ok\n")
        # RabbitMQ out of reach (pam-service keeps trying): alive, not ready
        await until(lambda: ready_says(503, "not connected to RabbitMQ"), 30, "/readyz 503")
        assert await get("/healthz") == (200, "ok\n")
        await proxy.start()  # it connects and consumes z1 and z2: ready
        await until(lambda: ready_says(200, "ready"), 60, "/readyz 200")
        # no heartbeat in the URL: pam-service asked for its short default
        hb = await asyncio.to_thread(heartbeats, vhost)
        assert set(hb.values()) == {DEFAULT_HEARTBEAT_S}, hb
        metrics = (await get("/metrics"))[1]
        assert 'pam_zone_active{zone="z1"}' in metrics and 'zone="z2"' in metrics
        await asyncio.to_thread(redis.stop)  # Redis gone: not ready, still alive
        await until(lambda: ready_says(503, "Redis does not answer"), 30, "/readyz 503")
        assert await get("/healthz") == (200, "ok\n")
        assert (await get("/nothing"))[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)
        await proxy.close()
        await asyncio.to_thread(redis.cleanup)
