"""Throughput of the engine against what a user would otherwise write, measured in one run.

Workload: a real objective (damped cosines over an n-D point, with its gradient) whose cost
per evaluation is tuned by an inner repeat count, so one bounded L-BFGS-B solve costs about the
requested milliseconds. ``scipy.optimize.minimize`` itself has a floor (about 0.4 ms in 2-D and
1 ms in 20-D here): a request below it runs at the floor, and the table shows the measured
cost. Every contender solves the SAME starts:

``serial-loop`` a loop of scipy.optimize.minimize; ``pool`` multiprocessing.Pool.imap;
``futures`` concurrent.futures.ProcessPoolExecutor.map; ``joblib`` joblib.Parallel;
``engine-serial`` engine.minimize(client="serial"); ``engine-dask-N`` engine.minimize on
``engine.local_client(N)``, N = 1, 2 (and 4, 8, 16 where the cores exist); ``engine-lc-N``
engine.minimize on a ``distributed.LocalCluster`` made with Dask's default settings (what a
Dask user who builds their own cluster gets), N = the largest count up to 2;
``engine-futures-N`` (cost model) engine.minimize on a ``ProcessPoolExecutor(N)``.

Method: each measurement runs in a fresh Python process that holds nothing but that contender
(no idle cluster or pool of another contender shares the machine, and the serial loop does not
run beside a Dask scheduler), after a warm-up on a few starts. Contenders take turns, round
after round (``--rounds``, default 3), so a slow minute on a shared machine hits all of them;
each figure is the median over the rounds, with the spread (max/min) reported.

Reported per workload and contender: seconds, starts per second, parallel efficiency
(serial-loop seconds / (workers x seconds)), the overhead per start ((workers x seconds -
serial seconds) / starts), time to the first result, the driver process's CPU share and memory,
and the time ratio to ``pool``. A second part times the distinct-minimum merge of 1,000,000
converged 20-D points. Results: ``bench-results/throughput.{json,csv,png}`` and
``throughput-summary.txt`` (the table and every target, met or missed by how much).

A second part fits a cost model, ``wall = fixed + work / (efficiency x workers)``, over runs
of about 3, 30 and 120 s of serial work, for Pool, ProcessPoolExecutor, joblib, the engine on
a warm 2-worker client and the engine with ``client=None`` (a cluster started per run): the
fixed cost per run (start-up and tail) and the marginal efficiency (throughput) separately.
Results: ``bench-results/throughput-model.json`` and the same summary. A fit's intercept on
a shared machine carries the noise of its long runs (seconds), so a third part measures the
fixed cost directly: the median wall time of a run of 4 starts of about 0.4 ms, for Pool, the
engine in the driver's process, on a warm 2-worker client and with ``client=None``
(``bench-results/throughput-fixed.json`` and the summary). A fourth part splits the CPU of
a run between the driver, the scheduler and the workers, for Pool and the engine
(:mod:`bench_cpu_split`, ``bench-results/throughput-split.json`` and the summary). A fifth
times the same solves in a Pool process and in a Dask worker, by the CPU of the thread that
runs them, as a plain ``minimize`` loop and as the engine's chunk of solves
(:mod:`bench_worker_env`, ``bench-results/throughput-env.json`` and the summary).

Usage: scripts/bench-throughput [--costs 0.1,1,10,100] [--dims 2,20] [--seconds 2.5]
                                [--rounds 3] [--workers 1,2]
                                [--only table|model|fixed|split|env] [--env-seconds 3]
                                [--model-lengths 3,30,120] [--model-costs 1.5,10]
                                [--split-cost 1.5] [--split-seconds 12]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_cpu_split import SPLIT_CONTENDERS, measure_split, split_lines, split_rows
from bench_worker_env import env_lines, measure_worker_env

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

LOW, HIGH = -3.0, 3.0


def tunable(x: np.ndarray, repeat: int) -> tuple[float, np.ndarray]:
    """A smooth multimodal function and its gradient; the cost grows linearly with ``repeat``."""
    for _ in range(repeat):
        damp, wave = np.exp(-0.05 * x * x), np.cos(3.0 * x)
        value = float(np.sum(wave * damp) + 0.01 * np.dot(x, x))
        grad = (-3.0 * np.sin(3.0 * x) - 0.1 * x * wave) * damp + 0.02 * x
    return value, grad


def solve(x0: np.ndarray, repeat: int) -> float:
    """One local solve, as a user would write it."""
    from scipy.optimize import minimize

    return float(minimize(tunable, x0, args=(repeat,), jac=True, method="L-BFGS-B",
                          bounds=[(LOW, HIGH)] * len(x0)).fun)


def make_starts(n: int, dim: int):
    from engine.sampling import sample_starts

    return sample_starts("sobol", n, np.full(dim, LOW), np.full(dim, HIGH), seed=1)


def per_solve_ms(repeat: int, starts: np.ndarray) -> float:
    t0 = time.perf_counter()
    for x0 in starts:
        solve(x0, repeat)
    return (time.perf_counter() - t0) / len(starts) * 1e3


def calibrate(dim: int, target_ms: float) -> int:
    """Repeat count giving about ``target_ms`` per solve (cost = a + b * repeat)."""
    starts = np.random.default_rng(0).uniform(LOW, HIGH, size=(max(8, 80 // dim), dim))
    per_solve_ms(1, starts[:2])  # imports and caches
    # Best of three: a busy moment on a shared machine would otherwise set the cost line.
    low = min(per_solve_ms(1, starts) for _ in range(3))
    high = min(per_solve_ms(41, starts) for _ in range(3))
    slope = max((high - low) / 40, 1e-6)
    return max(1, round(1 + (target_ms - low) / slope))


# ------------------------------------------------------------------ one contender, in a child


def _timed(run) -> dict:
    """Run ``run() -> first_result_seconds`` with this process's CPU time and memory."""
    import psutil

    cpu0, t0 = time.process_time(), time.perf_counter()
    first = run()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "first_result_s": first,
            "driver_cpu": (time.process_time() - cpu0) / seconds,
            "driver_mb": psutil.Process().memory_info().rss / 2**20}


