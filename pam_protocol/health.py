"""The services' operations listener: ``/metrics`` (Prometheus), ``/healthz`` (the process
answers) and ``/readyz`` (it does its work: 200, or 503 with the reason).

Readiness is worked out on the event loop (where the connections live) once a second by
a :class:`Readiness` task; the HTTP thread only reads the last answer. An answer older
than a few seconds means the event loop itself is stuck: not ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Info, generate_latest

from pam_protocol.cli import version

log = logging.getLogger("pam.health")

#: ``pam_build_info{version="..."} 1`` on every /metrics: which PAM answers.
BUILD = Info("pam_build", "The PAM version this process runs")
BUILD.info({"version": version()})

#: A readiness check: None when ready, else why not (a sentence for the operator).
Check = Callable[[], Awaitable[str | None]]


class Readiness:
    """Runs ``check`` every ``every_s`` on the event loop; :meth:`reason` is its last
    answer, or why there is none."""

    def __init__(self, check: Check, every_s: float = 1.0) -> None:
        self.check = check
        self.every_s = every_s
        self.last: str | None = "starting"
        self.at = time.monotonic()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="readiness")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _run(self) -> None:
        while True:
            try:
                self.last = await asyncio.wait_for(self.check(), max(self.every_s * 2, 2.0))
            except Exception as e:  # a check that fails is an answer: not ready
                self.last = f"readiness check failed: {e!r}"
            self.at = time.monotonic()
            await asyncio.sleep(self.every_s)

    def reason(self) -> str | None:
        """None when ready, else why not (read from any thread)."""
        age = time.monotonic() - self.at
        if age > max(self.every_s * 5, 5.0):
            return f"the event loop has not answered for {age:.0f} s"
        return self.last


def serve(addr: str, port: int, readiness: Readiness | None) -> ThreadingHTTPServer:
    """Listen on ``addr:port`` in a daemon thread; raises OSError if it cannot."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._send(200, b"ok\n", "text/plain; charset=utf-8")
            elif path == "/readyz":
                why = readiness.reason() if readiness is not None else None
                if why is None:
                    self._send(200, b"ready\n", "text/plain; charset=utf-8")
                else:
                    self._send(503, f"not ready: {why}\n".encode(), "text/plain; charset=utf-8")
            elif path in ("/", "/metrics"):
                self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b"not found: /metrics, /healthz, /readyz\n",
                           "text/plain; charset=utf-8")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
            pass

    server = ThreadingHTTPServer((addr, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="ops-http", daemon=True).start()
    return server
