"""The `pam-service` process: JSON logs, metrics, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from datetime import datetime
from zoneinfo import ZoneInfo

from pam_service import messages as m
from pam_service.client import PamClient
from pam_service.service import PamService, Settings
from tests.ha.harness import free_port
from tests.service.conftest import AMQP, REDIS


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
                    reply = await c.send("z1", m.Login(agent_id="A", zone="z1", extension="1"),
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
        await c.send("z1", m.Login(agent_id="A", zone="z1", extension="1"))
        await svc.stop()
        ev = await events.wait_for(m.POMNotAvailable, agent_id="A")
        assert isinstance(ev, m.POMNotAvailable) and ev.seq > 0


def test_callback_due_times_are_in_the_hosts_time_zone_unless_one_is_set() -> None:
    host = PamService(Settings(zones=["z1"])).workers["z1"].ctx()
    assert host.server_tz.utcoffset(host.now) == datetime.now().astimezone().utcoffset()
    kolkata = ZoneInfo("Asia/Kolkata")
    ctx = PamService(Settings(zones=["z1"], server_tz=kolkata)).workers["z1"].ctx()
    assert ctx.server_tz is kolkata
