"""The problem as one local solve calls it: :class:`SolverObjective`.

It maps the solver's coordinates to the user's, evaluates through the problem (which checks
every value and applies the sign), counts evaluations, enforces the time and evaluation
limits of one start, remembers the best point, and reports each evaluated point to a callback.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.fitting.residuals import residual_model
from engine.local.setup import SolveSetup
from engine.problem import Problem

#: ``callback(x, value)``: each point evaluated by a solve, in the user's coordinates, and
#: the value the solver minimizes there (``f``, or ``-f`` when maximizing).
EvaluationCallback = Callable[[np.ndarray, float], None]


class StopSolve(Exception):
    """Raised inside the objective to end a solve: its message is the reason."""


class Reshift(Exception):
    """Raised inside the objective when the shift would loosen the solver's tolerance (see
    :data:`RESHIFT_RATIO`): the solve is started again from the best point, with that point's
    value as the new shift."""


#: The shift is replaced once it exceeds a value seen by this factor (beyond 1). Solvers stop on
#: the change of what they see relative to its size: seen shifted, a value ``v`` far below the
#: shift ``s`` is tested relative to ``|v - s|``, not ``|v|``, a tolerance ``|s| / |v|`` times
#: looser. A start at 1e5 whose minimum is 0 (Rosenbrock's in 10-D) had L-BFGS-B stop where
#: the value still fell by 1e-4 per step, at f = 2 instead of 1e-10: so the shift is kept within
#: a factor 100 of the values, at the cost of a restart per two decades the values fall (a
#: restart disturbs a solver: COBYLA's trust region starts again).
RESHIFT_RATIO = 100.0
#: Solves start again at most this often; after that the solver sees ``f`` unshifted.
MAX_RESHIFTS = 8


class SolverObjective:
    """``fun``, ``fun_and_grad``, ``jac`` and ``hess`` of one solve, in solver coordinates.

    Parameters
    ----------
    problem : Problem
        Evaluated through :meth:`Problem.minimized` and its siblings.
    setup : SolveSetup
        The coordinates the solver works in.
    start_timeout : float, optional
        Wall seconds from now after which the next evaluation ends the solve.
    max_nfev : int, optional
        Evaluations after which the next one ends the solve.
    callback : callable, optional
        Called as ``callback(x, value)`` after each evaluation that gave a value.
    watch : engine.local.known.JoinWatch, optional
        Ends the solve (raising from its ``check``) once it joins a minimum already found.

    Attributes
    ----------
    nfev : int
        Evaluations started (a failed call counts).
    best_f, best_x
        The lowest value seen (minimized sign) and where, in the user's coordinates.
    shift : float
        The solver sees ``value - shift``, ``shift`` being the first value of the solve (at
        its start). A constant changes no minimizer, gradient or Hessian, but solvers stop on
        the change of ``f`` relative to ``|f|``: with ``f`` near 1e6 L-BFGS-B would stop
        where the value still changes by 1e-3. Values given back to the user add it again.
        When a later value is smaller than the shift by more than :data:`RESHIFT_RATIO`
        (beyond 1), the solver's tolerance would be that much looser than on ``f`` (and a
        start at 1e50 whose minimum is 0.2 would see only -1e50): :class:`Reshift` ends the
        solve, which starts again from the best point with the shift made afresh. A
        least-squares solve is never shifted (its solver sees the residuals, not the cost).

    Examples
    --------
    >>> from engine.options import LocalOptions
    >>> p = Problem.create(lambda x: float(x[0]), [(-1, 1)], maximize=True)
    >>> objective = SolverObjective(p, SolveSetup.of(p, LocalOptions()))
    >>> objective.fun(np.array([0.5])), objective.nfev, objective.best_x.tolist()
    (0.0, 1, [0.5])
    >>> objective.fun(np.array([0.75])), objective.shift, objective.best_f
    (-0.25, -0.5, -0.75)
    """

    def __init__(self, problem: Problem, setup: SolveSetup, start_timeout: float | None = None,
                 max_nfev: int | None = None,
                 callback: EvaluationCallback | None = None, watch: Any = None) -> None:
        self.problem = problem
        self.setup = setup
        self.nfev = 0
        self.max_nfev = max_nfev
        self.deadline = None if start_timeout is None else time.monotonic() + start_timeout
        # One test on the hot path instead of two when neither limit is set.
        self._limited = max_nfev is not None or start_timeout is not None
        self.callback = callback
        # Ends the solve when it joins a known minimum (engine.local.known.JoinWatch), or None.
        self.watch = watch
        self.best_f = math.inf
        self.best_x: np.ndarray | None = None
        self.to_user = setup.to_user
        # d/dz = width * d/dx in unit-box coordinates; None when the solver works in x.
        self._width = setup.width if setup.scaled else None
        self.shift = 0.0
        self._unshifted = True
        # A reshift ends a solve, so it is made only while one runs (set by the caller):
        # between solves (probing neighbours) the shift stays as it is.
        self.solving = False
        self.reshifts = 0
        self._model = residual_model(problem)  # the residuals of a least-squares problem

    def _check_limits(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise StopSolve("TimeoutError: start_timeout reached")
        if self.max_nfev is not None and self.nfev >= self.max_nfev:
            raise StopSolve(f"BudgetExhausted: max_evals reached after {self.nfev} evaluations")

    def _seen(self, x: np.ndarray, value: float) -> float:
        """Record ``value`` at ``x``; the value the solver sees (shifted)."""
        if value < self.best_f:
            self.best_f = value
            self.best_x = np.array(x, dtype=float)
        if self.callback is not None:
            self.callback(x, value)
        if self.watch is not None and self.solving:
            self.watch.check(x, value, self.nfev)
        if self._unshifted:
            self.shift, self._unshifted = value, False
        elif self.solving and abs(self.shift) > RESHIFT_RATIO * max(abs(value), 1.0):
            self.reshifts += 1
            if self.reshifts < MAX_RESHIFTS:
                self._unshifted = True  # the next solve's first value is the new shift
            else:
                self.shift = 0.0  # the next solve sees f itself
            raise Reshift
        return value - self.shift

    def no_shift(self) -> None:
        """Never shift (a least-squares solve: its solver does not see the cost)."""
        self.shift, self._unshifted = 0.0, False

    def fun(self, z: np.ndarray) -> float:
        """The minimized value at ``z`` (solver coordinates)."""
        if self._limited:
            self._check_limits()
        self.nfev += 1
        x = self.to_user(z)
        return self._seen(x, self.problem.minimized(x))

    def fun_and_grad(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        """The minimized value and its gradient with respect to ``z``, from one call of
        ``fun`` (``jac=True``)."""
        if self._limited:
            self._check_limits()
        self.nfev += 1
        x = self.to_user(z)
        value, grad = self.problem.minimized_and_gradient(x)
        return self._seen(x, value), grad if self._width is None else grad * self._width

    def jac(self, z: np.ndarray) -> np.ndarray:
        """The gradient with respect to ``z`` (not counted as an evaluation, as in scipy)."""
        grad = self.problem.minimized_gradient(self.to_user(z))
        return grad if self._width is None else grad * self._width

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """The residual vector at ``z`` (a least-squares solve; one evaluation).

        Non-finite residuals go to the solver, which shrinks its step there; only finite
        costs are recorded as seen.
        """
        if self._limited:
            self._check_limits()
        self.nfev += 1
        x = self.to_user(z)
        r = self._model.vector(x, *self.problem.args)
        cost = self._model.cost(r)
        if math.isfinite(cost):
            self._seen(x, cost)
        return r

    def residual_jacobian(self, z: np.ndarray) -> np.ndarray:
        """The residuals' Jacobian with respect to ``z`` (not counted, as ``jac``)."""
        jacobian = self._model.jacobian(self.to_user(z), *self.problem.args)
        return jacobian if self._width is None else jacobian * self._width

    def hess(self, z: np.ndarray) -> np.ndarray:
        """The Hessian with respect to ``z``."""
        hessian = self.problem.minimized_hessian(self.to_user(z))
        return hessian if self._width is None else hessian * np.outer(self._width, self._width)
