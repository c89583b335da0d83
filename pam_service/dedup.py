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
from collections.abc import Callable


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
