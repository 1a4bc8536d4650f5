"""The multistart loop: starts → executor → journal → basins → stop rules → result."""

from __future__ import annotations

import datetime as dt
import math
import platform
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from engine.basins import Basin, BasinSet, cluster_points
from engine.config import DedupOptions, StartOptions, StopOptions
from engine.exceptions import ProblemError
from engine.local import LocalOptions, check_method_requirements
from engine.problem import Problem
from engine.progress import RunState, make_progress
from engine.results import LocalRun, Minimum, MultistartResult
from engine.sampling import iter_unit_blocks, seed_sequence


def versions() -> dict[str, str]:
    """Versions of the engine and the libraries that decide its results."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("multistart-engine", "numpy", "scipy", "dask", "distributed"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def check_starts_inside(problem: Problem, points: np.ndarray | None, key: str) -> None:
    """Refuse start points outside the bounds (scipy would silently clip or leave them)."""
    if points is None:
        return
    outside = [i for i, p in enumerate(points) if not problem.contains(p, rtol=0.0)]
    if outside:
        i = outside[0]
        raise ProblemError(
            f"{key}[{i}]={points[i].tolist()} lies outside the bounds "
            f"(lower={problem.lower.tolist()}, upper={problem.upper.tolist()}); "
            f"{len(outside)} point(s) are outside: move them inside the box or widen the bounds"
        )


class StartPlan:
    """The ordered starts of a run: the user's ``x0`` points first, then sampled ones."""

    def __init__(self, problem: Problem, starts: StartOptions) -> None:
        self.problem = problem
        self.options = starts
        self.root = seed_sequence(starts.seed)
        self.fixed = np.empty((0, problem.dim))
        if starts.x0 is not None:
            self.fixed = np.asarray(starts.x0, dtype=float).reshape(-1, problem.dim)
        if starts.points is not None:
            self.fixed = np.vstack([self.fixed, starts.points])
        check_starts_inside(problem, self.fixed, "x0" if starts.points is None else "starts")
        self.n_sampled = 0 if starts.points is not None else starts.n_starts
        self.total = len(self.fixed) + self.n_sampled

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        yield from enumerate(self.fixed)
        offset = len(self.fixed)
        if self.n_sampled:
            blocks = iter_unit_blocks(self.options.sampler, self.n_sampled, self.problem.dim,
                                      self.root)
            for block in blocks:
                for row in self.problem.from_unit(block):
                    yield offset, row
                    offset += 1


