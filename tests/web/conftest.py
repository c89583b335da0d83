"""A real dashboard (uvicorn on a free loopback port) over a real PAM on a private vhost."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bench.harness import free_port
from pam_protocol import messages as m
from supervisor_api.web.app import DashboardSettings, create_app
from supervisor_api.web.users import Users, WebUser, hash_password
from tests.service.conftest import Pam, pam, vhost  # noqa: F401
from tests.service.test_dispatch import PROGRESSIVE, staff

PASSWORD = "s3cret-pw"


def test_users() -> Users:
    h = hash_password(PASSWORD)
    return Users({
        "sup": WebUser("sup", "supervisor", h),
        "view": WebUser("view", "viewer", h),
        "team": WebUser("team", "supervisor", h, frozenset({"A"})),
    })


USERS = test_users()


@dataclass
class Dashboard:
    url: str
    app: Any
    pam: Pam

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10.0)

    @contextlib.asynccontextmanager
    async def login(self, user: str, password: str = PASSWORD,
                    ) -> AsyncIterator[httpx.AsyncClient]:
        """A logged-in API client: the CSRF cookie from a GET, then the login POST."""
        async with self.client() as c:
            r = await c.get("/")
            assert r.status_code == 200
            r = await c.post("/api/login", json={"username": user, "password": password},
                             headers={"x-pam-csrf": c.cookies["pam_csrf"]})
            assert r.status_code == 200, r.text
            yield c


@pytest.fixture
async def dashboard(pam: Pam, tmp_path: Path) -> AsyncIterator[Dashboard]:  # noqa: F811
    settings = DashboardSettings(amqp_url=pam.amqp_url, zones=["z1"], users=USERS,
                                 reports_url=f"sqlite:///{tmp_path / 'reports.sqlite3'}",
                                 timeout=5.0)
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=5))
    task = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        assert loop.time() < deadline, "the dashboard did not start within 20 s"
        await asyncio.sleep(0.02)
    try:
        yield Dashboard(f"http://127.0.0.1:{port}", app, pam)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 20)


async def one_sale(p: Pam) -> None:
    """Agent A on progressive job J takes one call and wraps it up with "Sale"."""
    await p.ok(PROGRESSIVE)
    await staff(p, p.client, ["A"])
    await p.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    await p.ok(m.CustomerDisconnected(call_id="c1"))
    await p.ok(m.WrapupContact(agent_id="A", session_id="c1", completion_code="Sale"))
