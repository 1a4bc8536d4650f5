"""One local solve from one start point, which never raises: :func:`solve_one`.

:func:`solve_one` wraps :func:`scipy.optimize.minimize`. Whatever the objective does (raise,
return NaN, a vector, a wrong-shaped gradient, run past its time limit) the outcome is a
:class:`~engine.results.LocalRun` with ``success=False`` and the reason, so one bad start never
costs the others. The driver's executors call it through :func:`solve_each` and
:func:`solve_chunk`; diagnostics re-solve minima and plots trace solver paths with it too.

What the solves of one problem share is a :class:`~engine.local.setup.SolveSetup`; the calls
of the objective go through a :class:`~engine.local.objective.SolverObjective`.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from scipy.optimize import OptimizeResult, minimize

from engine.local.known import JoinedKnown, KnownMinima
from engine.local.least_squares import solve_least_squares
from engine.local.methods import is_least_squares
from engine.local.objective import EvaluationCallback, Reshift, SolverObjective, StopSolve
from engine.local.setup import (
    SolveSetup,
)
from engine.local.watchdog import HardTimeout, Watchdog
from engine.options import LocalOptions
from engine.problem import ObjectiveError, Problem
from engine.results.types import LocalRun, stopped_by_budget

__all__ = ["one_blas_thread", "solve_chunk", "solve_each", "solve_one"]


def _lowest_neighbour(objective: SolverObjective, z: np.ndarray,
                      f: float) -> tuple[np.ndarray, float]:
    """The lowest of ``z``'s neighbours one step along each coordinate and its value, if lower
    than ``f`` (else ``z`` and ``f``).

    A solver can report convergence where the gradient vanishes without a minimum: on a
    saddle or a ridge (L-BFGS-B from a start on the bound of ``(x^2 - 1)^2`` lands on the
    maximum at 0), or where a finite-difference gradient is flat. Stepping 0.1% of the box
    along each axis (``2 d`` evaluations) exposes that; the restart then descends from the
    lower neighbour instead of confirming the false minimum.
    """
    lower, upper = objective.setup.solver_lower, objective.setup.solver_upper
    step = 1e-3 * (upper - lower)
    if not np.isfinite(step).all():  # bounds unknown: no scale to step by
        return z, f
    best_z, best_f = z, f - 1e-10 * (1.0 + abs(f))
    for axis in range(z.size):
        for direction in (1.0, -1.0):
            probe = np.array(z, dtype=float)
            probe[axis] = np.clip(probe[axis] + direction * step[axis], lower[axis], upper[axis])
            if probe[axis] == z[axis]:
                continue
            value = objective.fun(probe) + objective.shift  # no reshift outside a solve
            if value < best_f:
                best_z, best_f = probe, value
    return (z, f) if best_z is z else (best_z, best_f)


#: Messages of solvers that stopped because floating point allowed no further progress (a
#: line search that finds no lower value), which happens at a minimum as often as short of
#: one: such a stop is checked by :func:`_accept_precision_stop`, not taken as a failure.
PRECISION_STOPS = ("ABNORMAL", "precision loss", "Linear search failed",
                   "Positive directional derivative")


def _accept_precision_stop(problem: Problem, objective: SolverObjective,
                           best: OptimizeResult) -> OptimizeResult:
    """``best`` marked successful when the solver stopped for precision at a minimum.

    L-BFGS-B reports "ABNORMAL" and BFGS "precision loss" when the line search finds no
    lower value, typically within rounding of a minimum (a narrow box, a large offset, a
    kink). The point counts as converged when no point 0.1% of the box away along any axis
    is lower (``2 d`` evaluations); otherwise the stop stays a failure.
    """
    message = str(best.message)
    if (best.success or problem.constraints or not math.isfinite(float(best.fun))
            or not any(reason in message for reason in PRECISION_STOPS)):
        return best
    z = np.asarray(best.x, dtype=float)
    if _lowest_neighbour(objective, z, float(best.fun))[0] is not z:  # a lower point beside it
        return best
    best.success = True
    best.message = (f"{message} (accepted: no lower point 0.1% of the box away along any "
                    "axis)")
    return best


class _IterationCounter:
    """scipy's ``callback``: counts the iterations of the solve under way.

    Its ``__signature__`` is given, so the ``inspect.signature`` scipy makes of every callback
    returns at once: computed, it took about 20 us per solve, a tenth of a cheap 2-D solve.
    """

    __signature__ = inspect.Signature([inspect.Parameter(
        "intermediate_result", inspect.Parameter.POSITIONAL_OR_KEYWORD)])

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, intermediate_result: Any) -> None:
        # By this name scipy hands over its own result object: no copy of x per iteration.
        self.count += 1


class _Descent:
    """Runs the solver and counts its iterations, a count kept when a later call fails.

    Each result's ``fun`` is the minimized value itself, not as the solver saw it shifted:
    a later solve may be shifted by another value, and results of two solves are compared.
    """

    def __init__(self, objective: SolverObjective, setup: SolveSetup) -> None:
        self.nit = 0
        self._iterations = _IterationCounter()  # of the solve under way
        self.objective = objective
        self.setup = setup
        if is_least_squares(setup.method):
            objective.no_shift()

    def run(self, kwargs: dict[str, Any]) -> OptimizeResult:
        spent = {"evaluations": 0, "iterations": 0}  # by solves a reshift ended
        while True:
            self._iterations.count = 0
            nfev = self.objective.nfev
            self.objective.solving = True
            try:
                result = (solve_least_squares(kwargs, self.objective)
                          if is_least_squares(kwargs["method"])
                          else minimize(**kwargs, callback=self._iterations))
                break
            except Reshift:  # values far below the shift: again from the best point
                # The solve ended without a result: its iterations still count, and the
                # user's limits hold for the whole solve, not for each part of it.
                self.nit += self._iterations.count
                spent["evaluations"] += self.objective.nfev - nfev
                spent["iterations"] += self._iterations.count
                kwargs = _within_limits(self.setup.arguments(self.objective,
                                                             self.objective.best_x), spent)
            finally:
                self.objective.solving = False
        self.nit += int(result.get("nit", 0) or 0)
        # In the values themselves: the next solve may see them shifted otherwise.
        result.fun = float(result.fun) + self.objective.shift
        return result


#: scipy's per-solve limits and what each counts: a solve started again after a reshift gets
#: what its first part left of them.
_LIMITS = {"maxfev": "evaluations", "maxfun": "evaluations", "maxiter": "iterations"}


def _within_limits(kwargs: dict[str, Any], spent: dict[str, int]) -> dict[str, Any]:
    """``kwargs`` with the limits of its ``options`` lowered by what was ``spent`` (at least
    1 left, so that the solver itself reports the limit reached).

    Examples
    --------
    >>> _within_limits({"options": {"maxfev": 60, "xatol": 1e-6}},
    ...                {"evaluations": 45, "iterations": 20})["options"]
    {'maxfev': 15, 'xatol': 1e-06}
    """
    options = kwargs.get("options")
    if options:
        counts = dict(_LIMITS)
        if str(kwargs.get("method", "")).upper() == "COBYLA":
            counts["maxiter"] = "evaluations"  # COBYLA's maxiter limits evaluations
        kwargs["options"] = {key: max(1, int(value) - spent[counts[key]])
                             if key in counts and value is not None else value
                             for key, value in options.items()}
    return kwargs


#: A success whose lowest neighbour 0.1% of the box away is lower than its value by more than
#: this fraction of ``1 + |f|`` is not stationary (see :func:`_descend`).
STATIONARY_RTOL = 1e-6

#: The start of the message of a solve that reported convergence where it could still descend.
NOT_STATIONARY = "reported converged but is not stationary"


def _descend(problem: Problem, x0: np.ndarray, opts: LocalOptions, setup: SolveSetup,
             objective: SolverObjective, descent: _Descent) -> OptimizeResult:
    """Solve from ``x0``, then restart from the end point while that lowers the value.

    A restart only checks a converged point: when the evaluation budget or the time limit
    ends it, the converged point stands, unless the restart had found a lower one (then the
    solve is the budget's or the time's cut, at its best point). A success of a solve in the
    unit box that the restarts leave with a neighbour 0.1% of the box away lower by more than
    :data:`STATIONARY_RTOL` of ``1 + |f|`` is not a minimum in the user's coordinates
    (SLSQP in a badly conditioned unit box "converges" at its start, and each restart one
    probe step further, issue 15): it becomes a failure.
    """
    best = _accept_precision_stop(problem, objective, descent.run(setup.arguments(objective,
                                                                                   x0)))
    # Only a solve in other coordinates than the user's: in theirs the solver's own tests
    # are the user's (a stop on a plateau there is diagnose's flat region, not a failure).
    check = bool(setup.scaled and opts.restarts > 0 and setup.finite)
    # The drop to the lowest neighbour of the current best, once probed (None: not yet).
    drop: float | None = None
    try:
        for _ in range(max(0, opts.restarts)):
            if not best.success:
                break
            from_z = np.asarray(best.x, dtype=float)
            drop = None
            if not problem.constraints:
                from_z, value = _lowest_neighbour(objective, from_z, float(best.fun))
                drop = float(best.fun) - value
            again = _accept_precision_stop(problem, objective, descent.run(
                setup.arguments(objective, setup.to_user(from_z), from_z)))
            lowered = float(again.fun) < float(best.fun) - 1e-12 * (1.0 + abs(best.fun))
            if not (again.success and lowered):
                break
            best, drop = again, None
        if check and best.success:
            _check_stationary(objective, best, drop)
    except JoinedKnown:
        raise  # a restart on its way to a known minimum: the solve joined it
    except StopSolve:
        # The budget or the time ended a restart. Its start stands as the answer only if the
        # restart found nothing lower: one still descending says it was no minimum.
        if not best.success or objective.best_f < float(best.fun) - 1e-12 * (
                1.0 + abs(float(best.fun))):
            raise
    return best


def _check_stationary(objective: SolverObjective, best: OptimizeResult,
                      drop: float | None) -> None:
    """Mark ``best`` failed when a neighbour 0.1% of the box away is clearly lower.

    ``drop`` is how much lower its lowest neighbour was, when the restarts probed it already.
    """
    f = float(best.fun)
    if drop is None:
        drop = f - _lowest_neighbour(objective, np.asarray(best.x, dtype=float), f)[1]
    if drop > STATIONARY_RTOL * (1.0 + abs(f)):
        best.success = False
        best.message = (f"{NOT_STATIONARY}: a point 0.1% of the box away along an axis is "
                        f"{drop:.3g} lower ({best.message})")


def solve_one(problem: Problem, x0: np.ndarray, index: int, opts: LocalOptions,
              setup: SolveSetup | None = None,
              callback: EvaluationCallback | None = None) -> LocalRun:
    """Run one local solve; return a :class:`LocalRun` whatever happens.

    Parameters
    ----------
    problem : Problem
        What to solve.
    x0 : numpy.ndarray
        The start, in the user's coordinates.
    index : int
        The start's index, recorded in the run.
    opts : LocalOptions
        Method, scipy options, tolerance, restarts, time and evaluation limits.
    setup : SolveSetup, optional
        What the solves of ``problem`` with ``opts`` share (made here when not given;
        :func:`solve_each` makes it once for all its starts).
    callback : callable, optional
        ``callback(x, value)`` after each evaluation: the point in the user's coordinates and
        the value the solver minimizes there (``-f`` when maximizing).

    Returns
    -------
    LocalRun
        ``fun`` in the user's sign; on failure ``error`` is ``"<type>: <reason>"`` and
        ``x``/``fun`` the best point evaluated (``x0`` and NaN when none was).

    Examples
    --------
    >>> import numpy as np
    >>> p = Problem.create(lambda x: float((x[0] - 1) ** 2), [(-3, 3)])
    >>> run = solve_one(p, np.array([0.0]), 0, LocalOptions())
    >>> run.success, round(float(run.x[0]), 5)
    (True, 1.0)
    """
    started = time.perf_counter()
    x0 = np.asarray(x0, dtype=float)
    if setup is None:
        setup = SolveSetup.of(problem, opts)
    known: KnownMinima | None = opts.known_minima
    watch = None if known is None else known.watch(problem, x0)
    objective = SolverObjective(problem, setup, opts.start_timeout, opts.max_nfev, callback,
                                watch)
    descent = _Descent(objective, setup)
    try:
        with Watchdog(opts.start_timeout), warnings.catch_warnings():
            # Solver warnings (e.g. "Unknown solver options") belong in the message, not stderr.
            warnings.simplefilter("ignore")
            best = _descend(problem, x0, opts, setup, objective, descent)
    except JoinedKnown as joined:
        return _joined_run(problem, x0, index, known, joined, objective, descent.nit, started)
    except StopSolve as stop:
        error = str(stop)
    except ObjectiveError as exc:
        # Recorded as the ValueError it is: the form failed runs have always been stored in.
        error = f"ValueError: {exc}"
    except HardTimeout:
        error = f"TimeoutError: start_timeout={opts.start_timeout} s reached inside one call"
    except (Exception, SystemExit) as exc:  # the objective raised (or scipy did for it)
        # SystemExit too: an objective calling sys.exit() ends its start, not the worker
        # or the driver. KeyboardInterrupt still stops the run (Ctrl-C in this process).
        error = f"{type(exc).__name__}: {exc}"
    else:
        return _finished_run(problem, x0, index, setup, objective, descent.nit, best, started)
    return _failed_run(problem, x0, index, objective, descent.nit, error, started)


def _finished_run(problem: Problem, x0: np.ndarray, index: int, setup: SolveSetup,
                  objective: SolverObjective, nit: int, best: OptimizeResult,
                  started: float) -> LocalRun:
    x = setup.to_user(np.asarray(best.x, dtype=float).reshape(x0.shape))
    x, relabelled = problem.canonical(x)
    # The value as evaluated where it can be had (adding the shift back rounds): scipy's x is
    # almost always the best point the objective saw.
    exact = objective.best_x is not None and np.array_equal(x, objective.best_x)
    minimized = objective.best_f if exact else float(best.fun)
    fun = problem.sign * minimized  # the user's value and sign
    in_bounds = problem.contains(x)
    success = bool(best.success) and math.isfinite(fun) and in_bounds
    message = str(best.message)
    if not in_bounds:
        message = f"converged outside the bounds ({message})"
    if relabelled:
        message = f"{message} {RELABELLED}"
    return LocalRun(
        index=index, x0=x0, x=x, fun=fun, nfev=objective.nfev, nit=nit, success=success,
        message=message, error=None, time=time.perf_counter() - started, in_bounds=in_bounds,
    )


def _joined_run(problem: Problem, x0: np.ndarray, index: int, known: KnownMinima,
                joined: JoinedKnown, objective: SolverObjective, nit: int,
                started: float) -> LocalRun:
    """A solve ended on its way to a known minimum: another hit of that minimum."""
    return LocalRun(
        index=index, x0=x0, x=np.array(known.x[joined.k], dtype=float),
        fun=problem.sign * float(known.values[joined.k]), nfev=objective.nfev, nit=nit,
        success=True, message=f"{joined} (stopped early: it was going back to it)",
        error=None, time=time.perf_counter() - started, in_bounds=True,
    )


def _failed_run(problem: Problem, x0: np.ndarray, index: int, objective: SolverObjective,
                nit: int, error: str, started: float) -> LocalRun:
    x = x0 if objective.best_x is None else objective.best_x
    fun = math.nan if objective.best_x is None else problem.sign * objective.best_f
    return LocalRun(
        index=index, x0=x0, x=x, fun=fun, nfev=objective.nfev, nit=nit, success=False,
        message=(f"stopped by budget: {error.split(': ', 1)[-1]}" if stopped_by_budget(error)
                 else f"failed: {error}"),
        error=error, time=time.perf_counter() - started,
        in_bounds=problem.contains(x),
    )


#: Ends the message of a run whose end point was put in canonical order (``symmetries``).
RELABELLED = "(relabelled: interchangeable parameter groups put in canonical order)"

_BLAS_CONTROLLER: Any = None


def one_blas_thread() -> Any:
    """A context that limits BLAS to one thread.

    scipy's local solvers make many tiny BLAS calls; a multi-threaded OpenBLAS spends far
    longer waking its threads than computing (measured here: L-BFGS-B on a 2-D problem 40x
    slower with 2 threads). Parallelism comes from running many starts at once instead.
    """
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER = ThreadpoolController()  # discovering libraries is the slow part
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def solve_each(problem: Problem, starts: Iterable[tuple[int, np.ndarray]],
               opts: LocalOptions) -> Iterator[LocalRun]:
    """Solve starts one after another, yielding each run as it finishes.

    What the solves share (coordinates, bounds, BLAS limited to one thread) is set up once
    for all of them: per start it cost as much as a cheap solve itself.

    Examples
    --------
    >>> p = Problem.create(lambda x: float((x[0] - 1) ** 2), [(-3, 3)])
    >>> [round(float(r.x[0]), 5) for r in solve_each(p, [(0, np.zeros(1))], LocalOptions())]
    [1.0]
    """
    setup = SolveSetup.of(problem, opts)
    with one_blas_thread():
        for index, x0 in starts:
            yield solve_one(problem, x0, index, opts, setup)


def solve_chunk(problem: Problem, starts: Sequence[tuple[int, np.ndarray]],
                opts: LocalOptions) -> list[LocalRun]:
    """Solve several starts in a row (one task on a worker), BLAS limited to one thread."""
    return list(solve_each(problem, starts, opts))
