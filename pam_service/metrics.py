"""The service's Prometheus metrics (every one documented in docs/deployment.md)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from prometheus_client import Counter, Histogram

from pam_service.domain.zone import Zone

COMMANDS = Counter("pam_commands_total", "Commands handled", ["zone", "type", "result"])
LATENCY = Histogram("pam_command_seconds", "From delivery to ack", ["zone"],
                    buckets=(.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5))


@functools.lru_cache(maxsize=4096)
def counted(zone: str, kind: str, result: str) -> Any:
    """The labelled counter child, looked up once per (zone, type, result)."""
    return COMMANDS.labels(zone, kind, result)


TAKEOVERS = Counter("pam_takeovers_total", "Zones taken over by this instance", ["zone"])
BATCH = Histogram("pam_batch_commands", "Deliveries per batch", ["zone"],
                  buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
DEDUP = Counter("pam_dedup_ids_total",
                "Commands checked for a repeat, by how: looked up with the previous commit "
                "(ahead), known new to this instance (known_new), looked up on their own "
                "(lookup)", ["zone", "how"])


class Served(Protocol):
    """A zone as the collector sees it: whether this instance serves it, and the zone."""

    @property
    def active(self) -> bool: ...
    @property
    def zone(self) -> Zone: ...


class AgentsByState:
    """Prometheus collector: agents by zone and sub-state, read from memory on scrape."""

    def __init__(self, workers: Mapping[str, Served]) -> None:
        self.workers = workers

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        g = GaugeMetricFamily("pam_agents", "Logged-in agents by zone and state",
                              labels=["zone", "kind", "state"])
        active = GaugeMetricFamily("pam_zone_active", "1 where this instance serves the zone",
                                   labels=["zone"])
        for name, w in self.workers.items():
            active.add_metric([name], 1.0 if w.active else 0.0)
            for (kind, state), n in sorted(w.zone.state_counts().items()):
                g.add_metric([name, kind, state], float(n))
        yield g
        yield active
