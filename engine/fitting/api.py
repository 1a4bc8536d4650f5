"""The fitting entry points: :func:`least_squares` (a residual vector) and :func:`curve_fit`
(a model and data), on the machinery of :func:`engine.minimize`."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import Bounds

from engine.api import solve_problem
from engine.exceptions import ProblemError
from engine.fitting.covariance import Identifiability, covariance, identifiability, jacobian_at
from engine.fitting.residuals import JAC_SCHEMES, ModelResiduals, Residuals, check_loss
from engine.local.methods import LEAST_SQUARES_METHODS
from engine.options import DedupOptions, LocalOptions, SearchOptions, StopOptions
from engine.problem import BoundsLike, Problem
from engine.progress import RunState
from engine.results.types import MultistartResult


def least_squares(
    residuals: Callable[..., Any],
    bounds: BoundsLike,
    *,
    n_starts: int | None = None,
    method: str = "trf",
    jac: Any = "2-point",
    loss: Any = "linear",
    f_scale: float = 1.0,
    x_scale: Any = None,
    args: Any = (),
    symmetries: Any = None,
    bounded: bool = True,
    sampler: str | Sequence[Sequence[float]] = "sobol",
    x0: Sequence[float] | Sequence[Sequence[float]] | None = None,
    seed: int | None = None,
    client: Any = None,
    options: dict[str, Any] | None = None,
    tol: float | None = None,
    max_evals: int | None = None,
    max_time: float | None = None,
    target: float | None = None,
    start_timeout: float | None = None,
    journal: str | Path | None = None,
    progress: bool | Callable[..., None] = False,
    callback: Callable[[RunState], Any] | None = None,
    local: LocalOptions | Mapping[str, Any] | None = None,
    search: SearchOptions | Mapping[str, Any] | None = None,
    stop: StopOptions | Mapping[str, Any] | None = None,
    dedup: DedupOptions | Mapping[str, Any] | None = None,
) -> MultistartResult:
    """Find the distinct least-squares minima of ``residuals`` in a box from many starts.

    Every local solve is :func:`scipy.optimize.least_squares` from a start spread over the
    box; the starts, search strategies, merge, stop rules, clusters, journal and progress are
    those of :func:`engine.minimize`. The best minima are polished at the end with
    ``ftol = xtol = gtol = 1e-15`` and ``x_scale='jac'``.

    Parameters
    ----------
    residuals : callable
        ``residuals(x, *args)`` returning a 1-D array of ``m`` residuals.
    bounds : sequence of (low, high) or scipy.optimize.Bounds
        Finite bounds for every parameter; starts are drawn inside them, and the solves stay
        inside (unless ``bounded=False``).
    method : {'trf', 'dogbox', 'lm'}
        scipy's least-squares method. ``'lm'`` (MINPACK) takes no bounds: it needs
        ``bounded=False``, and its runs that end outside the box count as failed.
    jac : callable or {'2-point', '3-point', 'cs'}
        ``jac(x, *args)`` returning the ``(m, d)`` Jacobian, or a finite-difference scheme
        (its residual evaluations are counted in ``nfev`` and budgets).
    loss, f_scale
        The robust loss and its scale, as in scipy.
    x_scale : array or 'jac', optional
        Characteristic scale of each parameter for the local solver, as in scipy.
    symmetries : list, optional
        Interchangeable parameter groups, e.g. ``[[0, 1, 2], [3, 4, 5]]`` for two peaks of
        ``(height, centre, width)``: minima that differ only by swapping them are reported
        once, in canonical order (groups sorted by their first parameter), with a note.
    bounded : bool
        Keep the local solves inside the bounds (default).
    n_starts, sampler, x0, seed, client, options, tol, max_evals, max_time, target,
    start_timeout, journal, progress, callback, local, search, stop, dedup
        As for :func:`engine.minimize`; ``options`` holds further keywords of
        :func:`scipy.optimize.least_squares` (``ftol``, ``xtol``, ``gtol``, ``diff_step``,
        ``tr_solver``, ...), and ``tol`` sets ``ftol``, ``xtol`` and ``gtol`` it leaves out.

    Returns
    -------
    MultistartResult
        ``fun`` is the cost ``0.5 * sum(r**2)`` (with the robust loss applied, as scipy's
        ``cost``) at the best ``x``; each minimum's ``fun`` likewise. ``nfev`` counts every
        call of ``residuals``, finite-difference ones included.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 4, 20)
    >>> y = 3.0 * np.exp(-1.5 * t)
    >>> res = least_squares(lambda p: p[0] * np.exp(-p[1] * t) - y, [(0, 10), (0, 10)],
    ...                     n_starts=8, seed=0, client="serial")
    >>> np.round(res.x, 6).tolist(), res.fun < 1e-20
    ([3.0, 1.5], True)
    """
    problems = check_loss(loss, f_scale)
    if not callable(residuals):
        raise ProblemError(f"residuals={residuals!r} is not callable; pass a function "
                           "residuals(x, *args) returning a 1-D array")
    if not (callable(jac) or (isinstance(jac, str) and jac in JAC_SCHEMES)):
        problems.append(f"jac={jac!r} is not allowed; use a callable jac(x, *args) returning "
                        f"the (m, d) Jacobian, or one of {', '.join(JAC_SCHEMES)}")
    if not isinstance(method, str) or method not in LEAST_SQUARES_METHODS:
        problems.append(f"method={method!r} is not a least_squares method; use one of "
                        f"{', '.join(LEAST_SQUARES_METHODS)} (or engine.minimize for the "
                        "methods of scipy.optimize.minimize)")
    if not isinstance(bounded, bool):
        problems.append(f"bounded={bounded!r} is not allowed; use True or False")
    model = Residuals(residuals, jac=jac, loss=loss, f_scale=float(f_scale)
                      if not problems else 1.0, bounded=bool(bounded))
    problem = Problem.create(model, bounds, args=args, symmetries=symmetries)
    problem = replace(problem, name=getattr(residuals, "__qualname__",
                                            type(residuals).__name__))
    if x_scale is not None:
        options = {**(options or {}), "x_scale": x_scale}
    flat = {"n_starts": n_starts, "method": method, "sampler": sampler, "x0": x0, "seed": seed,
            "options": options, "tol": tol, "max_evals": max_evals, "max_time": max_time,
            "target": target, "start_timeout": start_timeout}
    given = {"local": local, "search": search, "stop": stop, "dedup": dedup}
    if _vectorized(search):
        problems.append("search.vectorized=True is not available for least_squares: the "
                        "residual function is called one point at a time")
    identity = {"residuals": f"{getattr(residuals, '__module__', '')}:{problem.name}",
                "bounds": [problem.lower, problem.upper], "loss": str(loss),
                "f_scale": float(f_scale) if not problems else None, "bounded": bounded,
                "symmetries": [list(map(list, s)) for s in problem.symmetries]}
    return solve_problem(problem, flat, given, identity, client=client, journal=journal,
                         progress=progress, callback=callback, problems=problems)


def _vectorized(search: Any) -> bool:
    if isinstance(search, SearchOptions):
        return search.vectorized
    return isinstance(search, Mapping) and bool(search.get("vectorized", False))


@dataclass(frozen=True)
class CurveFit:
    """The answer of :func:`curve_fit`: the best parameters, their uncertainty, the minima.

    Unpacks as scipy's ``popt, pcov``.

    Attributes
    ----------
    popt : numpy.ndarray
        The best parameters (the lowest sum of squares found).
    pcov : numpy.ndarray
        Their covariance, as :func:`scipy.optimize.curve_fit` computes it (inf where the
        data do not fix a direction).
    perr : numpy.ndarray
        Standard errors, ``sqrt(diag(pcov))``.
    sum_of_squares : float
        Weighted sum of squared residuals at ``popt`` (twice the cost).
    dof : int
        Data points minus parameters.
    identifiability : Identifiability
        Rank, condition number and unidentifiable parameters of the Jacobian at ``popt``.
    jac : numpy.ndarray
        The weighted residuals' Jacobian at ``popt``.
    residuals : numpy.ndarray
        Weighted residuals at ``popt``.
    result : MultistartResult
        The multistart run: ``minima`` (distinct fits, best first), ``runs``, ``nfev``.
    weighted : bool
        The residuals were divided by ``sigma``.
    """

    popt: np.ndarray
    pcov: np.ndarray
    perr: np.ndarray
    sum_of_squares: float
    dof: int
    identifiability: Identifiability
    jac: np.ndarray
    residuals: np.ndarray
    result: MultistartResult
    weighted: bool = False

    def __iter__(self) -> Any:
        return iter((self.popt, self.pcov))

    @property
    def minima(self) -> tuple[Any, ...]:
        """The distinct fits found, best first (``fun`` is the cost, half the sum of squares)."""
        return self.result.minima

    @property
    def reduced_chi_square(self) -> float:
        """``sum_of_squares / dof`` (NaN without degrees of freedom)."""
        return self.sum_of_squares / self.dof if self.dof > 0 else math.nan


def curve_fit(
    model: Callable[..., Any],
    xdata: Any,
    ydata: Any,
    *,
    bounds: Any,
    sigma: Any = None,
    absolute_sigma: bool = False,
    jac: Callable[..., Any] | str | None = None,
    p0: Sequence[float] | None = None,
    **kwargs: Any,
) -> CurveFit:
    """Fit ``model(xdata, *params)`` to ``ydata`` from many starts, in the style of scipy.

    The residuals ``(model(xdata, *p) - ydata) / sigma`` go to :func:`least_squares`; the
    covariance of the best parameters is :func:`scipy.optimize.curve_fit`'s, from the
    Jacobian at the optimum.

    Parameters
    ----------
    model : callable
        ``model(xdata, *params)`` returning one value per data point.
    xdata, ydata : array_like
        The data (``xdata`` is passed to the model as given).
    bounds : (lower, upper), scipy.optimize.Bounds or sequence of (low, high)
        Finite bounds of every parameter: scipy's ``(lower, upper)`` form (each a sequence
        with one value per parameter, or a scalar for all), a ``Bounds``, or one
        ``(low, high)`` pair per parameter as elsewhere in the engine (with exactly two
        parameters a pair of pairs is read the scipy way, as ``(lower, upper)``).
    sigma : array_like, optional
        Uncertainty of each ``ydata`` value (1-D); residuals are divided by it.
    absolute_sigma : bool
        ``sigma`` is absolute: the covariance is not scaled by the reduced chi-square.
    jac : callable or str, optional
        ``jac(xdata, *params)`` returning the model's ``(m, n)`` Jacobian, or a
        finite-difference scheme (default ``'2-point'``).
    p0 : sequence, optional
        A start of your own, solved first (as ``x0``).
    **kwargs
        Any keyword of :func:`least_squares` (``n_starts``, ``method``, ``loss``,
        ``symmetries``, ``seed``, ``client``, ``max_evals``, ...).

    Returns
    -------
    CurveFit
        ``popt``, ``pcov``, ``perr``, ``identifiability`` and the multistart ``result``;
        ``popt, pcov = curve_fit(...)`` unpacks as scipy's.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 1, 30)
    >>> fit = curve_fit(lambda t, a, k: a * np.exp(-k * t), t, 2.0 * np.exp(-3.0 * t),
    ...                 bounds=([0, 0], [10, 10]), n_starts=8, seed=0, client="serial")
    >>> np.round(fit.popt, 6).tolist()
    [2.0, 3.0]
    """
    n_params = _parameter_count(model, p0)
    y = _data_array(ydata, "ydata")
    weights = None
    if sigma is not None:
        weights = _data_array(sigma, "sigma")
        if weights.shape != y.shape:
            raise ProblemError(f"sigma has shape {weights.shape} but ydata has {y.shape}; give "
                               "one uncertainty per data point (a covariance matrix is not "
                               "supported: whiten the data first)")
        if (weights <= 0).any():
            raise ProblemError("sigma holds values <= 0; every uncertainty must be positive")
    residuals = ModelResiduals(model, xdata, y, weights, jac if callable(jac) else None)
    pairs = _bound_pairs(bounds, n_params)
    if "x0" in kwargs and p0 is not None:
        raise ProblemError("give p0 or x0, not both (they are the same: a start of your own)")
    start = kwargs.pop("x0", p0)
    result = least_squares(residuals, pairs, jac=residuals.jacobian if callable(jac)
                           else (jac or "2-point"), x0=start, **kwargs)
    if result.x is None:
        raise ProblemError(f"no fit succeeded: {result.message}")
    popt = np.asarray(result.x, dtype=float)
    model_r = Residuals(residuals, jac=residuals.jacobian if callable(jac) else "2-point")
    lower, upper = np.array([p[0] for p in pairs], float), np.array([p[1] for p in pairs], float)
    r = model_r.vector(popt)
    jacobian = jacobian_at(model_r, popt, (), lower, upper)
    sum_sq = float(r @ r)
    pcov = covariance(jacobian, sum_sq, absolute_sigma)
    return CurveFit(popt=popt, pcov=pcov, perr=np.sqrt(np.diag(pcov)), sum_of_squares=sum_sq,
                    dof=int(r.size - popt.size), identifiability=identifiability(jacobian),
                    jac=jacobian, residuals=r, result=result, weighted=weights is not None)


def _parameter_count(model: Callable[..., Any], p0: Sequence[float] | None) -> int | None:
    """Parameters of ``model(x, *params)``: from ``p0``, else its signature (None: unknown)."""
    if not callable(model):
        raise ProblemError(f"model={model!r} is not callable; pass model(xdata, *params)")
    if p0 is not None:
        return int(np.size(p0))
    try:
        parameters = list(inspect.signature(model).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    return len(parameters) - 1


def _data_array(value: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ProblemError(f"{name} is not an array of numbers") from None
    if array.ndim != 1 or array.size == 0:
        raise ProblemError(f"{name} has shape {array.shape}; give a non-empty 1-D array")
    if not np.isfinite(array).all():
        raise ProblemError(f"{name} holds NaN or inf at positions "
                           f"{np.flatnonzero(~np.isfinite(array))[:5].tolist()}; drop those "
                           "points or fill them before fitting")
    return array


def _bound_pairs(bounds: Any, n_params: int | None) -> list[tuple[float, float]]:
    """One ``(low, high)`` per parameter from any of the forms :func:`curve_fit` accepts."""
    if isinstance(bounds, Bounds):
        lower, upper = np.atleast_1d(bounds.lb), np.atleast_1d(bounds.ub)
    else:
        try:
            seq = list(bounds)
        except TypeError:
            raise ProblemError(f"bounds={bounds!r} is not (lower, upper) nor a list of "
                               "(low, high) pairs") from None
        scipy_form = len(seq) == 2 and (
            np.ndim(seq[0]) == 0 or len(seq[0]) != 2 or n_params == 2
            or (n_params is not None and len(seq[0]) == n_params))
        if not scipy_form:
            return [tuple(pair) for pair in seq]
        count = n_params
        if count is None:
            sized = [s for s in seq if np.ndim(s) == 1]
            if not sized:
                raise ProblemError("bounds are scalars and the model's parameter count is "
                                   "unknown (it takes *params): give p0 or one bound per "
                                   "parameter")
            count = len(sized[0])
        sizes = {np.size(s) for s in seq if np.ndim(s) == 1}
        if sizes - {count}:
            raise ProblemError(f"bounds give {max(sizes)} parameters but the model takes "
                               f"{count}; give one lower and upper value per parameter")
        lower = np.broadcast_to(np.asarray(seq[0], dtype=float), (count,))
        upper = np.broadcast_to(np.asarray(seq[1], dtype=float), (count,))
    if n_params is not None and lower.size != n_params:
        raise ProblemError(f"bounds give {lower.size} parameters but the model takes "
                           f"{n_params}; give one lower and upper value per parameter")
    return [(float(lo), float(hi)) for lo, hi in zip(lower, upper, strict=True)]


__all__ = ["CurveFit", "ModelResiduals", "curve_fit", "least_squares"]
