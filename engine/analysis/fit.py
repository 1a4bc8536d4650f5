"""What :func:`engine.diagnose` says about a least-squares fit at its best minimum.

The residuals' Jacobian there tells whether the data fix every parameter (its rank and
condition number, and which parameters a rank deficiency involves) and gives the parameters'
standard errors, scaled as :func:`scipy.optimize.curve_fit` scales them (by the reduced
chi-square: the residuals are taken as unweighted or relatively weighted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.fitting.covariance import covariance, identifiability, jacobian_at
from engine.fitting.residuals import Residuals, residual_model

if TYPE_CHECKING:
    from engine.analysis.diagnostics import Finding
    from engine.problem import Problem
    from engine.results.types import MultistartResult

#: A condition number above this is reported as a warning (a fit this ill-conditioned
#: loses about 8 of its 16 digits in the parameters).
ILL_CONDITIONED = 1e8


def fit_finding(result: MultistartResult, problem: Problem,
                finding: type[Finding]) -> Finding | None:
    """The ``fit`` finding at the result's best point, or None without one.

    A warning when the Jacobian is rank deficient (naming the parameters not identifiable)
    or its condition number exceeds :data:`ILL_CONDITIONED`; a note with the condition number
    and standard errors otherwise.
    """
    model = residual_model(problem)
    if model is None or result.x is None:
        return None
    x = np.asarray(result.x, dtype=float)
    jacobian = jacobian_at(model, x, problem.args, problem.lower, problem.upper)
    r = model.vector(x, *problem.args)
    sum_of_squares = float(r @ r)
    errors = np.sqrt(np.diag(covariance(jacobian, sum_of_squares)))
    found = identifiability(jacobian)
    data: dict[str, Any] = {"rank": found.rank, "n_parameters": x.size,
                            "condition": found.condition,
                            "unidentifiable": list(found.unidentifiable),
                            "standard_errors": errors.tolist(),
                            "sum_of_squares": sum_of_squares, "n_residuals": int(r.size)}
    errors_text = ", ".join(f"{e:.3g}" for e in errors)
    if found.unidentifiable:
        names = ", ".join(f"x[{i}]" for i in found.unidentifiable)
        return finding(
            "fit", "warning",
            f"the Jacobian at the best fit has rank {found.rank} of {x.size}: {names} are not "
            f"identifiable from these data (only a combination of them is); their values "
            "depend on the start",
            "fix the redundant parameters (or reparametrize, e.g. fit the product), or add data "
            "that separate them", data)
    if found.condition > ILL_CONDITIONED:
        return finding(
            "fit", "warning",
            f"the Jacobian at the best fit is ill-conditioned (condition {found.condition:.3g}); "
            f"standard errors {errors_text}", "rescale the parameters to similar sizes "
            "(x_scale='jac' does so in the solver), or fix the weakly determined ones", data)
    return finding("fit", "info", f"full rank {found.rank} (condition {found.condition:.3g}); "
                   f"standard errors {errors_text} (scaled by the reduced chi-square "
                   f"{sum_of_squares / max(r.size - x.size, 1):.3g})", "", data)


def residual_problem(fun: Any, jac: Any) -> Residuals:
    """The residual model of a fit re-made from the function given to :func:`diagnose`."""
    return Residuals(fun, jac=jac if callable(jac) else "2-point")
