"""The Supervisor Dashboard: a JSON API (OpenAPI at ``/schema``), a live event stream
(server-sent events at ``/api/stream``) and the page that uses only those.

Access: a session cookie (HttpOnly, SameSite=Strict, Secure behind TLS) after
``POST /api/login``; every state-changing request also carries the CSRF token (cookie
``pam_csrf`` echoed in header ``x-pam-csrf``), so another site cannot act through a
logged-in browser. ``viewer`` reads; ``supervisor`` reads and acts; a user limited to
some agents sees and acts on those only. Actions go to PAM over the queues with the
dashboard's AMQP user (broker-checked; it needs PAM's supervisor role) and the person's
name in ``x-pam-on-behalf-of``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from litestar import Litestar, MediaType, Request, get, post
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import ResponseHeader
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Response, ServerSentEvent, ServerSentEventMessage
from litestar.static_files import create_static_files_router
from litestar.stores.memory import MemoryStore

from pam_protocol import messages as m
from pam_protocol.client import PamError, ReplyTimeout, UnknownZone
from supervisor_api.client import SupervisorClient
from supervisor_api.errors import CommandRejected
from supervisor_api.reports.ingest import ReportIngester
from supervisor_api.reports.store import ReportStore
from supervisor_api.web import reports_api
from supervisor_api.web.access import logged_in, supervisor_only, user_of
from supervisor_api.web.live import AlarmRow, Board, JobRow, Today, ZoneInfo
from supervisor_api.web.users import Users, WebUser

log = logging.getLogger("pam.dashboard")
STATIC = Path(__file__).parent / "static"
INDEX_HTML = (STATIC / "index.html").read_text()


@dataclass
class DashboardSettings:
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    zones: list[str] = field(default_factory=lambda: ["z1"])
    users: Users = field(default_factory=Users.development_default)
    #: The report store (``sqlite:///file`` or ``postgresql://...``); None: no reports.
    reports_url: str | None = None
    #: Run the report ingester in this process (its durable queue ``pam.reports``).
    ingest: bool = True
    #: Secure cookies: set when the dashboard is served over TLS (behind a proxy).
    secure_cookies: bool = False
    #: Seconds to wait for PAM's replies.
    timeout: float = 10.0
    #: Default thrash interval offered with Release From Outbound.
    thrash_seconds: int = 300
    csrf_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))


# ---- API types -------------------------------------------------------------------

class LoginForm(msgspec.Struct, frozen=True):
    username: str
    password: str


class Me(msgspec.Struct, frozen=True):
    user: str
    role: str
    can_act: bool
    #: None: every agent.
    agents: list[str] | None
    development: bool
    thrash_seconds: int


class ReleaseForm(msgspec.Struct, frozen=True):
    thrash_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 300


class MoveForm(msgspec.Struct, frozen=True):
    job_id: str


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What PAM did with an action: ``accepted``, or ``refused`` with why and what to do."""

    result: Literal["accepted", "refused", "no_reply", "unavailable"]
    summary: str
    code: str | None = None
    hint: str | None = None
    alarm: str | None = None
    agent: m.AgentSnapshot | None = None


class Tiles(msgspec.Struct, frozen=True, kw_only=True):
    logged_in: int
    ready: int
    talking: int
    wrapup: int
    not_ready: int
    pending: int


class Overview(msgspec.Struct, frozen=True, kw_only=True):
    now: datetime
    zones: list[ZoneInfo]
    tiles: Tiles
    jobs: list[JobRow]
    agents: list[m.AgentSnapshot]
    today: dict[str, Today]
    alarms: list[AlarmRow]


# ---- helpers -----------------------------------------------------------------------

TALKING = {"Talking", "Hold", "Consult", "ConferenceOwner", "ConferencePassive"}
PENDING_JOB = {"PendingInbound", "PendingOutbound", "PendingManualInbound",
               "PendingManualJobMovement", "PendingJobAttach"}


