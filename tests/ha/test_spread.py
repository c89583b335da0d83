"""Spreading zones over instances (--prefer), and Redis behind Sentinel."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis as redis_sync

from bench.harness import (
    REDIS,
    Instance,
    RedisServer,
    add_vhost,
    amqp_url,
    delete_keys,
    delete_vhost,
    free_port,
    read_zone,
    until,
)
from pam_protocol import messages as m
from pam_protocol.client import PamClient
from pam_service.store import connect_redis


async def test_instances_preferring_different_zones_are_their_active_consumers(
        tmp_path: Path) -> None:
    vhost = add_vhost()
    prefix = f"pamha-{uuid.uuid4().hex[:10]}"
    url = amqp_url(vhost, heartbeat=5)
    a, b = (Instance(f"pam-pref-{z}", zones="z1,z2", amqp=url, redis_url=REDIS, prefix=prefix,
                     logdir=tmp_path, extra=["--prefer", z, "--prefer-delay", "5"])
            for z in ("z1", "z2"))
    try:
        a.start()
        b.start()
        for inst in (a, b):  # both are standbys of the zone they do not prefer
            await until(lambda i=inst: any(r.get("msg") == "consuming the other zones"
                                           for r in i.records()), 30, "standby consumers")
        async with await PamClient.connect(amqp_url(vhost)) as c:
            for z in ("z1", "z2"):
                r = await c.send(z, m.GetZoneStatus(zone=z))
                assert isinstance(r, m.Accepted)
            assert (a.takeovers("z1"), a.takeovers("z2")) == ([1], [])
            assert (b.takeovers("z1"), b.takeovers("z2")) == ([], [1])
            a.kill9()  # its standby takes its zone on
            r = await c.send("z1", m.GetZoneStatus(zone="z1"), timeout=20)
            assert isinstance(r, m.Accepted)
            assert b.takeovers("z1") == [2]
    finally:
        for inst in (a, b):
            inst.terminate()
        delete_vhost(vhost)
        delete_keys(REDIS, prefix)


def test_a_sentinel_url_needs_the_primary_name() -> None:
    with pytest.raises(ValueError, match="name the primary"):
        connect_redis("redis+sentinel://127.0.0.1:26379")


def start_sentinel(conf: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["redis-server", str(conf), "--sentinel"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_pam_finds_its_redis_through_sentinel(tmp_path: Path) -> None:
    redis = RedisServer()
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                    f"sentinel monitor pam 127.0.0.1 {redis.port} 1\n")
    sentinel = start_sentinel(conf)
    vhost = add_vhost()
    prefix = f"pamha-{uuid.uuid4().hex[:10]}"
    via = f"redis+sentinel://127.0.0.1:{port},127.0.0.1:{free_port()}/pam/0"
    inst = Instance("pam-sentinel", zones="z1", amqp=amqp_url(vhost), redis_url=via,
                    prefix=prefix, logdir=tmp_path)
    try:
        redis.start()
        client = connect_redis(via)

        async def pings() -> bool:
            try:
                return bool(await client.ping())
            except Exception:
                return False

        await until(pings, 20, "the sentinel naming the primary")
        await client.aclose()
        inst.start()
        await until(inst.started, 30, "PAM consuming")
        async with await PamClient.connect(amqp_url(vhost)) as c:
            r = await c.send("z1", m.Login(agent_id="A", zone="z1", extension="1", skills=[],
                                           time_zone="UTC", locale="en_US"), timeout=20)
            assert isinstance(r, m.Accepted)
        assert read_zone(redis.url, prefix).agents["A"].agent_state == "NotReady"
    finally:
        inst.terminate()
        sentinel.terminate()
        sentinel.wait(timeout=10)
        redis.cleanup()
        delete_vhost(vhost)


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    while True:
        port = free_port()
        if port < 55000:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


def start_cluster(base: Path, procs: list[subprocess.Popen[bytes]]) -> list[int]:
    """Three redis-server nodes in cluster mode, the slots spread over them; the
    processes go into ``procs`` as they start (the caller stops them)."""
    ports = [cluster_port() for _ in range(3)]
    for port in ports:
        d = base / str(port)
        d.mkdir()
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled",
             "yes", "--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no",
             "--dir", str(d)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for port in ports:
        r = redis_sync.Redis(port=port, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                r.ping()
                break
            except redis_sync.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        r.close()
    subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                    "--cluster-yes"], check=True, capture_output=True, timeout=60)
    return ports


async def test_pam_serves_a_zone_from_a_redis_cluster(tmp_path: Path) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    vhost = add_vhost()
    prefix = f"pamha-{uuid.uuid4().hex[:10]}"
    inst: Instance | None = None
    try:
        ports = start_cluster(tmp_path, procs)
        inst = Instance("pam-cluster", zones="z1,z2", amqp=amqp_url(vhost),
                        redis_url=f"redis+cluster://127.0.0.1:{ports[1]}", prefix=prefix,
                        logdir=tmp_path)
        client = connect_redis(f"redis+cluster://127.0.0.1:{ports[0]}")

        async def ready() -> bool:
            try:
                for z in ("z1", "z2"):
                    await client.set(f"{prefix}:{{{z}}}:probe", "1")
            except Exception:
                return False
            return True

        await until(ready, 30, "the cluster taking writes in both zones' slots")
        inst.start()
        await until(inst.started, 30, "PAM consuming")
        async with await PamClient.connect(amqp_url(vhost)) as c:
            for z in ("z1", "z2"):  # two zones: two hash tags, two slots
                r = await c.send(z, m.Login(agent_id="A", zone=z, extension="1", skills=[],
                                            time_zone="UTC", locale="en_US"), timeout=20)
                assert isinstance(r, m.Accepted), r
                r = await c.send(z, m.Ready(agent_id="A"), timeout=20)
                assert isinstance(r, m.Accepted) and r.agent is not None
                assert r.agent.agent_state == "Ready"
        for z in ("z1", "z2"):
            raw = await client.hget(f"{prefix}:{{{z}}}:agents", "A")
            assert raw is not None and b'"agent_state":"Ready"' in raw
        await client.aclose()
    finally:
        if inst is not None:
            inst.terminate()
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
        delete_vhost(vhost)

