"""`pam-service`: serve zones from RabbitMQ, state in Redis.

    pam-service --zones z1,z2 [--prefer z1] [--amqp-url URL] [--redis-url URL]
                [--metrics-port 9100]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from prometheus_client import REGISTRY, start_http_server

from pam_service import runloop
from pam_service.auth import Policy
from pam_service.logs import setup
from pam_service.service import AgentsByState, PamService, Settings


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pam-service", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zones", required=True, help="comma-separated zones to serve, e.g. z1,z2")
    p.add_argument("--amqp-url", default=os.environ.get(
        "PAM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        help="RabbitMQ URL, vhost included (env PAM_AMQP_URL)")
    p.add_argument("--redis-url", default=os.environ.get("PAM_REDIS_URL", "redis://127.0.0.1:6379/0"),
                   help="Redis URL (env PAM_REDIS_URL); behind Sentinel: "
                        "redis+sentinel://[:password@]s1:26379,s2:26379/<primary>[/db]")
    p.add_argument("--key-prefix", default=os.environ.get("PAM_KEY_PREFIX", "pam"),
                   help="prefix of every Redis key (default pam)")
    p.add_argument("--roles", default=os.environ.get("PAM_ROLES"),
                   help="roles file (TOML); without it, the development default: guest is admin")
    p.add_argument("--prefer", default=os.environ.get("PAM_PREFER", ""),
                   help="comma-separated zones this instance should be active for; it "
                        "consumes the other zones only after --prefer-delay seconds, as "
                        "their standby (env PAM_PREFER; default: none, all at once)")
    p.add_argument("--prefer-delay", type=float, default=5.0,
                   help="seconds before consuming the zones outside --prefer (default 5)")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="serve Prometheus metrics on this port")
    p.add_argument("--instance", default=f"pam-{os.getpid()}", help="name in logs and the broker")
    p.add_argument("--callback-due-utc", action="store_true",
                   help="TimeZonePendingCallbackDueTime=UTC: callback due times as UTC")
    p.add_argument("--resync-timeout", type=float, default=60.0,
                   help="seconds an agent in doubt after a takeover may stay Unknown before "
                        "PAM resolves it without its desktop (default 60)")
    p.add_argument("--redis-wait-replicas", type=int, default=0, metavar="N",
                   help="after each commit, wait until N replicas have it (Redis WAIT) "
                        "before answering: no answered command is lost when Sentinel "
                        "promotes a replica (default 0: asynchronous replication)")
    p.add_argument("--redis-wait-timeout-ms", type=int, default=500,
                   help="how long WAIT may take before the batch counts as failed and is "
                        "retried (default 500)")
    p.add_argument("--log-level", default=os.environ.get("PAM_LOG_LEVEL", "info"))
    p.add_argument("--loop", choices=runloop.LOOPS, default=runloop.DEFAULT,
                   help="event loop (env PAM_LOOP; default uvloop)")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    zones = [z.strip() for z in args.zones.split(",") if z.strip()]
    prefer = [z.strip() for z in args.prefer.split(",") if z.strip()]
    if not set(prefer) <= set(zones):
        print(f"pam-service: --prefer {args.prefer} names zones outside --zones {args.zones}",
              file=sys.stderr)
        return 2
    try:
        policy = Policy.load(args.roles)
    except (OSError, ValueError) as e:
        print(f"pam-service: cannot read roles file: {e}", file=sys.stderr)
        return 2
    svc = PamService(Settings(zones=zones, amqp_url=args.amqp_url, redis_url=args.redis_url,
                              key_prefix=args.key_prefix, policy=policy,
                              callback_due_utc=args.callback_due_utc, instance=args.instance,
                              prefer=prefer, prefer_delay_s=args.prefer_delay,
                              resync_timeout_s=args.resync_timeout,
                              redis_wait_replicas=args.redis_wait_replicas,
                              redis_wait_timeout_ms=args.redis_wait_timeout_ms))
    if args.metrics_port:
        REGISTRY.register(AgentsByState(svc))
        start_http_server(args.metrics_port, addr="127.0.0.1")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    delay = 0.5
    while True:  # the broker may be down at start: keep trying, say so
        try:
            await svc.start()
            break
        except (OSError, ConnectionError) as e:
            logging.getLogger("pam.service").error(
                "cannot reach RabbitMQ; retrying", extra={"error": str(e), "retry_s": delay})
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return 0
            except TimeoutError:
                delay = min(delay * 2, 10)
    await stop.wait()
    logging.getLogger("pam.service").info("stopping (signal)")
    await svc.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    setup(args.log_level)
    return runloop.run(run(args), args.loop)


if __name__ == "__main__":
    raise SystemExit(main())