def _drain(iterator) -> float:
    """Consume ``iterator``; the seconds until its first item."""
    t0 = time.perf_counter()
    next(iterator)
    first = time.perf_counter() - t0
    for _ in iterator:
        pass
    return first


def _engine_measure(client, starts: np.ndarray, repeat: int, warm: bool = True) -> dict:
    import engine

    bounds = [(LOW, HIGH)] * starts.shape[1]
    kwargs = {"args": (repeat,), "jac": True, "method": "L-BFGS-B", "local": {"restarts": 0},
              "client": client}
    if warm:
        engine.minimize(tunable, bounds, sampler=starts[:8], **kwargs)  # imports, payload

    def run() -> float:
        first: list[float] = []
        t0 = time.perf_counter()

        def note(state) -> None:
            if not first:
                first.append(time.perf_counter() - t0)

        res = engine.minimize(tunable, bounds, sampler=starts, callback=note, **kwargs)
        assert res.n_starts == len(starts), res.message
        return first[0]

    return _timed(run)


def measure_one(name: str, workers: int, dim: int, repeat: int, n: int) -> dict:
    """One timed run of contender ``name`` (in this process, which holds nothing else)."""
    import concurrent.futures
    import multiprocessing
    from functools import partial

    starts = make_starts(n, dim)
    task = partial(solve, repeat=repeat)
    chunk = max(1, n // (4 * workers))
    if name == "serial-loop":
        for x0 in starts[:4]:
            task(x0)
        return _timed(lambda: _drain(task(x0) for x0 in starts))
    if name == "pool":
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            pool.map(task, starts[:workers])  # workers started and warm, as for the cluster
            return _timed(lambda: _drain(pool.imap(task, starts, chunksize=chunk)))
    if name == "futures":
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as executor:
            list(executor.map(task, starts[:workers]))
            return _timed(lambda: _drain(executor.map(task, starts, chunksize=chunk)))
    if name == "joblib":
        import joblib

        with joblib.Parallel(n_jobs=workers, return_as="generator") as parallel:
            list(parallel(joblib.delayed(task)(x) for x in starts[:workers]))
            return _timed(lambda: _drain(iter(parallel(joblib.delayed(task)(x)
                                                       for x in starts))))
    if name == "engine-serial":
        return _engine_measure("serial", starts, repeat)
    if name == "engine-cold":
        # client=None: the run starts (and stops) its own local cluster, as a first call does.
        # The imports are done first: they are paid once per process, not per run.
        import distributed  # noqa: F401

        return _engine_measure(None, starts, repeat, warm=False)
    if name.startswith("engine-dask-"):
        import engine

        with engine.local_client(workers, dashboard_address=None) as client:
            return _engine_measure(client, starts, repeat)
    if name.startswith("engine-futures-"):
        # The engine on the executor a Pool user already has: its own cost without Dask's.
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as executor:
            return _engine_measure(executor, starts, repeat)
    if name.startswith("engine-lc-"):
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) \
                as cluster, Client(cluster) as client:
            return _engine_measure(client, starts, repeat)
    raise ValueError(f"unknown contender {name!r}")


