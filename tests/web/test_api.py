"""The dashboard's JSON API and event stream over a real PAM, RabbitMQ and report store."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from pam_protocol import messages as m
from tests.service.conftest import eventually
from tests.service.test_dispatch import PROGRESSIVE, staff
from tests.web.conftest import Dashboard, one_sale


class Stream:
    """The server-sent events of one ``/api/stream`` connection."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self.lines = lines

    async def next(self, timeout: float = 10.0) -> tuple[str, Any]:
        async def read() -> tuple[str, Any]:
            event, data = "message", ""
            async for line in self.lines:
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    return event, json.loads(data)
            raise AssertionError("the stream ended")
        return await asyncio.wait_for(read(), timeout)

    async def wait_for(self, event: str, pred: Any = lambda d: True,
                       timeout: float = 10.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            kind, data = await self.next(max(0.1, deadline - loop.time()))
            if kind == event and pred(data):
                return data


@asynccontextmanager
async def stream(client: httpx.AsyncClient) -> AsyncIterator[Stream]:
    async with client.stream("GET", "/api/stream", timeout=None) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        yield Stream(r.aiter_lines())


def csrf(c: httpx.AsyncClient) -> dict[str, str]:
    return {"x-pam-csrf": c.cookies["pam_csrf"]}


async def test_everything_needs_a_login_and_a_wrong_password_is_refused(
        dashboard: Dashboard) -> None:
    async with dashboard.client() as c:
        for path in ("/api/overview", "/api/agents", "/api/alarms", "/api/stream", "/api/me",
                     "/api/reports/summary"):
            r = await c.get(path)
            assert r.status_code == 401, (path, r.status_code)
        await c.get("/")
        r = await c.post("/api/login", json={"username": "sup", "password": "nope"},
                         headers=csrf(c))
        assert r.status_code == 401
        r = await c.post("/api/login", json={"username": "ghost", "password": "nope"},
                         headers=csrf(c))
        assert r.status_code == 401
        assert (await c.get("/api/me")).status_code == 401


async def test_session_cookie_is_httponly_and_samesite_and_posts_need_the_csrf_token(
        dashboard: Dashboard) -> None:
    async with dashboard.client() as c:
        await c.get("/")
        r = await c.post("/api/login", json={"username": "sup", "password": "s3cret-pw"})
        assert r.status_code == 403  # no CSRF header: a cross-site form cannot log in
        r = await c.post("/api/login", json={"username": "sup", "password": "s3cret-pw"},
                         headers=csrf(c))
        assert r.status_code == 200 and r.json()["role"] == "supervisor"
        cookie = next(h for h in r.headers.get_list("set-cookie")
                      if h.startswith("pam_session="))
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
        await dashboard.pam.ok(PROGRESSIVE)
        await staff(dashboard.pam, dashboard.pam.client, ["A"])
        r = await c.post("/api/agents/A/release", json={"thrash_seconds": 0})
        assert r.status_code == 403  # logged in, but no token: refused, nothing sent
        assert (await dashboard.pam.states("A"))[2] == "JobAttached"


async def test_overview_and_stream_follow_pam(dashboard: Dashboard) -> None:
    pam = dashboard.pam
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A"])
    async with dashboard.login("view") as c, stream(c) as s:
        first = await s.wait_for("overview")
        assert [a["agent_id"] for a in first["agents"]] == ["A"]
        assert first["zones"] == [{"zone": "z1", "available": True, "reason": None}]
        assert first["jobs"][0]["job_id"] == "J" and first["jobs"][0]["assigned"] == 1
        r = await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
        assert r.agent_id == "A"
        row = await s.wait_for("agent", lambda d: d["call_state"] == "Talking")
        assert row["agent_id"] == "A" and row["agent_state"] == "Busy"
        job = await s.wait_for("job", lambda d: d["calls_connected"] == 1)
        assert job["job_id"] == "J"
        over = (await c.get("/api/overview")).json()
        assert over["tiles"]["talking"] == 1 and over["tiles"]["logged_in"] == 1
        assert (await c.get("/api/agents", params={"state": "Talking"})).json()[0][
            "agent_id"] == "A"
        assert (await c.get("/api/agents", params={"state": "Ready"})).json() == []


async def test_supervisor_releases_an_agent_with_a_thrash_interval(
        dashboard: Dashboard, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pam.service")
    pam = dashboard.pam
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A"])
    async with dashboard.login("sup") as c:
        r = await c.post("/api/agents/A/release", json={"thrash_seconds": 600},
                         headers=csrf(c))
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["result"] == "accepted" and out["agent"]["job_state"] == "JobInbound"
        assert out["agent"]["released_until"] is not None
    # PAM's log names the person behind the dashboard's AMQP user
    audit = [r for r in caplog.records if r.getMessage() == "command on behalf of a person"]
    assert [(r.on_behalf_of, r.command, r.agent_id) for r in audit] == [  # type: ignore[attr-defined]
        ("sup", "ReleaseFromOutbound", "A")]
    # the blender cannot move the agent straight back
    await pam.no(m.BlendToOutbound(agent_id="A"), "Ignored")
    assert (await pam.states("A"))[2] == "JobInbound"


async def test_an_ignored_release_shows_why_and_the_alarm_arrives(dashboard: Dashboard) -> None:
    pam = dashboard.pam
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A"])
    await pam.ok(m.CustomerConnected(job_id="J", call_id="c1", customer={}))
    await pam.ok(m.CallbackDue(job_id="J", callback_id="cb1", agent_id="A"))
    async with dashboard.login("sup") as c, stream(c) as s:
        await s.wait_for("overview")
        r = await c.post("/api/agents/A/release", json={}, headers=csrf(c))
        out = r.json()
        assert out["result"] == "refused" and out["code"] == "Ignored"
        assert out["alarm"] == "P_POMAGT50" and "pending callback" in out["summary"]
        alarm = await s.wait_for("alarm", lambda d: d["code"] == "P_POMAGT50")
        assert alarm["agent_id"] == "A"
        alarms = (await c.get("/api/alarms")).json()
        assert [a["code"] for a in alarms] == ["P_POMAGT50"]


async def test_viewer_cannot_act_and_nothing_reaches_pam(dashboard: Dashboard) -> None:
    pam = dashboard.pam
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A"])
    before = await pam.status("A")
    async with dashboard.login("view") as c:
        me = (await c.get("/api/me")).json()
        assert me["can_act"] is False
        r = await c.post("/api/agents/A/release", json={}, headers=csrf(c))
        assert r.status_code == 403 and "viewer" in r.json()["detail"]
        r = await c.post("/api/agents/A/move", json={"job_id": "J"}, headers=csrf(c))
        assert r.status_code == 403
    assert (await pam.status("A")).version == before.version


async def test_a_supervisor_limited_to_some_agents_sees_and_acts_on_those_only(
        dashboard: Dashboard) -> None:
    pam = dashboard.pam
    await pam.ok(PROGRESSIVE)
    await staff(pam, pam.client, ["A", "B"])
    async with dashboard.login("team") as c:
        over = (await c.get("/api/overview")).json()
        assert [a["agent_id"] for a in over["agents"]] == ["A"]
        out = (await c.post("/api/agents/B/release", json={}, headers=csrf(c))).json()
        assert out["result"] == "refused" and "supervise" in out["summary"]
        assert (await pam.states("B"))[2] == "JobAttached"
        r = await c.get("/api/reports/activity", params={"agent": "B"})
        assert r.status_code == 403


async def test_move_to_another_job_from_the_dashboard(dashboard: Dashboard) -> None:
    pam = dashboard.pam
    await pam.ok(PROGRESSIVE)
    await pam.ok(m.JobStarted(job_id="K", action_name="other", zone="z1",
                              campaign_type="progressive", required_skills=["sales"],
                              min_agents=0, max_agents=1_000_000, priority=1,
                              licenses=1_000_000, completion_codes=[],
                              default_completion_code="Done", wrapup_seconds=30,
                              wrapup_extensions=0))
    await staff(pam, pam.client, ["A"])
    job = (await pam.status("A")).job_id
    target = "K" if job == "J" else "J"
    async with dashboard.login("sup") as c:
        out = (await c.post("/api/agents/A/move", json={"job_id": target},
                            headers=csrf(c))).json()
        assert out["result"] == "accepted", out
        assert out["agent"]["job_id"] == target
        out = (await c.post("/api/agents/A/move", json={"job_id": "nope"},
                            headers=csrf(c))).json()
        assert out["result"] == "refused" and out["code"] == "BadRequest"


async def test_openapi_document_describes_the_api(dashboard: Dashboard) -> None:
    async with dashboard.client() as c:
        doc = (await c.get("/schema/openapi.json")).json()
    for path in ("/api/login", "/api/overview", "/api/agents", "/api/stream",
                 "/api/agents/{agent_id}/release", "/api/agents/{agent_id}/move",
                 "/api/reports/activity", "/api/reports/campaign", "/api/reports/summary"):
        assert path in doc["paths"], path


async def test_reports_and_todays_figures_come_from_the_store(dashboard: Dashboard) -> None:
    pam = dashboard.pam
    await one_sale(pam)
    async with dashboard.login("sup") as c:
        async def wrapped_up() -> Any:
            rows = (await c.get("/api/reports/activity", params={"agent": "A"})).json()
            return [r["activity"] for r in rows] if any(
                r["completion_code"] == "Sale" for r in rows) else None
        acts = await eventually(wrapped_up)
        assert acts[0] == "Login" and "Call Connect" in acts and "Wrap-up" in acts
        camp = (await c.get("/api/reports/campaign", params={"job": "J"})).json()
        assert camp[0]["calls_connected"] == 1
        assert camp[0]["codes"][0]["code"] == "Sale"
        csv = await c.get("/api/reports/summary", params={"format": "csv"})
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0].startswith("agent_id,")
        # the days of tz: UTC+14 and UTC-11 are 25 hours apart, so never the same date
        east, west = [(await c.get("/api/reports/summary", params={"agent": "A", "tz": tz}
                                   )).json()[0]["day"]
                      for tz in ("Pacific/Kiritimati", "Pacific/Pago_Pago")]
        assert east != west
        bad = await c.get("/api/reports/summary", params={"tz": "Mars/Base"})
        assert bad.status_code == 400 and "unknown time zone 'Mars/Base'" in bad.text

        async def today_counted() -> Any:
            t = (await c.get("/api/overview")).json()["today"].get("A")
            return t if t and t["calls"] == 1 else None
        t = await eventually(today_counted)
        assert t["talk_s"] >= 0 and t["wrapup_s"] >= 0
        r = await c.get("/api/reports/activity", params={
            "agent": "A", "from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"})
        assert r.status_code == 400 and "after" in r.json()["detail"]
