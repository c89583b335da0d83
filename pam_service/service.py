"""The PAM service: one process serving its zones (pam_service.worker, one worker per
zone), its connections, and a graceful stop. ``Settings`` holds every knob.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any

import aio_pika
import redis.asyncio as aioredis
from aio_pika.abc import (
    AbstractChannel,
    AbstractRobustConnection,
)

from pam_protocol import decoding, topology
from pam_protocol import messages as m
from pam_protocol.cli import version
from pam_service.auth import Policy
from pam_service.pool import default_allocator_factory, default_pool_factory
from pam_service.store import (
    connect_redis,
)
from pam_service.worker import ZoneWorker

log = logging.getLogger("pam.service")

_encode = m.encoder.encode



@dataclass
class Settings:
    zones: list[str]
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "pam"
    policy: Policy = field(default_factory=Policy.development_default)
    batch_max: int = 256
    prefetch: int = 512
    max_body: int = decoding.MAX_COMMAND_BODY
    dedup_ttl_s: int = 600
    #: After taking over a zone that another instance held, the zone counts as
    #: failing over for this long (ReleaseFromOutbound is ignored, P_POMAGT50).
    failover_grace_s: float = 3.0
    #: An agent left Unknown after a takeover (docs/deployment.md, "Agents in doubt")
    #: whose desktop has not resynced within this time is resolved by PAM itself.
    resync_timeout_s: float = 60.0
    #: v1.1 desktop liveness (docs/media.md): the heartbeat interval desktops are told
    #: (0: no liveness checks), and the grace after wrap-up time and extensions before
    #: PAM wraps up for a silent desktop.
    heartbeat_s: int = 30
    wrapup_grace_s: float = 30.0
    #: Redis WAIT after each commit: replicas that must have it before PAM answers
    #: (docs/deployment.md, "Redis behind Sentinel"); 0 = asynchronous replication.
    redis_wait_replicas: int = 0
    redis_wait_timeout_ms: int = 500
    callback_due_utc: bool = False
    #: A zone with no command for this long trims its confirmed outbox entries
    #: (instead of leaving them to the next commit).
    quiet_trim_s: float = 0.05
    #: The server's time zone for callback due times (None: this host's local zone,
    #: which the TZ environment variable sets).
    server_tz: tzinfo | None = None
    instance: str = "pam"
    #: Tries of a batch that cannot be committed before it is requeued.
    batch_retries: int = 20
    #: Graceful stop: how long to keep processing what was already delivered.
    stop_timeout_s: float = 10.0
    #: Zones this instance prefers to be active for (``--prefer``): it consumes the
    #: others only after ``prefer_delay_s``. Empty: all at once.
    prefer: list[str] = field(default_factory=list)
    prefer_delay_s: float = 5.0
    #: Builds each zone's pool: the Rust dispatcher by default.
    pool_factory: Any = field(default_factory=default_pool_factory)
    #: Builds each zone's allocator: the Rust dispatcher's by default.
    allocator_factory: Any = field(default_factory=default_allocator_factory)


def local_zone() -> tzinfo:
    """This host's time zone with its rules (daylight saving included): ``TZ`` when it
    names a zone, else /etc/localtime, else UTC. Never the offset of the moment of start,
    which would be an hour off after the next change of season."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        with contextlib.suppress(ValueError, zoneinfo.ZoneInfoNotFoundError):
            return zoneinfo.ZoneInfo(name)
    with contextlib.suppress(OSError, ValueError), open("/etc/localtime", "rb") as f:
        return zoneinfo.ZoneInfo.from_file(f, key="localtime")
    return UTC


class PamService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server_tz = settings.server_tz or local_zone()
        self.redis: aioredis.Redis = connect_redis(settings.redis_url)
        self.conn: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.topo: topology.Topology | None = None
        self.workers = {z: ZoneWorker(self, z) for z in settings.zones}
        self.tasks: list[asyncio.Task[None]] = []
        self.starter: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.conn = await aio_pika.connect_robust(self.settings.amqp_url,
                                                  client_properties={
                                                      "connection_name": self.settings.instance})
        self.channel = await self.conn.channel(publisher_confirms=True)
        await self.channel.set_qos(prefetch_count=self.settings.prefetch)
        self.topo = await topology.declare(self.channel)
        preferred = set(self.settings.prefer)
        later = [w for w in self.workers.values() if preferred and w.name not in preferred]
        for w in self.workers.values():
            if w not in later:
                await self._serve(w)
        if later:
            self.starter = asyncio.create_task(self._serve_later(later))
        log.info("started", extra={"version": version(), "zones": self.settings.zones,
                                   "later": [w.name for w in later]})

    async def _serve(self, w: ZoneWorker) -> None:
        assert self.conn is not None
        ch = await self.conn.channel(publisher_confirms=True)
        await ch.set_qos(prefetch_count=self.settings.prefetch)
        await w.start(ch)
        self.tasks.append(asyncio.create_task(w.run(), name=f"zone-{w.name}"))

    async def _serve_later(self, workers: list[ZoneWorker]) -> None:
        """Zones outside ``--prefer``: consume them after a delay, so that an instance
        that prefers them registers first and becomes their single active consumer;
        this instance is their standby."""
        await asyncio.sleep(self.settings.prefer_delay_s)
        for w in workers:
            await self._serve(w)
        log.info("consuming the other zones", extra={"zones": [w.name for w in workers]})

    async def not_ready(self) -> str | None:
        """Why this instance is not doing its work (``/readyz``), or None: connected to
        RabbitMQ, consuming every zone (as active or standby), Redis answering."""
        # (a robust connection is not "closed" while it reconnects: ask whether it is up)
        if self.conn is None or self.conn.is_closed or not self.conn.connected.is_set():
            return "not connected to RabbitMQ"
        idle = [w.name for w in self.workers.values()
                if w.consumer_tag is None or w.channel is None or w.channel.is_closed]
        if idle:
            return f"not consuming zone(s) {', '.join(idle)}"
        try:
            await self.redis.ping()
        except Exception as e:
            return f"Redis does not answer: {e or type(e).__name__}"
        return None

    async def stop(self) -> None:
        """Graceful: tell the desktops, stop consuming, finish what was delivered, flush
        the outbox."""
        for w in self.workers.values():
            # POMNotAvailable goes out while this instance still holds the zone, so a
            # standby's POMAvailable (sent when it takes over) always comes after it.
            if w.active and not w.busy:
                live = w.zone.logged_in()
                if live:
                    try:
                        await w._announce([m.POMNotAvailable(agent_id=aid, zone=w.name)
                                           for aid in live])
                    except Exception as e:  # fenced or Redis gone: the next holder speaks
                        log.warning("could not announce POMNotAvailable",
                                    extra={"zone": w.name, "error": repr(e)})
        for w in self.workers.values():
            await w.stop_consuming()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.stop_timeout_s
        if self.starter is not None:
            self.starter.cancel()
        by_name = {t.get_name(): t for t in self.tasks}
        for w in self.workers.values():
            task = by_name.get(f"zone-{w.name}")
            if task is None:
                continue
            # finish what was delivered, but never hang a shutdown on it
            while (not w.inbox.empty() or w.pending or w.busy) and not task.done() and (  # noqa: ASYNC110
                    loop.time() < deadline):
                await asyncio.sleep(0.01)
            await w.flush()
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for w in self.workers.values():
            if w.active:
                with contextlib.suppress(Exception):
                    await w.drain_outbox()
        if self.conn is not None:
            await self.conn.close()
        await self.redis.aclose()