def measure_fixed(name: str, workers: int, n: int = 4, reps: int = 7) -> dict:
    """The fixed cost of one run, measured directly: the median wall time of ``reps`` runs of
    ``n`` starts of the cheapest objective (about 0.4 ms per solve in 2-D), each contender
    warm (workers started, a first run made) except ``engine-cold`` (``client=None``)."""
    import multiprocessing
    from functools import partial

    import engine

    starts = make_starts(n, 2)
    bounds = [(LOW, HIGH)] * 2
    kwargs = {"args": (1,), "jac": True, "method": "L-BFGS-B", "local": {"restarts": 0}}

    def engine_run(client) -> None:
        res = engine.minimize(tunable, bounds, sampler=starts, client=client, **kwargs)
        assert res.n_starts == n, res.message

    def median_wall(run, times: int) -> float:
        walls = []
        for _ in range(times):
            t0 = time.perf_counter()
            run()
            walls.append(time.perf_counter() - t0)
        return statistics.median(walls)

    if name == "pool":
        task = partial(solve, repeat=1)
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            pool.map(task, starts)
            return {"fixed_s": median_wall(lambda: pool.map(task, starts), reps)}
    if name == "engine-serial":
        engine_run("serial")
        return {"fixed_s": median_wall(lambda: engine_run("serial"), reps)}
    if name == "engine-dask":
        with engine.local_client(workers) as client:
            engine_run(client)
            return {"fixed_s": median_wall(lambda: engine_run(client), reps)}
    if name == "engine-cold":
        return {"fixed_s": median_wall(lambda: engine_run(None), 3)}
    raise ValueError(f"unknown contender {name!r}")


#: The contenders of the direct fixed-cost measurement, each with its worker count.
FIXED_CONTENDERS = (("pool", 2), ("engine-serial", 1), ("engine-dask", 2), ("engine-cold", 2))


def in_child(spec: dict, timeout: float) -> dict:
    """``spec`` measured in a fresh Python process (``--child``): the JSON line it printed,
    or ``{"error": ...}`` saying why there is none."""
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"}
    return json.loads(lines[-1])


def run_fixed(log) -> list[dict]:
    """:func:`measure_fixed` for each contender, each in a fresh process."""
    rows = []
    for name, workers in FIXED_CONTENDERS:
        out = in_child({"fixed": name, "workers": workers}, 300)
        rows.append({"contender": name, "workers": workers, **out})
        log(f"  fixed cost {name:<14} " + (f"{out['fixed_s']:.3f} s" if "fixed_s" in out
                                          else out["error"]))
    return rows


def fixed_lines(rows: list[dict]) -> list[str]:
    """The direct fixed-cost table and its target (a warm client under 0.5 s)."""
    lines = ["fixed cost per run, measured directly: median wall of a run of 4 starts of "
             "about 0.4 ms each (warm; engine-cold starts its own cluster)"]
    for r in rows:
        lines.append(f"  {r['contender']:<14} {r['workers']} worker(s)  "
                     + (f"{r['fixed_s']:.3f} s" if "fixed_s" in r else r["error"]))
    warm = next((r for r in rows if r["contender"] == "engine-dask" and "fixed_s" in r), None)
    if warm is not None:
        lines.append(f"target: fixed cost on a warm client {warm['fixed_s']:.3f} s (< 0.5 s) "
                     + ("ok" if warm["fixed_s"] < 0.5 else
                        f"MISSED by {warm['fixed_s'] - 0.5:.3f} s"))
    return lines


def starts_for(cost_ms: float, seconds: float) -> tuple[int, float, int]:
    """For 2-D starts of about ``cost_ms``: the objective's repeat count, the measured cost of
    a start (ms), and how many starts make ``seconds`` of serial work."""
    repeat = calibrate(2, cost_ms)
    cost = per_solve_ms(repeat, make_starts(64, 2))
    return repeat, cost, max(16, round(seconds * 1e3 / cost))


def run_split(cost_ms: float, seconds: float, rounds: int, meta: dict, log) -> dict:
    """:func:`~bench_cpu_split.measure_split` for Pool and the engine, in turns, each run in
    a fresh process; 2-D starts of about ``cost_ms``, ``seconds`` of serial work."""
    repeat, cost, n = starts_for(cost_ms, seconds)
    samples: dict[str, list[dict]] = {name: [] for name, _ in SPLIT_CONTENDERS}
    for round_no in range(rounds):
        for name, _ in SPLIT_CONTENDERS:
            out = in_child({"split": name, "dim": 2, "repeat": repeat, "n": n},
                           120 + 4 * seconds)
            samples[name].append(out)
            log(f"  split round {round_no + 1}: {name:<14} "
                + (f"{out['wall_s']:.2f} s" if "wall_s" in out else out["error"]))
    return {"meta": {**meta, "rounds": rounds, "n_starts": n, "cost_ms": cost, "dim": 2},
            "rows": split_rows(samples, n)}


