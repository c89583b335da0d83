"""`pam-service`: serve zones from RabbitMQ, state in Redis.

    pam-service --zones z1,z2 [--prefer z1] [--amqp-url URL] [--redis-url URL]
                [--metrics-port 9100 [--metrics-addr 127.0.0.1]]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from aiormq.exceptions import (
    AuthenticationError,
    ChannelAccessRefused,
    ChannelPreconditionFailed,
    InvalidFrameError,
    ProbableAuthenticationError,
)
from prometheus_client import REGISTRY
from redis.exceptions import RedisClusterException

from pam_protocol import cli, health, runloop, topology
from pam_protocol.client import (
    DEFAULT_HEARTBEAT_S,
    amqp_url_problem,
    connect_problem,
    redact,
    with_default_heartbeat,
)
from pam_protocol.logs import setup
from pam_service.auth import Policy
from pam_service.metrics import AgentsByState
from pam_service.service import PamService, Settings
from pam_service.store import connect_redis

log = logging.getLogger("pam.service")

EXIT_OK = cli.EXIT_OK
#: A bad flag, URL or zone name; a vhost, user or password RabbitMQ or Redis refuses; a
#: roles file that cannot be read. Retrying cannot help: fix the configuration.
EXIT_CONFIG = cli.EXIT_USAGE

EPILOG = cli.EXIT_STATUS_EPILOG + """
2 includes, for pam-service: a bad zone name; a RabbitMQ vhost that does not exist
or that the user may not use; a user or password RabbitMQ or Redis refuses; a Redis
database that does not exist; a broker queue or exchange declared with other
arguments; an unreadable roles file; a --metrics-port in use.

