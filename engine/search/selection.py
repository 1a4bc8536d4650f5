"""Exploration before exploitation: evaluate a space-filling sample, then pick where to start.

Everything here works in coordinates of the unit box (the bounds scaled to ``[0, 1]^d``), so
a distance means the same in every direction whatever the widths of the bounds.

* Sample values come from :meth:`engine.problem.Problem.minimized_many`: a point whose value
  is not a finite number gets ``+inf`` and is never chosen as a start.
* :func:`critical_distance` and :func:`mlsl_select` implement Multi-Level Single Linkage
  (Rinnooy Kan and Timmer, Math. Programming 39, 1987): a sample point starts a local solve
  only when no better sample point lies within the critical distance ``r_k``, which shrinks as
  the sample grows, and it does not lie within ``r_k`` of a known minimum that is better.
* :func:`tiktak_select` implements TikTak (Arnoud, Guvenen and Kleineberg, NBER w26340, 2019):
  the best fraction of the sample, each start pulled toward the best minimum found so far.
* :class:`Hopper` makes basin-hopping perturbations of the best minima with a step that adapts
  to what the hops find.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


def critical_distance(n_points: int, dim: int, sigma: float = 4.0) -> float:
    """MLSL's critical distance for ``n_points`` uniform points in the unit box.

    ``r = pi^(-1/2) * (Gamma(1 + d/2) * sigma * log(n) / n)^(1/d)``; with ``sigma > 2`` the
    method starts finitely many local solves even as the sample grows without end, and with
    ``sigma > 4`` every minimum is found with probability one (Rinnooy Kan and Timmer, 1987).

    Examples
    --------
    >>> round(critical_distance(1000, 2), 4)
    0.0938
    >>> critical_distance(10_000, 2) < critical_distance(1000, 2)
    True
    """
    n = max(int(n_points), 2)
    volume_term = math.gamma(1.0 + dim / 2.0) * sigma * math.log(n) / n
    return float(volume_term ** (1.0 / dim) / math.sqrt(math.pi))


@dataclass
class Selection:
    """Start points chosen from a sample, best value first, and how many were skipped."""

    rows: np.ndarray
    n_skipped: int = 0


def mlsl_select(
    units: np.ndarray,
    values: np.ndarray,
    used: np.ndarray,
    minima_units: np.ndarray,
    minima_values: np.ndarray,
    radius: float,
    reduce_fraction: float = 0.2,
) -> Selection:
    """Rows of the sample that MLSL starts a local solve from, best value first.

    Parameters
    ----------
    units, values : numpy.ndarray
        The whole sample so far in unit-box coordinates, ``(n, d)``, and its values.
    used : numpy.ndarray
        Boolean mask of rows already used as starts (never chosen again).
    minima_units, minima_values : numpy.ndarray
        Known minima in unit-box coordinates and their values.
    radius : float
        The critical distance (Euclidean, unit box).
    reduce_fraction : float
        Only the best ``reduce_fraction`` of the sample are candidates (the "reduced sample").

    Returns
    -------
    Selection
        ``rows`` to start from; ``n_skipped`` counts candidates that were left out only
        because a better known minimum lies within ``radius`` (basin-aware scheduling).

    Examples
    --------
    >>> units = np.array([[0.1], [0.12], [0.9]])
    >>> values = np.array([1.0, 0.5, 0.7])
    >>> none = np.zeros((0, 1))
    >>> sel = mlsl_select(units, values, np.zeros(3, bool), none, np.zeros(0), 0.1, 1.0)
    >>> sel.rows.tolist()
    [1, 2]
    """
    n = len(values)
    finite = np.isfinite(values)
    if n == 0 or not finite.any():
        return Selection(np.zeros(0, dtype=int))
    n_reduced = max(1, math.ceil(reduce_fraction * int(finite.sum())))
    order = np.lexsort((np.arange(n), values))
    reduced = order[:n_reduced]
    reduced = reduced[np.isfinite(values[reduced])]
    tree = cKDTree(units[reduced])
    chosen: list[int] = []
    skipped = 0
    minima_tree = cKDTree(minima_units) if len(minima_units) else None
    for position, row in enumerate(reduced):
        if used[row]:
            continue
        # A better reduced-sample point nearby means this point's descent is covered there;
        # ``reduced`` is sorted by value (ties by row), so "better" is "earlier".
        if any(j < position for j in tree.query_ball_point(units[row], radius)):
            continue
        if minima_tree is not None:
            close = minima_tree.query_ball_point(units[row], radius)
            if any(minima_values[m] <= values[row] for m in close):
                skipped += 1
                continue
        chosen.append(int(row))
    return Selection(np.array(chosen, dtype=int), skipped)


def tiktak_select(
    values: np.ndarray, used: np.ndarray, keep_fraction: float = 0.1
) -> Selection:
    """Rows of the best ``keep_fraction`` of the sample not used yet, best value first.

    Examples
    --------
    >>> tiktak_select(np.array([3.0, 1.0, 2.0, 9.0]), np.zeros(4, bool), 0.5).rows.tolist()
    [1, 2]
    """
    finite = np.flatnonzero(np.isfinite(values))
    n_keep = max(1, math.ceil(keep_fraction * len(finite))) if len(finite) else 0
    order = finite[np.lexsort((finite, values[finite]))][:n_keep]
    return Selection(order[~used[order]].astype(int))


def tiktak_blend(unit: np.ndarray, best_unit: np.ndarray, k: int, n: int) -> np.ndarray:
    """TikTak's start: the ``k``-th of ``n`` points pulled toward the best minimum.

    The weight on the best minimum grows as ``sqrt(k / n)`` (clipped to ``[0.1, 0.995]``),
    so early starts explore and later ones refine around what is already known.

    Examples
    --------
    >>> tiktak_blend(np.array([0.0]), np.array([1.0]), 25, 100).tolist()
    [0.5]
    """
    theta = float(np.clip(math.sqrt(k / max(n, 1)), 0.1, 0.995))
    return (1.0 - theta) * unit + theta * best_unit


@dataclass
class Hopper:
    """Basin-hopping perturbations of the best minima, with a step that adapts.

    A hop that lands back in the minimum it started from means the step was too short to
    leave the basin: the step grows. A hop that finds a worse minimum means it jumped too far
    for this landscape: the step shrinks. A hop that finds a better minimum keeps the step.

    Attributes
    ----------
    step : float
        Half-width of the uniform perturbation in unit-box coordinates.

    Examples
    --------
    >>> h = Hopper(step=0.1)
    >>> h.update(same_basin=True, improved=False); round(h.step, 3)
    0.15
    """

    step: float = 0.05
    low: float = 1e-3
    high: float = 0.5

    def propose(self, unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A point uniformly within ``step`` of ``unit``, reflected back into the unit box.

        Reflection rather than clipping: clipped moves pile up on the bounds, where a
        solver's first step is the least informative.
        """
        moved = unit + rng.uniform(-self.step, self.step, size=unit.shape)
        moved = np.abs(moved)                 # reflect at 0
        return 1.0 - np.abs(1.0 - moved)      # reflect at 1 (steps are at most 0.5)

    @staticmethod
    def propose_coordinate(unit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``unit`` with one coordinate drawn anew over its whole range.

        On separable and nearly separable landscapes (Rastrigin, Schwefel, Styblinski-Tang,
        Michalewicz) the best minimum differs from a good one in a few coordinates at a
        time; a move along one coordinate keeps the others that are already right.
        """
        moved = np.array(unit, dtype=float)
        moved[rng.integers(len(moved))] = rng.random()
        return moved

    def update(self, same_basin: bool, improved: bool) -> None:
        """Adapt the step to the outcome of one hop."""
        if same_basin:
            self.step *= 1.5
        elif not improved:
            self.step *= 0.8
        self.step = float(np.clip(self.step, self.low, self.high))

