"""Redis adapter: one zone's durable state, fenced writes, dedup and the event outbox.

Every key carries the zone as a hash tag (``pam:{z1}:agents``) so Redis Cluster keeps a
zone's keys in one slot and a script can touch them all. See docs/redis-layout.md.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import NoScriptError

from pam_protocol.messages import Agent, JobTask

# A batch commit: fence check, dedup check, version check, then every write, the
# dedup records and the outbox entries. One script, so a crash cannot split them.
COMMIT_LUA = r"""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'FENCED'} end
local b = cmsgpack.unpack(ARGV[4])
for _, d in ipairs(b.dedup) do
  if redis.call('EXISTS', ARGV[2] .. d[1]) == 1 then return {'DUP', d[1]} end
end
for _, a in ipairs(b.agents) do
  local v = tonumber(redis.call('HGET', KEYS[3], a[1]) or '0')
  if v ~= a[2] then return {'VERSION', a[1]} end
end
for _, a in ipairs(b.agents) do
  redis.call('HSET', KEYS[2], a[1], a[4])
  redis.call('HSET', KEYS[3], a[1], a[3])
end
for _, j in ipairs(b.jobs) do redis.call('HSET', KEYS[4], j[1], j[2]) end
for _, c in ipairs(b.calls) do
  if c[2] == '' then redis.call('HDEL', KEYS[5], c[1])
  else redis.call('HSET', KEYS[5], c[1], c[2]) end
end
for _, d in ipairs(b.dedup) do
  redis.call('SET', ARGV[2] .. d[1], d[2], 'EX', tonumber(ARGV[3]))
end
local out = {'OK'}
for _, e in ipairs(b.events) do
  local seq = redis.call('HINCRBY', KEYS[6], e[1], 1)
  local body = string.gsub(e[3], '"seq":0', '"seq":' .. seq, 1)
  local id = redis.call('XADD', KEYS[7], '*', 'rk', e[2], 'body', body)
  table.insert(out, id)
  table.insert(out, seq)
