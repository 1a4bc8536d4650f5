"""A search that models the landscape's funnel: descents from the minimizer of a quadratic
fitted to the lowest points seen.

Many hard landscapes are rugged on a small scale and a bowl on a large one (Rastrigin,
Griewank, Levy, Schaffer's, many energy surfaces: the "big valley"). A local solve sees only
the ripples; a quadratic fitted by least squares to the points evaluated so far averages
them out and puts its minimizer near the bottom of the bowl, a place no space-filling sample
is likely to hit in several dimensions. Fitted again to fewer and lower points each step
(the local minima found among them), the model closes in on the lowest basin, the way a
convex global underestimator does (Phillips, Rosen and Walke, "Molecular structure
determination by convex global underestimation of local energy minima", DIMACS Series 23,
1996). On a landscape without a funnel the model points somewhere a descent finds little,
and the portfolio moves the budget away.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from engine.options import LocalOptions, SearchOptions
from engine.sampling import UnitStream
from engine.search.rounds import StartIndices, solve_from

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session, StartPlan

#: Each step fits the model to this fraction of the points of the step before it (the lowest),
#: down to :func:`fewest_points`.
SHRINK = 0.7

#: Two model minimizers closer than this (unit box, every coordinate) are the same start.
SAME_START = 1e-3


class LowestPoints:
    """The lowest points evaluated so far (unit box) and their values, at most ``limit`` of
    them: the funnel fits to the lowest points only, and a long run evaluates millions (a
    budget of 10,000 evaluations never reaches the default limit: nothing is dropped).

    Examples
    --------
    >>> seen = LowestPoints(1, limit=2)
    >>> seen.add(np.array([[0.1], [0.2], [0.3]]), np.array([3.0, 1.0, 2.0]))
    >>> seen.units.ravel().tolist(), seen.values.tolist()
    ([0.2, 0.3], [1.0, 2.0])
    """

    def __init__(self, dim: int, limit: int = 10_000) -> None:
        self.limit = limit
        self.units = np.empty((0, dim))
        self.values = np.empty(0)

    def add(self, units: np.ndarray, values: np.ndarray) -> None:
        units = np.vstack([self.units, units])
        values = np.concatenate([self.values, values])
        if len(values) > self.limit:
            lowest = np.sort(np.argsort(values, kind="stable")[: self.limit])
            units, values = units[lowest], values[lowest]
        self.units, self.values = units, values


def fewest_points(dim: int) -> int:
    """Points a fit needs: one more than the round quadratic's ``dim + 2`` terms.

    Examples
    --------
    >>> fewest_points(2), fewest_points(10)
    (5, 13)
    """
    return dim + 3


def _designs(units: np.ndarray) -> dict[str, np.ndarray]:
    """The two models' terms: a separable quadratic (a curvature per axis, ``2 dim + 1``
    terms) and a round one (one curvature for every axis of the unit box, ``dim + 2``)."""
    ones = np.ones((len(units), 1))
    return {"separable": np.hstack([ones, units, units ** 2]),
            "round": np.hstack([ones, units, (units ** 2).sum(axis=1, keepdims=True)])}


def _loo_error(design: np.ndarray, values: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared leave-one-out error of a least-squares fit (from its hat matrix's
    diagonal, without refitting), and the fit's coefficients."""
    coef = np.linalg.lstsq(design, values, rcond=None)[0]
    q = np.linalg.qr(design)[0]
    leverage = np.minimum((q ** 2).sum(axis=1), 1.0 - 1e-9)
    residual = (values - design @ coef) / (1.0 - leverage)
    return float(np.mean(residual ** 2)), coef


def valley_bottom(units: np.ndarray, values: np.ndarray, keep: int) -> np.ndarray | None:
    """The minimizer in the unit box of a quadratic fitted to the ``keep`` lowest points
    (None when no value is finite).

    Two quadratics are fitted by least squares, a separable one (a curvature per axis) and a
    round one (the same curvature on every axis of the unit box), and the one that predicts
    left-out points better (leave-one-out error) is used; the round one alone when there
    are too few points for the other. Along an axis where the chosen fit is not convex, the
    lowest point's coordinate is kept.

    Parameters
    ----------
    units : ndarray, shape (n, dim)
        Points in the unit box.
    values : ndarray, shape (n,)
        Their objective values (minimized sign); non-finite ones are left out.
    keep : int
        How many of the lowest points the quadratic is fitted to (at least
        :func:`fewest_points`, or all there are).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> u = rng.random((40, 2))
    >>> f = ((u - [0.3, 0.6]) ** 2).sum(axis=1) + 0.01 * np.cos(40 * u[:, 0])
    >>> np.round(valley_bottom(u, f, 40), 1).tolist()
    [0.3, 0.6]
    """
    finite = np.isfinite(values)
    units, values = units[finite], values[finite]
    if not len(values):
        return None  # the objective gave no value anywhere yet: nothing to model
    dim = units.shape[1]
    order = np.argsort(values, kind="stable")[: max(keep, fewest_points(dim))]
    units, values = units[order], values[order]
    fits = {name: _loo_error(design, values) for name, design in _designs(units).items()
            if len(values) > design.shape[1]}
    if not fits:
        return units[0].copy()
    model = min(fits, key=lambda name: fits[name][0])
    coef = fits[model][1]
    linear = coef[1:dim + 1]
    curvature = coef[dim + 1:] if model == "separable" else np.full(dim, coef[dim + 1])
    convex = curvature > 0
    bottom = units[0].copy()
    bottom[convex] = -linear[convex] / (2.0 * curvature[convex])
    return np.clip(bottom, 0.0, 1.0)


def funnel_steps(session: Session, plan: StartPlan, local: LocalOptions,
                 indices: StartIndices, reserve: float, seen: LowestPoints,
                 search: SearchOptions) -> Iterator[None]:
    """One descent per step from the bottom of the quadratic fitted to the lowest points.

    ``seen`` holds the points the run has evaluated (the other searches' samples and
    populations); the minima found so far join them. With too few points for a fit, the
    search evaluates a space-filling sample of its own first. Each step fits to
    :data:`SHRINK` of the points of the step before (at least :func:`fewest_points`); a step
    whose model minimizer repeats an earlier start fits to fewer points instead, and when no
    fewer are possible the search ends.
    """
    dim = session.problem.dim
    least = fewest_points(dim)
    stream = UnitStream(plan.options.sampler, dim, np.random.SeedSequence(
        plan.root.entropy, spawn_key=(*plan.root.spawn_key, 5, 6)))
    missing = least - len(seen.values)
    if missing > 0:
        if session.remaining_evals() - reserve < missing:
            return "max_evals"
        session.evaluate(stream.draw(missing), search.vectorized)  # lands in ``seen``
    keep = float(len(seen.values))
    starts: list[np.ndarray] = []
    while session.remaining_evals() - reserve >= 1 and indices.left > 0:
        minima_units, minima_values = session.minima_units()
        units = np.vstack([seen.units, minima_units])
        values = np.concatenate([seen.values, minima_values])
        while True:
            bottom = valley_bottom(units, values, int(keep))
            if bottom is None:
                return "no finite value to model"
            repeated = any(np.all(np.abs(bottom - s) <= SAME_START) for s in starts)
            if not repeated:
                break
            if keep <= least:
                return "converged"
            keep = max(least, keep * SHRINK)
        starts.append(bottom)
        solve_from(session, [bottom], local, indices, reserve)
        keep = max(least, keep * SHRINK)
        yield
    return "max_evals"