def tiles(agents: list[m.AgentSnapshot]) -> Tiles:
    return Tiles(
        logged_in=len(agents),
        ready=sum(a.agent_state == "Ready" for a in agents),
        talking=sum(a.call_state in TALKING for a in agents),
        wrapup=sum(a.call_state == "Wrapup" for a in agents),
        not_ready=sum(a.agent_state == "NotReady" for a in agents),
        pending=sum(a.agent_state in ("PendingNotReady", "PendingLogout")
                    or a.job_state in PENDING_JOB for a in agents))


def board(request: Request[Any, Any, Any]) -> Board:
    b: Board = request.app.state.board
    return b


def visible(user: WebUser, agents: list[m.AgentSnapshot]) -> list[m.AgentSnapshot]:
    return [a for a in agents if user.sees(a.agent_id)]


def _json(obj: Any) -> str:
    return msgspec.json.encode(obj).decode()


# ---- handlers ----------------------------------------------------------------------

@get("/", include_in_schema=False, media_type=MediaType.HTML)
async def index() -> str:
    return INDEX_HTML


@post("/api/login", tags=["session"], status_code=200)
async def login(request: Request[Any, Any, Any], data: JSONBody[LoginForm]) -> Me:
    """Log in; sets the session cookie."""
    settings: DashboardSettings = request.app.state.settings
    # the hash check is deliberately slow (Argon2): keep it off the event loop
    user = await asyncio.to_thread(settings.users.check, data.username, data.password)
    if user is None:
        raise NotAuthorizedException("wrong user name or password")
    request.clear_session()
    request.set_session({"user": user.name})
    log.info("login", extra={"user": user.name, "role": user.role})
    return _me(user, settings)


@post("/api/logout", tags=["session"], status_code=200)
async def logout(request: Request[Any, Any, Any]) -> dict[str, bool]:
    request.clear_session()
    return {"ok": True}


def _me(user: WebUser, settings: DashboardSettings) -> Me:
    return Me(user=user.name, role=user.role, can_act=user.can_act,
              agents=sorted(user.agents) if user.agents is not None else None,
              development=settings.users.development, thrash_seconds=settings.thrash_seconds)


@get("/api/me", tags=["session"], guards=[logged_in])
async def me(request: Request[Any, Any, Any]) -> Me:
    return _me(user_of(request), request.app.state.settings)


@get("/api/overview", tags=["live"], guards=[logged_in])
async def overview(request: Request[Any, Any, Any]) -> Overview:
    """Everything the page shows, as of now (the stream then brings each change)."""
    return _overview(board(request), user_of(request))


def _overview(b: Board, user: WebUser) -> Overview:
    agents = visible(user, b.all_agents())
    return Overview(now=datetime.now(UTC), zones=[b.zone_info[z] for z in b.zones],
                    tiles=tiles(agents), jobs=b.all_jobs(), agents=agents,
                    today={a.agent_id: b.today[a.agent_id] for a in agents
                           if a.agent_id in b.today},
                    alarms=[r for r in b.alarms if r.agent_id is None or user.sees(r.agent_id)])


@get("/api/agents", tags=["live"], guards=[logged_in])
async def agents(request: Request[Any, Any, Any], zone: FromQuery[str | None] = None,
                 sub_state: Annotated[str | None, QueryParameter(name="state")] = None,
                 job: FromQuery[str | None] = None,
                 q: FromQuery[str | None] = None) -> list[m.AgentSnapshot]:
    """Staffed agents, filtered by zone, any sub-state name, job, or a search on id/name."""
    out = []
    for a in visible(user_of(request), board(request).all_agents()):
        if zone and a.zone != zone:
            continue
        if sub_state and sub_state not in (a.agent_state, a.call_state, a.job_state):
            continue
        if job and a.job_id != job:
            continue
        if q and q.lower() not in f"{a.agent_id} {a.agent_name or ''}".lower():
            continue
        out.append(a)
    return out


