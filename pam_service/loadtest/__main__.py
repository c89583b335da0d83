"""pam-loadtest: simulate a contact center against a running PAM.

    pam-loadtest --agents 300 --zones z1,z2 --duration 60 --json out.json

Every figure has a default; --scenario FILE (TOML) overrides them; the flags override
the file. Exit status: 0 when there were no errors and no violations, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.live import Live

from pam_service import runloop
from pam_service.loadtest import config, report
from pam_service.loadtest.sim import LoadTest


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pam-loadtest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", help="TOML file overriding the defaults")
    p.add_argument("--agents", type=int)
    p.add_argument("--zones", help="comma-separated, e.g. z1,z2")
    p.add_argument("--duration", type=float, help="seconds of simulated traffic")
    p.add_argument("--seed", type=int)
    p.add_argument("--amqp-url", default=os.environ.get("PAM_AMQP_URL"))
    p.add_argument("--json", dest="json_path", help="write the summary here")
    p.add_argument("--chart", help="PNG chart path (default: next to --json, or pam-loadtest.png)")
    p.add_argument("--quiet", action="store_true", help="no live display")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    sc = config.load(args.scenario, agents=args.agents, duration_s=args.duration,
                     seed=args.seed, amqp_url=args.amqp_url,
                     zones=args.zones.split(",") if args.zones else None)
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
    except KeyboardInterrupt:
        return 130
    chart = Path(args.chart or (Path(args.json_path).with_suffix(".png") if args.json_path
                                else "pam-loadtest.png"))
    report.chart(summary, chart)
    summary["chart"] = str(chart)
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
    console.print(f"chart: {chart}" + (f"   summary: {args.json_path}" if args.json_path else ""))
    return 0 if summary["errors"] == 0 and summary["violations"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
