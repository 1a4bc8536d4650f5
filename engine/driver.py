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

from engine.basins import Basin, cluster_points
from engine.local.methods import is_least_squares
from engine.local.solve import RELABELLED
from engine.merge import merge_minima
from engine.options import LocalOptions
from engine.parallel.base import Executor
from engine.problem import Problem
from engine.progress import RunState, make_progress
from engine.results.store import RunStore
from engine.results.types import LocalRun, Minimum, MultistartResult, RunSpec
from engine.search import Strategy, make_strategy
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
from engine.symmetry import describe as describe_symmetries

__all__ = [
    "StartPlan",
    "as_minima",
    "build_result",
    "check_starts_inside",
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


def run_multistart(
    problem: Problem,
    spec: RunSpec,
    executor: Executor,
    *,
    journal: Any = None,
    progress: bool | Callable[[RunState], None] = False,
    callback: Callable[[RunState], Any] | None = None,
    provenance: dict[str, Any] | None = None,
) -> MultistartResult:
    """Run the multistart loop of ``spec`` on ``executor`` and return the ranked result.

    ``spec`` holds every option with its ``"auto"`` values resolved
    (:func:`engine.api.resolve_spec`); this is the engine behind :func:`engine.minimize` and
    :func:`engine.run_config`, use those.
    """
    plan = StartPlan(problem, spec.starts)
    strategy = make_strategy(spec.strategy, spec.search)
    started_wall = time.time()
    display = make_progress(progress)
    # Under constraints a low point may be infeasible, and with noise the lowest of many
    # samples is luck: there only converged minima can be the answer.
    session = Session(problem, spec.dedup, spec.stop, executor, journal, display, callback,
                      plan.total, track_best=not problem.constraints and not spec.local.noisy)
    session.resume()
    try:
        # The unit-box choice travels as a fact, so that no worker measures it again.
        local = replace(spec.local, scale=spec.scaled)
        stop_reason, note = _search(session, strategy, plan, local, spec.search.polish)
        return build_result(
            problem, session.runs, spec, stop_reason, session.elapsed(), note=note,
            provenance=_provenance(session, plan, executor, provenance, started_wall),
            n_explore=session.n_explore,
            n_skipped=session.n_skipped,
            best_seen=(None if session.best_seen_x is None
                       else (session.best_seen_x, problem.sign * session.best_seen_f)),
            # The segment check's few evaluations run where the solves ran (a cluster's
            # workers), not in the driver, where an expensive objective would stall it.
            evaluate=lambda points: executor.evaluate(problem, points, spec.search.vectorized),
            portfolio=strategy.report() if hasattr(strategy, "report") else None,
            # Runs held on disk are too many to cluster again: their online minima are merged.
            basins=None if isinstance(session.runs, RunStore) else session.online.final_basins(),
        )
    finally:
        # Also when the run raised: a live progress bar must give the terminal back.
        if display is not None and len(session.runs):
            display(session.state(session.runs[-1]), final=True)


def _search(session: Session, strategy: Strategy, plan: StartPlan, local: LocalOptions,
            polish_at_end: bool) -> tuple[StopReason, str | None]:
    """Run ``strategy`` until it or a stop rule ends it, then polish; why it ended, and what
    ended it in words when a rule said (the callback's error)."""
    stop_reason: StopReason = "n_starts"
    note = None
    try:
        for run in session.runs:  # resumed runs may already meet a stop rule
            session.check_run(run)
        stop_reason = strategy.run(session, plan, local)
    except StopRun as why:
        stop_reason, note = why.reason, why.note
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    # A fit is always polished: its parameters are the answer, to the data's own digits.
    fit = is_least_squares(local.method)
    if polish_at_end and (strategy.polishes or fit) and worth_polishing(stop_reason):
        try:
            polish(session, local)
        except StopRun:
            pass  # the polish ran into a limit: the run still ended for its first reason
        except KeyboardInterrupt:
            stop_reason = "interrupted"
    return stop_reason, note


def _provenance(session: Session, plan: StartPlan, executor: Executor,
                given: dict[str, Any] | None, started_wall: float) -> dict[str, Any]:
    """Where and when the run was made (the options it used are the result's ``spec``)."""
    return {
        **(given or {}),
        "seed": plan.root.entropy,
        "n_starts_planned": plan.total,
        "cluster": executor.describe(),
        "versions": versions(),
        "host": socket.gethostname(),
        "started": dt.datetime.fromtimestamp(started_wall, dt.timezone.utc).isoformat(),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(),
    }


def build_result(
    problem: Problem,
    runs: RunStore | dict[int, LocalRun],
    spec: RunSpec,
    stop_reason: str,
    wall_time: float,
    provenance: dict[str, Any],
    *,
    n_explore: int = 0,
    n_skipped: int = 0,
    best_seen: tuple[np.ndarray, float] | None = None,
    note: str | None = None,
    evaluate: Callable[[np.ndarray], np.ndarray] | None = None,
    portfolio: dict[str, Any] | None = None,
    basins: list[Basin] | None = None,
) -> MultistartResult:
    """Merge the successful runs into distinct minima (order independent) and rank them.

    ``note`` says in words what ended the run (it ends the message).

    ``best_seen`` is the best point evaluated anywhere, as ``(x, fun)`` in the user's sign.
    It becomes ``x``/``fun`` of the result when no minimum is as good (the budget ran out
    during the descent from it), as a scipy global optimizer reports its best point.

    After the merge of converged points within ``xtol``/``ftol``, a second pass
    (:func:`engine.merge.merge_minima`) joins minima whose values agree (within ``1e3 * ftol``
    when close, ``10 * ftol`` when far apart) and between which the objective, at five interior
    points of the segment joining them, never rises above the worse of the two by more than
    ``ftol``: the loose ends of one minimum, or points along a flat direction (such a minimum
    gets a ``note``). Its evaluations go through ``evaluate(points)`` (minimized sign; the
    executor's, so they run where the solves ran; in this process when None), are not counted
    in ``nfev`` (which stays the runs' and exploration's evaluations, as the runs table shows
    them) and are recorded in ``provenance["merge"]``; there are at most
    ``max(500, nfev // 10)`` of them, never more than is left of ``max_evals``, and none under
    constraints (a segment may leave the feasible set) or when the run ran out of evaluations
    or time, or was interrupted.

    ``basins`` are the session's online minima of ``runs`` (minimized sign): given, the
    first merge is theirs and the runs are not read point by point (runs held on disk).
    """
    if isinstance(runs, dict):
        runs = RunStore.from_runs(runs.values())
    sign, dedup = problem.sign, spec.dedup
    minima: tuple[Minimum, ...] = ()
    n_converged = runs.n_success
    if basins is None and n_converged:
        indices, points, values = runs.successful()
        basins = cluster_points(indices, points, sign * values, problem.lower, problem.upper,
                                dedup.xtol, dedup.ftol)
    if basins:
        n_first = len(basins)
        basins, notes, spent = _merge_pass(problem, spec, basins, runs.nfev + n_explore,
                                           stop_reason, evaluate)
        minima = as_minima(basins, sign, runs)
        minima = tuple(replace(m, note=notes.get(i)) for i, m in enumerate(minima))
        if problem.symmetries:
            minima = _relabelling_notes(problem, minima, runs)
        provenance = {**provenance, "merge": {"evaluations": spent, "minima_before": n_first,
                                              "minima_after": len(minima)}}
    n_failed = runs.n_failed
    stopped = f", {runs.n_stopped} stopped by the budget" if runs.n_stopped else ""
    kind = "maxima" if problem.maximize else "minima"
    if minima:
        message = (f"found {len(minima)} distinct {kind} from {len(runs)} starts "
                   f"({n_failed} failed{stopped}); stopped by {stop_reason}")
    else:
        message = f"no local solve succeeded ({n_failed} of {len(runs)} failed{stopped})"
    x, fun = (minima[0].x, minima[0].fun) if minima else (None, math.nan)
    if best_seen is not None and better_than(sign * best_seen[1], sign * fun, dedup.ftol):
        x, fun = np.array(best_seen[0], dtype=float), float(best_seen[1])
        message += (f"; x is the best point evaluated (fun={fun:.6g}), which no local solve "
                    f"had descended from when the run stopped: give a larger budget to refine it")
    if note:
        message += f"; {note}"
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
        estimated_n_minima=estimated_n_minima(n_converged, len(minima)),
        coverage=estimated_coverage(n_converged, len(minima)),
        method=spec.method,
        strategy=spec.strategy,
        spec=spec,
        portfolio=portfolio,
    )


