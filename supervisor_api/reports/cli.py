"""`pam-supervisor report ...`: the report store's ingester and the three reports.

    pam-supervisor report ingest [--queue pam.reports]          # until SIGTERM / Ctrl-C
    pam-supervisor report activity AGENT [--from T] [--to T] [--csv]
    pam-supervisor report campaign [--job J] [--from T] [--to T] [--csv]
    pam-supervisor report summary [--agent A] [--from T] [--to T] [--tz ZONE] [--csv]
    pam-supervisor report purge --before T                      # retention

Every report command takes --db URL (env PAM_REPORTS_URL; default SQLite
pam-reports.sqlite3 in the working directory). Times are ISO 8601 (a date alone is
its midnight, a time without offset is UTC); --from defaults to today's midnight UTC,
--to to now.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from msgspec import Struct
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pam_protocol import health
from pam_protocol.client import redact, with_default_heartbeat
from supervisor_api.reports.activity import report_span, time_zone, to_csv
from supervisor_api.reports.ingest import DEFAULT_QUEUE, ReportIngester
from supervisor_api.reports.store import ENV_URL, ReportStore, resolve_url
from supervisor_api.views import duration

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_UNREACHABLE = 5


def parse_time(value: str) -> datetime:
    """ISO 8601; a date alone is its midnight; no offset means UTC."""
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 date or time (e.g. 2026-11-26 or "
            f"2026-11-26T09:00:00Z)") from None
    if len(value) == 10:  # a date
        t = datetime.combine(date.fromisoformat(value), time(0))
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """The ``report`` command group; ``common`` adds the shared connection options."""
    rp = sub.add_parser("report", help="the report store: ingest PAM's events, print reports",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rsub = rp.add_subparsers(dest="report", required=True, metavar="REPORT")

    def db(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=None,
                       help=f"report store URL: sqlite:///path or postgresql://... (env "
                            f"{ENV_URL}; default sqlite:///pam-reports.sqlite3)")
        common(p)

    def span(p: argparse.ArgumentParser) -> None:
        p.add_argument("--from", dest="start", type=parse_time, default=None,
                       help="start (ISO 8601; default today 00:00 UTC)")
        p.add_argument("--to", dest="end", type=parse_time, default=None,
                       help="end, exclusive (ISO 8601; default now)")
        p.add_argument("--csv", action="store_true", help="CSV instead of a table")

    ing = rsub.add_parser("ingest", help="feed the store from pam.events until SIGTERM")
    ing.add_argument("--queue", default=DEFAULT_QUEUE,
                     help=f"the store's durable queue (default {DEFAULT_QUEUE})")
    ing.add_argument("--batch", type=int, default=500, help="events per write (default 500)")
    ing.add_argument("--metrics-port", type=int, default=None,
                     help="serve /metrics, /healthz and /readyz on this port (default: none)")
    ing.add_argument("--metrics-addr", default=os.environ.get("PAM_METRICS_ADDR", "127.0.0.1"),
                     help="address of that listener (env PAM_METRICS_ADDR; default 127.0.0.1)")
    db(ing)
    ing.set_defaults(report_handler=cmd_ingest)

    act = rsub.add_parser("activity", help="Agent Activity Details: an agent's segments")
    act.add_argument("agent", help="agent id")
    span(act)
    db(act)
    act.set_defaults(report_handler=cmd_activity)

    camp = rsub.add_parser("campaign", help="Campaign Detail: per job-task calls and codes")
    camp.add_argument("--job", default=None, help="only this job id")
    span(camp)
    db(camp)
    camp.set_defaults(report_handler=cmd_campaign)

    summ = rsub.add_parser("summary", help="Agent Summary: per agent and day")
    summ.add_argument("--agent", default=None, help="only this agent")
    summ.add_argument("--tz", default=None, type=_tz,
                      help="days in this time zone (e.g. Europe/Paris; default UTC)")
    span(summ)
    db(summ)
    summ.set_defaults(report_handler=cmd_summary)

    purge = rsub.add_parser(
        "purge", help="delete events older than a time (retention)",
        description="Delete the stored events before --before, keeping each agent's and "
                    "each job's last change before it, so reports from then on stay right. "
                    "The store grows by about the figure in docs/reports.md (Retention) per "
                    "agent and day.")
    purge.add_argument("--before", type=parse_time, required=True,
                       help="delete events before this time (ISO 8601, e.g. 2026-09-01)")
    db(purge)
    purge.set_defaults(report_handler=cmd_purge)


def _tz(name: str) -> str:
    try:
        time_zone(name)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return name


def _span(args: argparse.Namespace) -> tuple[datetime, datetime]:
    try:
        return report_span(args.start, args.end)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--to must be after --from: {e}") from None


async def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Run one ``report`` command."""
    url = resolve_url(args.db)
    try:  # only the ingester creates a store; a report never makes an empty one
        store = await ReportStore.open(url, create=args.report == "ingest")
    except FileNotFoundError as e:
        err.print(Text(f"pam-supervisor: {e}. What to do: check --db (or {ENV_URL}); "
                       f"`pam-supervisor report ingest` creates and fills the store."))
        return EXIT_UNREACHABLE
    except Exception as e:
        err.print(Text(f"pam-supervisor: cannot open the report store {redact(url)}: "
                       f"{e or type(e).__name__}. What to do: check --db (or {ENV_URL})."))
        return EXIT_UNREACHABLE
    try:
        code: int = await args.report_handler(args, store, out, err)
        return code
    except argparse.ArgumentTypeError as e:
        err.print(Text(f"pam-supervisor report: {e}"))
        return EXIT_USAGE
    finally:
        await store.close()


