"""pam-loadtest: simulate a contact center against a running PAM.

    pam-loadtest --agents 300 --zones z1,z2 --duration 60 --json out.json

Every figure has a default; --scenario FILE (TOML) overrides them; the flags override
the file. Before the load starts it checks that RabbitMQ can be reached and that a PAM
answers for every zone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tomllib
from pathlib import Path

from aiormq.exceptions import AMQPError
from rich.console import Console
from rich.live import Live

from pam_loadtest import config, report
from pam_loadtest.config import Scenario
from pam_loadtest.sim import LoadTest
from pam_protocol import cli, runloop, topology
from pam_protocol import messages as m
from pam_protocol.client import (
    PamClient,
    ReplyTimeout,
    UnknownZone,
    amqp_url_problem,
    connect_problem,
)

# The meanings pam-supervisor gives its exit codes (supervisor_api/cli.py), where they apply.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN_ZONE = 3
EXIT_TIMEOUT = 4
EXIT_UNREACHABLE = 5
EXIT_JOB_REFUSED = 6
EXIT_INTERRUPTED = 130

EPILOG = """\
exit status:
  0    the run had no errors and no violations
  1    the run had errors or violations (listed in the summary)
  2    bad usage: a bad flag or zone name, a scenario file that cannot be read or
       is not a valid scenario, an --amqp-url that is not amqp:// or amqps://, a
       --json or --chart path in a directory that does not exist
  3    no PAM serves one of the zones (check --zones and pam-service --zones)
  4    no reply from PAM for a zone in time (its queue exists: is pam-service up?)
  5    RabbitMQ cannot be reached, or refuses the URL's user, password or vhost
  6    PAM refused to start the scenario's jobs (the reason is printed)
  130  interrupted (Ctrl-C)
"""



class Refusal(Exception):
    """The load test cannot start: the message says why and what to do."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code



def parse(argv: list[str] | None) -> argparse.Namespace:
    p = cli.Parser(prog="pam-loadtest", description=__doc__, epilog=EPILOG)
    p.add_argument("--version", action="version", version=f"%(prog)s {cli.version()}")
    p.add_argument("--scenario", help="TOML file overriding the defaults")
    p.add_argument("--agents", type=cli.bounded(int, 1, 1_000_000),
                   help="simulated agents (default: the scenario's, 300)")
    p.add_argument("--zones", help="comma-separated, e.g. z1,z2")
    p.add_argument("--duration", type=cli.bounded(float, 1, 7 * 86_400),
                   help="seconds of simulated traffic (default: the scenario's)")
    p.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    p.add_argument("--amqp-url", default=os.environ.get("PAM_AMQP_URL"),
                   help="RabbitMQ URL, vhost included (env PAM_AMQP_URL)")
    p.add_argument("--json", dest="json_path", help="write the summary here")
    p.add_argument("--chart", help="PNG chart path (default: next to --json, or pam-loadtest.png)")
    p.add_argument("--quiet", action="store_true", help="no live display")
    return p.parse_args(argv)


def scenario(args: argparse.Namespace) -> Scenario:
    """The scenario of the command line; Refusal when it cannot be one."""
    zones = None
    if args.zones is not None:
        zones = [z.strip() for z in args.zones.split(",")]
    try:
        sc = config.load(args.scenario, agents=args.agents, duration_s=args.duration,
                         seed=args.seed, amqp_url=args.amqp_url, zones=zones)
    except OSError as e:
        raise Refusal(f"cannot read the scenario file {args.scenario}: "
                      f"{e.strerror or e}", EXIT_USAGE) from e
    except UnicodeDecodeError as e:
        raise Refusal(f"the scenario file {args.scenario} is not a text file: {e}",
                      EXIT_USAGE) from e
    except tomllib.TOMLDecodeError as e:
        raise Refusal(f"the scenario file {args.scenario} is not valid TOML: {e}",
                      EXIT_USAGE) from e
    except SystemExit as e:  # config.load: the scenario does not validate
        raise Refusal(str(e.code).removeprefix("pam-loadtest: "), EXIT_USAGE) from e
    source = "--zones" if args.zones is not None else (
        f"zones in {args.scenario}" if args.scenario else "zones")
    if not sc.zones or not any(sc.zones):
        raise Refusal(f"{source} names no zone: give the zones PAM serves, e.g. --zones z1,z2",
                      EXIT_USAGE)
    for z in sc.zones:
        if (why := topology.zone_name_problem(z)) is not None:
            raise Refusal(f"{source}: {why}", EXIT_USAGE)
    if (why := amqp_url_problem(sc.amqp_url)) is not None:
        raise Refusal(f"--amqp-url {why} (--amqp-url, PAM_AMQP_URL or amqp_url in the "
                      f"scenario)", EXIT_USAGE)
    for flag, path in (("--json", args.json_path), ("--chart", args.chart)):
        if path and Path(path).is_dir():
            raise Refusal(f"{flag} {path} is a directory: name a file", EXIT_USAGE)
        if path and not Path(path).resolve().parent.is_dir():
            raise Refusal(f"{flag} {path}: the directory {Path(path).resolve().parent} does not "
                          f"exist; create it first (the summary is written after the run)",
                          EXIT_USAGE)
    return sc