@get("/api/alarms", tags=["live"], guards=[logged_in])
async def alarms(request: Request[Any, Any, Any]) -> list[AlarmRow]:
    user = user_of(request)
    return [r for r in board(request).alarms if r.agent_id is None or user.sees(r.agent_id)]


@get("/api/stream", tags=["live"], guards=[logged_in])
async def stream(request: Request[Any, Any, Any]) -> ServerSentEvent:
    """Server-sent events: ``overview`` first (the whole picture), then ``agent``, ``job``,
    ``zone``, ``alarm`` and ``today`` as they happen; a comment every 15 s keeps proxies
    from closing the stream. Browsers' ``EventSource`` reconnects by itself."""
    b = board(request)
    user = user_of(request)
    queue = b.subscribe()

    async def events() -> AsyncGenerator[ServerSentEventMessage, None]:
        try:
            yield ServerSentEventMessage(event="overview", data=_json(_overview(b, user)),
                                         retry=2000)
            while True:
                try:
                    kind, payload = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    yield ServerSentEventMessage(comment="keep-alive")
                    continue
                if kind == "close":  # the dashboard stops; the browser reconnects
                    return
                if kind == "resync":
                    yield ServerSentEventMessage(event="overview",
                                                 data=_json(_overview(b, user)))
                    continue
                agent_id = _agent_of(kind, payload)
                if agent_id is not None and not user.sees(agent_id):
                    continue
                yield ServerSentEventMessage(event=kind, data=_json(payload))
        finally:
            b.unsubscribe(queue)

    return ServerSentEvent(events(), headers={"Cache-Control": "no-store",
                                              "X-Accel-Buffering": "no"})


def _agent_of(kind: str, payload: Any) -> str | None:
    if kind == "agent":
        return str(payload.agent_id)
    if kind == "today":
        return str(payload["agent_id"])
    if kind == "alarm":
        return payload.agent_id  # type: ignore[no-any-return]
    return None


# ---- actions -------------------------------------------------------------------------

async def _act(request: Request[Any, Any, Any], agent_id: str, action: str,
               send: Any) -> Outcome:
    user = user_of(request)
    b = board(request)
    agent = b.find(agent_id)
    if agent is None or not user.sees(agent_id):
        return Outcome(result="refused", code="NotLoggedIn",
                       summary=f"agent {agent_id} is not a logged-in agent you supervise",
                       hint="pick an agent from the table")
    try:
        snap: m.AgentSnapshot = await send(agent.zone, user.name)
    except CommandRejected as e:
        log.info("action refused", extra={"user": user.name, "action": action,
                                          "agent": agent_id, "code": e.code})
        return Outcome(result="refused", code=e.code, summary=e.sentence, hint=e.hint,
                       alarm=e.rejected.alarm, agent=e.rejected.agent)
    except ReplyTimeout:
        return Outcome(result="no_reply", summary=f"PAM did not answer {action} in time",
                       hint="the agent's row shows whether it was applied; PAM applies a "
                            "command at most once, so retrying is safe")
    except (UnknownZone, PamError) as e:
        return Outcome(result="unavailable", summary=str(e),
                       hint="the zone has no active PAM instance; retry after failover")
    log.info("action", extra={"user": user.name, "action": action, "agent": agent_id})
    return Outcome(result="accepted", agent=snap,
                   summary=f"{action}: agent {agent_id} is now {snap.agent_state} / "
                           f"{snap.call_state} / {snap.job_state}")


@post("/api/agents/{agent_id:str}/release", tags=["actions"], guards=[supervisor_only],
      status_code=200)
async def release(request: Request[Any, Any, Any], agent_id: FromPath[str],
                  data: JSONBody[ReleaseForm]) -> Outcome:
    """Release From Outbound, with a thrash interval during which the blender cannot
    move the agent back."""
    sup: SupervisorClient = request.app.state.sup
    return await _act(request, agent_id, "Release From Outbound",
                      lambda zone, who: sup.release_from_outbound(
                          zone, agent_id, thrash_seconds=data.thrash_seconds, on_behalf_of=who))


