"""A least-squares objective: a residual vector, its loss, and the cost ranked from it.

:class:`Residuals` is what :func:`engine.least_squares` hands the engine as the objective:
called like any objective it returns the scalar cost that scipy's
:func:`scipy.optimize.least_squares` minimizes (``0.5 * sum(r**2)`` for the ``linear`` loss),
so sampling, exploration, budgets, the merge and the ranking see one number per point, each
costing one call of the residual function. The local solves call :meth:`Residuals.vector`
(and :meth:`Residuals.jacobian`) instead, through scipy's least-squares solvers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.problem import ObjectiveError

if TYPE_CHECKING:
    from engine.problem import Problem

#: The robust losses of :func:`scipy.optimize.least_squares`, as ``rho(z)`` of ``z = r**2``
#: (formulas from scipy's documentation).
LOSSES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda z: z,
    "soft_l1": lambda z: 2.0 * (np.sqrt(1.0 + z) - 1.0),
    "huber": lambda z: np.where(z <= 1.0, z, 2.0 * np.sqrt(z) - 1.0),
    "cauchy": np.log1p,
    "arctan": np.arctan,
}
#: Finite-difference schemes scipy accepts as ``jac``.
JAC_SCHEMES = ("2-point", "3-point", "cs")


@dataclass(frozen=True)
class Residuals:
    """A residual function ``fun(x, *args) -> r`` and the cost ranked from it.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args)`` returning the residuals as a 1-D array (``m`` values).
    jac : callable or {'2-point', '3-point', 'cs'}
        The Jacobian ``jac(x, *args) -> (m, d)`` array, or the finite-difference scheme the
        local solver uses (each of its calls of ``fun`` counts as an evaluation).
    loss : str or callable
        ``'linear'``, ``'soft_l1'``, ``'huber'``, ``'cauchy'``, ``'arctan'``, or
        ``rho(z) -> (3, m)`` as in scipy (its first row is used for the cost).
    f_scale : float
        Soft margin between inlier and outlier residuals (scipy's ``f_scale``).
    bounded : bool
        Whether the local solves keep inside the bounds (``method='lm'`` cannot).

    Examples
    --------
    >>> r = Residuals(lambda x: np.array([x[0] - 1.0, 2.0 * x[1]]))
    >>> r(np.array([3.0, 1.0]))  # 0.5 * (2**2 + 2**2)
    4.0
    >>> r.vector(np.array([3.0, 1.0])).tolist()
    [2.0, 2.0]
    """

    fun: Callable[..., Any]
    jac: Any = "2-point"
    loss: Any = "linear"
    f_scale: float = 1.0
    bounded: bool = True

    def __call__(self, x: np.ndarray, *args: Any) -> float:
        """The cost at ``x``: ``0.5 * f_scale**2 * sum(rho((r / f_scale)**2))``."""
        return self.cost(self.vector(x, *args))

    def vector(self, x: np.ndarray, *args: Any) -> np.ndarray:
        """The residuals at ``x`` as a 1-D float array (entries may be inf or NaN: the
        solver shrinks its step there, and the cost of such a point is not usable)."""
        raw = self.fun(x, *args)
        if raw is None:
            raise ObjectiveError("residuals returned None, not an array of numbers")
        try:
            r = np.asarray(raw)
        except (TypeError, ValueError):
            raise ObjectiveError("residuals returned a ragged sequence, not a 1-D array of "
                                 "numbers") from None
        if r.dtype.kind not in "iuf":
            raise ObjectiveError(f"residuals hold {r.dtype} values, not real numbers")
        if r.ndim > 1:
            raise ObjectiveError(f"residuals have shape {r.shape}; return a 1-D array (one "
                                 "value per observation; flatten it with .ravel())")
        return np.atleast_1d(r).astype(float, copy=False)

    def cost(self, r: np.ndarray) -> float:
        """The scalar cost of residuals ``r`` under this loss (NaN when not finite)."""
        if self.loss == "linear":
            value = 0.5 * float(np.dot(r, r))
        else:
            z = (r / self.f_scale) ** 2
            rho = LOSSES[self.loss](z) if isinstance(self.loss, str) else np.asarray(
                self.loss(z))[0]
            value = 0.5 * self.f_scale ** 2 * float(np.sum(rho))
        return value if math.isfinite(value) else math.nan

    def jacobian(self, x: np.ndarray, *args: Any, m: int | None = None) -> np.ndarray:
        """The user's Jacobian at ``x`` as a finite ``(m, d)`` float array."""
        if not callable(self.jac):
            raise ObjectiveError(f"jac={self.jac!r} is a finite-difference scheme, not a "
                                 "Jacobian function")
        raw = self.jac(x, *args)
        try:
            jacobian = np.atleast_2d(np.asarray(raw, dtype=float))
        except (TypeError, ValueError):
            raise ObjectiveError("jac returned something that is not an array of numbers"
                                 ) from None
        d = np.size(x)
        if jacobian.shape[1] != d or (m is not None and jacobian.shape[0] != m):
            expected = f"({'m' if m is None else m}, {d})"
            raise ObjectiveError(f"jac returned shape {jacobian.shape}, expected {expected}: "
                                 "one row per residual, one column per variable")
        if not np.isfinite(jacobian).all():
            raise ObjectiveError(f"jac is not finite at x={np.asarray(x).tolist()}")
        return jacobian


@dataclass(frozen=True)
class ModelResiduals:
    """Weighted residuals of a model against data: ``(model(xdata, *p) - ydata) / sigma``.

    Examples
    --------
    >>> r = ModelResiduals(lambda x, a: a * x, np.array([1.0, 2.0]), np.array([2.0, 4.0]))
    >>> r(np.array([2.0])).tolist()
    [0.0, 0.0]
    """

    model: Callable[..., Any]
    xdata: Any
    ydata: np.ndarray
    sigma: np.ndarray | None = None
    model_jac: Callable[..., Any] | None = None

    def __call__(self, p: np.ndarray) -> np.ndarray:
        r = np.asarray(self.model(self.xdata, *p), dtype=float) - self.ydata
        return r if self.sigma is None else r / self.sigma

    def jacobian(self, p: np.ndarray) -> np.ndarray:
        """The residuals' Jacobian from the model's ``jac(xdata, *p)``."""
        jacobian = np.asarray(self.model_jac(self.xdata, *p), dtype=float)
        return jacobian if self.sigma is None else jacobian / self.sigma[:, None]


def residual_model(problem: Problem) -> Residuals | None:
    """The problem's residual model, or None for a scalar objective."""
    return problem.fun if isinstance(problem.fun, Residuals) else None


def check_loss(loss: Any, f_scale: Any) -> list[str]:
    """Problems with ``loss`` and ``f_scale``, each naming the value and what is allowed."""
    problems = []
    if not (callable(loss) or (isinstance(loss, str) and loss in LOSSES)):
        problems.append(f"loss={loss!r} is not allowed; use one of {', '.join(LOSSES)} or a "
                        "callable rho(z) returning an array of shape (3, m) as in scipy")
    if (isinstance(f_scale, bool) or not isinstance(f_scale, (int, float))
            or not math.isfinite(f_scale) or f_scale <= 0):
        problems.append(f"f_scale={f_scale!r} is not allowed; use a positive number (the "
                        "residual size where outliers begin, e.g. f_scale=0.1)")
    return problems
