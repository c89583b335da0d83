"""`make demo`: PAM's main job, run as a newcomer would.

Starts two PAM instances (for each zone one is active and one a hot standby), the
blender and the Supervisor Dashboard (http://127.0.0.1:8080/, admin/admin), then a
60-second simulation of 300 agents in two zones through the load-testing harness;
takes screenshots of the dashboard under load (when Chromium is installed); prints the
summary and where the chart is; stops everything it started (``--keep``: the dashboard
and PAM stay up until Ctrl-C, to look around). RabbitMQ and Redis must answer (the
Makefile runs infra/ensure-services.sh first). Each run uses its own RabbitMQ vhost
and Redis key prefix, removed after.

    python -m pam_loadtest.demo [--agents 300] [--duration 60] [--out out/]
                               [--dashboard-port 8080] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

AMQP_HOST = os.environ.get("PAM_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("PAM_AMQP_PORT", "5672"))
REDIS_URL = os.environ.get("PAM_REDIS_URL", "redis://127.0.0.1:6379/0")


def say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def make_vhost() -> str:
    """A private vhost, when rabbitmqctl can make one; the default vhost otherwise."""
    name = f"pam-demo-{uuid.uuid4().hex[:8]}"
    if shutil.which("rabbitmqctl"):
        try:
            for args in (["add_vhost", name],
                         ["set_permissions", "-p", name, "guest", ".*", ".*", ".*"]):
                subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True,
                               timeout=60)
            return name
        except (subprocess.SubprocessError, OSError) as e:
            say(f"could not create a private vhost ({e}); using the default vhost '/'")
    return ""


def drop_vhost(name: str) -> None:
    if name:
        with contextlib.suppress(Exception):
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True,
                           timeout=60)


class Procs:
    """The processes the demo starts; all are stopped, whatever happens."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        p = subprocess.Popen([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((name, p))
        return p

    def check(self) -> None:
        for name, p in self.procs:
            if p.poll() is not None:
                raise SystemExit(f"[demo] {name} exited with {p.returncode}; "
                                 f"see {self.logdir / (name + '.log')}")

    def stop(self) -> None:
        for _, p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _, p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            if p.poll() is None:
                p.kill()
                p.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if time.monotonic() > deadline:
            raise SystemExit(f"[demo] nothing answers on {host}:{port} after {timeout:g} s")
        time.sleep(0.2)


def screenshots(lt: subprocess.Popen[bytes], url: str, out: Path, duration: float) -> None:
    """Screenshots of the dashboard at about 60% of the run, under full load."""
    chromium = os.environ.get("PAM_CHROMIUM", "/usr/bin/chromium")
    if not shutil.which(chromium):
        say("no Chromium (make browser installs it): no screenshots of the dashboard")
        return
    deadline = time.monotonic() + duration * 0.6
    while time.monotonic() < deadline and lt.poll() is None:
        time.sleep(0.5)
    if lt.poll() is not None:
        return
    shot = subprocess.run([sys.executable, "-m", "supervisor_api.web.screenshot", "--url", url,
                           "--out", str(out)], capture_output=True, text=True, check=False)
    if shot.returncode == 0:
        say("dashboard screenshots under load: " + ", ".join(shot.stdout.split()))
    else:
        say(f"could not take screenshots of the dashboard: {shot.stderr.strip()[-300:]}")


def wait_served(amqp_url: str, zones: list[str], timeout: float = 60) -> None:
    """Until every zone answers a GetZoneStatus (an instance consumes it)."""
    import asyncio

    from pam_protocol import messages as m
    from pam_protocol.client import PamClient

    async def probe() -> None:
        async with await PamClient.connect(amqp_url) as c:
            for z in zones:
                deadline = time.monotonic() + timeout
                while True:
                    try:
                        r = await c.send(z, m.GetZoneStatus(zone=z), timeout=3)
                        if isinstance(r, m.Accepted):
                            break
                    except Exception:
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.2)
    asyncio.run(probe())


def redis_bytes(prefix: str) -> tuple[int, int]:
    """(state, all): memory of the agents' records and counters (MEMORY USAGE, summed),
    and of every key of the run, the dedup records and the outbox included."""
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    state = total = 0
    for k in r.scan_iter(match=f"{prefix}:*", count=1000):
        n = int(r.memory_usage(k, samples=0) or 0)
        total += n
        if k.decode().rsplit(":", 1)[-1] in ("agents", "ver", "seq", "calls", "jobs"):
            state += n
    return state, total


