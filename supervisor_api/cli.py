"""`pam-supervisor`: supervisor tools over PAM's queues.

    pam-supervisor agents  --zone z1 [--live [--count N]]
    pam-supervisor release AGENT --zone z1
    pam-supervisor move    AGENT JOB --zone z1
    pam-supervisor alarms  --zone z1 [--count N] [--json]
    pam-supervisor report  ingest | activity AGENT | campaign | summary  (see report -h)
    pam-supervisor serve   --zones z1,z2 [--port 8080] [--users FILE]   (the dashboard)
    pam-supervisor hash-password

Every command takes --amqp-url (env PAM_AMQP_URL), --zone (env PAM_ZONE) and
--timeout. Exit codes: 0 done; 1 PAM refused the command (the reason and what to do
are printed); 2 bad usage; 3 no PAM serves the zone; 4 no reply in time; 5 RabbitMQ
cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pam_protocol import cli
from pam_protocol import messages as m
from pam_protocol.client import ReplyTimeout, UnknownZone, connect_problem
from supervisor_api.client import SupervisorClient, ZoneWatch
from supervisor_api.errors import CommandRejected
from supervisor_api.reports import cli as report_cli
from supervisor_api.views import (
    LiveAgents,
    agents_table,
    alarm_line,
    force_outcome,
    move_outcome,
    release_outcome,
)
from supervisor_api.web import cli as web_cli

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN_ZONE = 3
EXIT_TIMEOUT = 4
EXIT_UNREACHABLE = 5

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _noop() -> None:
    pass


def stdout_console() -> Console:
    """Standard output; piped or redirected (a log, cron, ``| grep``), as wide as the
    tables need instead of Rich's 80 columns, which folds columns away."""
    return Console() if sys.stdout.isatty() else Console(width=1000)


@dataclass
class Context:
    """Where output goes; ``ready`` is called once a watching command is subscribed."""

    out: Console = field(default_factory=stdout_console)
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))
    ready: Callable[[], None] = _noop


Handler = Callable[[argparse.Namespace, SupervisorClient, Context], Awaitable[int]]


# ---- commands ---------------------------------------------------------------

#: The columns of ``agents --json`` / ``--csv`` (one row per logged-in agent).
AGENT_FIELDS = ("agent_id", "agent_name", "agent_state", "call_state", "job_state", "job_id",
                "reason_code", "reason", "since", "in_state_s", "pending_consults",
                "pending_callbacks", "nailed")
#: The columns of ``jobs`` (one row per job-task of the zone).
JOB_FIELDS = ("job_id", "action_name", "campaign_type", "status", "priority", "min_agents",
              "max_agents", "licenses", "agents", "calls_connected", "calls_no_agent",
              "required_skills")


def agent_rows(agents: list[m.AgentSnapshot], now: datetime) -> list[dict[str, Any]]:
    return [{"agent_id": a.agent_id, "agent_name": a.agent_name, "agent_state": a.agent_state,
             "call_state": a.call_state, "job_state": a.job_state, "job_id": a.job_id,
             "reason_code": a.reason_code, "reason": a.reason,
             "since": a.since.isoformat().replace("+00:00", "Z"),
             "in_state_s": round((now - a.since).total_seconds(), 1),
             "pending_consults": len(a.pending_consults),
             "pending_callbacks": len(a.pending_callbacks), "nailed": a.nailed}
            for a in sorted(agents, key=lambda a: a.agent_id)]


def job_rows(jobs: list[m.JobTask]) -> list[dict[str, Any]]:
    return [{"job_id": j.job_id, "action_name": j.action_name,
             "campaign_type": j.campaign_type, "status": j.status, "priority": j.priority,
             "min_agents": j.min_agents, "max_agents": j.max_agents, "licenses": j.licenses,
             "agents": len(j.assigned), "calls_connected": j.calls_connected,
             "calls_no_agent": j.calls_no_agent, "required_skills": " ".join(j.required_skills)}
            for j in sorted(jobs, key=lambda j: j.job_id)]


