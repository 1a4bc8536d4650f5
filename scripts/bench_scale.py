"""Does the driver keep hundreds of worker slots busy?  Measured on one small machine.

An objective that sleeps costs no CPU and releases the GIL, so one 2-core machine can host a
local Dask cluster of many worker threads (``processes x threads`` slots) and the only CPU
work left is the engine's and Dask's own: what a cluster of hundreds of real workers asks of
the driver. Each local solve (L-BFGS-B with the gradient on a 2-D bowl) takes a few objective
calls; each call sleeps ``cost / calls`` so that a start lasts about ``cost`` (20 ms to 1 s;
the grid pairs slot counts with start costs).

Per configuration (slots, start cost) on a warm cluster (the engine's own
``engine.local_client``, scheduler in the driver's process):

- ``efficiency``: the ideal time (the sleep all calls asked for, over the slots) divided by
  the wall time of ``engine.minimize``;
- ``driver_cpu``: the driver process's CPU seconds per wall second, split into the engine's
  own thread (bookkeeping: runs, minima, stop rules) and the event loop that hosts the
  scheduler and the client;
- ``tasks_per_s`` and ``starts_per_s``: what the scheduler and the driver handled;
- ``workers_cpu``: the worker processes' CPU seconds per wall second (the solver's own work,
  event loops, results; the sleeps cost none): on 2 cores this, not the driver, caps how
  many starts a second the emulated slots can run;
- ``driver_bound_starts_per_s``: the start rate at which the driver would use one full core
  (starts per second over its CPU share), what it could sustain for a real cluster.

Results: ``bench-results/scale/scale.{json,csv}`` and ``scale-summary.txt`` (the curve and the
target, efficiency >= 0.90 at 256 slots, met or missed and what saturated).

Usage: scripts/bench-scale [--grid 64:20,256:20,64:200,256:200,256:200:60000,1024:200,1024:1000]
                           [--seconds 8] [--min-starts 20000] [--max-starts 50000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import threading
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

TARGET_SLOTS, TARGET_EFFICIENCY = 256, 0.90


def sleepy_bowl(x: np.ndarray, pause: float) -> tuple[float, np.ndarray]:
    """A 2-D bowl and its gradient, after sleeping ``pause`` seconds (no CPU, no GIL)."""
    time.sleep(pause)
    d = x - 0.3
    return float(d @ d), 2.0 * d


def calls_per_start(n: int = 200) -> float:
    """Mean objective calls of one local solve, measured here without sleeping."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    calls = [minimize(sleepy_bowl, x0, args=(0.0,), jac=True, method="L-BFGS-B",
                      bounds=[(-1, 1)] * 2).nfev for x0 in rng.uniform(-1, 1, (n, 2))]
    return float(np.mean(calls))


