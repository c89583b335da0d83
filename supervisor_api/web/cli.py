"""`pam-supervisor serve` (the dashboard) and `pam-supervisor hash-password`.

    pam-supervisor serve --zones z1,z2 [--host 127.0.0.1] [--port 8080] [--users FILE]
                         [--reports-db URL | --no-reports] [--no-ingest] [--secure-cookies]
    pam-supervisor hash-password            # reads the password twice, prints the hash
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

import aio_pika
import uvicorn
from rich.console import Console
from rich.text import Text

from pam_protocol import logs
from pam_protocol.client import connect_problem, with_default_heartbeat
from supervisor_api.reports.store import ENV_URL, resolve_url
from supervisor_api.web.users import Users, UsersError, hash_password

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_UNREACHABLE = 5  # as pam-supervisor's other commands: RabbitMQ cannot be reached


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    s = sub.add_parser("serve", help="the live Supervisor Dashboard (web)")
    s.add_argument("--zones", default=os.environ.get("PAM_ZONES", os.environ.get("PAM_ZONE",
                                                                                 "z1")),
                   help="comma-separated zones to show (env PAM_ZONES; default z1)")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    s.add_argument("--users", default=os.environ.get("PAM_DASHBOARD_USERS"),
                   help="users file (TOML, env PAM_DASHBOARD_USERS); without it the "
                        "development users admin/admin and viewer/viewer")
    s.add_argument("--reports-db", default=None,
                   help=f"report store URL (env {ENV_URL}; default SQLite "
                        f"pam-reports.sqlite3 in the working directory)")
    s.add_argument("--no-reports", action="store_true",
                   help="no report store: no reports, no today's figures")
    s.add_argument("--no-ingest", action="store_true",
                   help="don't feed the report store from this process (another "
                        "`pam-supervisor report ingest` does)")
    s.add_argument("--secure-cookies", action="store_true",
                   help="mark cookies Secure (when served over HTTPS behind a proxy)")
    s.add_argument("--thrash-seconds", type=int, default=300,
                   help="default thrash interval offered with Release From Outbound")
    s.set_defaults(web_handler=serve)
    common(s)

    h = sub.add_parser("hash-password", help="print the Argon2 hash of a password, "
                                             "for the dashboard's users file")
    h.add_argument("--stdin", action="store_true", help="read the password from stdin")
    h.set_defaults(web_handler=hash_cmd)
    common(h)


async def serve(args: argparse.Namespace, out: Console, err: Console) -> int:
    from supervisor_api.web.app import DashboardSettings, create_app

    zones = [z.strip() for z in args.zones.split(",") if z.strip()]
    if not zones:
        err.print(Text("pam-supervisor serve: --zones names no zone"))
        return EXIT_USAGE
    try:
        users = Users.load(args.users)
    except UsersError as e:
        err.print(Text(f"pam-supervisor serve: {e}"))
        return EXIT_USAGE
    settings = DashboardSettings(
        amqp_url=with_default_heartbeat(args.amqp_url), zones=zones, users=users,
        timeout=args.timeout,
        reports_url=None if args.no_reports else resolve_url(args.reports_db),
        ingest=not args.no_ingest, secure_cookies=args.secure_cookies,
        thrash_seconds=args.thrash_seconds)
    if users.development:
        err.print(Text("pam-supervisor serve: no --users file: development users "
                       "admin/admin (supervisor) and viewer/viewer (viewer). Do not expose "
                       "this dashboard.", style="yellow"))
    problem = await _cannot_start(args)
    if problem is not None:
        err.print(Text(f"pam-supervisor serve: {problem[0]}"))
        return problem[1]
    err.print(Text(f"Dashboard on http://{args.host}:{args.port}/ (zones {', '.join(zones)})"))
    logs.setup("info")  # JSON lines, with each action's user, action and agent
    config = uvicorn.Config(create_app(settings), host=args.host, port=args.port,
                            log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # a graceful stop is a normal end: exit 0
        loop.add_signal_handler(sig, setattr, server, "should_exit", True)
    await server.serve()
    return EXIT_OK if server.started else EXIT_USAGE


async def _cannot_start(args: argparse.Namespace) -> tuple[str, int] | None:
    """What would stop the dashboard from starting, said before it starts: the port
    taken, RabbitMQ out of reach. None when both are fine."""
    try:
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as e:
        return (f"cannot listen on {args.host}:{args.port}: {e.strerror or e}; choose "
                f"another --port or stop what uses it", EXIT_USAGE)
    try:
        conn = await asyncio.wait_for(aio_pika.connect(args.amqp_url), args.timeout)
    except Exception as e:
        why, _ = connect_problem(e, args.amqp_url)
        return f"{why} (--amqp-url or PAM_AMQP_URL)", EXIT_UNREACHABLE
    await conn.close()
    return None


class _Server(uvicorn.Server):
    """uvicorn re-raises the signal it caught after shutting down (the exit status would
    say "killed"); the handlers above stop it instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def hash_cmd(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        try:
            password = getpass.getpass("Password: ")
            again = getpass.getpass("Again: ")
        except EOFError:  # no terminal to ask on (a script, a pipe)
            err.print(Text("pam-supervisor hash-password: no terminal to read the password "
                           "from; pipe it in with --stdin"))
            return EXIT_USAGE
        if again != password:
            err.print(Text("the two passwords differ; nothing printed"))
            return EXIT_USAGE
    if not password:
        err.print(Text("an empty password is not allowed"))
        return EXIT_USAGE
    out.print(await asyncio.to_thread(hash_password, password), markup=False,
              highlight=False, soft_wrap=True)
    return EXIT_OK