RabbitMQ down or Redis unreachable at start is not an error: pam-service logs it
and keeps trying (commands wait until Redis is back).
"""

#: Redis URL schemes (pam_service.store.connect_redis)
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = cli.Parser(prog="pam-service", description=__doc__, epilog=EPILOG)
    cli.add_common(p)
    p.add_argument("--zones", required=True, help="comma-separated zones to serve, e.g. z1,z2")
    p.add_argument("--amqp-url", default=os.environ.get(
        "PAM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        help=f"RabbitMQ URL, vhost included (env PAM_AMQP_URL); without a heartbeat= "
             f"parameter, heartbeat={DEFAULT_HEARTBEAT_S} is added (a frozen instance "
             f"fails over in 2-3 s)")
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
    p.add_argument("--prefer-delay", type=cli.bounded(float, 0, 3600), default=5.0,
                   help="seconds before consuming the zones outside --prefer (default 5)")
    p.add_argument("--metrics-port", type=cli.port, default=None,
                   help="serve /metrics (Prometheus), /healthz and /readyz on this port "
                        "(default: none)")
    p.add_argument("--metrics-addr", default=os.environ.get("PAM_METRICS_ADDR", "127.0.0.1"),
                   help="address of that listener, e.g. 0.0.0.0 for a scraper on another "
                        "host (env PAM_METRICS_ADDR; default 127.0.0.1)")
    p.add_argument("--instance", default=f"pam-{os.getpid()}", help="name in logs and the broker")
    p.add_argument("--callback-due-utc", action="store_true",
                   help="TimeZonePendingCallbackDueTime=UTC: callback due times as UTC")
    p.add_argument("--resync-timeout", type=cli.bounded(float, 0, 86_400), default=60.0,
                   help="seconds an agent in doubt after a takeover may stay Unknown before "
                        "PAM resolves it without its desktop (default 60)")
    p.add_argument("--redis-wait-replicas", type=cli.bounded(int, 0, 100), default=0, metavar="N",
                   help="after each commit, wait until N replicas have it (Redis WAIT) "
                        "before answering: no answered command is lost when Sentinel "
                        "promotes a replica (default 0: asynchronous replication)")
    p.add_argument("--redis-wait-timeout-ms", type=cli.bounded(int, 1, 60_000), default=500,
                   help="how long WAIT may take before the batch counts as failed and is "
                        "retried (default 500)")
    p.add_argument("--loop", choices=runloop.LOOPS, default=runloop.DEFAULT,
                   help="event loop (env PAM_LOOP; default uvloop)")
    return p.parse_args(argv)



def fail(message: str) -> int:
    """One line on stderr, then the configuration-error exit status."""
    print(f"pam-service: {message}", file=sys.stderr)
    return EXIT_CONFIG


def parse_zones(text: str) -> tuple[list[str], str | None]:
    """The zones of ``--zones`` (in order, without repeats), or why they are refused."""
    names = [z.strip() for z in text.split(",")]
    if not any(names):
        return [], (f"--zones {text!r} names no zone: give the zones to serve, "
                    f"e.g. --zones z1,z2")
    zones: list[str] = []
    for z in names:
        if (why := topology.zone_name_problem(z)) is not None:
            return [], f"--zones {text!r}: {why}"
        if z not in zones:
            zones.append(z)
    return zones, None


def redis_client(url: str) -> tuple[aioredis.Redis | None, str | None]:
    """A client for ``--redis-url`` (only to check it), or why the URL is refused."""
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES:
        return None, (f"--redis-url {redact(url)}: a Redis URL starts with "
                      f"{', '.join(s + '://' for s in REDIS_SCHEMES)}, e.g. "
                      f"redis://127.0.0.1:6379/0 (--redis-url or PAM_REDIS_URL)")
    try:
        return connect_redis(url), None
    except ValueError as e:
        return None, (f"--redis-url {redact(url)} is not a valid Redis URL: {e} "
                      f"(--redis-url or PAM_REDIS_URL)")


async def check_redis(url: str, client: aioredis.Redis) -> str | None:
    """Ping Redis once. Unreachable: say so and carry on (the batches retry until it is
    back). A refused password or database: the configuration error, to exit with."""
    try:
        await asyncio.wait_for(client.ping(), 3.0)
    except aioredis.AuthenticationError as e:
        return (f"Redis at {redact(url)} refused the user or password "
                f"({str(e).rstrip('.')}): check them in "
                f"--redis-url (or PAM_REDIS_URL)")
    except aioredis.ResponseError as e:  # SELECT of a database that does not exist, ACLs
        return (f"Redis at {redact(url)} answered with an error ({e}): check the database "
                f"number and the user in --redis-url (or PAM_REDIS_URL)")
    except (aioredis.RedisError, RedisClusterException, OSError, TimeoutError) as e:
        log.warning("redis unreachable at start; commands wait until it is back",
                    extra={"redis_url": redact(url), "error": str(e) or type(e).__name__,
                           "version": cli.version()})
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()
    return None


def start_problem(e: BaseException, url: str) -> str | None:
    """Why ``PamService.start`` failed when the configuration is the cause (retrying
    cannot help), as a sentence with what to do; None for anything else."""
    parts = urlsplit(url)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    user = unquote(parts.username) if parts.username else "guest"
    if isinstance(e, ProbableAuthenticationError | InvalidFrameError):
        # refused credentials; the broker closing the connection as it opens the vhost
        why, config = connect_problem(e, url)
        return f"{why}; the URL comes from --amqp-url or PAM_AMQP_URL" if config else None
    if isinstance(e, AuthenticationError):  # e.g. ?auth=external the broker does not offer
        return (f"RabbitMQ at {redact(url)} offers none of the authentication mechanisms "
                f"asked for ({e}): check the URL's auth= parameter")
    if isinstance(e, ChannelAccessRefused):
        return (f"RabbitMQ refused user {user!r} on vhost {vhost!r}: {e}; grant it PAM's "
                f"permissions: rabbitmqctl set_permissions -p {vhost} {user} "
                f"'^pam\\..*' '^(pam\\..*|amq\\.default)$' '^pam\\..*' "
                f"(as in infra/rabbitmq/definitions.json)")
    if isinstance(e, ChannelPreconditionFailed):
        return (f"RabbitMQ refused PAM's declarations on vhost {vhost!r}: {e}; a queue or "
                f"exchange exists there with other arguments than pam_protocol/topology.py "
                f"declares: delete it (rabbitmqctl delete_queue -p {vhost} NAME) or fix the "
                f"broker's definitions")
    return None


async def run(args: argparse.Namespace) -> int:
    if (why := amqp_url_problem(args.amqp_url)) is not None:
        return fail(f"--amqp-url {why} (--amqp-url or PAM_AMQP_URL)")
    args.amqp_url = with_default_heartbeat(args.amqp_url)
    zones, why = parse_zones(args.zones)
    if why is not None:
        return fail(why)
    prefer = [z.strip() for z in args.prefer.split(",") if z.strip()]
    if not set(prefer) <= set(zones):
        return fail(f"--prefer {args.prefer} names zones outside --zones {args.zones}")
    try:
        policy = Policy.load(args.roles)
    except (OSError, ValueError) as e:
        return fail(f"cannot read roles file: {e}")
    probe, why = redis_client(args.redis_url)
    if why is not None or probe is None:
        return fail(why or "no Redis client")
    if (why := await check_redis(args.redis_url, probe)) is not None:
        return fail(why)
    svc = PamService(Settings(zones=zones, amqp_url=args.amqp_url, redis_url=args.redis_url,
                              key_prefix=args.key_prefix, policy=policy,
                              callback_due_utc=args.callback_due_utc, instance=args.instance,
                              prefer=prefer, prefer_delay_s=args.prefer_delay,
                              resync_timeout_s=args.resync_timeout,
                              redis_wait_replicas=args.redis_wait_replicas,
                              redis_wait_timeout_ms=args.redis_wait_timeout_ms))
    readiness = health.Readiness(svc.not_ready)
    if args.metrics_port:
        try:
            health.serve(args.metrics_addr, args.metrics_port, readiness)
        except OSError as e:
            await svc.redis.aclose()
            return fail(f"cannot serve metrics on {args.metrics_addr}:{args.metrics_port}: "
                        f"{e}; choose another --metrics-port or --metrics-addr")
        REGISTRY.register(AgentsByState(svc.workers))
        readiness.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    delay = 0.5
    while True:  # the broker may be down at start: keep trying, say so
        try:
            await svc.start()
            break
        except (ProbableAuthenticationError, AuthenticationError, InvalidFrameError,
                ChannelAccessRefused, ChannelPreconditionFailed) as e:
            why = start_problem(e, args.amqp_url)
            if why is None:  # not the configuration: a bug, with its traceback
                raise
            with contextlib.suppress(Exception):
                await svc.stop()
            return fail(why)
        except (OSError, ConnectionError) as e:
            log.error("cannot reach RabbitMQ; retrying", extra={
                "error": str(e), "retry_s": delay, "version": cli.version()})
            try:
                await asyncio.wait_for(stop.wait(), delay)
                await readiness.stop()
                return EXIT_OK
            except TimeoutError:
                delay = min(delay * 2, 10)
    await stop.wait()
    log.info("stopping (signal)")
    await readiness.stop()
    await svc.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    setup(args.log_level)
    return runloop.run(run(args), args.loop)


if __name__ == "__main__":
    raise SystemExit(main())
