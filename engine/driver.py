"""The multistart loop: session → strategy → polish → result.

:func:`run_multistart` builds the :class:`~engine.session.Session`, looks the strategy up in
:mod:`engine.search`, runs it until it ends or a stop rule (:mod:`engine.stop`) ends it,
polishes the best minima and builds the ranked result.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import platform
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from typing import Any

import numpy as np

from engine.basins import cluster_points
from engine.local.methods import check_method_requirements, choose_method
from engine.local.solve import uses_scaling
from engine.options import DedupOptions, LocalOptions, SearchOptions, StartOptions, StopOptions
from engine.problem import Problem
from engine.progress import RunState, make_progress
from engine.results.store import RunStore
from engine.results.types import LocalRun, Minimum, MultistartResult
from engine.search import Strategy, make_strategy, resolve_strategy
from engine.search.polish import polish
from engine.session import Session, StartPlan, as_minima, check_starts_inside
from engine.stop import (
    StopReason,
    StopRun,
    better_than,
    estimated_coverage,
    estimated_n_minima,
    worth_polishing,
)

__all__ = [
    "StartPlan",
    "as_minima",
    "build_result",
    "check_starts_inside",
    "plain_data",
    "run_multistart",
    "versions",
]


def versions() -> dict[str, str]:
    """Versions of the engine and the libraries that decide its results."""
    return dict(_installed_versions())


@functools.lru_cache(maxsize=1)
def _installed_versions() -> tuple[tuple[str, str], ...]:
    # Reading package metadata takes ~10 ms; it cannot change within a process.
    out = [("python", platform.python_version())]
    for dist in ("multistart-engine", "numpy", "scipy", "dask", "distributed"):
        try:
            out.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            out.append((dist, "not installed"))
    return tuple(out)


def plain_data(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python numbers and lists (JSON).

    Examples
    --------
    >>> plain_data({"maxiter": np.int64(5), "eps": np.array([1e-8])})
    {'maxiter': 5, 'eps': [1e-08]}
    """
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def run_multistart(
    problem: Problem,
    starts: StartOptions,
    local: LocalOptions,
    dedup: DedupOptions,
    stop: StopOptions,
    executor: Any,
    *,
    search: SearchOptions | None = None,
    noisy: bool = False,
    journal: Any = None,
    progress: bool | Callable[[RunState], None] = False,
    callback: Callable[[RunState], Any] | None = None,
    provenance: dict[str, Any] | None = None,
) -> MultistartResult:
    """Run the multistart loop on ``executor`` and return the ranked result.

    This is the engine behind :func:`engine.minimize` and :func:`engine.run_config`; use those.
    """
    search = search or SearchOptions()
    method_reason = "chosen by the user"
    if local.method == "auto":
        method, method_reason = choose_method(problem, noisy)
        local = replace(local, method=method)
    check_method_requirements(local.method, problem)
    plan = StartPlan(problem, starts)
    # The plan fixes the number of starts, so "auto" here solves every one of them.
    strategy = make_strategy(resolve_strategy(
        search.strategy, n_starts_given=True, points_given=starts.points is not None,
        max_evals=stop.max_evals), search)
    started_wall = time.time()
    display = make_progress(progress)
    # Under constraints a low point may be infeasible, and with noise the lowest of many
    # samples is luck: there only converged minima can be the answer.
    session = Session(problem, dedup, stop, executor, journal, display, callback, plan.total,
                      track_best=not problem.constraints and not noisy)
    session.resume()
    try:
        stop_reason = _search(session, strategy, plan, local, search.polish)
        return build_result(
            problem, session.runs, dedup, stop_reason, session.elapsed(),
            provenance=_provenance(session, plan, local, strategy.name, executor, provenance,
                                   method_reason, started_wall),
            n_explore=session.n_explore,
            n_skipped=session.n_skipped,
            method=local.method,
            strategy=strategy.name,
            best_seen=(None if session.best_seen_x is None
                       else (session.best_seen_x, problem.sign * session.best_seen_f)),
        )
    finally:
        # Also when the run raised: a live progress bar must give the terminal back.
        if display is not None and len(session.runs):
            display(session.state(session.runs[-1]), final=True)


