"""The ``options=`` each :func:`scipy.optimize.minimize` method takes, checked before any work
(for the least-squares methods, the keywords of :func:`scipy.optimize.least_squares` that
``options=`` may hold).

scipy only warns about an unknown option (or, for trust-constr, raises inside every solve),
and a wrongly typed one (``maxiter="100"``) fails every start; :func:`option_problems` names
them up front. The allowed names come from the signature of the function scipy dispatches
each method to (the table :func:`scipy.optimize.show_options` reads), so they follow the
installed scipy; where that function cannot be found, nothing is refused.
"""

from __future__ import annotations

import importlib
import inspect
import numbers
from functools import cache
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from engine.local.least_squares import LEAST_SQUARES_OPTIONS
from engine.local.methods import is_least_squares
from engine.options import did_you_mean

#: The solver function of each method (as in ``scipy.optimize._optimize.show_options``).
_SOLVERS: dict[str, str] = {
    "BFGS": "scipy.optimize._optimize:_minimize_bfgs",
    "CG": "scipy.optimize._optimize:_minimize_cg",
    "COBYLA": "scipy.optimize._cobyla_py:_minimize_cobyla",
    "COBYQA": "scipy.optimize._cobyqa_py:_minimize_cobyqa",
    "dogleg": "scipy.optimize._trustregion_dogleg:_minimize_dogleg",
    "L-BFGS-B": "scipy.optimize._lbfgsb_py:_minimize_lbfgsb",
    "Nelder-Mead": "scipy.optimize._optimize:_minimize_neldermead",
    "Newton-CG": "scipy.optimize._optimize:_minimize_newtoncg",
    "Powell": "scipy.optimize._optimize:_minimize_powell",
    "SLSQP": "scipy.optimize._slsqp_py:_minimize_slsqp",
    "TNC": "scipy.optimize._tnc:_minimize_tnc",
    "trust-ncg": "scipy.optimize._trustregion_ncg:_minimize_trust_ncg",
    "trust-constr": "scipy.optimize._trustregion_constr:_minimize_trustregion_constr",
    "trust-exact": "scipy.optimize._trustregion_exact:_minimize_trustregion_exact",
    "trust-krylov": "scipy.optimize._trustregion_krylov:_minimize_trust_krylov",
}
#: Parameters of the solver functions that ``minimize`` fills itself: not options.
_ARGUMENTS = frozenset({"fun", "func", "x0", "args", "jac", "grad", "hess", "hessp", "bounds",
                        "constraints", "callback"})
#: Options scipy passes to every method without complaint (a method that does not use them
#: takes them into ``**unknown_options``, which only warns).
_LENIENT = frozenset({"disp", "maxiter", "return_all"})
#: Counts: must be integers even where scipy's default is None.
_INTEGERS = frozenset({"maxiter", "maxfun", "maxfev", "maxls", "maxcor", "maxCGit", "iprint",
                       "verbose", "mesg_num", "minfev", "max_nfev"})
#: Tolerances and step sizes: must be real numbers even where scipy's default is None.
_NUMBERS = frozenset({"gtol", "ftol", "xtol", "diff_step", "xatol", "fatol", "eps", "tol", "catol",
                      "barrier_tol", "rhobeg", "f_target", "feasibility_tol",
                      "initial_tr_radius", "final_tr_radius", "eta", "stepmx", "accuracy",
                      "rescale", "offset", "finite_diff_rel_step"})


@cache
def allowed_options(method: str) -> dict[str, Any] | None:
    """The options ``method`` takes, each with scipy's default, or None when unknown.

    Examples
    --------
    >>> sorted(allowed_options("Nelder-Mead"))[:4]
    ['adaptive', 'disp', 'fatol', 'initial_simplex']
    """
    if is_least_squares(method):  # least_squares: its keywords, not options=
        parameters = inspect.signature(least_squares).parameters
        return {key: parameters[key].default for key in LEAST_SQUARES_OPTIONS
                if key in parameters}
    target = _SOLVERS.get(method)
    if target is None:
        return None
    module, name = target.split(":")
    try:
        function = getattr(importlib.import_module(module), name)
        parameters = inspect.signature(function).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        return None  # another scipy layout: let scipy judge the options itself
    allowed = {key: p.default for key, p in parameters.items()
               if key not in _ARGUMENTS and p.kind is not p.VAR_KEYWORD}
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        allowed.update({key: None for key in _LENIENT if key not in allowed})
    return allowed


def _wrong_type(key: str, value: Any, default: Any) -> str | None:
    """What ``value`` should have been, or None when its type is acceptable."""
    if value is None:
        return None
    boolean = isinstance(value, (bool, np.bool_))  # True would pass for 1: refused as a count
    if key in _INTEGERS or (isinstance(default, numbers.Integral)
                            and not isinstance(default, bool)):
        return None if isinstance(value, numbers.Integral) and not boolean else "an integer"
    if key in _NUMBERS or (isinstance(default, numbers.Real) and not isinstance(default, bool)):
        # A per-variable array of real numbers is what eps and finite_diff_rel_step also take.
        real = isinstance(value, numbers.Real) or (
            isinstance(value, np.ndarray) and value.dtype.kind in "iuf")
        return None if real and not boolean else "a number"
    return None


def _example(value: Any, default: Any, expected: str) -> Any:
    """The number a wrongly typed option was meant to be (``"100"`` -> 100), else a default."""
    try:
        number = float(value)
        return int(number) if expected == "an integer" and number.is_integer() else number
    except (TypeError, ValueError, OverflowError):
        return default if isinstance(default, numbers.Real) else (
            100 if expected == "an integer" else 1e-6)


def option_problems(method: str, options: dict[str, Any], name: str = "options") -> list[str]:
    """Every unknown or wrongly typed option of ``method``, as messages naming the fix.

    Examples
    --------
    >>> option_problems("L-BFGS-B", {"maxiter": 10, "gtol": 1e-8})
    []
    >>> option_problems("L-BFGS-B", {"maxiter": "100"})[0].split(";")[0]
    "options['maxiter']='100' is a str, not an integer"
    """
    allowed = allowed_options(method)
    if allowed is None:
        return []
    problems = []
    for key, value in options.items():
        if key not in allowed:
            problems.append(
                f"{name}[{key!r}] is not an option of method={method!r}"
                f"{did_you_mean(str(key), list(allowed))}; it takes: {', '.join(allowed)}")
        elif (expected := _wrong_type(key, value, allowed[key])) is not None:
            example = _example(value, allowed[key], expected)
            problems.append(
                f"{name}[{key!r}]={value!r} is a {type(value).__name__}, not {expected}; "
                f"write e.g. {name}={{{key!r}: {example!r}}} (no quotes in YAML)")
    return problems