@post("/api/agents/{agent_id:str}/move", tags=["actions"], guards=[supervisor_only],
      status_code=200)
async def move(request: Request[Any, Any, Any], agent_id: FromPath[str],
               data: JSONBody[MoveForm]) -> Outcome:
    """Move the agent to another running job-task of its zone."""
    sup: SupervisorClient = request.app.state.sup
    return await _act(request, agent_id, f"Move to job {data.job_id}",
                      lambda zone, who: sup.move_agent_to_job(zone, agent_id, data.job_id,
                                                              on_behalf_of=who))


# ---- operations ---------------------------------------------------------------------

@get("/healthz", include_in_schema=False, media_type=MediaType.TEXT)
async def healthz() -> str:
    """The process answers (a liveness probe)."""
    return "ok\n"


@get("/readyz", include_in_schema=False, media_type=MediaType.TEXT)
async def readyz(request: Request[Any, Any, Any]) -> Response[str]:
    """Connected to RabbitMQ, following the zones, the report store (and its ingester,
    when this process runs it) answering: 200; else 503 with the reason."""
    why = await _not_ready(request.app.state)
    if why is None:
        return Response("ready\n", status_code=200, media_type=MediaType.TEXT)
    return Response(f"not ready: {why}\n", status_code=503, media_type=MediaType.TEXT)


async def _not_ready(state: Any) -> str | None:
    board: Board | None = getattr(state, "board", None)
    if board is None:
        return "starting"
    if (why := board.not_ready()) is not None:
        return why
    ingester: ReportIngester | None = getattr(state, "ingester", None)
    if ingester is not None:
        return await ingester.not_ready()
    store: ReportStore | None = getattr(state, "store", None)
    if store is not None:
        try:
            await store.schema_version()
        except Exception as e:
            return f"the report store does not answer: {e or type(e).__name__}"
    return None


# ---- app ----------------------------------------------------------------------------

def create_app(settings: DashboardSettings) -> Litestar:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        sup = await SupervisorClient.connect(settings.amqp_url, timeout=settings.timeout)
        store, ingester = await reports_api.open_store(settings)
        b = Board(sup, settings.zones, today=reports_api.today_source(store))
        app.state.sup, app.state.board, app.state.store = sup, b, store
        app.state.ingester = ingester
        try:
            await b.start()
            if ingester is not None:
                # the store has the batch: today's figures of its agents are now exact
                async def stored(events: list[m.AnyEvent]) -> None:
                    b.refresh_today(reports_api.agents_in(events))
                ingester.on_stored = stored
                b.today_on_change = False
                await ingester.start()
            yield
        finally:
            await b.stop()
            await reports_api.close_store(store, ingester)
            await sup.close()

    sessions = ServerSideSessionConfig(key="pam_session", httponly=True, samesite="strict",
                                       secure=settings.secure_cookies, max_age=12 * 3600)
    csrf = CSRFConfig(secret=settings.csrf_secret, cookie_name="pam_csrf",
                      header_name="x-pam-csrf", cookie_samesite="strict",
                      cookie_secure=settings.secure_cookies)
    app = Litestar(
        route_handlers=[index, login, logout, me, overview, agents, alarms, stream, release,
                        move, healthz, readyz, *reports_api.handlers,
                        create_static_files_router(path="/static", directories=[STATIC])],
        lifespan=[lifespan],
        middleware=[sessions.middleware],
        stores={"sessions": MemoryStore()},
        csrf_config=csrf,
        openapi_config=OpenAPIConfig(title="PAM Supervisor Dashboard", version="1",
                                     description=__doc__),
        response_headers=[
            ResponseHeader(name="Content-Security-Policy",
                           value="default-src 'self'; frame-ancestors 'none'"),
            ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
        ],
    )
    app.state.settings = settings
    return app

