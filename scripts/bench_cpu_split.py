"""Where the CPU of a parallel run goes: each process's CPU seconds, engine against Pool.

One part of ``scripts/bench-throughput`` (``--only split``). The same starts are solved by
``multiprocessing.Pool(2)`` and by the engine on a warm ``engine.local_client(2)``; for each,
the CPU seconds of the driver, of the scheduler's process and of the workers' processes are
read from the operating system (psutil) before and after the run, and the tasks the workers
executed from Dask. On a machine with as many cores as workers every CPU second the driver
or the scheduler spends is taken from a worker, so the split says where the engine's extra
wall time comes from: the workers' own extra CPU per start (the engine's work per solve and
Dask's per task), and the driver's and the scheduler's per task.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

#: The contenders of the split, each with its worker count.
SPLIT_CONTENDERS = (("pool", 2), ("engine-dask-2", 2))


def process_cpu(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each group of processes.

    Examples
    --------
    >>> process_cpu({"me": [os.getpid()]})["me"] > 0
    True
    """
    import psutil

    totals: dict[str, float] = {}
    for group, members in pids.items():
        total = 0.0
        for pid in members:
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:  # gone: nothing more to count
                continue
            total += times.user + times.system
        totals[group] = total
    return totals


def _pool_groups(pool: Any) -> dict[str, list[int]]:
    # Pool keeps its worker processes in _pool (there is no public accessor).
    return {"driver": [os.getpid()], "scheduler": [],
            "workers": [process.pid for process in pool._pool]}


def _dask_groups(client: Any) -> dict[str, list[int]]:
    import psutil

    workers = list(client.run(os.getpid).values())
    others = [child.pid for child in psutil.Process().children(recursive=True)
              if child.pid not in workers]
    return {"driver": [os.getpid()], "scheduler": others, "workers": workers}


def _executed(client: Any) -> int:
    return int(sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values()))


def measure_split(name: str, dim: int, repeat: int, n: int) -> dict:
    """One run of contender ``name``: wall seconds, CPU seconds per group, tasks."""
    import multiprocessing
    from functools import partial

    from bench_throughput import HIGH, LOW, make_starts, solve, tunable

    starts = make_starts(n, dim)
    if name == "pool":
        task = partial(solve, repeat=repeat)
        chunk = max(1, n // 8)
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            pool.map(task, starts[:2])
            groups = _pool_groups(pool)
            before, began = process_cpu(groups), time.perf_counter()
            list(pool.imap(task, starts, chunksize=chunk))
            wall = time.perf_counter() - began
            after = process_cpu(groups)
        tasks = -(-n // chunk)  # imap's chunks
    elif name == "engine-dask-2":
        import engine

        kwargs = {"args": (repeat,), "jac": True, "method": "L-BFGS-B",
                  "local": {"restarts": 0}}
        bounds = [(LOW, HIGH)] * dim
        with engine.local_client(2, dashboard_address=None) as client:
            engine.minimize(tunable, bounds, sampler=starts[:8], client=client, **kwargs)
            groups = _dask_groups(client)
            done = _executed(client)
            before, began = process_cpu(groups), time.perf_counter()
            res = engine.minimize(tunable, bounds, sampler=starts, client=client, **kwargs)
            wall = time.perf_counter() - began
            after = process_cpu(groups)
            tasks = _executed(client) - done
            assert res.n_starts == n, res.message
    else:
        raise ValueError(f"unknown contender {name!r}")
    return {"wall_s": wall, "tasks": tasks,
            **{f"{group}_cpu_s": after[group] - before[group] for group in groups}}


def split_rows(samples: dict[str, list[dict]], n: int) -> list[dict]:
    """The median of each figure over the rounds, per contender, and the per-start and
    per-task costs of the engine against Pool."""
    rows = []
    for name, _ in SPLIT_CONTENDERS:
        ok = [s for s in samples[name] if "wall_s" in s]
        if not ok:
            rows.append({"contender": name, "error": samples[name][-1].get("error", "?")})
            continue
        rows.append({"contender": name, "n_starts": n, "rounds_ok": len(ok),
                     **{key: statistics.median(s[key] for s in ok) for key in ok[0]}})
    pool, eng = rows
    if "error" not in pool and "error" not in eng:
        eng["worker_extra_us_per_start"] = (eng["workers_cpu_s"] - pool["workers_cpu_s"]) / n * 1e6
        eng["driver_ms_per_task"] = eng["driver_cpu_s"] / eng["tasks"] * 1e3
        eng["scheduler_ms_per_task"] = eng["scheduler_cpu_s"] / eng["tasks"] * 1e3
        eng["vs_pool"] = eng["wall_s"] / pool["wall_s"]
    return rows


def run_header(meta: dict) -> str:
    """The first summary line of a part: when, where, how many rounds, which command."""
    return (f"{meta['when']}  {meta['cores']} cores  median of {meta['rounds']} rounds  "
            f"({meta['command']})")


def split_lines(data: dict) -> list[str]:
    """The split as summary lines."""
    meta = data["meta"]
    lines = [run_header(meta),
             f"where the CPU goes: {meta['n_starts']} starts of {meta['cost_ms']:.2f} ms "
             f"({meta['dim']}-D), CPU seconds of each group of processes during the run",
             f"{'contender':>14} {'wall s':>7} {'tasks':>6} {'driver':>7} {'sched':>7} "
             f"{'workers':>8}"]
    for r in data["rows"]:
        if "error" in r:
            lines.append(f"{r['contender']:>14} failed: {r['error']}")
            continue
        lines.append(f"{r['contender']:>14} {r['wall_s']:>7.2f} {r['tasks']:>6.0f} "
                     f"{r['driver_cpu_s']:>7.2f} {r['scheduler_cpu_s']:>7.2f} "
                     f"{r['workers_cpu_s']:>8.2f}")
    eng = data["rows"][-1]
    if "vs_pool" in eng:
        lines.append(f"engine / Pool wall {eng['vs_pool']:.3f}; the engine's workers "
                     f"{eng['worker_extra_us_per_start']:+.0f} us of CPU per start against "
                     f"Pool's; per task {eng['driver_ms_per_task']:.1f} ms in the driver and "
                     f"{eng['scheduler_ms_per_task']:.1f} ms in the scheduler")
    return lines
