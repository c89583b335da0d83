"""What this instance knows of the ``message_id``s it committed, so that a batch need not
ask Redis about commands that cannot have been applied before.

A command is a duplicate only if its ``dedup:<message_id>`` key lives in Redis. Once an
instance has held a zone for longer than the keys' TTL (or took over a zone nobody held
before), every live key was written by its own commits; if it remembers every id it
committed for at least the TTL, an id it does not remember is new, with no round trip.

:class:`CommittedIds` remembers them in two generations of a Bloom filter, each covering
``ttl_s``: an id is kept between one and two TTLs, in fixed memory. A Bloom filter never
forgets an id it holds (no false negative, which would apply a command twice); a false
positive only sends that id to Redis as before. ZoneWorker decides when it may trust it
(docs/redis-layout.md, "Skipping the lookup").
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol


class CommittedIds:
    """A two-generation Bloom filter of message ids, 3 probes, ``2**bits_log2`` bits per
    generation (default 2 MiB each: 0.1% false positives at 600,000 ids)."""

    def __init__(self, ttl_s: float, bits_log2: int = 24,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 16 <= bits_log2 <= 30:
            raise ValueError("bits_log2 must be between 16 and 30")
        self.ttl_s = ttl_s
        self.clock = clock
        self.shift = bits_log2
        self.mask = (1 << bits_log2) - 1
        self.current = bytearray(1 << (bits_log2 - 3))
        self.previous = bytearray(1 << (bits_log2 - 3))
        self.rotated_at = clock()

    def _probes(self, mid: str) -> tuple[int, int, int]:
        # Python's str hash (SipHash, seeded per process): three probes from 64 bits,
        # the third mixed so that short masks still get independent bits.
        h = hash(mid) & 0xFFFF_FFFF_FFFF_FFFF
        m = self.mask
        return h & m, (h >> 21) & m, ((h >> 42) ^ (h * 0x9E3779B1)) & m

    def _rotate(self) -> None:
        now = self.clock()
        if now - self.rotated_at < self.ttl_s:
            return
        # One period gone: the current generation becomes the previous one. Two or more
        # (an idle zone): everything is older than the TTL.
        if now - self.rotated_at < 2 * self.ttl_s:
            self.previous, self.current = self.current, self.previous
        else:
            self.previous[:] = bytes(len(self.previous))
        self.current[:] = bytes(len(self.current))
        self.rotated_at = now

    def add(self, mid: str) -> None:
        self._rotate()
        cur = self.current
        for p in self._probes(mid):
            cur[p >> 3] |= 1 << (p & 7)

    def maybe_seen(self, mid: str) -> bool:
        """False: this instance did not commit ``mid`` within the last TTL."""
        self._rotate()
        ps = self._probes(mid)
        for gen in (self.current, self.previous):
            if all(gen[p >> 3] & (1 << (p & 7)) for p in ps):
                return True
        return False


class _Item(Protocol):
    """A delivery in a batch, as the repeat check reads it (pam_service.batch.Item)."""

    @property
    def msg(self) -> Any: ...
    @property
    def cmd(self) -> Any: ...


class Repeats:
    """Which commands of a batch were applied before, asking Redis as little as it may:
    the ids the previous commit looked up ahead (``looked``), the ids this instance
    knows are new (:meth:`may_be_seen`), one lookup for the rest."""

    def __init__(self, ttl_s: float, counters: Mapping[str, Any]) -> None:
        self.committed = CommittedIds(ttl_s)
        self.ttl_s = ttl_s
        #: From when (monotonic) every live dedup key of the zone is known to be ours.
        self.trusted_from = float("inf")
        #: The next batch's ids, looked up with the last commit (None: not valid).
        self.looked: dict[str, bytes | None] | None = None
        self.counters = counters  # "ahead", "known_new", "lookup": Prometheus counters

    def taken_over(self, first_holder: bool) -> None:
        """A takeover: the predecessor's keys live for up to the TTL (none if nobody
        held the zone before); until then every id is looked up."""
        self.trusted_from = time.monotonic() + (0.0 if first_holder else self.ttl_s)
        self.looked = None

    def may_be_seen(self, msg: Any) -> bool:
        """Whether the command may have been applied before (ask Redis), or is surely new:
        trusted window, a first delivery, an id this instance never committed."""
        assert msg.message_id is not None
        return (time.monotonic() < self.trusted_from or msg.redelivered is True
                or self.committed.maybe_seen(msg.message_id))

    def committing(self, ids: Iterable[str], ahead: list[str],
                   found: list[bytes | None]) -> None:
        """A commit of these ids, with the lookup of the next batch's ``ahead`` ids."""
        for mid in ids:
            self.committed.add(mid)
        self.looked = dict(zip(ahead, found, strict=True))

    async def seen(self, items: Iterable[_Item],
                   lookup: Callable[[list[str]], Awaitable[list[bytes | None]]]
                   ) -> dict[str, bytes | None]:
        """The cached replies of the commands applied before (None for new ones)."""
        looked, self.looked = self.looked, None
        cached: dict[str, bytes | None] = {}
        missing = []
        ahead = known_new = 0
        for it in items:
            mid = it.msg.message_id
            if it.cmd is None or not mid:
                continue
            if looked is not None and mid in looked:
                cached[mid] = looked[mid]
                ahead += 1
            elif self.may_be_seen(it.msg):
                missing.append(mid)
            else:
                cached[mid] = None
                known_new += 1
        self.counters["ahead"].inc(ahead)
        self.counters["known_new"].inc(known_new)
        if missing:
            self.counters["lookup"].inc(len(missing))
            cached.update(zip(missing, await lookup(missing), strict=True))
        return cached
