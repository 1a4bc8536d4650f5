"""What each local method accepts and needs, and the choice that ``method="auto"`` makes.

The methods are those of :func:`scipy.optimize.minimize`, and for a residual objective
(:func:`engine.least_squares`) those of :func:`scipy.optimize.least_squares`: ``trf``,
``dogbox`` and ``lm``.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.exceptions import ProblemError
from engine.fitting.residuals import residual_model
from engine.problem import Problem


@dataclass(frozen=True)
class MethodInfo:
    """What a scipy local method accepts and requires."""

    bounds: bool
    constraints: bool = False
    needs_jac: bool = False
    needs_hess: bool = False
    uses_jac: bool = True
    uses_hess: bool = False
    least_squares: bool = False


# From scipy.optimize.minimize's documentation (scipy >= 1.14).
METHODS: dict[str, MethodInfo] = {
    "Nelder-Mead": MethodInfo(bounds=True, uses_jac=False),
    "Powell": MethodInfo(bounds=True, uses_jac=False),
    "CG": MethodInfo(bounds=False),
    "BFGS": MethodInfo(bounds=False),
    "Newton-CG": MethodInfo(bounds=False, needs_jac=True, uses_hess=True),
    "L-BFGS-B": MethodInfo(bounds=True),
    "TNC": MethodInfo(bounds=True),
    "COBYLA": MethodInfo(bounds=True, constraints=True, uses_jac=False),
    "COBYQA": MethodInfo(bounds=True, constraints=True, uses_jac=False),
    "SLSQP": MethodInfo(bounds=True, constraints=True),
    "trust-constr": MethodInfo(bounds=True, constraints=True, uses_hess=True),
    "dogleg": MethodInfo(bounds=False, needs_jac=True, needs_hess=True, uses_hess=True),
    "trust-ncg": MethodInfo(bounds=False, needs_jac=True, needs_hess=True, uses_hess=True),
    "trust-exact": MethodInfo(bounds=False, needs_jac=True, needs_hess=True, uses_hess=True),
    "trust-krylov": MethodInfo(bounds=False, needs_jac=True, needs_hess=True, uses_hess=True),
    # scipy.optimize.least_squares, for residual objectives only.
    "trf": MethodInfo(bounds=True, least_squares=True),
    "dogbox": MethodInfo(bounds=True, least_squares=True),
    "lm": MethodInfo(bounds=False, least_squares=True),
}
#: The methods of :func:`scipy.optimize.least_squares`.
LEAST_SQUARES_METHODS = tuple(name for name, info in METHODS.items() if info.least_squares)


def is_least_squares(method: str) -> bool:
    """Whether ``method`` is one of :func:`scipy.optimize.least_squares`'s (``"auto"`` and
    unknown names are not).

    Examples
    --------
    >>> is_least_squares("trf"), is_least_squares("L-BFGS-B"), is_least_squares("auto")
    (True, False, False)
    """
    return method in LEAST_SQUARES_METHODS
_CANONICAL = {name.lower(): name for name in METHODS}


def canonical_method(method: str) -> str:
    """Return scipy's spelling of ``method`` (case-insensitive), or raise a clear error.

    ``"auto"`` is kept as is: :func:`choose_method` resolves it once the problem is known.

    Examples
    --------
    >>> canonical_method("l-bfgs-b")
    'L-BFGS-B'
    """
    if isinstance(method, str) and method.lower() == "auto":
        return "auto"
    if isinstance(method, str) and method.lower() in _CANONICAL:
        return _CANONICAL[method.lower()]
    raise ProblemError(
        f"method={method!r} is not a scipy.optimize.minimize or least_squares method; "
        f"allowed: 'auto', {', '.join(METHODS)}"
    )


def choose_method(problem: Problem, noisy: bool = False) -> tuple[str, str]:
    """The local method ``method="auto"`` picks for ``problem``, and why.

    * constraints: ``trust-constr`` when a Hessian is given, else ``SLSQP``;
    * declared noisy: derivative-free, ``Nelder-Mead`` up to 3 variables, ``Powell`` above
      (finite differences of a noisy function point anywhere);
    * a Hessian: ``trust-constr`` (a Newton method that also honours the bounds);
    * otherwise ``L-BFGS-B``: with the gradient when given, else with finite differences.

    Examples
    --------
    >>> p = Problem.create(lambda x: float(x @ x), [(-1, 1)] * 2)
    >>> choose_method(p)[0], choose_method(p, noisy=True)[0]
    ('L-BFGS-B', 'Nelder-Mead')
    """
    has_jac = callable(problem.jac) or problem.jac is True
    if residual_model(problem) is not None:
        return "trf", "residuals given: scipy's least_squares (trust region reflective)"
    if problem.constraints:
        if callable(problem.hess):
            return "trust-constr", "constraints and a Hessian are given"
        return "SLSQP", "constraints are given"
    if noisy:
        if problem.dim <= 3:
            return "Nelder-Mead", "noisy=True and at most 3 variables: a simplex method"
        return "Powell", "noisy=True and more than 3 variables: direction-set method"
    if callable(problem.hess):
        return "trust-constr", "a Hessian is given"
    if has_jac:
        return "L-BFGS-B", "a gradient is given"
    return "L-BFGS-B", "no gradient given: L-BFGS-B with finite differences"


def check_method_requirements(method: str, problem: Problem) -> None:
    """Raise :class:`ProblemError` before any work when ``method`` lacks what it needs."""
    info = METHODS[method]
    model = residual_model(problem)
    if method == "lm" and model is not None:
        if model.bounded:
            raise ProblemError(
                "method='lm' takes no bounds (MINPACK's Levenberg-Marquardt), but the solves are "
                "asked to stay inside them (bounded=True); use method='trf' (a trust region "
                "that keeps to the bounds), or pass bounded=False so that the bounds only "
                "place the starts")
        if model.loss != "linear":
            raise ProblemError(
                f"method='lm' supports only loss='linear', not loss={model.loss!r}; use "
                "method='trf' or 'dogbox' for a robust loss")
    if info.least_squares and model is None:
        raise ProblemError(
            f"method={method!r} is a scipy.optimize.least_squares method: it needs the "
            "residual vector, not a scalar objective; call engine.least_squares(residuals, "
            "bounds, method=...) (or engine.curve_fit), or choose a minimize method such as "
            "'L-BFGS-B'"
        )
    has_jac = callable(problem.jac) or problem.jac is True
    if info.needs_jac and not has_jac:
        raise ProblemError(
            f"method={method!r} needs the gradient: pass jac=<callable returning the gradient> "
            "(or jac=True when fun returns (f, gradient)), or choose a method that estimates "
            "it, such as 'L-BFGS-B' or 'BFGS'"
        )
    if info.needs_hess and problem.hess is None:
        raise ProblemError(
            f"method={method!r} needs the Hessian: pass hess=<callable returning the Hessian "
            "matrix>, or choose 'trust-constr', 'L-BFGS-B' or 'BFGS', which do not"
        )
    if method in ("dogleg", "trust-exact") and not callable(problem.hess):
        raise ProblemError(
            f"method={method!r} needs hess as a callable returning the Hessian matrix, "
            f"not {problem.hess!r}"
        )
    if problem.constraints and not info.constraints:
        allowed = ", ".join(m for m, i in METHODS.items() if i.constraints)
        raise ProblemError(
            f"method={method!r} cannot handle constraints; use one of: {allowed}"
        )
