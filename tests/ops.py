"""Helpers for the operations endpoints' tests (/healthz, /readyz, /metrics) and for what
the broker says about a service's connections."""

from __future__ import annotations

import asyncio
import subprocess
import urllib.error
import urllib.request


def http_get(url: str) -> tuple[int, str]:
    """(status, body) of a GET; an HTTP error status is an answer too."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def answers(url: str) -> bool:
    """Whether something listens there and answers HTTP."""
    try:
        http_get(url)
        return True
    except OSError:
        return False


async def says(url: str, status: int, text: str) -> bool:
    """Whether ``url`` answers ``status`` with ``text`` in the body (False while nothing
    listens there yet)."""
    try:
        got = await asyncio.to_thread(http_get, url)
    except OSError:
        return False
    return got[0] == status and text in got[1]


def heartbeats(vhost: str) -> dict[str, int]:
    """Connection name -> the heartbeat (s) the broker negotiated, for ``vhost``."""
    out = subprocess.run(["rabbitmqctl", "-q", "list_connections", "vhost", "timeout",
                          "client_properties"], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    got: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] == vhost:
            name = parts[2].split('{"connection_name","', 1)[-1].split('"', 1)[0] \
                if "connection_name" in parts[2] else ""
            got[name] = int(parts[1])
    return got