end
for _, id in ipairs(b.trim) do redis.call('XDEL', KEYS[7], id) end
return out
"""

# Takeover: a new, larger fencing token; every later commit of an older holder fails.
FENCE_LUA = r"""
local t = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], t)
return t
"""


def connect_redis(url: str) -> aioredis.Redis:
    """A client for ``redis://host:port/db`` (or ``rediss://``, ``unix://``); for the
    primary that Redis Sentinel names:
    ``redis+sentinel://[:password@]host:port[,host:port...]/<primary name>[/db]``; or for
    a Redis Cluster: ``redis+cluster://[:password@]host:port`` (any node).

    Behind Sentinel, every new connection asks the sentinels where the primary is, so
    after a failover the next try of a failed batch writes to the new primary. In a
    cluster, a zone's keys share one hash tag, so every script and MGET goes to the one
    shard that owns the zone."""
    if url.startswith("redis+cluster://"):
        # Not a subclass of Redis, but it has every command ZoneStore uses, routed by slot.
        return cast(aioredis.Redis, RedisCluster.from_url("redis://" + url.split("://", 1)[1]))
    if not url.startswith("redis+sentinel://"):
        return aioredis.Redis.from_url(url)
    parts = urlsplit(url)
    hosts = []
    for hp in parts.netloc.rpartition("@")[2].split(","):
        host, _, port = hp.rpartition(":")
        hosts.append((host or hp, int(port) if host else 26379))
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError(f"{url!r}: name the primary, e.g. redis+sentinel://s1:26379/pam")
    password = unquote(parts.password) if parts.password else None
    db = int(path[1]) if len(path) > 1 else 0
    sentinel = Sentinel(hosts, socket_timeout=2.0,
                        sentinel_kwargs={"password": password} if password else None)
    primary: aioredis.Redis = sentinel.master_for(path[0], db=db, password=password,
                                                  socket_timeout=5.0)
    return primary


class AgentRecord(Agent, frozen=True, kw_only=True, omit_defaults=True):
    """An agent as stored in Redis: its AgentSnapshot less the fields at their defaults
    (half the bytes to keep, move and parse); it decodes as an AgentSnapshot."""


_record_enc = msgspec.json.Encoder()
_asdict = msgspec.structs.asdict


def agent_record(agent: Agent) -> bytes:
    return _record_enc.encode(AgentRecord(**_asdict(agent)))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile: decoding a zone makes tens of thousands
    of objects at once, and each of the collections that would set off walks them all
    (a third of a takeover's time, measured). Nothing collectable is made meanwhile."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class ReplicaLag(aioredis.TimeoutError):
    """Fewer replicas than required acknowledged a commit (Redis WAIT): retry it."""


class Fenced(Exception):
    """Another instance took this zone over: stop writing, drop the in-memory state."""


class Conflict(Exception):
    """Redis disagrees with memory (a version or a dedup key): reload the zone."""


@dataclass
class Batch:
    """What one batch of commands writes."""

    agents: list[tuple[str, int, int, bytes]] = field(default_factory=list)
    jobs: list[tuple[str, bytes]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    dedup: list[tuple[str, bytes]] = field(default_factory=list)
    #: (seq scope, routing key, body with "seq":0 as its second field)
    events: list[tuple[str, str, bytes]] = field(default_factory=list)
    trim: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Committed:
    #: (outbox id, seq) per event, in order
    entries: list[tuple[str, int]]


_pack = msgspec.msgpack.Encoder().encode


def _as_bytes(v: Any) -> bytes | None:
    return v if isinstance(v, bytes) or v is None else str(v).encode()


def with_seq(body: bytes, seq: int) -> bytes:
    return body.replace(b'"seq":0', b'"seq":%d' % seq, 1)


class ZoneStore:
    def __init__(self, redis: aioredis.Redis, zone: str, prefix: str = "pam",
                 dedup_ttl_s: int = 600, *, wait_replicas: int = 0,
                 wait_timeout_ms: int = 500) -> None:
        self.r = redis
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self.zone = zone
        base = f"{prefix}:{{{zone}}}"
        self.k_fence = f"{base}:fence"
        self.k_fence_ctr = f"{base}:fence_ctr"
        self.k_agents = f"{base}:agents"
        self.k_ver = f"{base}:ver"
        self.k_jobs = f"{base}:jobs"
        self.k_calls = f"{base}:calls"
        self.k_seq = f"{base}:seq"
        self.k_outbox = f"{base}:outbox"
        self.dedup_prefix = f"{base}:dedup:"
        self.dedup_ttl_s = dedup_ttl_s
        self._commit = redis.register_script(COMMIT_LUA)
        self._fence = redis.register_script(FENCE_LUA)
        self._agent_dec = msgspec.json.Decoder(Agent)
        self._job_dec = msgspec.json.Decoder(JobTask)

    async def take_fence(self) -> int:
        return int(await self._fence(keys=[self.k_fence, self.k_fence_ctr]))

    async def load(self) -> tuple[list[Agent], list[JobTask], dict[str, str]]:
        pipe = self.r.pipeline(transaction=False)
        pipe.hvals(self.k_agents)
        pipe.hvals(self.k_jobs)
        pipe.hgetall(self.k_calls)
        agents_raw, jobs_raw, calls_raw = await pipe.execute()
        agents = [self._agent_dec.decode(b) for b in agents_raw]
        jobs = [self._job_dec.decode(b) for b in jobs_raw]
        calls = {k.decode(): v.decode() for k, v in calls_raw.items()}
        return agents, jobs, calls

    async def seen(self, message_ids: Sequence[str]) -> list[bytes | None]:
        """Cached replies of commands already applied (None for new ones)."""
        if not message_ids:
            return []
        vals = await self.r.mget([self.dedup_prefix + mid for mid in message_ids])
        return [_as_bytes(v) for v in vals]

    async def commit(self, token: int, batch: Batch) -> Committed:
        committed, _ = await self.commit_and_look(token, batch, ())
        return committed

    async def commit_and_look(self, token: int, batch: Batch,
                              look: Sequence[str]) -> tuple[Committed, list[bytes | None]]:
        """Commit ``batch``; then, in the same round trip, look up the ``message_id``s
        ``look`` (the next batch's) as :meth:`seen` does. Redis runs the lookup after the
        commit, so it sees this batch's dedup records: one round trip per batch instead
        of two, with the same answers."""
        # MessagePack, not JSON: the records travel as bytes, with no second escaping.
        # Redis's cmsgpack has no bin type: the (UTF-8 JSON) records go as str.
        doc = _pack({
            "agents": [(a, p, n, b.decode()) for a, p, n, b in batch.agents],
            "jobs": [(j, b.decode()) for j, b in batch.jobs], "calls": batch.calls,
            "dedup": [(i, b.decode()) for i, b in batch.dedup],
            "events": [(sc, rk, b.decode()) for sc, rk, b in batch.events],
            "trim": batch.trim})
        keys = [self.k_fence, self.k_agents, self.k_ver, self.k_jobs, self.k_calls,
                self.k_seq, self.k_outbox]
        args = [str(token), self.dedup_prefix, str(self.dedup_ttl_s), doc]
        if isinstance(self.r, RedisCluster):
            # (a cluster pipeline would split by node anyway: keep the plain calls)
            res = await self._commit(keys=keys, args=args)
            acked = await self.r.wait(self.wait_replicas, self.wait_timeout_ms) if (
                self.wait_replicas) else 0
            seen = await self.seen(look)
        else:
            res, seen, acked = await self._pipelined(keys, args, look)
        tag = res[0].decode() if isinstance(res[0], bytes) else res[0]
        if tag == "FENCED":
            raise Fenced(self.zone)
        if tag != "OK":
            raise Conflict(f"{tag} {res[1:]!r}")
        # Replication is asynchronous: a primary that dies right after the commit may
        # take it along. Answer only once replicas have it; otherwise the batch is
        # retried (its dedup records make the retry answer, not re-apply, on a primary
        # that kept it; a promoted replica that never had it applies it once).
        if self.wait_replicas and acked < self.wait_replicas:
            raise ReplicaLag(f"{acked} of {self.wait_replicas} replicas acknowledged "
                             f"the commit within {self.wait_timeout_ms} ms")
        it = iter(res[1:])
        return Committed([(i.decode(), int(s)) for i, s in zip(it, it, strict=True)]), seen

    async def _pipelined(self, keys: list[str], args: list[Any],
                         look: Sequence[str]) -> tuple[Any, list[bytes | None], int]:
        """EVALSHA, then MGET and WAIT when asked for, in one round trip. (redis-py's
        own script-in-pipeline asks SCRIPT EXISTS first: a second round trip.)"""
        for attempt in (1, 2):
            pipe = self.r.pipeline(transaction=False)
            pipe.evalsha(self._commit.sha, len(keys), *keys, *args)
            if look:
                pipe.mget([self.dedup_prefix + mid for mid in look])
            if self.wait_replicas:
                pipe.wait(self.wait_replicas, self.wait_timeout_ms)
            out = await pipe.execute(raise_on_error=False)
            if isinstance(out[0], NoScriptError) and attempt == 1:
                # a restarted or failed-over Redis forgot the script: nothing ran
                await self.r.script_load(COMMIT_LUA)
                continue
            for r in out:
                if isinstance(r, Exception):
                    raise r
            seen = [_as_bytes(v) for v in out[1]] if look else []
            return out[0], seen, int(out[-1]) if self.wait_replicas else 0
        raise AssertionError("unreachable")

    async def outbox(self, count: int = 1000) -> list[tuple[str, str, bytes]]:
        """Events written but not yet confirmed by the broker, oldest first."""
        rows: Any = await self.r.xrange(self.k_outbox, "-", "+", count=count)
        return [(i.decode(), f[b"rk"].decode(), f[b"body"]) for i, f in rows]

    async def trim(self, ids: Sequence[str]) -> None:
        if ids:
            await self.r.xdel(self.k_outbox, *ids)