def run_env(cost_ms: float, seconds: float, rounds: int, meta: dict, log) -> dict:
    """:func:`~bench_worker_env.measure_worker_env` in a fresh process: the same 2-D starts of
    about ``cost_ms`` solved in a Pool process and in a Dask worker, ``rounds`` turns."""
    repeat, cost, n = starts_for(cost_ms, seconds)
    log(f"  worker part: {n} starts of {cost:.2f} ms, {rounds} rounds")
    out = in_child({"env": rounds, "repeat": repeat, "n": n}, 120 + 12 * rounds * seconds)
    if "error" in out:
        raise RuntimeError(f"the worker part failed: {out['error']}")
    return {"meta": {**meta, "rounds": rounds, "n_starts": n, "cost_ms": cost}, **out}


def run_child(name: str, workers: int, dim: int, repeat: int, n: int, timeout: float) -> dict:
    """:func:`measure_one` in a fresh Python process; its result, or the error."""
    return in_child({"name": name, "workers": workers, "dim": dim, "repeat": repeat, "n": n},
                    timeout)


# ------------------------------------------------------------------ the parent


def contenders(worker_counts: list[int]) -> list[tuple[str, int]]:
    top = max(c for c in worker_counts if c <= 2)
    fixed = [("serial-loop", 1), ("pool", top), ("futures", top), ("joblib", top),
             ("engine-serial", 1)]
    return [*fixed, *((f"engine-dask-{c}", c) for c in worker_counts), (f"engine-lc-{top}", top)]


def run_workload(dim: int, cost_ms: float, budget_s: float, rounds: int,
                 worker_counts: list[int], log) -> list[dict]:
    repeat = calibrate(dim, cost_ms)
    estimate = per_solve_ms(repeat, make_starts(64, dim))
    n = int(np.clip(round(budget_s * 1e3 / estimate), 16, 20000))
    timeout = 60 + 20 * budget_s
    names = contenders(worker_counts)
    samples: dict[str, list[dict]] = {name: [] for name, _ in names}
    for round_no in range(rounds):
        for name, workers in names:
            out = run_child(name, workers, dim, repeat, n, timeout)
            samples[name].append(out)
            shown = f"{out['seconds']:.3f} s" if "seconds" in out else out["error"]
            log(f"  {dim}-D {cost_ms:g} ms round {round_no + 1}: {name:<14} {shown}")
    rows = []
    for name, workers in names:
        ok = [s for s in samples[name] if "seconds" in s]
        row = {"dim": dim, "requested_ms": cost_ms, "repeat": repeat, "n_starts": n,
               "contender": name, "workers": workers, "rounds_ok": len(ok)}
        if ok:
            secs = [s["seconds"] for s in ok]
            row.update({key: statistics.median(s[key] for s in ok)
                        for key in ("seconds", "first_result_s", "driver_cpu", "driver_mb")})
            row["spread"] = max(secs) / min(secs)
        else:
            row["error"] = samples[name][-1]["error"]
        rows.append(row)
    serial = rows[0].get("seconds")
    pool = next((r.get("seconds") for r in rows if r["contender"] == "pool"), None)
    for row in rows:
        if "seconds" not in row or serial is None:
            continue
        row.update(cost_ms=serial / n * 1e3, starts_per_s=n / row["seconds"],
                   efficiency=serial / (row["workers"] * row["seconds"]),
                   overhead_per_start_us=(row["seconds"] * row["workers"] - serial) / n * 1e6,
                   vs_pool=row["seconds"] / pool if pool else None)
    return rows


# ------------------------------------------------------------------ the cost model

#: Contenders of the cost model: what a user who switches from a pool loop compares.
MODEL_CONTENDERS = [("pool", 2), ("futures", 2), ("joblib", 2), ("engine-dask-2", 2),
                    ("engine-cold", 2), ("engine-futures-2", 2)]


def fit_cost_model(work: list[float], wall: list[float], workers: int) -> dict:
    """``wall = fixed + work / (efficiency x workers)`` fitted by least squares.

    ``work`` is the serial seconds of each run. Short runs pin the fixed cost (start-up and
    tail), long ones the marginal efficiency (throughput).

    Examples
    --------
    >>> fit = fit_cost_model([3.0, 30.0, 120.0], [2.0, 15.5, 60.5], workers=2)
    >>> round(fit["fixed_s"], 3), round(fit["marginal_efficiency"], 3)
    (0.5, 1.0)
    """
    slope, fixed = np.polyfit(np.asarray(work), np.asarray(wall), 1)
    predicted = fixed + slope * np.asarray(work)
    return {"fixed_s": float(fixed), "marginal_efficiency": float(1.0 / (slope * workers)),
            "max_residual_s": float(np.max(np.abs(predicted - np.asarray(wall))))}


