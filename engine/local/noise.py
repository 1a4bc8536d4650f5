"""The noise level of an objective, and the solver and merge tolerances it calls for.

With ``local.noisy`` the engine estimates the noise once, before the run
(:func:`estimate_noise`): the objective is evaluated :data:`REPEATS` times at each of
:data:`N_POINTS` fixed points of the box (its centre and the next points of an unscrambled
Sobol sequence) and ``sigma`` is the median over the points of the standard deviation of the
repeats. A deterministic objective gives ``sigma = 0`` and changes nothing.

:func:`noisy_options` then sets what the user left at its default so that a solve stops by
tolerance at the noise floor instead of running into ``maxfev``:

* Nelder-Mead: ``fatol = 5 sigma`` (the ``d + 1`` simplex values at the floor are ``d + 1``
  draws of the noise; scipy's 1e-4 is never met when ``sigma`` is larger) and ``xatol`` 1e-3
  of the box (a simplex that small has reached the noise-limited accuracy
  ``~sqrt(2 sigma / curvature)`` of any ordinary problem long before); ``maxfev``/``maxiter``
  1000 per variable (noisy Himmelblau, sigma 1e-3: 77 evaluations median, 98 at most, with
  these tolerances);
* Powell: ``ftol = sigma / 10`` and ``xtol`` 1e-3 (its line searches stop at ``100 xtol``:
  finer steps only sample noise). Powell's ``ftol`` is relative to ``|f|``: at a minimum
  near 0 a looser one lets an iteration that found no lucky value end the solve short of the
  minimum (two noisy Himmelblaus in 4 variables, sigma 1e-3, 64 starts: 17-18 minima for the
  16 with ``ftol = 5 sigma``, 16-18 with ``sigma`` depending on the estimate, exactly 16 with
  ``sigma / 10``; ~250 evaluations per start).

Neither tolerance is set tighter than scipy's default (1e-4).

:func:`noisy_dedup` widens the merge tolerances: values within ``5 sigma`` (``ftol`` is
relative to ``max(1, |f|)``, so ``5 sigma`` is at least that much in absolute terms) and points
within 1e-2 of the box (converged points of one minimum scatter by the noise-limited accuracy,
a few 1e-3 of the box on noisy Himmelblau) are one minimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import qmc

from engine.problem import Problem

__all__ = ["N_POINTS", "REPEATS", "estimate_noise", "noisy_dedup", "noisy_options"]

#: Points at which the noise is measured, and evaluations at each.
N_POINTS = 5
REPEATS = 8
#: Tolerances in units of the noise sigma and of the box.
SIGMAS = 5.0
SOLVER_XTOL = 1e-3
DEDUP_XTOL = 1e-2
#: scipy's own value tolerance of Nelder-Mead (fatol) and Powell (ftol).
SCIPY_FTOL = 1e-4
#: Evaluation and iteration limit of a noisy simplex solve, per variable.
FEV_PER_VARIABLE = 1000


def estimate_noise(problem: Problem, vectorized: bool = False) -> float:
    """The noise sigma of ``problem``'s objective: median spread of repeated evaluations.

    ``N_POINTS * REPEATS`` evaluations (40), not counted in the run's ``nfev``: they are made
    before the run starts, while its options are being resolved. A point where the objective
    fails (NaN) is skipped; with no usable point the estimate is 0.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = Problem.create(lambda x: float(x @ x + 0.01 * rng.standard_normal()), [(-1, 1)] * 2)
    >>> 0.005 < estimate_noise(p) < 0.02
    True
    >>> estimate_noise(Problem.create(lambda x: float(x @ x), [(-1, 1)] * 2))
    0.0
    """
    if not np.isfinite(problem.width).all():
        return 0.0
    # The centre first (Sobol's second point), then fixed spread points: no seed involved.
    unit = qmc.Sobol(problem.dim, scramble=False).random_base2(3)[1:N_POINTS + 1]
    points = problem.lower + unit * problem.width
    values = problem.evaluate_many(np.repeat(points, REPEATS, axis=0), vectorized=vectorized)
    spreads = []
    for row in values.reshape(N_POINTS, REPEATS):
        row = row[np.isfinite(row)]
        if row.size >= 2:
            spreads.append(float(np.std(row, ddof=1)))
    return float(np.median(spreads)) if spreads else 0.0


def noisy_options(method: str, options: dict[str, Any], tol: float | None, sigma: float,
                  dim: int, box: float) -> dict[str, Any]:
    """``options`` with the tolerances of ``method`` set at the noise level ``sigma``.

    Only keys the user did not give are set, and none when ``tol`` is given (scipy derives
    the tolerances from it) or ``sigma`` is 0. ``box`` is the smallest width of the box in
    the solver's coordinates (1 when it solves in the unit box).

    Examples
    --------
    >>> noisy_options("Nelder-Mead", {"xatol": 1e-6}, None, 1e-3, 2, 10.0)
    {'xatol': 1e-06, 'fatol': 0.005, 'maxfev': 2000, 'maxiter': 2000}
    """
    if sigma <= 0 or tol is not None:
        return options
    if method == "Nelder-Mead":
        wanted = {"xatol": SOLVER_XTOL * box, "fatol": max(SIGMAS * sigma, SCIPY_FTOL)}
    elif method == "Powell":
        wanted = {"xtol": SOLVER_XTOL, "ftol": max(sigma / 10, SCIPY_FTOL)}
    else:
        return options
    wanted.update(maxfev=FEV_PER_VARIABLE * dim, maxiter=FEV_PER_VARIABLE * dim)
    return {**options, **{k: v for k, v in wanted.items() if k not in options}}


def noisy_dedup(sigma: float, xtol: float, ftol: float, default_xtol: float,
                default_ftol: float) -> tuple[float, float]:
    """The merge tolerances ``(xtol, ftol)`` for noise ``sigma``; given values are kept.

    Examples
    --------
    >>> noisy_dedup(1e-3, 1e-4, 1e-6, 1e-4, 1e-6)
    (0.01, 0.005)
    >>> noisy_dedup(1e-3, 1e-3, 1e-6, 1e-4, 1e-6)
    (0.001, 0.005)
    """
    if sigma <= 0:
        return xtol, ftol
    return (max(xtol, DEDUP_XTOL) if xtol == default_xtol else xtol,
            max(ftol, SIGMAS * sigma) if ftol == default_ftol else ftol)