def as_minima(basins: list[Basin], sign: float) -> tuple[Minimum, ...]:
    """Basins (internal, minimized sign) as result minima with the user's sign."""
    return tuple(
        Minimum(x=b.x, fun=sign * b.f, n_hits=len(b.members), starts=tuple(b.members))
        for b in basins
    )


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def run_multistart(
    problem: Problem,
    starts: StartOptions,
    local: LocalOptions,
    dedup: DedupOptions,
    stop: StopOptions,
    executor: Any,
    *,
    journal: Any = None,
    progress: bool | Callable[[RunState], None] = False,
    callback: Callable[[RunState], Any] | None = None,
    provenance: dict[str, Any] | None = None,
) -> MultistartResult:
    """Run the multistart loop on ``executor`` and return the ranked result.

    This is the engine behind :func:`engine.minimize` and :func:`engine.run_config`; use those.
    """
    check_method_requirements(local.method, problem)
    plan = StartPlan(problem, starts)
    started_wall = time.time()
    started = time.perf_counter()
    sign = problem.sign
    runs: dict[int, LocalRun] = {}
    online = BasinSet(problem.lower, problem.upper, dedup.xtol, dedup.ftol)
    counters = {"nfev": 0, "failed": 0}
    best = [math.inf]  # internal (minimized) sign
    printer = make_progress(progress)

    def record(run: LocalRun) -> None:
        runs[run.index] = run
        counters["nfev"] += run.nfev
        if run.success:
            online.add(run.index, run.x, sign * run.fun)
            best[0] = min(best[0], sign * run.fun)
        else:
            counters["failed"] += 1

    def state(run: LocalRun) -> RunState:
        return RunState(
            run=run, n_done=len(runs), n_total=plan.total, n_failed=counters["failed"],
            nfev=counters["nfev"], n_minima=len(online),
            best_fun=sign * best[0] if math.isfinite(best[0]) else math.nan,
            elapsed=time.perf_counter() - started,
            minima=as_minima(online.basins(), sign) if callback is not None else (),
        )

    def check_stop(run: LocalRun) -> None:
        if stop.target is not None and run.success and sign * run.fun <= sign * stop.target:
            raise _Stop("target")
        if stop.max_evals is not None and counters["nfev"] >= stop.max_evals:
            raise _Stop("max_evals")
        if stop.max_time is not None and time.perf_counter() - started >= stop.max_time:
            raise _Stop("max_time")

    if journal is not None:
        for run in journal.completed():
            record(run)
    stop_reason = "n_starts"
    pending = (s for s in plan if s[0] not in runs)
    batches = executor.run(problem, local, pending, total=plan.total - len(runs))
    try:
        for run in runs.values():  # resumed runs may already meet a stop rule
            check_stop(run)
        for batch in batches:
            # A task re-run after a lost worker may repeat starts: keep the first result.
            fresh = [run for run in batch if run.index not in runs]
            for run in fresh:
                record(run)
            if journal is not None:
                journal.extend(fresh)  # the whole task's runs, one fsync: none is lost
            for run in fresh:
                if printer is not None or callback is not None:
                    current = state(run)
                    if printer is not None:
                        printer(current)
                    if callback is not None and callback(current) is True:
                        raise _Stop("callback")
                check_stop(run)
    except _Stop as why:
        stop_reason = why.reason
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    finally:
        batches.close()
    result = build_result(
        problem, runs, dedup, stop_reason, time.perf_counter() - started,
        provenance={
            **(provenance or {}),
            "seed": plan.root.entropy,
            "bounds": np.column_stack([problem.lower, problem.upper]).tolist(),
            "maximize": problem.maximize,
            "sampler": starts.sampler,
            "n_starts_planned": plan.total,
            "method": local.method,
            "options": dict(local.options),
            "tol": local.tol,
            "xtol": dedup.xtol,
            "ftol": dedup.ftol,
            "cluster": executor.describe(),
            "versions": versions(),
            "host": socket.gethostname(),
            "started": dt.datetime.fromtimestamp(started_wall, dt.timezone.utc).isoformat(),
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(),
        },
    )
    if printer is not None and runs:
        printer(state(runs[max(runs)]), final=True)
    return result


def build_result(
    problem: Problem,
    runs: dict[int, LocalRun],
    dedup: DedupOptions,
    stop_reason: str,
    wall_time: float,
    provenance: dict[str, Any],
) -> MultistartResult:
    """Merge the successful runs into distinct minima (order independent) and rank them."""
    ordered = tuple(runs[i] for i in sorted(runs))
    good = [r for r in ordered if r.success]
    sign = problem.sign
    minima: tuple[Minimum, ...] = ()
    if good:
        basins = cluster_points(
            np.array([r.index for r in good]),
            np.array([r.x for r in good]),
            np.array([sign * r.fun for r in good]),
            problem.lower, problem.upper, dedup.xtol, dedup.ftol,
        )
        minima = as_minima(basins, sign)
    n_failed = len(ordered) - len(good)
    kind = "maxima" if problem.maximize else "minima"
    if minima:
        message = (f"found {len(minima)} distinct {kind} from {len(ordered)} starts "
                   f"({n_failed} failed); stopped by {stop_reason}")
    else:
        message = f"no local solve succeeded ({n_failed} of {len(ordered)} failed)"
    return MultistartResult(
        x=minima[0].x if minima else None,
        fun=minima[0].fun if minima else math.nan,
        minima=minima,
        runs=ordered,
        n_starts=len(ordered),
        nfev=sum(r.nfev for r in ordered),
        n_failed=n_failed,
        wall_time=wall_time,
        stop_reason=stop_reason,
        success=bool(minima),
        message=message,
        maximize=problem.maximize,
        provenance=provenance,
    )