def emit_rows(rows: list[dict[str, Any]], fields: tuple[str, ...], fmt: str,
              out: Console) -> None:
    """Rows as one JSON array or as CSV with a header, straight to the output file."""
    if fmt == "json":
        out.file.write(json.dumps(rows) + "\n")
    else:
        w = csv.DictWriter(out.file, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    out.file.flush()


async def cmd_agents(args: argparse.Namespace, sup: SupervisorClient, ctx: Context) -> int:
    if not args.live:
        agents = await sup.zone_agents(args.zone)
        now = datetime.now(UTC)
        if args.format != "table":
            emit_rows(agent_rows(agents, now), AGENT_FIELDS, args.format, ctx.out)
        else:
            ctx.out.print(agents_table(agents, args.zone, now))
        return EXIT_OK
    # subscribe before the snapshot: no change can fall between the two
    async with sup.watch(args.zone, alarms=False) as watch:
        view = LiveAgents(args.zone, await sup.zone_agents(args.zone))
        if not ctx.out.is_terminal:  # piped: a new table after every change
            ctx.out.print(view)
            ctx.ready()
            await _follow(watch, view, args.count, lambda: ctx.out.print(view))
            return EXIT_OK
        with Live(view, console=ctx.out, auto_refresh=False) as live:
            ctx.ready()
            clock = asyncio.create_task(_tick(live))  # the "In state" column ages locally
            try:
                await _follow(watch, view, args.count, live.refresh)
            finally:
                clock.cancel()
    return EXIT_OK


async def cmd_jobs(args: argparse.Namespace, sup: SupervisorClient, ctx: Context) -> int:
    jobs = list((await sup.zone_status(args.zone)).jobs or [])
    rows = job_rows(jobs)
    if args.format != "table":
        emit_rows(rows, JOB_FIELDS, args.format, ctx.out)
        return EXIT_OK
    t = Table(title=f"Job-tasks of zone {args.zone}", title_justify="left")
    for f in JOB_FIELDS:
        t.add_column(f.replace("_", " "))
    for r in rows:
        t.add_row(*(str(r[f]) for f in JOB_FIELDS))
    if not rows:
        t.caption = "no job-task in this zone"
    ctx.out.print(t)
    return EXIT_OK


async def _follow(watch: ZoneWatch, view: LiveAgents, count: int | None,
                  show: Callable[[], None]) -> None:
    seen = 0
    async for ev in watch:
        if isinstance(ev, m.AgentStateChanged) and view.apply(ev):
            show()
            seen += 1
            if count is not None and seen >= count:
                return


async def _tick(live: Live) -> None:
    """Redraw once a second so times in state advance; PAM is not asked anything."""
    while True:
        await asyncio.sleep(1)
        live.refresh()


async def cmd_release(args: argparse.Namespace, sup: SupervisorClient, ctx: Context) -> int:
    a = await sup.release_from_outbound(args.zone, args.agent)
    ctx.out.print(Text(release_outcome(a)))
    return EXIT_OK


async def cmd_move(args: argparse.Namespace, sup: SupervisorClient, ctx: Context) -> int:
    a = await sup.move_agent_to_job(args.zone, args.agent, args.job)
    ctx.out.print(Text(move_outcome(a, args.job)))
    return EXIT_OK


def _person() -> str:
    """Who runs the command (audited by PAM with the command)."""
    return os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"


async def cmd_force_not_ready(args: argparse.Namespace, sup: SupervisorClient,
                              ctx: Context) -> int:
    a = await sup.force_not_ready(args.zone, args.agent, args.reason_code, args.reason,
                                  on_behalf_of=_person())
    ctx.out.print(Text(force_outcome(a, "NotReady")))
    return EXIT_OK


async def cmd_force_logout(args: argparse.Namespace, sup: SupervisorClient,
                           ctx: Context) -> int:
    a = await sup.force_logout(args.zone, args.agent, on_behalf_of=_person())
    ctx.out.print(Text(force_outcome(a, "log out")))
    return EXIT_OK


async def cmd_alarms(args: argparse.Namespace, sup: SupervisorClient, ctx: Context) -> int:
    async with sup.watch(args.zone, states=False) as watch:
        ctx.err.print(Text(f"Watching alarms of zone {args.zone} (Ctrl-C to stop)"))
        ctx.ready()
        seen = 0
        async for ev in watch:
            if not isinstance(ev, m.Alarm):
                continue
            now = datetime.now(UTC)
            if args.json:
                doc = {"received": now.isoformat().replace("+00:00", "Z"),
                       **msgspec.to_builtins(ev)}
                ctx.out.print(json.dumps(doc), markup=False, highlight=False, soft_wrap=True)
            else:
                ctx.out.print(alarm_line(ev, now), soft_wrap=True)
            seen += 1
            if args.count is not None and seen >= args.count:
                break
    return EXIT_OK


# ---- parsing ------------------------------------------------------------------

def _common(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """Connection options, accepted before and after the command name."""
    sup = argparse.SUPPRESS
    parser.add_argument("--amqp-url",
                        default=os.environ.get("PAM_AMQP_URL", DEFAULT_URL) if defaults else sup,
                        help="RabbitMQ URL, vhost included (env PAM_AMQP_URL)")
    parser.add_argument("--timeout", type=float, default=10.0 if defaults else sup,
                        help="seconds to wait for PAM's reply (default 10)")


def _format(parser: argparse.ArgumentParser) -> None:
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="format", action="store_const", const="json",
                     help="one JSON array instead of a table")
    fmt.add_argument("--csv", dest="format", action="store_const", const="csv",
                     help="CSV with a header row instead of a table")
    parser.set_defaults(format="table")


def _zone(parser: argparse.ArgumentParser, *, defaults: bool = False) -> None:
    """``--zone``, accepted before and after the command name (checked in amain)."""
    parser.add_argument("--zone", default=os.environ.get("PAM_ZONE") if defaults
                        else argparse.SUPPRESS, help="the zone (env PAM_ZONE)")


count = cli.bounded(int, 1)


def build_parser() -> argparse.ArgumentParser:
    p = cli.Parser(prog="pam-supervisor", description=__doc__)
    p.add_argument("--version", action="version", version=f"%(prog)s {cli.version()}")
    _common(p, defaults=True)
    _zone(p, defaults=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser("agents", help="the zone's agents with their states")
    _zone(a)
    a.add_argument("--live", action="store_true",
                   help="keep the table current from PAM's events until Ctrl-C")
    a.add_argument("--count", type=count, default=None,
                   help="with --live: stop after this many state changes")
    _format(a)
    a.set_defaults(handler=cmd_agents)

    jb = sub.add_parser("jobs", help="the zone's job-tasks: staffing, licences, calls",
                        description="The zone's job-tasks with their staffing rules, the "
                                    "agents on each, and the calls connected and lost (no "
                                    "agent) since the serving instance took the zone.")
    _zone(jb)
    _format(jb)
    jb.set_defaults(handler=cmd_jobs)

    r = sub.add_parser("release", help="Release From Outbound: the agent goes to inbound work")
    r.add_argument("agent", help="agent id")
    _zone(r)
    r.set_defaults(handler=cmd_release)

    mv = sub.add_parser("move", help="move an agent to another outbound job")
    mv.add_argument("agent", help="agent id")
    mv.add_argument("job", help="job id of a running job-task of the zone")
    _zone(mv)
    mv.set_defaults(handler=cmd_move)

    fnr = sub.add_parser("force-not-ready", help="put an agent NotReady (at the end of its "
                         "call when working)")
    fnr.add_argument("agent", help="agent id")
    fnr.add_argument("--reason-code", type=cli.bounded(int, 0, 9999), required=True,
                     help="the NotReady reason code")
    fnr.add_argument("--reason", default=None, help="the reason's text")
    _zone(fnr)
    fnr.set_defaults(handler=cmd_force_not_ready)

    flo = sub.add_parser("force-logout", help="log an agent out (at the end of its call when "
                         "working)")
    flo.add_argument("agent", help="agent id")
    _zone(flo)
    flo.set_defaults(handler=cmd_force_logout)

    al = sub.add_parser("alarms", help="print the zone's alarms as they arrive")
    _zone(al)
    al.add_argument("--count", type=count, default=None, help="stop after this many alarms")
    al.add_argument("--json", action="store_true", help="one JSON object per alarm")
    al.set_defaults(handler=cmd_alarms)

    for sp in sub.choices.values():
        _common(sp, defaults=False)
    report_cli.add_parser(sub, lambda sp: _common(sp, defaults=False))
    web_cli.add_parser(sub, lambda sp: _common(sp, defaults=False))
    return p


async def amain(argv: Sequence[str] | None = None, ctx: Context | None = None) -> int:
    """Parse and run one command; returns the exit code (argparse exits 2 on bad usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is not None:
        if not args.zone:
            parser.error(f"{args.command}: --zone is required (or set PAM_ZONE)")
        if args.command == "agents" and args.count is not None and not args.live:
            parser.error("agents: --count goes with --live")
        if args.command == "agents" and args.live and args.format != "table":
            parser.error("agents: --json and --csv print a snapshot; leave out --live")
    ctx = ctx or Context()
    if getattr(args, "report_handler", None) is not None:  # the report store, not PAM
        return await report_cli.run(args, ctx.out, ctx.err)
    if getattr(args, "web_handler", None) is not None:  # the dashboard connects itself
        return int(await args.web_handler(args, ctx.out, ctx.err))
    handler: Handler = args.handler
    try:
        sup = await SupervisorClient.connect(args.amqp_url, timeout=args.timeout)
    except Exception as e:  # connection refused, authentication, bad vhost ...
        why, _ = connect_problem(e, args.amqp_url)
        ctx.err.print(Text(f"pam-supervisor: {why} (--amqp-url or PAM_AMQP_URL)."))
        return EXIT_UNREACHABLE
    try:
        return await handler(args, sup, ctx)
    except CommandRejected as e:
        ctx.err.print(Text(f"{e.sentence}.", style="bold red"))
        ctx.err.print(Text(f"What to do: {e.hint}."))
        return EXIT_REJECTED
    except UnknownZone as e:
        ctx.err.print(Text(f"pam-supervisor: {e}."))
        return EXIT_UNKNOWN_ZONE
    except ReplyTimeout:
        if args.command in ("agents", "alarms"):  # read-only: nothing to check
            ctx.err.print(Text(
                f"pam-supervisor: no reply from PAM for zone {args.zone!r} within "
                f"{args.timeout:g} s (a failover takes a few seconds): retry, or raise "
                f"--timeout."))
            return EXIT_TIMEOUT
        ctx.err.print(Text(
            f"pam-supervisor: no reply from PAM for zone {args.zone!r} within "
            f"{args.timeout:g} s. The command may or may not have been applied: check with "
            f"`pam-supervisor agents --zone {args.zone}` before retrying (PAM applies a "
            f"command at most once)."))
        return EXIT_TIMEOUT
    finally:
        with contextlib.suppress(Exception):
            await sup.close()


def main(argv: Sequence[str] | None = None) -> int:
    # the client library's own connection warnings would repeat what is printed
    for name in ("aio_pika", "aiormq"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return asyncio.run(amain(argv))
    except KeyboardInterrupt:  # Ctrl-C ends `agents --live` and `alarms`
        return EXIT_OK