def _search(session: Session, strategy: Strategy, plan: StartPlan, local: LocalOptions,
            polish_at_end: bool) -> StopReason:
    """Run ``strategy`` until it or a stop rule ends it, then polish; why it ended."""
    stop_reason: StopReason = "n_starts"
    try:
        for run in session.runs:  # resumed runs may already meet a stop rule
            session.check_run(run)
        stop_reason = strategy.run(session, plan, local)
    except StopRun as why:
        stop_reason = why.reason
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    if polish_at_end and strategy.polishes and worth_polishing(stop_reason):
        try:
            polish(session, local)
        except StopRun:
            pass  # the polish ran into a limit: the run still ended for its first reason
        except KeyboardInterrupt:
            stop_reason = "interrupted"
    return stop_reason


def _provenance(session: Session, plan: StartPlan, local: LocalOptions, strategy: str,
                executor: Any, given: dict[str, Any] | None, method_reason: str,
                started_wall: float) -> dict[str, Any]:
    """What the result records about how it was made (seed, options, cluster, versions)."""
    problem, dedup, stop = session.problem, session.dedup, session.stop
    return {
        **(given or {}),
        "seed": plan.root.entropy,
        "bounds": np.column_stack([problem.lower, problem.upper]).tolist(),
        "maximize": problem.maximize,
        "sampler": plan.options.sampler,
        "n_starts_planned": plan.total,
        "strategy": strategy,
        "method": local.method,
        "method_reason": method_reason,
        "scaled": uses_scaling(problem, local),
        "options": plain_data(dict(local.options)),
        "tol": local.tol,
        "xtol": dedup.xtol,
        "ftol": dedup.ftol,
        "max_evals": stop.max_evals,
        "cluster": executor.describe(),
        "versions": versions(),
        "host": socket.gethostname(),
        "started": dt.datetime.fromtimestamp(started_wall, dt.timezone.utc).isoformat(),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(),
    }


def build_result(
    problem: Problem,
    runs: RunStore | dict[int, LocalRun],
    dedup: DedupOptions,
    stop_reason: str,
    wall_time: float,
    provenance: dict[str, Any],
    *,
    n_explore: int = 0,
    n_skipped: int = 0,
    method: str = "",
    strategy: str = "all",
    best_seen: tuple[np.ndarray, float] | None = None,
) -> MultistartResult:
    """Merge the successful runs into distinct minima (order independent) and rank them.

    ``best_seen`` is the best point evaluated anywhere, as ``(x, fun)`` in the user's sign.
    It becomes ``x``/``fun`` of the result when no minimum is as good (the budget ran out
    during the descent from it), as a scipy global optimizer reports its best point.
    """
    if not isinstance(runs, RunStore):
        runs = RunStore.from_runs(runs.values())
    sign = problem.sign
    indices, points, values = runs.successful()
    minima: tuple[Minimum, ...] = ()
    if len(indices):
        basins = cluster_points(indices, points, sign * values, problem.lower, problem.upper,
                                dedup.xtol, dedup.ftol)
        minima = as_minima(basins, sign)
    n_failed = runs.n_failed
    kind = "maxima" if problem.maximize else "minima"
    if minima:
        message = (f"found {len(minima)} distinct {kind} from {len(runs)} starts "
                   f"({n_failed} failed); stopped by {stop_reason}")
    else:
        message = f"no local solve succeeded ({n_failed} of {len(runs)} failed)"
    x, fun = (minima[0].x, minima[0].fun) if minima else (None, math.nan)
    if best_seen is not None and better_than(sign * best_seen[1], sign * fun, dedup.ftol):
        x, fun = np.array(best_seen[0], dtype=float), float(best_seen[1])
        message += (f"; x is the best point evaluated (fun={fun:.6g}), which no local solve "
                    f"had descended from when the run stopped: give a larger budget to refine it")
    return MultistartResult(
        x=x,
        fun=fun,
        minima=minima,
        runs=runs,
        n_starts=len(runs),
        nfev=runs.nfev + n_explore,
        n_failed=n_failed,
        wall_time=wall_time,
        stop_reason=stop_reason,
        success=bool(minima),
        message=message,
        maximize=problem.maximize,
        provenance=provenance,
        n_explore=n_explore,
        n_skipped=n_skipped,
        estimated_n_minima=estimated_n_minima(len(indices), len(minima)),
        coverage=estimated_coverage(len(indices), len(minima)),
        method=method,
        strategy=strategy,
    )
