"""The load test's reports: a live rich display, the JSON summary and a PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

STATES = ["Ready", "Busy", "WorkNotReady", "NotReady", "PendingNotReady", "PendingLogout",
          "Logout", "Unknown"]


def live_table(lt: Any) -> Table:
    s = lt.stats
    last: dict[str, Any] = s.series[-1] if s.series else {
        "commands": 0, "calls": 0, "agents": {}, "p99_ms": None}
    t = Table(title=f"pam-loadtest: {lt.sc.agents} agents, zones {','.join(lt.sc.zones)}",
              show_header=False)
    t.add_row("elapsed", f"{last.get('t', 0)} / {lt.sc.duration_s:.0f} s")
    t.add_row("commands/s", f"{last['commands']}  (total {s.sent})")
    t.add_row("p99 latency", f"{last['p99_ms']:.1f} ms" if last["p99_ms"] else "-")
    t.add_row("calls connected", f"{s.calls_connected}  (no agent: {s.calls_abandoned})")
    t.add_row("agents", "  ".join(f"{k} {v}" for k, v in sorted(last["agents"].items())))
    t.add_row("errors", str(sum(s.errors.values())))
    t.add_row("violations", str(len(lt.checker.violations)))
    return t


def chart(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = summary["series"]
    t = [p["t"] for p in series]
    fig, ax = plt.subplots(3, 1, figsize=(10, 10), sharex=True)
    ax[0].plot(t, [p["commands"] for p in series], label="commands/s")
    ax[0].plot(t, [p["calls"] for p in series], label="calls connected/s")
    ax[0].set_ylabel("per second")
    ax[0].legend(loc="upper right")
    ax[0].set_title(f"pam-loadtest: {summary['agents']} agents, zones "
                    f"{','.join(summary['zones'])}; {summary['commands_per_s']} commands/s, "
                    f"{summary['errors']} errors, {summary['violations']} violations")
    ax[1].plot(t, [p["p50_ms"] for p in series], label="p50")
    ax[1].plot(t, [p["p99_ms"] for p in series], label="p99")
    ax[1].set_ylabel("latency (ms)")
    ax[1].legend(loc="upper right")
    present = [s for s in STATES if any(p["agents"].get(s) for p in series)]
    if present:  # a run too short for one sample has no agents to stack
        ax[2].stackplot(t, *[[p["agents"].get(s, 0) for p in series] for s in present],
                        labels=present)
        ax[2].legend(loc="upper right", fontsize="small")
    ax[2].set_ylabel("agents")
    ax[2].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