def layout(slots: int) -> tuple[int, int]:
    """Worker processes and threads per process for ``slots`` slots."""
    processes = max(4, slots // 64)
    return processes, slots // processes


class TaskCounter:
    """A scheduler plugin counting the engine's tasks that finished."""

    name = "multistart-bench-task-counter"

    def __init__(self) -> None:
        self.finished = 0

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if finish == "memory" and str(key).startswith("multistart-"):
            self.finished += 1


def _finished_tasks(client) -> int:
    return client.run_on_scheduler(
        lambda dask_scheduler: dask_scheduler.plugins[TaskCounter.name].finished)


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads: the engine's (main) and the rest."""
    import psutil

    main = threading.main_thread().native_id
    out = {"engine": 0.0, "event_loop": 0.0}
    for thread in psutil.Process().threads():
        out["engine" if thread.id == main else "event_loop"] += thread.user_time + \
            thread.system_time
    return out


def _children_cpu(children) -> float:
    total = 0.0
    for child in children:
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except Exception:  # a process that ended
            pass
    return total


def measure(slots: int, cost_ms: float, seconds: float, min_starts: int, max_starts: int,
            calls: float, log) -> dict:
    import psutil
    from distributed.diagnostics.plugin import SchedulerPlugin

    import engine

    processes, threads = layout(slots)
    pause = cost_ms / 1e3 / calls
    n = int(np.clip(round(seconds * slots / (cost_ms / 1e3)), min_starts, max_starts))
    starts = np.random.default_rng(1).uniform(-1, 1, (n, 2))
    bounds = [(-1.0, 1.0)] * 2
    kwargs = {"args": (pause,), "jac": True, "method": "L-BFGS-B", "local": {"restarts": 0}}

    class Counter(TaskCounter, SchedulerPlugin):
        pass

    with engine.local_client(processes, threads_per_worker=threads,
                             dashboard_address=None) as client:
        client.register_plugin(Counter())
        engine.minimize(sleepy_bowl, bounds, sampler=starts[: 2 * slots], client=client,
                        **kwargs)  # warm-up: workers import the engine and unpickle once
        children = psutil.Process().children(recursive=True)
        tasks0, threads0, workers0 = _finished_tasks(client), _thread_cpu(), \
            _children_cpu(children)
        began = time.perf_counter()
        res = engine.minimize(sleepy_bowl, bounds, sampler=starts, client=client, **kwargs)
        wall = time.perf_counter() - began
        tasks = _finished_tasks(client) - tasks0
        threads1, workers1 = _thread_cpu(), _children_cpu(children)
    assert res.n_starts == n and len(res.minima) == 1, res.message
    ideal = res.nfev * pause / slots
    engine_cpu = (threads1["engine"] - threads0["engine"]) / wall
    loop_cpu = (threads1["event_loop"] - threads0["event_loop"]) / wall
    row = {
        "slots": slots, "processes": processes, "threads": threads, "cost_ms": cost_ms,
        "n_starts": n, "nfev": res.nfev, "pause_ms": pause * 1e3, "wall_s": wall,
        "ideal_s": ideal, "efficiency": ideal / wall, "starts_per_s": n / wall,
        "ideal_starts_per_s": n / ideal, "tasks": tasks, "tasks_per_s": tasks / wall,
        "starts_per_task": n / max(tasks, 1), "driver_cpu": engine_cpu + loop_cpu,
        "driver_engine_cpu": engine_cpu, "driver_loop_cpu": loop_cpu,
        "workers_cpu": (workers1 - workers0) / wall,
        "engine_us_per_start": (threads1["engine"] - threads0["engine"]) / n * 1e6,
        # The start rate at which the driver (engine + scheduler + client) would use one
        # full core, at this run's starts per task: what a real cluster could ask of it.
        "driver_bound_starts_per_s": n / wall / max(engine_cpu + loop_cpu, 1e-9),
        # How long a start took where it ran, against the sleep it asked for: the worker
        # threads' own contention (the GIL of a process of many threads) shows here.
        "start_ms_on_worker": float(np.mean([r.time for r in res.runs])) * 1e3,
        "start_ms_asked": res.nfev / n * pause * 1e3,
    }
    log(f"{slots:>5} slots ({processes} x {threads}) {cost_ms:>4g} ms starts, {n} starts: "
        f"{wall:.2f} s vs ideal {ideal:.2f} s, efficiency {row['efficiency']:.3f}, "
        f"driver cpu {row['driver_cpu']:.2f} (engine {engine_cpu:.2f}, loop {loop_cpu:.2f}), "
        f"{row['tasks_per_s']:.0f} tasks/s, a start {row['start_ms_on_worker']:.0f} ms on its "
        f"worker for {row['start_ms_asked']:.0f} ms asked")
    return row


def saturation(row: dict) -> str:
    """What limited a configuration that missed, from its measurements."""
    if row["efficiency"] >= TARGET_EFFICIENCY:
        return "-"
    slower = row["start_ms_on_worker"] / row["start_ms_asked"]
    if slower > 1.2:
        return (f"this machine's cores: a start took {slower:.1f}x its sleep on its worker (the "
                "solver's CPU and the GIL of many threads per process at this start rate); "
                "on a cluster each worker has its own core")
    if row["driver_engine_cpu"] > 0.8:
        return "driver bookkeeping (the engine's thread near a full core)"
    if row["driver_loop_cpu"] > 0.8:
        return "scheduler/client event loop near a full core"
    if row["driver_cpu"] + row["workers_cpu"] > 0.85 * len(os.sched_getaffinity(0)):
        return ("this machine's cores: the workers' CPU (solver, task handling, the GIL of "
                "many threads) at this start rate; on a cluster each worker has its own core")
    chunks_per_slot = row["tasks"] / row["slots"]
    if chunks_per_slot < 8:
        return (f"the end of the run: {chunks_per_slot:.1f} tasks per slot, and the last ones "
                "end up to one task's time apart")
    if row["ideal_s"] < 3.0:
        return "start-up and tail: the ideal run is too short for the fixed cost"
    return "latency: tasks wait for the driver between results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="64:20,256:20,64:200,256:200,256:200:60000,1024:200,"
                        "1024:1000",
                        help="slots:ms-per-start pairs, or slots:ms:starts")
    parser.add_argument("--seconds", type=float, default=8.0,
                        help="ideal seconds per configuration (sets the number of starts)")
    parser.add_argument("--min-starts", type=int, default=20000)
    parser.add_argument("--max-starts", type=int, default=50000)
    parser.add_argument("--out", default="bench-results/scale")
    parser.add_argument("--resummarize", action="store_true",
                        help="rewrite the summary from the saved scale.json, measuring nothing")
    args = parser.parse_args()
    if args.resummarize:
        saved = json.loads((Path(args.out) / "scale.json").read_text())
        write_results(Path(args.out), saved["meta"], saved["rows"])
        return

    calls = calls_per_start()
    print(f"{calls:.2f} objective calls per start", flush=True)
    rows = []
    for item in args.grid.split(","):
        slots, cost, *n = item.split(":")  # slots:ms, or slots:ms:starts
        low, high = (int(n[0]), int(n[0])) if n else (args.min_starts, args.max_starts)
        rows.append(measure(int(slots), float(cost), args.seconds, low, high, calls,
                            lambda line: print(line, flush=True)))
    out = Path(args.out)
    meta = {"host": platform.node(), "cores": len(os.sched_getaffinity(0)),
            "python": platform.python_version(), "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "calls_per_start": calls, "command": "scripts/bench-scale " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                if k not in ("out", "resummarize"))}
    write_results(out, meta, rows)


def write_results(out: Path, meta: dict, rows: list[dict]) -> None:
    """``scale.json``, ``scale.csv`` and ``scale-summary.txt`` from the measured rows."""
    for row in rows:
        row["saturated_by"] = saturation(row)
    out.mkdir(parents=True, exist_ok=True)
    verdicts = []
    for row in rows:
        if row["slots"] == TARGET_SLOTS:
            ok = row["efficiency"] >= TARGET_EFFICIENCY
            verdicts.append(
                f"{TARGET_SLOTS} slots, {row['cost_ms']:g} ms starts, {row['n_starts']} starts: "
                f"efficiency {row['efficiency']:.3f} (target >= {TARGET_EFFICIENCY}) "
                + ("ok" if ok else f"MISSED by {TARGET_EFFICIENCY - row['efficiency']:.3f}: "
                   f"{row['saturated_by']}"))
    (out / "scale.json").write_text(json.dumps({"meta": meta, "rows": rows,
                                                "targets": verdicts}, indent=1))
    with open(out / "scale.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    head = (f"{'slots':>5} {'ms':>4} {'starts':>7} {'wall s':>7} {'ideal s':>7} {'eff':>6} "
            f"{'starts/s':>8} {'tasks/s':>7} {'st/task':>7} {'drv cpu':>7} {'engine':>6} "
            f"{'loop':>5} {'wrk cpu':>7} {'start ms':>8} {'us/start':>8} {'drv max/s':>9}  "
            "saturated by")
    lines = [head] + [
        f"{r['slots']:>5} {r['cost_ms']:>4g} {r['n_starts']:>7} {r['wall_s']:>7.2f} "
        f"{r['ideal_s']:>7.2f} {r['efficiency']:>6.3f} {r['starts_per_s']:>8.0f} "
        f"{r['tasks_per_s']:>7.1f} {r['starts_per_task']:>7.1f} {r['driver_cpu']:>7.2f} "
        f"{r['driver_engine_cpu']:>6.2f} {r['driver_loop_cpu']:>5.2f} {r['workers_cpu']:>7.2f} "
        f"{r['start_ms_on_worker']:>8.0f} {r['engine_us_per_start']:>8.1f} "
        f"{r['driver_bound_starts_per_s']:>9.0f}  {r['saturated_by']}" for r in rows]
    summary = [f"{meta['when']}  {meta['cores']} cores  ({meta['command']})",
               f"objective: a 2-D bowl that sleeps; {meta['calls_per_start']:.2f} calls per "
               "start; 'start ms': how long a start took on its worker", "",
               *lines, "", "target:", *verdicts]
    (out / "scale-summary.txt").write_text("\n".join(summary) + "\n")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