async def cmd_ingest(args: argparse.Namespace, store: ReportStore, out: Console,
                     err: Console) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    ing = ReportIngester(store, with_default_heartbeat(args.amqp_url), queue=args.queue,
                         batch_max=args.batch)
    readiness = health.Readiness(ing.not_ready)
    if args.metrics_port:
        try:
            health.serve(args.metrics_addr, args.metrics_port, readiness)
        except OSError as e:
            err.print(Text(f"pam-supervisor: cannot serve metrics on {args.metrics_addr}:"
                           f"{args.metrics_port}: {e}. What to do: choose another "
                           f"--metrics-port or --metrics-addr."))
            return EXIT_USAGE
        readiness.start()
    try:
        await ing.start()
    except Exception as e:
        await readiness.stop()
        err.print(Text(f"pam-supervisor: cannot reach RabbitMQ at {redact(args.amqp_url)}: "
                       f"{e or type(e).__name__}. What to do: check --amqp-url "
                       f"(or PAM_AMQP_URL) and that RabbitMQ runs."))
        return EXIT_UNREACHABLE
    err.print(Text(f"Ingesting pam.events into {redact(store.url)} through queue "
                   f"{args.queue} (SIGTERM or Ctrl-C to stop)"))
    try:
        await stop.wait()
    finally:
        await readiness.stop()
        await ing.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    err.print(Text(f"Stopped: {ing.received} events received, {ing.stored} new."))
    return EXIT_OK


def _emit(rows: Sequence[Struct], args: argparse.Namespace, out: Console, title: str,
          skip: Sequence[str] = ()) -> int:
    if args.csv:
        out.file.write(to_csv(rows))
        out.file.flush()
    else:
        out.print(table(rows, title, skip))
    return EXIT_OK


async def cmd_activity(args: argparse.Namespace, store: ReportStore, out: Console,
                       err: Console) -> int:
    start, end = _span(args)
    rows = await store.agent_activity(args.agent, start, end)
    return _emit(rows, args, out, f"Agent Activity Details: {args.agent}, {_range(start, end)}",
                 skip=("agent_id", "zone"))


async def cmd_campaign(args: argparse.Namespace, store: ReportStore, out: Console,
                       err: Console) -> int:
    start, end = _span(args)
    rows = await store.campaign_detail(start, end, job_id=args.job)
    return _emit(rows, args, out, f"Campaign Detail, {_range(start, end)}")


async def cmd_summary(args: argparse.Namespace, store: ReportStore, out: Console,
                      err: Console) -> int:
    start, end = _span(args)
    rows = await store.agent_summary(start, end, agent_id=args.agent, tz=args.tz)
    return _emit(rows, args, out, f"Agent Summary, {_range(start, end)}"
                 + (f" ({args.tz} days)" if args.tz else ""))


async def cmd_purge(args: argparse.Namespace, store: ReportStore, out: Console,
                    err: Console) -> int:
    n = await store.purge(args.before)
    out.print(Text(f"Purged {n} events before {_when(args.before)} UTC (each agent's and "
                   f"job's last change before it kept)."))
    return EXIT_OK


# ---- rendering -------------------------------------------------------------------

def _range(start: datetime, end: datetime) -> str:
    return f"{_when(start)} to {_when(end)}"


def _when(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _fmt(name: str, v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return _when(v)
    if name.endswith("_s") and isinstance(v, int | float):
        return duration(v)
    if name == "occupancy" and isinstance(v, float):
        return f"{100 * v:.1f}%"
    if isinstance(v, dict):
        return "\n".join(f"{k}: {duration(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "\n".join(f"{c.code}: {c.count} ({c.percent:g}%)" for c in v)
    return str(v)


def table(rows: Sequence[Struct], title: str, skip: Sequence[str] = ()) -> Table | Text:
    """A rich table of report rows: durations as 1m 05s, occupancy as a percentage."""
    if not rows:
        return Text(f"{title}: nothing in this range.")
    fields = [f for f in type(rows[0]).__struct_fields__ if f not in skip]
    t = Table(title=title, title_justify="left")
    for f in fields:
        t.add_column((f[:-2] if f.endswith("_s") else f).replace("_", " "))
    for r in rows:
        t.add_row(*(_fmt(f, getattr(r, f)) for f in fields))
    return t