def run_model(dim: int, cost_ms: float, lengths: list[float], rounds: int, log) -> list[dict]:
    """Each contender at each run length (serial seconds of work), then the fitted model.

    The serial work of a run is its number of starts times the cost of a start in a plain
    loop, measured (by ``serial-loop`` on the shortest run) in every round.
    """
    repeat = calibrate(dim, cost_ms)
    estimate = per_solve_ms(repeat, make_starts(64, dim))
    sizes = [max(16, round(length * 1e3 / estimate)) for length in lengths]
    samples: dict[tuple[str, int], list[float]] = {}
    per_start: list[float] = []
    for round_no in range(rounds):
        out = run_child("serial-loop", 1, dim, repeat, sizes[0], 60 + 3 * lengths[0])
        if "seconds" in out:
            per_start.append(out["seconds"] / sizes[0])
        for n, length in zip(sizes, lengths, strict=True):
            for name, workers in MODEL_CONTENDERS:
                out = run_child(name, workers, dim, repeat, n, 120 + 2 * length)
                samples.setdefault((name, n), []).append(out.get("seconds", np.nan))
                shown = f"{out['seconds']:.2f} s" if "seconds" in out else out["error"]
                log(f"  model {dim}-D {cost_ms:g} ms, {length:g} s of work, round "
                    f"{round_no + 1}: {name:<14} {shown}")
    start_cost = statistics.median(per_start)
    rows = []
    for name, workers in MODEL_CONTENDERS:
        walls = [float(np.nanmedian(samples[(name, n)])) for n in sizes]
        work = [n * start_cost for n in sizes]
        row = {"dim": dim, "cost_ms": start_cost * 1e3, "contender": name, "workers": workers,
               "rounds": rounds, "n_starts": sizes, "work_s": work, "wall_s": walls,
               "efficiency_at": [w / (workers * t) for w, t in zip(work, walls, strict=True)]}
        if np.all(np.isfinite(walls)):
            row.update(fit_cost_model(work, walls, workers))
        else:
            row["error"] = "a run failed (see the log)"
        rows.append(row)
    pool = next(r for r in rows if r["contender"] == "pool")
    for row in rows:
        if "marginal_efficiency" in row and "marginal_efficiency" in pool:
            row["marginal_vs_pool"] = row["marginal_efficiency"] / pool["marginal_efficiency"]
    return rows


def model_table(rows: list[dict]) -> list[str]:
    lines = [f"{'dim':>3} {'ms':>6} {'contender':>14} {'fixed s':>8} {'marg eff':>8} "
             f"{'vs pool':>7} {'fit err s':>9}   wall s / efficiency at each length"]
    for r in rows:
        if "marginal_vs_pool" not in r:
            lines.append(f"{r['dim']:>3} {r['cost_ms']:>6.2f} {r['contender']:>14} failed: "
                         f"{r.get('error', 'no Pool figure to compare with')}")
            continue
        at = "  ".join(f"{t:.2f}/{e:.2f}" for t, e in zip(r["wall_s"], r["efficiency_at"],
                                                          strict=True))
        lines.append(f"{r['dim']:>3} {r['cost_ms']:>6.2f} {r['contender']:>14} "
                     f"{r['fixed_s']:>8.3f} {r['marginal_efficiency']:>8.3f} "
                     f"{r['marginal_vs_pool']:>7.3f} {r['max_residual_s']:>9.2f}   {at}")
    return lines


def model_targets(rows: list[dict]) -> list[str]:
    """The issue's targets: marginal efficiency within 5% of Pool's, warm fixed cost < 0.5 s."""
    out = []
    for r in rows:
        if r["contender"] != "engine-dask-2" or "marginal_vs_pool" not in r:
            continue
        label = f"{r['dim']}-D {r['cost_ms']:.2f} ms"
        gap = 0.95 - r["marginal_vs_pool"]
        out.append(f"{label}: marginal efficiency {r['marginal_efficiency']:.3f} = "
                   f"{r['marginal_vs_pool']:.3f} of Pool's (target >= 0.95) "
                   + ("ok" if gap <= 0 else f"MISSED by {gap:.3f}"))
        out.append(f"{label}: fixed cost on a warm client {r['fixed_s']:.3f} s (target < 0.5 s) "
                   + ("ok" if r["fixed_s"] < 0.5 else f"MISSED by {r['fixed_s'] - 0.5:.3f} s"))
    return out


