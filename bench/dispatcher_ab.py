"""A/B of builds of dispatcher_rs on the workload of bench/dispatcher.py, in one process.

On a shared machine the throughput of bench/dispatcher.py moves by tens of percent from one
minute to the next, which hides a change of 10-30% between two builds run one after the other.
Here every build gets its own pool and allocator on the same world, and the builds take turns
tick by tick (the order rotating), so each tick's conditions fall on all of them alike. The
builds also share the caches, so the absolute figures are lower than bench/dispatcher.py's;
compare the builds with each other.

Usage: python bench/dispatcher_ab.py NAME=PATH/_native.abi3.so NAME=PATH/_native.abi3.so ...
       [--ticks N] [--seed S]
(for instance the build before a change, copied aside, against dispatcher_rs/_native.abi3.so).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dispatcher as bench


def load(name: str, path: str) -> ModuleType:
    """Loads the extension at `path` as the module `<name>._native`."""
    spec = importlib.util.spec_from_file_location(f"{name}._native", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="+", help="NAME=PATH of a built _native extension")
    parser.add_argument("--ticks", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    impls = {}
    for spec in args.builds:
        name, _, path = spec.partition("=")
        impls[name] = load(name, path)
    rng = random.Random(args.seed)
    world = bench.make_world(rng)
    ticks = bench.make_ticks(rng, world, args.ticks, codes=True)
    state: dict[str, tuple[Any, Any]] = {n: bench.setup(m, world) for n, m in impls.items()}
    totals = {n: [0.0, 0.0, 0.0] for n in impls}
    names = list(impls)
    perf = time.perf_counter
    gc.collect()
    gc.disable()
    for i, tick in enumerate(ticks):
        k = i % len(names)
        for n in names[k:] + names[:k]:
            pool, alloc = state[n]
            t0 = perf()
            pool.update_many(tick.updates)
            t1 = perf()
            pool.match_many(tick.matches)
            t2 = perf()
            alloc.upsert_agents(tick.allocs)
            alloc.plan()
            t3 = perf()
            acc = totals[n]
            acc[0] += t1 - t0
            acc[1] += t2 - t1
            acc[2] += t3 - t2
    gc.enable()
    ops = sum(len(t) for t in ticks)
    for n, (upd, match, alloc_s) in totals.items():
        print(
            f"{n:>10} ops/s {ops / (upd + match + alloc_s):>11,.0f}"
            f"   update_many {upd * 1e3:6.0f} ms   match_many {match * 1e3:6.0f} ms"
            f"   upsert_agents+plan {alloc_s * 1e3:6.0f} ms"
        )


if __name__ == "__main__":
    main()
