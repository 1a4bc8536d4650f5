"""One local solve from one start point, which never raises.

:func:`solve_one` wraps :func:`scipy.optimize.minimize`. Whatever the objective does (raise,
return NaN, a vector, a wrong-shaped gradient, run past its time limit) the outcome is a
:class:`~engine.results.LocalRun` with ``success=False`` and the reason, so one bad start never
costs the others.
"""

from __future__ import annotations

import ctypes
import math
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import Bounds, minimize

from engine.local.methods import METHODS
from engine.options import LocalOptions
from engine.problem import Problem
from engine.results.types import LocalRun

# Bound widths differing by more than this factor are solved in unit-box coordinates.
BADLY_SCALED_RATIO = 10.0


class _StopSolve(Exception):
    """Raised inside the objective wrapper to abort a solve with a reason."""


class _HardTimeout(BaseException):
    """Raised asynchronously in a solving thread whose objective call overran start_timeout.

    A BaseException, so that an objective's own ``except Exception`` cannot swallow it.
    """


# threading.Timer overflows the platform's time_t past about 1e8 s; a limit that long is none.
_LONGEST_TIMER = 1e7


class _Watchdog:
    """Interrupts the calling thread if a solve runs past its time limit inside one call.

    The objective wrapper checks the limit before every call; this covers the call that never
    returns while running Python code (a loop that spins). The exception is delivered at the
    thread's next Python instruction, so a call blocked inside C code ends when it returns.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._timer: threading.Timer | None = None
        self._thread_id = threading.get_ident()
        self.fired = False

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._thread_id), ctypes.py_object(_HardTimeout))

    def __enter__(self) -> _Watchdog:
        if self.seconds is None or self.seconds >= _LONGEST_TIMER:
            return self  # nothing to watch: no thread, no lock
        self._lock = threading.Lock()
        self._done = False
        # A little slack past the soft limit, which the wrapper enforces between calls.
        self._timer = threading.Timer(self.seconds * 1.5 + 0.05, self._fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is None:
            return
        with self._lock:
            self._done = True
            self._timer.cancel()
            if self.fired:
                # Fired while the solve was ending: withdraw the pending interrupt so it cannot
                # surface later in unrelated code, and report the timeout here instead.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread_id), None)
                if exc[0] is None:
                    raise _HardTimeout


@dataclass(frozen=True)
class _Frame:
    """What every solve of one problem with one set of options shares: the coordinates the
    solver works in and its bounds there. Built once per chunk of starts, not per start."""

    scaled: bool
    clip: bool
    offset: np.ndarray
    width: np.ndarray
    bounds: Bounds | None

    @classmethod
    def of(cls, problem: Problem, opts: LocalOptions) -> _Frame:
        scaled = uses_scaling(problem, opts)
        offset = problem.lower if scaled else np.zeros(problem.dim)
        width = problem.width if scaled else np.ones(problem.dim)
        bounds = None
        if METHODS[opts.method].bounds:
            bounds = Bounds((problem.lower - offset) / width, (problem.upper - offset) / width)
        # A bounded solver keeps z inside the box, but offset + width * z can round just
        # past a bound; the user's function and the reported x must stay inside.
        return cls(scaled=scaled, clip=scaled and _is_bounded(opts.method), offset=offset,
                   width=width, bounds=bounds)


class _Objective:
    """Counts calls, applies the sign for maximization, and checks every returned value."""

    def __init__(self, problem: Problem, start_timeout: float | None, frame: _Frame,
                 max_nfev: int | None = None) -> None:
        self.problem = problem
        self.sign = problem.sign
        self.nfev = 0
        self.max_nfev = max_nfev
        self.best_f = math.inf
        self.best_x: np.ndarray | None = None
        self.deadline = None if start_timeout is None else time.monotonic() + start_timeout
        # The solver sees z in [0, 1]^d when scaled; the user's function always sees x.
        self.frame = frame

    def to_user(self, z: np.ndarray) -> np.ndarray:
        frame = self.frame
        if not frame.scaled:
            # The user's function sees the solver's own array, as with scipy directly (every
            # call's few microseconds of wrapping count against objectives that cost less than
            # a millisecond).
            return z if isinstance(z, np.ndarray) and z.dtype == float else np.asarray(
                z, dtype=float)
        x = frame.offset + frame.width * np.asarray(z, dtype=float)
        return np.clip(x, self.problem.lower, self.problem.upper) if frame.clip else x

    def to_solver(self, x: np.ndarray) -> np.ndarray:
        if not self.frame.scaled:
            return np.array(x, dtype=float)
        return (np.asarray(x, dtype=float) - self.frame.offset) / self.frame.width

    def _value(self, x: np.ndarray, raw: Any) -> float:
        # float and numpy.float64 (a float subclass) are the common case, kept fast.
        value = float(raw) if isinstance(raw, float) else self._scalar(raw)
        if not math.isfinite(value):
            raise _StopSolve(f"ValueError: objective returned {value} at x={x.tolist()}")
        if self.sign * value < self.best_f:
            self.best_f = self.sign * value
            self.best_x = np.array(x, dtype=float)
        return self.sign * value

    @staticmethod
    def _scalar(raw: Any) -> float:
        if raw is None:
            raise _StopSolve("ValueError: objective returned None, not a scalar")
        if isinstance(raw, (str, bytes)):  # numpy would parse "1.5"; scipy refuses text
            raise _StopSolve(f"ValueError: objective returned text {raw!r}, not a scalar")
        try:
            return float(np.asarray(raw, dtype=float).reshape(()))
        except (TypeError, ValueError):
            shape = getattr(np.asarray(raw, dtype=object), "shape", "?")
            raise _StopSolve(
                f"ValueError: objective returned {type(raw).__name__} of shape {shape}, "
                "not a scalar"
            ) from None

    def _gradient(self, x: np.ndarray, raw: Any) -> np.ndarray:
        grad = np.asarray(raw, dtype=float)
        if grad.shape != x.shape:
            raise _StopSolve(
                f"ValueError: gradient has shape {grad.shape}, expected {x.shape}"
            )
        if not np.isfinite(grad).all():
            raise _StopSolve(f"ValueError: gradient is not finite at x={x.tolist()}")
        if self.frame.scaled:
            grad = grad * self.frame.width  # chain rule: d/dz = width * d/dx
        return -grad if self.sign < 0 else grad

    def _tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _StopSolve("TimeoutError: start_timeout reached")
        if self.max_nfev is not None and self.nfev >= self.max_nfev:
            raise _StopSolve(f"BudgetExhausted: max_evals reached after {self.nfev} evaluations")
        self.nfev += 1

    def fun(self, z: np.ndarray, *args: Any) -> float:
        self._tick()
        x = self.to_user(z)
        return self._value(x, self.problem.fun(x, *args))

    def fun_and_grad(self, z: np.ndarray, *args: Any) -> tuple[float, np.ndarray]:
        self._tick()
        x = self.to_user(z)
        raw = self.problem.fun(x, *args)
        if not isinstance(raw, (tuple, list)) or len(raw) != 2:
            raise _StopSolve("ValueError: jac=True but fun did not return (f, gradient)")
        return self._value(x, raw[0]), self._gradient(x, raw[1])

    def jac(self, z: np.ndarray, *args: Any) -> np.ndarray:
        x = self.to_user(z)
        return self._gradient(x, self.problem.jac(x, *args))

    def hess(self, z: np.ndarray, *args: Any) -> Any:
        x = self.to_user(z)
        hessian = np.asarray(self.problem.hess(x, *args), dtype=float)
        return self.sign * hessian * np.outer(self.frame.width, self.frame.width)


def _scipy_arguments(
    problem: Problem, opts: LocalOptions, wrapped: _Objective, frame: _Frame
) -> dict[str, Any]:
    info = METHODS[opts.method]
    kwargs: dict[str, Any] = {"method": opts.method, "args": problem.args, "tol": opts.tol}
    if problem.jac is True:
        kwargs["fun"], kwargs["jac"] = wrapped.fun_and_grad, True
    else:
        kwargs["fun"] = wrapped.fun
        if callable(problem.jac):
            kwargs["jac"] = wrapped.jac
        elif isinstance(problem.jac, str) and info.uses_jac:
            kwargs["jac"] = problem.jac
    if info.uses_hess and problem.hess is not None:
        kwargs["hess"] = wrapped.hess if callable(problem.hess) else problem.hess
    if frame.bounds is not None:
        kwargs["bounds"] = frame.bounds
    if problem.constraints:
        kwargs["constraints"] = list(problem.constraints)
    if opts.options:
        kwargs["options"] = dict(opts.options)
    return kwargs


def _with_simplex_at(kwargs: dict[str, Any], x0: np.ndarray, problem: Problem,
                     wrapped: _Objective) -> dict[str, Any]:
    """``kwargs`` with Nelder-Mead's ``initial_simplex`` moved to start at ``x0``.

    scipy uses an ``initial_simplex`` as given and ignores ``x0``, so every start would
    begin at the same simplex; the shape of the user's simplex is kept and its first vertex
    put at this start (clipped to the bounds), in the solver's coordinates.
    """
    options = kwargs.get("options") or {}
    if "initial_simplex" in options:
        moved = simplex_at(options["initial_simplex"], x0, problem.lower, problem.upper)
    elif kwargs.get("method") == "Nelder-Mead":
        moved = box_simplex(x0, problem.lower, problem.upper)
    else:
        return kwargs
    return {**kwargs, "options": {**options, "initial_simplex": wrapped.to_solver(moved)}}


def box_simplex(x0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                fraction: float = 0.05) -> np.ndarray:
    """Nelder-Mead's first simplex: ``x0`` and one step of ``fraction`` of the box per axis.

    scipy's default steps 5% of each coordinate's value (0.00025 for a zero one), so a start
    near the origin gets a simplex too small to see past noise or a flat region and
    "converges" where it began; steps sized by the bounds mean the same everywhere. A step
    that would leave the box is taken the other way.

    Examples
    --------
    >>> box_simplex(np.array([0.0, 9.9]), np.zeros(2), 10 * np.ones(2))
    array([[0. , 9.9],
           [0.5, 9.9],
           [0. , 9.4]])
    """
    x0 = np.asarray(x0, dtype=float)
    step = fraction * (np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float))
    step = np.where(x0 + step > upper, -step, step)
    return np.vstack([x0, x0 + np.diag(step)])


def simplex_at(simplex: Any, x0: np.ndarray, lower: np.ndarray,
               upper: np.ndarray) -> np.ndarray:
    """The simplex ``simplex`` moved so that its first vertex is ``x0``, clipped to the box.

    Examples
    --------
    >>> simplex_at([[0, 0], [1, 0], [0, 1]], np.array([2.0, 2.0]), np.zeros(2), 2.5 * np.ones(2))
    array([[2. , 2. ],
           [2.5, 2. ],
           [2. , 2.5]])
    """
    shape = np.asarray(simplex, dtype=float)
    return np.clip(np.asarray(x0, dtype=float) + (shape - shape[0]), lower, upper)


def _is_bounded(method: str) -> bool:
    info = METHODS.get(method)
    return bool(info is not None and info.bounds)


def uses_scaling(problem: Problem, opts: LocalOptions) -> bool:
    """Whether the solve runs in unit-box coordinates (not with constraints, which the user
    wrote in their own coordinates, nor with a Hessian given as a ``HessianUpdateStrategy``)."""
    if problem.constraints or not (
            problem.hess is None or callable(problem.hess) or isinstance(problem.hess, str)):
        return False
    if opts.scale is None:
        return bool(problem.width.max() > BADLY_SCALED_RATIO * problem.width.min())
    return bool(opts.scale)


def _lower_neighbour(wrapped: _Objective, z: np.ndarray, f: float,
                     args: tuple[Any, ...]) -> np.ndarray:
    """The lowest of ``z``'s neighbours one step along each coordinate, if lower than ``f``.

    A solver can report convergence where the gradient vanishes without a minimum: on a
    saddle or a ridge (L-BFGS-B from a start on the bound of ``(x^2 - 1)^2`` lands on the
    maximum at 0), or where a finite-difference gradient is flat. Stepping 0.1% of the box
    along each axis (``2 d`` evaluations) exposes that; the restart then descends from the
    lower neighbour instead of confirming the false minimum.
    """
    lower, upper = wrapped.to_solver(wrapped.problem.lower), wrapped.to_solver(
        wrapped.problem.upper)
    step = 1e-3 * (upper - lower)
    best_z, best_f = z, f - 1e-10 * (1.0 + abs(f))
    for axis in range(z.size):
        for direction in (1.0, -1.0):
            probe = np.array(z, dtype=float)
            probe[axis] = np.clip(probe[axis] + direction * step[axis], lower[axis], upper[axis])
            if probe[axis] == z[axis]:
                continue
            value = wrapped.fun(probe, *args)
            if value < best_f:
                best_z, best_f = probe, value
    return best_z


def solve_one(problem: Problem, x0: np.ndarray, index: int, opts: LocalOptions,
              frame: _Frame | None = None) -> LocalRun:
    """Run one local solve; return a :class:`LocalRun` whatever happens.

    ``frame`` is what the solves of ``problem`` with ``opts`` share (made here when not given;
    :func:`solve_each` makes it once for all its starts).

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
    if frame is None:
        frame = _Frame.of(problem, opts)
    wrapped = _Objective(problem, opts.start_timeout, frame, max_nfev=opts.max_nfev)
    kwargs = _scipy_arguments(problem, opts, wrapped, frame)
    nit = 0
    try:
        with _Watchdog(opts.start_timeout), warnings.catch_warnings():
            # Solver warnings (e.g. "Unknown solver options") belong in the message, not stderr.
            warnings.simplefilter("ignore")
            best = minimize(x0=wrapped.to_solver(x0), **_with_simplex_at(kwargs, x0, problem,
                                                                        wrapped))
            nit += int(best.get("nit", 0) or 0)
            for _ in range(max(0, opts.restarts)):
                if not best.success:
                    break
                from_z = np.asarray(best.x, dtype=float)
                if not problem.constraints:
                    from_z = _lower_neighbour(wrapped, from_z, float(best.fun), problem.args)
                restart = wrapped.to_user(from_z)
                again = minimize(x0=from_z,
                                 **_with_simplex_at(kwargs, restart, problem, wrapped))
                nit += int(again.get("nit", 0) or 0)
                lowered = float(again.fun) < float(best.fun) - 1e-12 * (1.0 + abs(best.fun))
                if not (again.success and lowered):
                    break
                best = again
    except _StopSolve as stop:
        return _failed_run(problem, x0, index, wrapped, nit, str(stop), started)
    except _HardTimeout:
        error = f"TimeoutError: start_timeout={opts.start_timeout} s reached inside one call"
        return _failed_run(problem, x0, index, wrapped, nit, error, started)
    except (Exception, SystemExit) as exc:  # the objective raised (or scipy did for it)
        # SystemExit too: an objective calling sys.exit() ends its start, not the worker
        # or the driver. KeyboardInterrupt still stops the run (Ctrl-C in this process).
        error = f"{type(exc).__name__}: {exc}"
        return _failed_run(problem, x0, index, wrapped, nit, error, started)
    x = wrapped.to_user(np.asarray(best.x, dtype=float).reshape(x0.shape))
    fun = float(best.fun) * problem.sign
    in_bounds = problem.contains(x)
    success = bool(best.success) and math.isfinite(fun) and in_bounds
    message = str(best.message)
    if not in_bounds:
        message = f"converged outside the bounds ({message})"
    return LocalRun(
        index=index, x0=x0, x=x, fun=fun, nfev=wrapped.nfev, nit=nit, success=success,
        message=message, error=None, time=time.perf_counter() - started, in_bounds=in_bounds,
    )


def _failed_run(
    problem: Problem,
    x0: np.ndarray,
    index: int,
    wrapped: _Objective,
    nit: int,
    error: str,
    started: float,
) -> LocalRun:
    x = x0 if wrapped.best_x is None else wrapped.best_x
    fun = math.nan if wrapped.best_x is None else wrapped.best_f * problem.sign
    return LocalRun(
        index=index, x0=x0, x=x, fun=fun, nfev=wrapped.nfev, nit=nit, success=False,
        message=f"failed: {error}", error=error, time=time.perf_counter() - started,
        in_bounds=problem.contains(x),
    )


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
    frame = _Frame.of(problem, opts)
    with one_blas_thread():
        for index, x0 in starts:
            yield solve_one(problem, x0, index, opts, frame)


def solve_chunk(problem: Problem, starts: Sequence[tuple[int, np.ndarray]],
                opts: LocalOptions) -> list[LocalRun]:
    """Solve several starts in a row (one task on a worker), BLAS limited to one thread."""
    return list(solve_each(problem, starts, opts))