def rastrigin_columns(x: np.ndarray) -> np.ndarray | float:
    """Rastrigin, for one point (shape (d,)) or for points as columns (shape (d, n))."""
    return 10.0 * x.shape[0] + np.sum(x * x - 10.0 * np.cos(2.0 * np.pi * x), axis=0)


def vectorized_speedup(n_explore: int = 10_000, dim: int = 10, rounds: int = 3) -> dict:
    """``search.vectorized`` on a numpy objective: the exploration sample of ``n_explore``
    points in one call instead of one call a point, in this process (``client='serial'``).

    Reported: the time of evaluating the sample alone (``Problem.minimized_many``) and of a
    whole run whose budget is mostly that sample (the local solves are the same either way),
    each the best of ``rounds``.
    """
    import engine
    from engine.problem import Problem

    bounds = [(-5.12, 5.12)] * dim
    points = np.random.default_rng(0).uniform(-5.12, 5.12, (n_explore, dim))
    problem = Problem.create(rastrigin_columns, bounds)
    out: dict = {"n_explore": n_explore, "dim": dim}
    for vectorized in (False, True):
        label = "vectorized" if vectorized else "pointwise"
        sample, run = [], []
        for _ in range(rounds):
            began = time.perf_counter()
            problem.minimized_many(points, vectorized)
            sample.append(time.perf_counter() - began)
            began = time.perf_counter()
            res = engine.minimize(rastrigin_columns, bounds, max_evals=n_explore + 3000, seed=0,
                                  client="serial", search={"strategy": "mlsl",
                                                           "n_explore": n_explore,
                                                           "vectorized": vectorized})
            run.append(time.perf_counter() - began)
        out[f"{label}_sample_s"], out[f"{label}_run_s"] = min(sample), min(run)
        out[f"{label}_fun"] = float(res.fun)
    out["sample_speedup"] = out["pointwise_sample_s"] / out["vectorized_sample_s"]
    out["run_speedup"] = out["pointwise_run_s"] / out["vectorized_run_s"]
    return out


def dedup_million() -> dict:
    from engine.basins import cluster_points

    rng = np.random.default_rng(0)
    n, d, m = 1_000_000, 20, 500
    centres, levels = rng.uniform(0, 1, (m, d)), rng.normal(size=m)
    label = rng.integers(0, m, n)
    points = centres[label] + rng.normal(scale=1e-7, size=(n, d))
    values = levels[label] + rng.normal(scale=1e-10, size=n)
    t0 = time.perf_counter()
    basins = cluster_points(np.arange(n), points, values, np.zeros(d), np.ones(d))
    seconds = time.perf_counter() - t0
    assert len(basins) == m
    return {"points": n, "dim": d, "minima": m, "seconds": seconds}


def efficiency_target(cost_ms: float) -> float | None:
    """The issue's efficiency target for a workload of this measured cost."""
    if 5 <= cost_ms <= 50:
        return 0.95  # "10 ms starts"
    if 0.5 <= cost_ms < 5:
        return 0.90  # "1 ms starts"
    return None


def targets(rows: list[dict], dedup: dict) -> list[str]:
    """The issue's targets for engine-dask-2, each with the measured figure and pass/miss."""
    out = []
    for row in rows:
        if row["contender"] != "engine-dask-2" or "efficiency" not in row:
            continue
        label = f"{row['dim']}-D {row['cost_ms']:.2f} ms"
        want = efficiency_target(row["cost_ms"])
        if want is not None:
            gap = want - row["efficiency"]
            verdict = "ok" if gap <= 0 else f"MISSED by {gap:.2f}"
            out.append(f"{label}: efficiency {row['efficiency']:.2f} (target {want}) {verdict}")
        if row.get("vs_pool") is not None:
            ratio = row["vs_pool"]
            verdict = "ok" if ratio <= 1.0 else f"MISSED: {100 * (ratio - 1):.0f}% slower"
            out.append(f"{label}: engine / Pool time {ratio:.3f} {verdict}")
        over = row["overhead_per_start_us"]
        verdict = "ok" if over < 100 else f"MISSED by {over - 100:.0f} us"
        out.append(f"{label}: overhead per start {over:.0f} us (target < 100) {verdict}")
    ok = dedup["seconds"] < 10
    out.append(f"dedup of 1e6 20-D points: {dedup['seconds']:.2f} s (target < 10 s) "
               f"{'ok' if ok else 'MISSED'}")
    return out


