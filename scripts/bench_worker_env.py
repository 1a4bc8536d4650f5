"""The same solves in a Pool process and in a Dask worker: what being a Dask worker costs.

One part of ``scripts/bench-throughput`` (``--only env``). The CPU split (``--only split``)
finds the engine's workers spending more CPU per start than Pool's; this part says how much
of it is the engine's own work per start and how much is the worker process it runs in.
Each measurement is the CPU time of the one thread that runs the solves
(``time.thread_time`` inside the task), so neither the driver, the scheduler nor the worker's
event loop counts in it, only what slows that thread down.

Places: a process of ``multiprocessing.Pool(1)`` (spawned, as Pool users on Linux get with
the spawn context); the worker of ``engine.local_client(1)``; the same worker with its periodic
chores (heartbeat, system and memory monitors, event-loop ticks, ...) paused while it runs.
Workloads: a plain loop of ``scipy.optimize.minimize`` (what a Pool user writes) and the
engine's :func:`~engine.local.solve.solve_chunk` on the same starts (what its tasks run).
Places and workloads take turns, round after round, so a slow minute hits all of them.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
from bench_cpu_split import run_header

#: (place, workload) pairs measured each round, in this order (reversed every other round).
ENV_CASES = (("pool", "loop"), ("pool", "engine"), ("dask", "loop"), ("dask", "engine"),
             ("dask-quiet", "loop"), ("dask-quiet", "engine"))


def timed_solves(workload: str, starts: np.ndarray, repeat: int) -> float:
    """CPU seconds of this thread solving ``starts``: a loop of ``minimize`` or the engine's
    chunk of solves (the problem and options ``engine.minimize`` sends its tasks)."""
    from bench_throughput import HIGH, LOW, solve, tunable

    if workload == "loop":
        began = time.thread_time()
        for x0 in starts:
            solve(x0, repeat)
        return time.thread_time() - began
    from engine.local.solve import solve_chunk
    from engine.options import LocalOptions
    from engine.problem import Problem

    problem = Problem.create(tunable, [(LOW, HIGH)] * starts.shape[1], args=(repeat,),
                             jac=True)
    opts = LocalOptions(method="L-BFGS-B", restarts=0)
    chunk = list(enumerate(starts))
    began = time.thread_time()
    solve_chunk(problem, chunk, opts)
    return time.thread_time() - began


def pause_chores(dask_worker: Any) -> list[str]:
    """Stop a worker's periodic callbacks; their names."""
    for callback in dask_worker.periodic_callbacks.values():
        callback.stop()
    return sorted(dask_worker.periodic_callbacks)


def resume_chores(dask_worker: Any) -> None:
    for callback in dask_worker.periodic_callbacks.values():
        callback.start()


def measure_worker_env(repeat: int, n: int, rounds: int) -> dict:
    """Median thread CPU seconds of each (place, workload) over ``rounds`` alternations."""
    import multiprocessing

    from bench_throughput import make_starts

    import engine

    starts = make_starts(n, 2)
    samples: dict[str, list[float]] = {f"{p}/{w}": [] for p, w in ENV_CASES}
    chores: list[str] = []
    # The scheduler in this process: it unpickles the tasks, which name functions of these
    # scripts, and only this process has their folder on its path (the workers inherit it).
    with engine.local_client(1, dashboard_address=None, scheduler="driver") as client, \
            multiprocessing.get_context("spawn").Pool(1) as pool:
        for workload in ("loop", "engine"):  # imports, caches
            pool.apply(timed_solves, (workload, starts[:16], repeat))
            client.submit(timed_solves, workload, starts[:16], repeat, pure=False).result()
        for round_no in range(rounds):
            for place, workload in (ENV_CASES if round_no % 2 == 0 else ENV_CASES[::-1]):
                if place == "pool":
                    seconds = pool.apply(timed_solves, (workload, starts, repeat))
                else:
                    if place == "dask-quiet":
                        chores = next(iter(client.run(pause_chores).values()))
                    try:
                        seconds = client.submit(timed_solves, workload, starts, repeat,
                                                pure=False).result()
                    finally:
                        if place == "dask-quiet":
                            client.run(resume_chores)
                samples[f"{place}/{workload}"].append(seconds)
    base = statistics.median(samples["pool/loop"])
    rows = [{"place": key.split("/")[0], "workload": key.split("/")[1],
             "cpu_s": statistics.median(values), "us_per_start": statistics.median(values) / n
             * 1e6, "vs_pool_loop": statistics.median(values) / base,
             "spread": max(values) / min(values)}
            for key, values in samples.items()]
    return {"rows": rows, "chores": chores}


def env_lines(data: dict) -> list[str]:
    """The part as summary lines."""
    meta = data["meta"]
    lines = [run_header(meta),
             f"what a Dask worker costs: {meta['n_starts']} starts of {meta['cost_ms']:.2f} ms "
             f"(2-D), CPU seconds of the thread that solves them",
             f"{'place':>11} {'workload':>8} {'cpu s':>7} {'us/start':>9} {'/pool loop':>10} "
             f"{'spread':>6}"]
    for r in data["rows"]:
        lines.append(f"{r['place']:>11} {r['workload']:>8} {r['cpu_s']:>7.3f} "
                     f"{r['us_per_start']:>9.0f} {r['vs_pool_loop']:>10.3f} {r['spread']:>6.2f}")
    lines.append("dask-quiet: the worker's periodic callbacks paused while it solves ("
                 + ", ".join(data.get("chores", [])) + ")")
    return lines
