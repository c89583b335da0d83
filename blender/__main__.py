"""`pam-blender`: move agents between outbound and inbound work as inbound demand changes.

    pam-blender --zones z1,z2 [--amqp-url URL] [--config blender.toml] [--log-level info]
                [--metrics-port 9102 [--metrics-addr 127.0.0.1]]

Reads the ACD's InboundDemand signals (exchange pam.acd, key demand.<zone>) and sends
BlendToInbound / BlendToOutbound to PAM. One JSON log line per decision on stderr.
SIGTERM or SIGINT: stop taking signals, finish the decision in flight, exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from aiormq.exceptions import AMQPError

from blender import config as blender_config
from blender import logs
from blender.app import BlenderApp
from pam_protocol import cli, health, runloop
from pam_protocol.client import PamError, connect_problem, with_default_heartbeat

log = logging.getLogger("pam.blender")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = cli.Parser(prog="pam-blender", description=__doc__)
    cli.add_common(p)
    p.add_argument("--zones", required=True, help="comma-separated zones to blend, e.g. z1,z2")
    p.add_argument("--amqp-url", default=os.environ.get(
        "PAM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        help="RabbitMQ URL, vhost included (env PAM_AMQP_URL)")
    p.add_argument("--config", default=os.environ.get("PAM_BLENDER_CONFIG"),
                   help="policy file (TOML, see docs/blender.md); default: built-in figures "
                        "(env PAM_BLENDER_CONFIG)")
    p.add_argument("--metrics-port", type=cli.port, default=None,
                   help="serve /metrics, /healthz and /readyz on this port (default: none)")
    p.add_argument("--metrics-addr", default=os.environ.get("PAM_METRICS_ADDR", "127.0.0.1"),
                   help="address of that listener (env PAM_METRICS_ADDR; default 127.0.0.1)")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    zones = [z.strip() for z in args.zones.split(",") if z.strip()]
    if not zones:
        print("pam-blender: --zones names no zone", file=sys.stderr)
        return cli.EXIT_USAGE
    try:
        cfg = blender_config.load(args.config)
    except ValueError as e:
        print(f"pam-blender: cannot read the config: {e}", file=sys.stderr)
        return cli.EXIT_USAGE
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # a short heartbeat unless the URL sets one: a frozen blender's consumer is dropped
    # in seconds (pam_protocol.client.DEFAULT_HEARTBEAT_S)
    app = BlenderApp(zones, with_default_heartbeat(args.amqp_url), cfg)
    readiness = health.Readiness(app.not_ready)
    if args.metrics_port:
        try:
            health.serve(args.metrics_addr, args.metrics_port, readiness)
        except OSError as e:
            print(f"pam-blender: cannot serve metrics on {args.metrics_addr}:"
                  f"{args.metrics_port}: {e}; choose another --metrics-port or --metrics-addr",
                  file=sys.stderr)
            return cli.EXIT_USAGE
        readiness.start()
    delay = 0.5
    while True:  # the broker or PAM may not be up yet: keep trying, say so
        try:
            await app.start()
            break
        except (OSError, ConnectionError, PamError, AMQPError) as e:
            why, config = connect_problem(e, args.amqp_url)
            if config:  # a refused password or vhost: retrying cannot help
                print(f"pam-blender: {why}", file=sys.stderr)
                await readiness.stop()
                return cli.EXIT_USAGE
            log.error("cannot start; retrying", extra={"error": why, "retry_s": delay,
                                                        "version": cli.version()})
            try:
                await asyncio.wait_for(stop.wait(), delay)
                await readiness.stop()
                return 0
            except TimeoutError:
                delay = min(delay * 2, 10)
    log.info("started", extra={"version": cli.version(), "zones": zones})
    await stop.wait()
    log.info("stopping (signal)", extra={"decisions": app.decisions})
    await readiness.stop()
    await app.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logs.setup(args.log_level)
    return runloop.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