def clean_redis(prefix: str) -> None:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    for k in r.scan_iter(match=f"{prefix}:*", count=1000):
        r.delete(k)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pam-demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=300)
    ap.add_argument("--zones", default="z1,z2")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--out", default="out")
    ap.add_argument("--dashboard-port", type=int, default=8080,
                    help="the dashboard's port (a free one if this is taken)")
    ap.add_argument("--keep", action="store_true",
                    help="after the simulation keep PAM and the dashboard up until Ctrl-C")
    args = ap.parse_args(argv)
    zones = args.zones.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    for what, host, port in (("RabbitMQ", AMQP_HOST, AMQP_PORT), ("Redis", "127.0.0.1", 6379)):
        if not port_open(host, port):
            say(f"{what} does not answer on {host}:{port}. Run `make demo` (it starts local "
                f"servers that are installed) or see the README's prerequisites.")
            return 1
    vhost = make_vhost()
    amqp_url = f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{vhost}"
    prefix = f"pam-demo-{uuid.uuid4().hex[:8]}"
    procs = Procs(out)
    common = ["--amqp-url", amqp_url, "--redis-url", REDIS_URL, "--key-prefix", prefix]
    code = 1
    try:
        say(f"vhost {vhost or '/'}, Redis key prefix {prefix}, logs in {out}/")
        say("starting PAM instance pam-a (it becomes the active one for every zone)")
        procs.start("pam-a", ["-m", "pam_service", "--zones", ",".join(zones),
                              "--instance", "pam-a", "--metrics-port", "9464", *common])
        wait_served(amqp_url, zones)
        say("starting PAM instance pam-b (hot standby for every zone)")
        procs.start("pam-b", ["-m", "pam_service", "--zones", ",".join(reversed(zones)),
                              "--instance", "pam-b", *common])
        say("starting the blender")
        procs.start("blender", ["-m", "blender", "--zones", ",".join(zones),
                                "--amqp-url", amqp_url])
        port = args.dashboard_port if not port_open("127.0.0.1", args.dashboard_port) \
            else free_port()
        dash_url = f"http://127.0.0.1:{port}/"
        reports_db = out / "reports.sqlite3"
        reports_db.unlink(missing_ok=True)  # a new run numbers its events from 1 again
        say(f"starting the Supervisor Dashboard on {dash_url} (log in as admin/admin)")
        procs.start("dashboard", ["-m", "supervisor_api", "serve", "--zones", ",".join(zones),
                                  "--port", str(port), "--amqp-url", amqp_url,
                                  "--reports-db", f"sqlite:///{reports_db}"])
        wait_port("127.0.0.1", port, 60)
        procs.check()
        say(f"simulating {args.agents} agents in zones {','.join(zones)} for "
            f"{args.duration:.0f} s (metrics of pam-a on http://127.0.0.1:9464/metrics; "
            f"watch it live on {dash_url})")
        lt = subprocess.Popen(
            [sys.executable, "-m", "pam_loadtest", "--agents", str(args.agents),
             "--zones", ",".join(zones), "--duration", str(args.duration),
             "--amqp-url", amqp_url, "--json", str(out / "demo.json"),
             "--chart", str(out / "demo.png")])
        screenshots(lt, dash_url, out, args.duration)
        code = lt.wait()
        procs.check()
        summary: dict[str, Any] = json.loads((out / "demo.json").read_text())
        say(f"{summary['commands']} commands ({summary['commands_per_s']}/s), "
            f"{summary['calls_connected']} calls connected, "
            f"{summary['errors']} errors, {summary['violations']} violations")
        state, total = redis_bytes(prefix)
        per = max(1, args.agents)
        say(f"Redis: {state / per:.0f} bytes of state per agent; {total / 1e6:.1f} MB for all "
            f"of this run's keys ({total / per:.0f} bytes per agent, counting the dedup "
            f"records, which expire after 10 minutes)")
        summary["redis_state_bytes_per_agent"] = round(state / per)
        summary["redis_total_bytes_per_agent"] = round(total / per)
        (out / "demo.json").write_text(json.dumps(summary, indent=2))
        say(f"summary: {out / 'demo.json'}   chart: {out / 'demo.png'}")
        if args.keep:
            say(f"PAM and the dashboard ({dash_url}) stay up; Ctrl-C stops everything")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        say("interrupted")
        code = 130
    finally:
        say("stopping everything the demo started")
        procs.stop()
        drop_vhost(vhost)
        with contextlib.suppress(Exception):
            clean_redis(prefix)
    say("done" if code == 0 else f"finished with exit status {code}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
