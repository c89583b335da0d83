"""The report endpoints of the dashboard, and the report store's life inside it.

``GET /api/reports/{activity,campaign,summary}`` answer JSON rows, or CSV with
``format=csv`` (a download). Times are ISO 8601; without ``from``/``to`` a report
covers today (UTC) so far. A user limited to some agents gets only their rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from litestar import Request, Response, get
from litestar.exceptions import ClientException
from litestar.params import FromQuery, QueryParameter

from pam_protocol import messages as m
from supervisor_api.reports.activity import (
    ActivityRow,
    CampaignRow,
    SummaryRow,
    report_span,
    time_zone,
    to_csv,
)
from supervisor_api.reports.ingest import ReportIngester
from supervisor_api.reports.store import ReportStore
from supervisor_api.web.access import logged_in, user_of
from supervisor_api.web.live import Today

if TYPE_CHECKING:
    from supervisor_api.web.app import DashboardSettings

log = logging.getLogger("pam.dashboard")

Format = Literal["json", "csv"]


async def open_store(settings: DashboardSettings,
                     ) -> tuple[ReportStore | None, ReportIngester | None]:
    if settings.reports_url is None:
        return None, None
    store = await ReportStore.open(settings.reports_url)
    ingester = ReportIngester(store, settings.amqp_url) if settings.ingest else None
    return store, ingester


def agents_in(events: list[m.AnyEvent]) -> list[str]:
    """The agents whose figures a stored batch may change."""
    return sorted({ev.snapshot.agent_id for ev in events
                   if isinstance(ev, m.AgentStateChanged)})


async def close_store(store: ReportStore | None, ingester: ReportIngester | None) -> None:
    if ingester is not None:
        # bounded: with RabbitMQ gone, stopping must not wait for it to come back
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ingester.stop(), 10)
    if store is not None:
        await store.close()


#: Up to this many agents, today's figures are read agent by agent.
FEW = 16


def today_source(store: ReportStore | None,
                 ) -> Callable[[list[str]], Awaitable[dict[str, Today]]] | None:
    """Today's figures per agent, from the report store (None: no store, no figures)."""
    if store is None:
        return None

    async def today(agent_ids: list[str]) -> dict[str, Today]:
        now = datetime.now(UTC)
        start, end = report_span(None, None, now)
        wanted = set(agent_ids)
        if len(agent_ids) <= FEW:  # read only these agents' events
            rows = [r for aid in agent_ids
                    for r in await store.agent_summary(start, end, aid, now=now)]
        else:  # one pass over everybody's events beats many per-agent reads
            rows = await store.agent_summary(start, end, now=now)
        return {r.agent_id: Today(calls=r.calls_handled, talk_s=r.talk_s,
                                  wrapup_s=r.wrapup_s, idle_s=r.idle_s,
                                  not_ready_s=r.not_ready_s)
                for r in rows if r.agent_id in wanted}

    return today


def _store(request: Request[Any, Any, Any]) -> ReportStore:
    store: ReportStore | None = request.app.state.store
    if store is None:
        raise ClientException("this dashboard runs without a report store: start it with "
                              "--reports-db (or PAM_REPORTS_URL)", status_code=503)
    return store


def _span(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    try:
        return report_span(start, end)
    except ValueError as e:
        raise ClientException(f"'to' must be after 'from': {e}") from None


def _answer(rows: Sequence[Any], fmt: Format, name: str) -> Any:
    if fmt == "csv":
        return Response(to_csv(rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"'})
    return list(rows)


From = Annotated[datetime | None, QueryParameter(name="from", required=False,
                                            description="start (ISO 8601; default: today)")]
To = Annotated[datetime | None, QueryParameter(name="to", required=False,
                                          description="end, exclusive (default: now)")]


@get("/api/reports/activity", tags=["reports"], guards=[logged_in])
async def activity_report(request: Request[Any, Any, Any], agent: FromQuery[str],
                          start: From = None, end: To = None, format: FromQuery[Format] = "json",
                          ) -> list[ActivityRow] | Response[str]:
    """Agent Activity Details: every segment of one agent in the range."""
    if not user_of(request).sees(agent):
        raise ClientException(f"agent {agent} is not one of the agents you supervise",
                              status_code=403)
    rows = await _store(request).agent_activity(agent, *_span(start, end))
    return _answer(rows, format, f"agent-activity-{agent}")  # type: ignore[no-any-return]


@get("/api/reports/campaign", tags=["reports"], guards=[logged_in])
async def campaign_report(request: Request[Any, Any, Any], job: FromQuery[str | None] = None,
                          start: From = None, end: To = None, format: FromQuery[Format] = "json",
                          ) -> list[CampaignRow] | Response[str]:
    """Campaign Detail: per job-task, calls, completion codes, no-agent calls, averages."""
    rows = await _store(request).campaign_detail(*_span(start, end), job_id=job or None)
    return _answer(rows, format, "campaign-detail")  # type: ignore[no-any-return]


@get("/api/reports/summary", tags=["reports"], guards=[logged_in])
async def summary_report(request: Request[Any, Any, Any], agent: FromQuery[str | None] = None,
                         start: From = None, end: To = None, format: FromQuery[Format] = "json",
                         tz: FromQuery[str | None] = None,
                         ) -> list[SummaryRow] | Response[str]:
    """Agent Summary: per agent and day (UTC days, or those of ``tz``, an IANA time zone
    such as Europe/Paris), calls, talk, wrap-up, idle, not ready by reason, occupancy
    and calls per hour."""
    user = user_of(request)
    if agent and not user.sees(agent):
        raise ClientException(f"agent {agent} is not one of the agents you supervise",
                              status_code=403)
    try:
        zone = time_zone(tz) if tz else None
    except ValueError as e:
        raise ClientException(str(e)) from None
    rows = await _store(request).agent_summary(*_span(start, end), agent_id=agent or None,
                                               tz=zone)
    rows = [r for r in rows if user.sees(r.agent_id)]
    return _answer(rows, format, "agent-summary")  # type: ignore[no-any-return]


handlers = [activity_report, campaign_report, summary_report]
