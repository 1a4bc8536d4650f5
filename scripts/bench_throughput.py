"""Throughput of the engine against what a user would otherwise write, measured in one run.

Workload: a real objective (a sum of damped cosines over an n-D point) whose cost per
evaluation is tuned by an inner repeat count, so one L-BFGS-B solve costs about the requested
milliseconds. Contenders solve the SAME starts:

- ``serial-loop``: a plain loop of scipy.optimize.minimize
- ``pool``: multiprocessing.Pool(workers).map over the starts
- ``engine-serial``: engine.minimize(client="serial")
- ``engine-dask``: engine.minimize on a LocalCluster with ``workers`` single-threaded workers

Reported per workload: wall seconds, starts per second, parallel efficiency
(serial-loop time / (workers x time)), and the engine's overhead per start relative to the
serial loop. Results go to ``bench-results/throughput.json`` and ``.csv``.

Usage: scripts/bench-throughput [--workers 2] [--starts 512] [--costs 1,10]
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import platform
import time
from functools import partial
from pathlib import Path

import numpy as np
from scipy.optimize import minimize as scipy_minimize

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def tunable(x: np.ndarray, repeat: int) -> float:
    """A smooth multimodal function whose cost grows linearly with ``repeat``."""
    total = 0.0
    for _ in range(repeat):
        total = float(np.sum(np.cos(3.0 * x) * np.exp(-0.05 * x * x)) + 0.01 * np.dot(x, x))
    return total


def solve(x0: np.ndarray, repeat: int, bounds: list[tuple[float, float]]) -> float:
    return float(scipy_minimize(tunable, x0, args=(repeat,), method="L-BFGS-B",
                                bounds=bounds).fun)


def calibrate(dim: int, target_ms: float, bounds: list[tuple[float, float]]) -> int:
    """The repeat count that makes one local solve take about ``target_ms``.

    Solve time is ``a + b * repeat`` (fixed solver cost plus objective cost); both are
    measured and the line is solved for the target.
    """
    rng = np.random.default_rng(0)
    starts = rng.uniform(-3, 3, size=(10, dim))

    def per_solve(repeat: int) -> float:
        t0 = time.perf_counter()
        for x0 in starts:
            solve(x0, repeat, bounds)
        return (time.perf_counter() - t0) / len(starts) * 1e3

    low, high = per_solve(1), per_solve(41)
    slope = max((high - low) / 40, 1e-6)
    return max(1, round(1 + (target_ms - low) / slope))


def run_workload(dim: int, cost_ms: float, n_starts: int, workers: int, client) -> list[dict]:
    import engine
    from engine.sampling import sample_starts

    bounds = [(-3.0, 3.0)] * dim
    repeat = calibrate(dim, cost_ms, bounds)
    lower, upper = np.array(bounds).T
    starts = sample_starts("sobol", n_starts, lower, upper, seed=1)
    rows = []

    def record(name: str, seconds: float, n_workers: int) -> None:
        rows.append({"dim": dim, "cost_ms": cost_ms, "n_starts": n_starts, "contender": name,
                     "workers": n_workers, "seconds": seconds,
                     "starts_per_s": n_starts / seconds})

    t0 = time.perf_counter()
    for x0 in starts:
        solve(x0, repeat, bounds)
    record("serial-loop", time.perf_counter() - t0, 1)

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        pool.map(partial(solve, repeat=repeat, bounds=bounds), starts[:workers])  # warm up
        t0 = time.perf_counter()
        pool.map(partial(solve, repeat=repeat, bounds=bounds), starts,
                 chunksize=max(1, n_starts // (4 * workers)))
        record("pool", time.perf_counter() - t0, workers)

    t0 = time.perf_counter()
    engine.minimize(tunable, bounds, args=(repeat,), sampler=starts, client="serial",
                    restarts=0)
    record("engine-serial", time.perf_counter() - t0, 1)

    engine.minimize(tunable, bounds, args=(repeat,), sampler=starts[:8], client=client)
    t0 = time.perf_counter()
    res = engine.minimize(tunable, bounds, args=(repeat,), sampler=starts, client=client,
                          restarts=0)
    record("engine-dask", time.perf_counter() - t0, workers)
    assert res.n_starts == n_starts

    serial = rows[0]["seconds"]
    for row in rows:
        row["efficiency"] = serial / (row["workers"] * row["seconds"])
        row["overhead_per_start_us"] = (row["seconds"] * row["workers"] - serial) / n_starts * 1e6
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--starts", type=int, default=512)
    parser.add_argument("--costs", default="1,10", help="ms per local solve, comma separated")
    parser.add_argument("--dims", default="2", help="dimensions, comma separated")
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    rows: list[dict] = []
    with LocalCluster(n_workers=args.workers, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        for dim in (int(d) for d in args.dims.split(",")):
            for cost in (float(c) for c in args.costs.split(",")):
                rows.extend(run_workload(dim, cost, args.starts, args.workers, client))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"host": platform.node(), "cpus": os.cpu_count(), "workers": args.workers}
    (out / "throughput.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    with open(out / "throughput.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{'dim':>3} {'ms':>5} {'contender':>14} {'w':>2} {'seconds':>8} {'starts/s':>9} "
          f"{'eff':>5} {'overhead us':>11}")
    for r in rows:
        print(f"{r['dim']:>3} {r['cost_ms']:>5g} {r['contender']:>14} {r['workers']:>2} "
              f"{r['seconds']:>8.3f} {r['starts_per_s']:>9.1f} {r['efficiency']:>5.2f} "
              f"{r['overhead_per_start_us']:>11.0f}")
    print(f"\nwrote {out / 'throughput.json'} and {out / 'throughput.csv'}")


if __name__ == "__main__":
    main()
