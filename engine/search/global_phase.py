"""An optional global phase: one of scipy's global optimizers on a share of the budget.

Its best point becomes a start for a local solve, so the multistart result also holds what
``differential_evolution``, ``dual_annealing``, ``direct`` or ``shgo`` would have found.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
from scipy import optimize

from engine.exceptions import ConfigError
from engine.problem import Problem


class _BudgetSpent(Exception):
    """Raised inside the objective when the global phase has used its evaluations."""


class _CountedObjective:
    """Counts evaluations, remembers the best point, and ends the phase at its budget.

    Values are :meth:`Problem.minimized`'s; a point where there is none counts as ``+inf``.
    """

    def __init__(self, problem: Problem, budget: int) -> None:
        self.problem = problem
        self.budget = budget
        self.nfev = 0
        self.best_f = math.inf
        self.best_x: np.ndarray | None = None

    def __call__(self, x: np.ndarray) -> float:
        if self.nfev >= self.budget:
            raise _BudgetSpent
        self.nfev += 1
        x = np.array(x, dtype=float)  # the optimizer's own array, which it may change later
        try:
            value = self.problem.minimized(x)
        except (Exception, SystemExit):  # a failing point is a bad point, not the end of the phase
            return math.inf
        if value < self.best_f:
            self.best_f, self.best_x = value, x
        return value


def run_global_phase(name: str, problem: Problem, budget: int,
                     seed: int | None = None) -> tuple[np.ndarray | None, int]:
    """Run scipy's global optimizer ``name`` for at most ``budget`` evaluations.

    Returns
    -------
    x : numpy.ndarray or None
        The best point it evaluated (None when no finite value was seen).
    nfev : int
        Evaluations used.

    Examples
    --------
    >>> p = Problem.create(lambda x: float((x[0] - 0.3) ** 2), [(-1, 1)])
    >>> x, used = run_global_phase("differential_evolution", p, 300, seed=0)
    >>> abs(float(x[0]) - 0.3) < 0.05, used <= 300
    (True, True)
    """
    counted = _CountedObjective(problem, max(1, int(budget)))
    bounds = list(zip(problem.lower.tolist(), problem.upper.tolist(), strict=True))
    runners: dict[str, Any] = {
        # polish=False: the engine's own local solve polishes the point it returns.
        "differential_evolution": lambda: optimize.differential_evolution(
            counted, bounds, maxiter=100_000, polish=False, rng=seed, tol=0.0),
        "dual_annealing": lambda: optimize.dual_annealing(
            counted, bounds, maxfun=counted.budget, rng=seed, no_local_search=True),
        "direct": lambda: optimize.direct(counted, bounds, maxfun=counted.budget,
                                          maxiter=100_000),
        "shgo": lambda: optimize.shgo(counted, bounds, n=max(16, counted.budget // 4),
                                      iters=1, minimizer_kwargs={"options": {"maxiter": 5}}),
    }
    if name not in runners:
        raise ConfigError(f"global_phase={name!r} is unknown; allowed: {', '.join(runners)}")
    with contextlib.suppress(_BudgetSpent):
        runners[name]()
    return counted.best_x, counted.nfev
