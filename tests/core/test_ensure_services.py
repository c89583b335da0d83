"""infra/ensure-services.sh, run for real with what it may look for narrowed: a PATH that
lacks a server's binaries, ports nobody listens on. The machine's own servers are never
touched: a server the script starts here listens on a free port and is shut down after."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import free_port

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "infra" / "ensure-services.sh"
BASH = shutil.which("bash") or "/bin/bash"
#: what the script needs besides the servers' own tools
TOOLS = ("id", "sleep", "grep", "mktemp")


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH directory with the basic tools and none of the servers."""
    d = tmp_path / "bin"
    d.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found is not None, tool
        (d / tool).symlink_to(found)
    return d


def run(bin_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=120, env={"PATH": str(bin_dir), "PAM_SERVICES_NO_INSTALL": "1",
                                            **env})


@pytest.fixture
def private_redis_port() -> Iterator[int]:
    port = free_port()
    yield port
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True,
                   timeout=30)


def test_a_missing_redis_is_named_with_the_package_to_install(bin_dir: Path) -> None:
    r = run(bin_dir, PAM_REDIS_PORT=str(free_port()))
    assert r.returncode == 1
    assert "Redis is not running and not installed" in r.stderr
    assert "sudo apt-get install redis-server" in r.stderr


def test_a_missing_rabbitmq_is_named_with_the_package_to_install(bin_dir: Path) -> None:
    # the machine's Redis answers (port 6379); RabbitMQ is looked for on a free port
    r = run(bin_dir, PAM_AMQP_PORT=str(free_port()))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "redis:    answering on 127.0.0.1:6379" in r.stdout
    assert "RabbitMQ is not running and not installed" in r.stderr
    assert "sudo apt-get install rabbitmq-server" in r.stderr


def test_the_demo_needs_no_postgresql_and_the_tests_name_it(bin_dir: Path) -> None:
    pg = str(free_port())
    demo = run(bin_dir, PAM_PG_PORT=pg)
    assert demo.returncode == 0, demo.stderr
    assert "postgres" not in demo.stdout + demo.stderr
    tests = run(bin_dir, "--with-postgres", PAM_PG_PORT=pg)
    assert tests.returncode == 1
    assert "PostgreSQL is not running and not installed" in tests.stderr
    assert "sudo apt-get install postgresql" in tests.stderr
    assert "PAM_TEST_PG_URL" in tests.stderr
    own = run(bin_dir, "--with-postgres", PAM_PG_PORT=pg, PAM_TEST_PG_URL="postgresql://x/y")
    assert own.returncode == 0 and "use PAM_TEST_PG_URL" in own.stdout
    assert run(bin_dir, "--bogus").returncode == 2


def test_an_installed_but_stopped_redis_is_started(bin_dir: Path,
                                                   private_redis_port: int) -> None:
    for tool in ("redis-server", "redis-cli"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    r = run(bin_dir, PAM_REDIS_PORT=str(private_redis_port))
    assert r.returncode == 0, r.stderr
    assert "starting a local redis-server" in r.stdout
    pong = subprocess.run(["redis-cli", "-p", str(private_redis_port), "ping"],
                          capture_output=True, text=True, timeout=10)
    assert pong.stdout.strip() == "PONG"


@pytest.mark.skipif(os.getuid() != 0, reason="the script installs only as root")
def test_as_root_a_missing_redis_is_installed_with_apt_get(bin_dir: Path, tmp_path: Path,
                                                           private_redis_port: int) -> None:
    # apt-get is the one stand-in: it records its calls and "installs" redis-server by
    # linking the real one, which the script then starts on a free port
    calls = tmp_path / "apt-calls"
    real, ln = shutil.which("redis-server"), shutil.which("ln")
    assert real is not None and ln is not None
    apt = bin_dir / "apt-get"
    apt.write_text(f'#!{BASH}\necho "$*" >> {calls}\n'
                   f'case "$*" in *install*) {ln} -sf {real} {bin_dir}/redis-server ;; esac\n')
    apt.chmod(0o755)
    r = subprocess.run([BASH, str(SCRIPT)], capture_output=True, text=True, timeout=120,
                       env={"PATH": str(bin_dir), "PAM_REDIS_PORT": str(private_redis_port)})
    assert r.returncode == 0, r.stderr
    assert "installing Debian's redis-server" in r.stdout
    assert calls.read_text().splitlines() == ["update -q", "install -y -q redis-server"]
    assert "starting a local redis-server" in r.stdout