def plot(rows: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    rows = [r for r in rows if "efficiency" in r]
    workloads = list(dict.fromkeys((r["dim"], r["requested_ms"]) for r in rows))
    names = list(dict.fromkeys(r["contender"] for r in rows))
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        eff = [next((r["efficiency"] for r in rows if (r["dim"], r["requested_ms"]) == wl
                     and r["contender"] == name), np.nan) for wl in workloads]
        ax.bar(np.arange(len(workloads)) + j * width, eff, width, label=name)
    labels = []
    for wl in workloads:
        cost = next(r["cost_ms"] for r in rows if (r["dim"], r["requested_ms"]) == wl)
        labels.append(f"{wl[0]}-D, {cost:.2g} ms")
    ax.set_xticks(np.arange(len(workloads)) + 0.4 - width / 2)
    ax.set_xticklabels(labels)
    ax.set_ylabel("parallel efficiency\n(serial / (workers x time))")
    ax.set_title("multistart throughput against a serial loop (median of rounds)")
    ax.axhline(1.0, color="k", lw=0.5)
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def table(rows: list[dict]) -> list[str]:
    lines = [f"{'dim':>3} {'ms':>7} {'n':>6} {'contender':>14} {'w':>2} {'sec':>7} "
             f"{'spread':>6} {'starts/s':>9} {'eff':>5} {'ovh us':>7} {'/pool':>6} "
             f"{'first s':>7} {'cpu':>5} {'MB':>5}"]
    for r in rows:
        if "seconds" not in r:
            lines.append(f"{r['dim']:>3} {r['requested_ms']:>7} {r['n_starts']:>6} "
                         f"{r['contender']:>14} failed: {r['error']}")
            continue
        vs_pool = f"{r['vs_pool']:.3f}" if r.get("vs_pool") else "-"
        lines.append(
            f"{r['dim']:>3} {r['cost_ms']:>7.3f} {r['n_starts']:>6} {r['contender']:>14} "
            f"{r['workers']:>2} {r['seconds']:>7.3f} {r['spread']:>6.2f} "
            f"{r['starts_per_s']:>9.1f} {r['efficiency']:>5.2f} "
            f"{r['overhead_per_start_us']:>7.0f} {vs_pool:>6} {r['first_result_s']:>7.4f} "
            f"{r['driver_cpu']:>5.2f} {r['driver_mb']:>5.0f}")
    return lines


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        spec = json.loads(sys.argv[2])
        if "fixed" in spec:
            print(json.dumps(measure_fixed(spec["fixed"], spec["workers"])))
        elif "env" in spec:
            print(json.dumps(measure_worker_env(spec["repeat"], spec["n"], spec["env"])))
        elif "split" in spec:
            print(json.dumps(measure_split(spec["split"], spec["dim"], spec["repeat"],
                                           spec["n"])))
        else:
            print(json.dumps(measure_one(**spec)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--costs", default="0.1,1,10,100", help="ms per local solve")
    parser.add_argument("--dims", default="2,20")
    parser.add_argument("--seconds", type=float, default=2.5,
                        help="serial seconds per workload (sets the number of starts)")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per contender")
    parser.add_argument("--workers", default=None,
                        help="engine-dask worker counts (default 1, 2, 4, 8, 16 up to the cores)")
    parser.add_argument("--model-lengths", default="3,30,120",
                        help="serial seconds of work of the cost model's runs")
    parser.add_argument("--model-costs", default="1.5,10", help="ms per start, cost model")
    parser.add_argument("--model-dims", default="2")
    parser.add_argument("--model-rounds", type=int, default=1)
    parser.add_argument("--split-cost", type=float, default=1.5,
                        help="ms per start of the CPU split")
    parser.add_argument("--split-seconds", type=float, default=12.0,
                        help="serial seconds of work of the CPU split's runs")
    parser.add_argument("--env-seconds", type=float, default=3.0,
                        help="serial seconds of work per measurement of the worker part")
    parser.add_argument("--only", choices=("table", "model", "fixed", "split", "env"),
                        default=None,
                        help="run one part; the others keep their last results in the summary")
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cores = len(os.sched_getaffinity(0))
    log = lambda line: print(line, flush=True)  # noqa: E731
    meta = {"host": platform.node(), "cores": cores, "python": platform.python_version(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "command": " ".join(sys.argv)}
    if args.only in (None, "table"):
        if args.workers:
            worker_counts = [int(c) for c in args.workers.split(",")]
        else:
            worker_counts = [c for c in (1, 2, 4, 8, 16) if c <= max(2, cores)]
        rows: list[dict] = []
        for dim in (int(d) for d in args.dims.split(",")):
            for cost in (float(c) for c in args.costs.split(",")):
                rows.extend(run_workload(dim, cost, args.seconds, args.rounds, worker_counts,
                                         log))
        dedup = dedup_million()
        dedup["vectorized"] = vectorized_speedup()
        table_meta = {**meta, "rounds": args.rounds, "seconds": args.seconds}
        (out / "throughput.json").write_text(json.dumps(
            {"meta": table_meta, "rows": rows, "dedup": dedup,
             "targets": targets(rows, dedup)}, indent=1))
        fields = list(dict.fromkeys(key for row in rows for key in row))
        with open(out / "throughput.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        plot(rows, out / "throughput.png")
    if args.only in (None, "fixed"):
        (out / "throughput-fixed.json").write_text(json.dumps(
            {"meta": meta, "rows": run_fixed(log)}, indent=1))
    if args.only in (None, "split"):
        (out / "throughput-split.json").write_text(json.dumps(run_split(
            args.split_cost, args.split_seconds, args.rounds, meta, log), indent=1))
    if args.only in (None, "env"):
        (out / "throughput-env.json").write_text(json.dumps(run_env(
            args.split_cost, args.env_seconds, 2 * args.rounds, meta, log), indent=1))
    if args.only in (None, "model"):
        lengths = [float(x) for x in args.model_lengths.split(",")]
        model: list[dict] = []
        for dim in (int(d) for d in args.model_dims.split(",")):
            for cost in (float(c) for c in args.model_costs.split(",")):
                model.extend(run_model(dim, cost, lengths, args.model_rounds, log))
        (out / "throughput-model.json").write_text(json.dumps(
            {"meta": {**meta, "rounds": args.model_rounds, "lengths": lengths}, "rows": model,
             "targets": model_targets(model)}, indent=1))
    summary = write_summary(out)
    print(summary)
    print(f"\nwrote {out}/throughput*.json, .csv, .png, throughput-summary.txt")


def vectorized_lines(dedup: dict) -> list[str]:
    v = dedup.get("vectorized")
    if v is None:
        return []
    return [f"vectorized=True, {v['n_explore']} sample points of a {v['dim']}-D numpy "
            f"Rastrigin: the sample {v['pointwise_sample_s']:.3f} s -> "
            f"{v['vectorized_sample_s']:.4f} s ({v['sample_speedup']:.0f}x); the whole run "
            f"{v['pointwise_run_s']:.2f} s -> {v['vectorized_run_s']:.2f} s "
            f"({v['run_speedup']:.1f}x; best values {v['pointwise_fun']:.4g} and "
            f"{v['vectorized_fun']:.4g})"]


def write_summary(out: Path) -> str:
    """``throughput-summary.txt`` from the last results of both parts."""
    lines: list[str] = []
    if (out / "throughput.json").exists():
        data = json.loads((out / "throughput.json").read_text())
        meta, dedup = data["meta"], data["dedup"]
        lines += [f"{meta['when']}  {meta['cores']} cores  median of {meta['rounds']} rounds  "
                  f"({meta['command']})", "", *table(data["rows"]), "",
                  f"dedup: {dedup['points']} points in {dedup['dim']}-D -> {dedup['minima']} "
                  f"minima in {dedup['seconds']:.2f} s", *vectorized_lines(dedup), "",
                  "targets (engine-dask-2):",
                  *data["targets"], ""]
    if (out / "throughput-model.json").exists():
        data = json.loads((out / "throughput-model.json").read_text())
        meta = data["meta"]
        lines += [f"cost model: wall = fixed + work / (efficiency x workers), fitted over runs "
                  f"of {', '.join(f'{x:g}' for x in meta['lengths'])} s of serial work",
                  f"{meta['when']}  {meta['cores']} cores  median of {meta['rounds']} "
                  f"round(s)  ({meta['command']})",
                  "engine-dask-2: a warm engine.local_client(2); engine-cold: client=None "
                  "(the run starts and stops its cluster); engine-futures-2: the engine on a "
                  "ProcessPoolExecutor(2)", "", *model_table(data["rows"]), "",
                  "targets (engine-dask-2):", *data["targets"], ""]
    if (out / "throughput-split.json").exists():
        lines += [*split_lines(json.loads((out / "throughput-split.json").read_text())), ""]
    if (out / "throughput-env.json").exists():
        lines += [*env_lines(json.loads((out / "throughput-env.json").read_text())), ""]
    if (out / "throughput-fixed.json").exists():
        data = json.loads((out / "throughput-fixed.json").read_text())
        lines += [f"{data['meta']['when']}  {data['meta']['cores']} cores  "
                  f"({data['meta']['command']})", *fixed_lines(data["rows"])]
    text = "\n".join(lines) + "\n"
    (out / "throughput-summary.txt").write_text(text)
    return text


if __name__ == "__main__":
    main()
