"""Real RabbitMQ and Redis: each test gets its own vhost and Redis key prefix."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis

from pam_protocol import messages as m
from pam_protocol.client import EventStream, PamClient
from pam_service.service import PamService, Settings

AMQP = "amqp://guest:guest@127.0.0.1:5672/"
REDIS = "redis://127.0.0.1:6379/0"


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def vhost() -> Any:
    name = f"pamtest-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    yield name
    rabbitmqctl("delete_vhost", name)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted after."""
    prefix = f"pamtest-{uuid.uuid4().hex[:10]}"
    yield prefix
    r = aioredis.Redis.from_url(REDIS)
    async for key in r.scan_iter(match=f"{prefix}:*", count=1000):
        await r.delete(key)
    await r.aclose()


@dataclass
class Pam:
    """A PAM under test: its settings, running instances, a client and the events."""

    amqp_url: str
    prefix: str
    zones: list[str]
    client: PamClient
    events: EventStream
    stack: AsyncExitStack
    services: list[PamService] = field(default_factory=list)
    redis: aioredis.Redis = field(default_factory=lambda: aioredis.Redis.from_url(REDIS))

    def settings(self, **kw: Any) -> Settings:
        base: dict[str, Any] = dict(zones=self.zones, amqp_url=self.amqp_url, redis_url=REDIS,
                                    key_prefix=self.prefix)
        base.update(kw)
        return Settings(**base)

    async def start(self, **kw: Any) -> PamService:
        svc = PamService(self.settings(**kw))
        await svc.start()
        self.services.append(svc)
        return svc

    async def send(self, cmd: m.Command, zone: str = "z1", **kw: Any) -> m.AnyReply:
        return await self.client.send(zone, cmd, **kw)

    async def ok(self, cmd: m.Command, zone: str = "z1") -> m.Accepted:
        r = await self.send(cmd, zone)
        assert isinstance(r, m.Accepted), (cmd, r)
        return r

    async def no(self, cmd: m.Command, code: str, zone: str = "z1") -> m.Rejected:
        r = await self.send(cmd, zone)
        assert isinstance(r, m.Rejected) and r.code == code, (cmd, r)
        return r

    async def status(self, agent_id: str, zone: str = "z1") -> m.Agent:
        r = await self.ok(m.GetAgentStatus(agent_id=agent_id), zone)
        assert r.agent is not None
        return r.agent

    async def states(self, agent_id: str) -> tuple[str, str, str]:
        a = await self.status(agent_id)
        return (a.agent_state.value, a.call_state.value, a.job_state.value)


@pytest.fixture
async def pam(vhost: str) -> AsyncIterator[Pam]:
    url = f"{AMQP}{vhost}"
    prefix = f"pamtest-{uuid.uuid4().hex[:10]}"
    stack = AsyncExitStack()
    p = Pam(amqp_url=url, prefix=prefix, zones=["z1"], client=None, events=None,  # type: ignore[arg-type]
            stack=stack)
    await p.start()
    p.client = await PamClient.connect(url)
    p.events = await p.client.subscribe(["#"])
    try:
        yield p
    finally:
        for svc in p.services:
            await svc.stop()
        await p.client.close()
        async for key in p.redis.scan_iter(match=f"{prefix}:*", count=1000):
            await p.redis.delete(key)
        await p.redis.aclose()


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll a condition on real state until it holds (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = await check() if asyncio.iscoroutinefunction(check) else check()
        if got:
            return got
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)
