"""`pam-supervisor serve` and `hash-password` as a user runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from bench.harness import Proxy, amqp_url, free_port, until
from pam_protocol.client import DEFAULT_HEARTBEAT_S
from tests.ops import heartbeats, http_get, says
from tests.service.conftest import Pam

CLI = [sys.executable, "-m", "supervisor_api"]


def test_hash_password_prints_an_argon2_hash_of_the_password() -> None:
    out = subprocess.run([*CLI, "hash-password", "--stdin"], input="correct horse\n",
                         capture_output=True, text=True, timeout=60, check=True)
    h = out.stdout.strip()
    assert h.startswith("$argon2id$") and PasswordHasher().verify(h, "correct horse")


def test_serve_with_a_bad_users_file_says_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "users.toml"
    bad.write_text('[users.x]\nrole = "viewer"\npassword_hash = "plain"\n')
    out = subprocess.run([*CLI, "serve", "--users", str(bad)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "hash-password" in out.stderr


def test_hash_password_without_a_terminal_points_to_stdin() -> None:
    out = subprocess.run([*CLI, "hash-password"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--stdin" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_says_why_it_cannot_start_before_it_starts(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    out = subprocess.run([*CLI, "serve", "--port", str(free_port()), "--no-reports",
                          "--amqp-url", f"amqp://guest:guest@127.0.0.1:{closed}/"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 5, out.stderr
    assert "cannot reach RabbitMQ" in out.stderr and "Dashboard on" not in out.stderr
    assert "Traceback" not in out.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([*CLI, "serve", "--port", str(port), "--no-reports"],
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.stderr


async def test_serve_runs_the_dashboard_and_stops_cleanly_on_sigterm(
        pam: Pam, tmp_path: Path) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "--zones", "z1", "--port", str(port), "--amqp-url", pam.amqp_url,
        "--reports-db", f"sqlite:///{tmp_path / 'r.sqlite3'}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        async with httpx.AsyncClient() as c:
            while True:
                try:
                    r = await c.get(f"http://127.0.0.1:{port}/")
                    break
                except httpx.TransportError:
                    assert proc.returncode is None, await proc.stderr.read()  # type: ignore[union-attr]
                    assert loop.time() < deadline, "the dashboard did not answer in 30 s"
                    await asyncio.sleep(0.1)
            assert r.status_code == 200 and "PAM Supervisor Dashboard" in r.text
            assert (await c.get(f"http://127.0.0.1:{port}/api/me")).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = await asyncio.wait_for(proc.wait(), 30)
    err = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
    assert rc == 0, err
    assert "development users admin/admin" in err


async def test_serve_healthz_and_readyz_follow_its_connection(pam: Pam, tmp_path: Path) -> None:
    vhost = pam.amqp_url.rsplit("/", 1)[1]
    proxy, port = Proxy(), free_port()
    await proxy.start()
    base = f"http://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "--zones", "z1", "--port", str(port), "--amqp-url",
        amqp_url(vhost, proxy.port), "--reports-db", f"sqlite:///{tmp_path / 'r.sqlite3'}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        await until(lambda: says(base + "/readyz", 200, "ready"), 30, "/readyz 200")
        assert await asyncio.to_thread(http_get, base + "/healthz") == (200, "ok\n")
        # its URL set no heartbeat: the dashboard and its ingester asked for the default
        hb = await asyncio.to_thread(heartbeats, vhost)
        assert hb.get("pam-reports") == DEFAULT_HEARTBEAT_S, hb
        await proxy.cut()  # RabbitMQ out of reach: alive, not ready
        await until(lambda: says(base + "/readyz", 503, "not connected to RabbitMQ"), 30,
                    "/readyz 503")
        assert await asyncio.to_thread(http_get, base + "/healthz") == (200, "ok\n")
        await proxy.restore()
        await until(lambda: says(base + "/readyz", 200, "ready"), 60, "/readyz 200 again")
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = await asyncio.wait_for(proc.wait(), 30)
        await proxy.close()
    assert rc == 0, (await proc.stderr.read()).decode()  # type: ignore[union-attr]