def unreachable(e: BaseException, url: str) -> Refusal:
    why, _ = connect_problem(e, url)
    return Refusal(f"{why}; the URL comes from --amqp-url, PAM_AMQP_URL or amqp_url in the "
                   f"scenario", EXIT_UNREACHABLE)


async def preflight(sc: Scenario) -> None:
    """Connect, and ask every zone's PAM for its status: Refusal when RabbitMQ cannot be
    reached, or a zone has no PAM or no answer."""
    try:
        client = await PamClient.connect(sc.amqp_url, connection_name="pam-loadtest preflight")
    except (AMQPError, OSError) as e:
        raise unreachable(e, sc.amqp_url) from e
    try:
        for z in sc.zones:
            try:
                await client.send(z, m.GetZoneStatus(zone=z), timeout=sc.reply_timeout_s)
            except UnknownZone as e:
                raise Refusal(f"{e} (--zones, or zones in the scenario)",
                              EXIT_UNKNOWN_ZONE) from e
            except ReplyTimeout as e:
                raise Refusal(f"no reply from PAM for zone {z!r} within "
                              f"{sc.reply_timeout_s:g} s: the zone's queue exists but nobody "
                              f"answers; check that a pam-service with --zones {z} runs, and "
                              f"its log",
                              EXIT_TIMEOUT) from e
    finally:
        with contextlib.suppress(Exception):  # already gone: nothing to release
            await client.close()


def setup_failure(lt: LoadTest, e: SystemExit) -> Refusal:
    """The harness stopped before the load (a JobStarted without Accepted): why."""
    errors = lt.stats.errors
    if errors.get("client:UnknownZone"):  # the client's sentence names the zone
        sample = next((s["message"] for s in lt.stats.error_samples
                       if s["code"] == "client:UnknownZone"), "no PAM serves a zone")
        return Refusal(f"{sample} (--zones, or zones in the scenario)", EXIT_UNKNOWN_ZONE)
    if errors.get("timeout"):
        return Refusal(f"no reply from PAM to the scenario's JobStarted after 3 tries of "
                       f"{lt.sc.reply_timeout_s:g} s: check that a pam-service serving zones "
                       f"{','.join(lt.sc.zones)} runs, and its log", EXIT_TIMEOUT)
    return Refusal(f"{str(e.code).removeprefix('pam-loadtest: ')}: PAM refused to start the "
                   f"scenario's jobs; check the user's role (docs/security.md) and the "
                   f"scenario's dialer settings", EXIT_JOB_REFUSED)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        return run(args)
    except Refusal as e:
        print(f"pam-loadtest: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def run(args: argparse.Namespace) -> int:
    sc = scenario(args)
    # the client library's own connection errors would repeat the one line printed
    quiet = [logging.getLogger(name) for name in ("aio_pika", "aiormq")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.CRITICAL)
    try:
        runloop.run(preflight(sc))
    finally:
        for lg, level in zip(quiet, levels, strict=True):
            lg.setLevel(level)
    console = Console(stderr=True)
    live: Live | None = None

    def tick(lt: LoadTest) -> None:
        if live is not None:
            live.update(report.live_table(lt))

    lt = LoadTest(sc, on_tick=None if args.quiet else tick)
    try:
        if args.quiet or not console.is_terminal:
            lt.on_tick = (lambda t: console.print(
                f"t={t.stats.series[-1]['t']:>5}s  commands={t.stats.sent}  "
                f"calls={t.stats.calls_connected}  errors={sum(t.stats.errors.values())}  "
                f"violations={len(t.checker.violations)}")
                if int(t.stats.series[-1]["t"]) % 10 == 0 else None)
            summary = runloop.run(lt.run())
        else:
            with Live(report.live_table(lt), console=console, refresh_per_second=2) as live:
                summary = runloop.run(lt.run())
    except SystemExit as e:  # sim: a JobStarted was not accepted
        raise setup_failure(lt, e) from e
    except (AMQPError, OSError) as e:  # RabbitMQ went away between the check and the run
        raise unreachable(e, sc.amqp_url) from e
    chart_path = Path(args.chart or (
        Path(args.json_path).with_suffix(".png") if args.json_path else "pam-loadtest.png"))
    chart: Path | None = chart_path
    try:
        report.chart(summary, chart_path)
    except (OSError, ValueError) as e:  # no chart must not cost the run's summary
        print(f"pam-loadtest: no chart ({e or type(e).__name__}); the summary follows",
              file=sys.stderr)
        chart = None
    summary["chart"] = str(chart) if chart else None
    text = json.dumps(summary, indent=2)
    if args.json_path:
        Path(args.json_path).write_text(text)
    brief = {k: v for k, v in summary.items() if k not in ("series", "latency_ms",
                                                           "violation_details", "error_samples")}
    brief["latency_ms"] = summary["latency_ms"]["all"]
    print(json.dumps(brief, indent=2))
    if summary["violations"]:
        for v in summary["violation_details"][:10]:
            console.print(f"[red]violation[/red] {v['kind']} {v['subject']}: {v['message']}")
    console.print(f"chart: {chart or 'none'}"
                  + (f"   summary: {args.json_path}" if args.json_path else ""))
    return EXIT_OK if summary["errors"] == 0 and summary["violations"] == 0 else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
