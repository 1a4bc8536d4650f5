"""One least-squares solve: :func:`scipy.optimize.least_squares` in the engine's solve loop.

The arguments come from :meth:`engine.local.setup.SolveSetup.arguments` (the residual
function and Jacobian of a :class:`~engine.local.objective.SolverObjective`, which counts
every call, finite-difference ones included); the answer is shaped as the
:class:`scipy.optimize.OptimizeResult` of :func:`scipy.optimize.minimize`, ``fun`` being the
cost as the solver saw it (shifted, see :class:`~engine.local.objective.SolverObjective`), so
the restarts and checks of :mod:`engine.local.solve` treat both kinds alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import OptimizeResult, least_squares

if TYPE_CHECKING:
    from engine.local.objective import SolverObjective

#: Keyword arguments of :func:`scipy.optimize.least_squares` that ``options=`` may hold; the
#: others are the engine's (the residual function, start, bounds) or the problem's (loss).
LEAST_SQUARES_OPTIONS = ("ftol", "xtol", "gtol", "x_scale", "diff_step", "tr_solver",
                         "tr_options", "jac_sparsity", "max_nfev", "verbose")


def solver_arguments(options: dict[str, Any], tol: float | None) -> dict[str, Any]:
    """The ``least_squares`` keywords from ``options=`` and ``tol`` (which sets ``ftol``,
    ``xtol`` and ``gtol`` where ``options`` does not, as ``tol`` does for ``minimize``).

    Examples
    --------
    >>> solver_arguments({"xtol": 1e-10}, 1e-6)
    {'xtol': 1e-10, 'ftol': 1e-06, 'gtol': 1e-06}
    """
    kwargs = {key: value for key, value in options.items() if key in LEAST_SQUARES_OPTIONS}
    if tol is not None:
        for key in ("ftol", "xtol", "gtol"):
            kwargs.setdefault(key, tol)
    return kwargs


def solve_least_squares(kwargs: dict[str, Any], objective: SolverObjective) -> OptimizeResult:
    """Run :func:`scipy.optimize.least_squares` with ``kwargs``; the result as ``minimize``'s.

    ``success`` is scipy's ``status > 0`` (a tolerance met); ``nit`` counts Jacobian
    evaluations (the solver's iterations that moved); ``jac`` is the Jacobian at ``x``.
    """
    result = least_squares(**kwargs)
    return OptimizeResult(
        x=np.asarray(result.x, dtype=float), fun=float(result.cost) - objective.shift,
        success=bool(result.status > 0), status=int(result.status),
        message=str(result.message), nit=int(result.njev or 0), jac=result.jac,
        optimality=float(result.optimality), active_mask=result.active_mask,
    )
