"""Uncertainty and identifiability of a fit at its optimum, from the residuals' Jacobian.

The covariance is :func:`scipy.optimize.curve_fit`'s: the Moore-Penrose inverse of
``J^T J`` (singular values below ``eps * max(m, n) * s_max`` dropped), scaled by the reduced
chi-square ``sum(r**2) / (m - n)`` unless the uncertainties are absolute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.fitting.residuals import Residuals

#: Singular values below this fraction of the largest are directions the data do not fix: a
#: finite-difference Jacobian is itself uncertain at about this level.
IDENTIFIABLE_RTOL = 1e-8
#: A parameter is part of an unidentifiable direction when its weight in it exceeds this.
WEIGHT = 0.1


def jacobian_at(model: Residuals, x: np.ndarray, args: tuple[Any, ...], lower: np.ndarray,
                upper: np.ndarray) -> np.ndarray:
    """The residuals' Jacobian at ``x``: the user's ``jac``, or central differences.

    Steps are ``eps**(1/3) * max(1, |x_i|)`` (the error of a central difference is smallest
    there), one-sided where a bound is closer than a step, so the residuals are never asked
    for outside the box.

    Examples
    --------
    >>> r = Residuals(lambda p: np.array([p[0] * 2.0, p[0] * p[1]]))
    >>> np.round(jacobian_at(r, np.array([1.0, 3.0]), (), np.zeros(2), 5 * np.ones(2)), 6)
    array([[2., 0.],
           [3., 1.]])
    """
    x = np.asarray(x, dtype=float)
    if callable(model.jac):
        return model.jacobian(x, *args)
    base = model.vector(x, *args)
    steps = np.finfo(float).eps ** (1 / 3) * np.maximum(1.0, np.abs(x))
    columns = []
    for i, h in enumerate(steps):
        up, down = x.copy(), x.copy()
        if x[i] + h <= upper[i] and x[i] - h >= lower[i]:
            up[i] += h
            down[i] -= h
            columns.append((model.vector(up, *args) - model.vector(down, *args)) / (2 * h))
        elif x[i] + h <= upper[i]:
            up[i] += h
            columns.append((model.vector(up, *args) - base) / h)
        else:
            down[i] -= h
            columns.append((base - model.vector(down, *args)) / h)
    return np.column_stack(columns)


def covariance(jacobian: np.ndarray, sum_of_squares: float,
               absolute_sigma: bool = False) -> np.ndarray:
    """The parameters' covariance as :func:`scipy.optimize.curve_fit` computes it.

    Infinite when there are no more residuals than parameters (nothing to scale by). As in
    scipy, a direction the data do not fix is dropped from the inverse, not reported as an
    infinite variance: :func:`identifiability` names such parameters.

    Examples
    --------
    >>> J = np.array([[1.0], [1.0], [1.0], [1.0]])  # fitting a constant to 4 points
    >>> covariance(J, sum_of_squares=3.0).tolist()  # s^2 / n with s^2 = 3 / 3
    [[0.25]]
    """
    m, n = jacobian.shape
    _, s, vt = np.linalg.svd(jacobian, full_matrices=False)
    threshold = np.finfo(float).eps * max(m, n) * (s[0] if s.size else 0.0)
    keep = s > threshold
    s, vt = s[keep], vt[keep]
    pcov = (vt.T / s ** 2) @ vt
    if not absolute_sigma:  # scaled by the reduced chi-square, which needs m > n
        pcov = pcov * (sum_of_squares / (m - n)) if m > n else np.full((n, n), np.inf)
    return pcov


@dataclass(frozen=True)
class Identifiability:
    """What the data fix at the optimum.

    Attributes
    ----------
    rank : int
        Numerical rank of the Jacobian (singular values above ``1e-8`` of the largest).
    condition : float
        Largest over smallest singular value (inf when one is zero).
    singular_values : numpy.ndarray
        Of the Jacobian, largest first.
    unidentifiable : tuple of int
        Parameters with weight above 0.1 in a direction the data do not fix; empty when the
        Jacobian has full rank.
    """

    rank: int
    condition: float
    singular_values: np.ndarray
    unidentifiable: tuple[int, ...]

    def describe(self, names: list[str] | None = None) -> str:
        """The finding in words.

        Examples
        --------
        >>> identifiability(np.array([[1.0, 1.0], [2.0, 2.0]])).describe(["a", "b"]).split(": ")[1]
        'a, b not identifiable (only a combination of them is)'
        """
        n = self.singular_values.size
        if not self.unidentifiable:
            return f"full rank {self.rank} (condition {self.condition:.3g})"
        labels = [names[i] if names else f"x[{i}]" for i in self.unidentifiable]
        return (f"rank {self.rank} of {n} (condition {self.condition:.3g}): "
                f"{', '.join(labels)} not identifiable (only a combination of them is)")


def identifiability(jacobian: np.ndarray) -> Identifiability:
    """Rank, condition number and the parameters the data do not fix.

    Examples
    --------
    >>> identifiability(np.array([[1.0, 0.0], [0.0, 1e-12]])).unidentifiable
    (1,)
    """
    _, s, vt = np.linalg.svd(jacobian, full_matrices=True)
    n = jacobian.shape[1]
    s_full = np.zeros(n)
    s_full[: s.size] = s
    largest = s_full[0] if n else 0.0
    weak = s_full <= IDENTIFIABLE_RTOL * largest
    rank = int((~weak).sum())
    smallest = s_full[-1] if n else 0.0
    condition = math.inf if smallest == 0 else float(largest / smallest)
    involved = np.zeros(n, dtype=bool)
    for row in vt[weak]:
        involved |= np.abs(row) > WEIGHT
    return Identifiability(rank=rank, condition=condition, singular_values=s_full,
                           unidentifiable=tuple(int(i) for i in np.flatnonzero(involved)))