def _relabelling_notes(problem: Problem, minima: tuple[Minimum, ...],
                       runs: Any) -> tuple[Minimum, ...]:
    """Each minimum reached in a relabelled copy by some runs, noted with how many."""
    relabelled: set[int] | None = None
    if hasattr(runs, "tables"):  # runs on disk: one pass over their messages, not one per run
        relabelled = set()
        for table in runs.tables(["message"]):
            marked = [RELABELLED in text for text in table.column("message").to_pylist()]
            relabelled.update(table.column("index").to_numpy()[marked].tolist())
    noted = []
    for minimum in minima:
        copies = (sum(i in relabelled for i in minimum.starts) if relabelled is not None
                  else sum(RELABELLED in runs.get(i).message for i in minimum.starts))
        note = minimum.note
        if copies:
            found = (f"symmetric: {copies} of its {minimum.n_hits} runs ended in a relabelled "
                     f"copy ({describe_symmetries(problem.symmetries)}), reported once in "
                     "canonical order")
            note = found if note is None else f"{note}; {found}"
        noted.append(replace(minimum, note=note))
    return tuple(noted)


def _merge_pass(problem: Problem, spec: RunSpec, basins: list[Basin], nfev: int,
                stop_reason: str, evaluate: Callable[[np.ndarray], np.ndarray] | None
                ) -> tuple[list[Basin], dict[int, str], int]:
    """The second merge of ``basins`` (see :func:`build_result`): the basins, best first, the
    note of each degenerate one by position, and the evaluations spent."""
    budget = max(500, nfev // 10)
    if spec.stop.max_evals is not None:
        budget = min(budget, spec.stop.max_evals - nfev)
    if (not spec.dedup.segment_check or len(basins) < 2 or problem.constraints or budget <= 0
            or stop_reason in ("max_evals", "max_time", "interrupted", "terminated")):
        return basins, {}, 0
    if evaluate is None:
        vectorized = spec.search.vectorized

        def evaluate(points: np.ndarray) -> np.ndarray:
            return problem.minimized_many(points, vectorized)

    merged, spent = merge_minima(basins, evaluate, problem.lower, problem.upper,
                                 spec.dedup.xtol, spec.dedup.ftol, max_evals=budget)
    notes = {
        i: (f"degenerate: a flat direction; {len(m.parts)} minima up to {m.spread:.3g} of the "
            f"box apart with equal values and no barrier between them, reported as one")
        for i, m in enumerate(merged) if m.degenerate
    }
    return [m.basin for m in merged], notes, spent
