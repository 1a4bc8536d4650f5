"""Second merge of distinct minima: no barrier on the segment between two means one minimum.

The first merge (:mod:`engine.basins`) joins converged points within ``xtol`` and ``ftol``.
Loosely converged solvers (trust-constr at its default tolerances) leave one minimum as a
cluster of points further apart than that, and a flat direction (a model whose zero amplitude
frees a centre) leaves a line of equally good points. Both show as many "distinct" minima.

This pass goes over the minima, not the runs. Minima are taken best value first (ties by start
index); each is compared with the leaders made so far whose values agree within a looser
tolerance (``loose * ftol`` relative to ``max(1, |f|)``), nearest first. It joins the first
leader for which the objective at ``n_points`` interior points of the segment between them
never rises above the worse of the two values by more than ``ftol`` (relative), nor falls
below the better by more than the looser tolerance (a lower region between two minima means a
barrier on each side of it that the points may have stepped over): no barrier means one basin.
Genuinely distinct minima of equal value (Himmelblau's four zeros) are kept apart by the
barrier between them. A merged minimum keeps the best representative and the
starts of all its parts. When its parts lie more than ``flat_xtol`` apart in the unit box and
the objective stayed within ``ftol`` of the best value along every segment checked, it is a
flat direction: :attr:`Merged.degenerate` is set.

Work is bounded: ``max_evals`` evaluations at most (each check costs ``n_points``), and only
minima whose values agree within the looser tolerance are ever compared. The segments from
one minimum to all its candidates are evaluated in one request (one round trip on a
cluster), so a candidate after the one it joins may have been evaluated for nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine.basins import Basin

__all__ = ["Merged", "merge_minima"]


@dataclass
class Merged:
    """A minimum after the second merge: the basin, whether it is a flat direction, and how
    far apart (unit box, largest coordinate) its parts' representatives lie."""

    basin: Basin
    degenerate: bool = False
    spread: float = 0.0
    parts: list[np.ndarray] = field(default_factory=list)
    flat: bool = True


def merge_minima(
    basins: list[Basin],
    values_at: Callable[[np.ndarray], np.ndarray],
    lower: np.ndarray,
    upper: np.ndarray,
    xtol: float,
    ftol: float,
    *,
    loose: float = 1e3,
    window: float = 10.0,
    n_points: int = 5,
    flat_xtol: float | None = None,
    max_evals: int = 10_000,
) -> tuple[list[Merged], int]:
    """Merge ``basins`` (minimized sign, best first) that no barrier separates.

    Parameters
    ----------
    basins : list of Basin
        Output of :func:`engine.basins.cluster_points`.
    values_at : callable
        ``values_at(points)`` with ``points`` of shape ``(n, d)`` gives ``n`` values in the
        minimized sign, ``+inf`` where there is no value (never raises).
    lower, upper : numpy.ndarray
        Bounds; distances are measured in the unit box.
    xtol, ftol : float
        The first merge's tolerances.
    loose : float
        A segment may dip below the better value by ``loose * ftol`` (relative): a loosely
        converged cluster round one minimum dips to the minimum between its points.
    window : float
        Candidates further apart than ``flat_xtol`` agree in value within ``window * ftol``
        relative to ``max(1, |f|)`` (within ``loose * ftol`` when closer): points a solver
        left on a slope far apart, such as on a plateau, differ by more and stay apart for
        ``diagnose`` to see.
    n_points : int
        Interior points of each segment evaluated.
    flat_xtol : float, optional
        Parts further apart than this (unit box) make a degenerate minimum; ``10 * xtol`` by
        default.
    max_evals : int
        Most evaluations spent; pairs left unchecked stay distinct.

    Returns
    -------
    (list of Merged, int)
        The minima, best first (ties by start index), and the evaluations spent.

    Examples
    --------
    >>> import numpy as np
    >>> b = [Basin(np.array([0.0]), 0.0, 0, [0]), Basin(np.array([0.5]), 0.0, 1, [1])]
    >>> flat = lambda p: np.zeros(len(p))
    >>> merged, n = merge_minima(b, flat, np.array([-1.0]), np.array([1.0]), 1e-4, 1e-6)
    >>> len(merged), merged[0].degenerate, merged[0].basin.members, n
    (1, True, [0, 1], 5)
    >>> wall = lambda p: 1.0 - np.abs(np.cos(np.pi * p[:, 0]))
    >>> len(merge_minima(b, wall, np.array([-1.0]), np.array([1.0]), 1e-4, 1e-6)[0])
    2
    """
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    width = np.where(upper > lower, upper - lower, 1.0)
    flat_xtol = 10.0 * xtol if flat_xtol is None else flat_xtol
    t = np.arange(1, n_points + 1, dtype=float)[:, None] / (n_points + 1)
    ordered = sorted(basins, key=lambda b: (b.f, b.index))
    leaders: list[Merged] = []
    # The leaders' unit points and values as arrays, in the order made: best value first, so
    # the values are sorted and the leaders a value can agree with are a suffix (found by
    # bisection). Thousands of distinct minima (a 20-D landscape) are then compared in C, not
    # pair by pair.
    lead_units = np.empty((len(ordered), len(lower)))
    lead_f = np.empty(len(ordered))
    widest = max(loose, window) * ftol
    spent = 0
    for basin in ordered:
        scale = ftol * max(1.0, abs(basin.f))
        joined = None
        unit = (basin.x - lower) / width
        n_lead = len(leaders)
        first = 0
        if widest < 1.0 and np.isfinite(basin.f):
            # |f - g| <= c * max(1, |f|, |g|) with g <= f implies f - g <= c * max(1, |f|) /
            # (1 - c): no leader below that can agree.
            reach = widest * max(1.0, abs(basin.f)) / (1.0 - widest)
            first = int(np.searchsorted(lead_f[:n_lead], basin.f - reach, side="left"))
        # Leaders agreeing in value, nearest first (ties: the better leader). Near each other
        # (a loosely converged cluster, e.g. stops short of a minimum on a bound) values may
        # differ up to ``loose * ftol``; far apart only up to ``window * ftol`` (a flat
        # valley), so points left on a slope stay apart.
        values_f = lead_f[first:n_lead]
        apart = np.max(np.abs(lead_units[first:n_lead] - unit), axis=1, initial=0.0)
        factor = np.where(apart <= flat_xtol, loose, window)
        limit = factor * ftol * np.maximum(max(1.0, abs(basin.f)), np.abs(values_f))
        agree = np.flatnonzero(np.abs(basin.f - values_f) <= limit)
        order = agree[np.argsort(apart[agree], kind="stable")]
        # The segments to every candidate the budget allows go in one request: on a cluster
        # each request is a round trip to the workers, and most basins have one candidate.
        near = [leaders[first + k] for k in order][:max(0, (max_evals - spent) // n_points)]
        along = np.empty((0, n_points))
        if near:
            segments = np.concatenate([leader.basin.x + t * (basin.x - leader.basin.x)
                                       for leader in near])
            along = np.asarray(values_at(segments), dtype=float).reshape(len(near), n_points)
            spent += len(near) * n_points
        for leader, values in zip(near, along, strict=True):
            top = max(basin.f, leader.basin.f)
            tol = ftol * max(1.0, abs(top))
            # Between two true minima a lower value means a basin between them, hence a barrier
            # on each side that the points may have stepped over; a cluster round one minimum
            # dips below its points by no more than their values differ.
            floor = leader.basin.f - loose * ftol * max(1.0, abs(leader.basin.f))
            if (np.all(np.isfinite(values)) and float(np.max(values)) <= top + tol
                    and float(np.min(values)) >= floor):
                joined = leader
                best = leader.basin.f
                joined.flat &= bool(abs(basin.f - best) <= max(tol, scale)
                                    and float(np.max(np.abs(values - best))) <= tol)
                break
        if joined is None:
            leaders.append(Merged(Basin(basin.x, basin.f, basin.index, list(basin.members)),
                                  parts=[unit]))
            lead_units[n_lead], lead_f[n_lead] = unit, basin.f
            continue
        joined.basin.members.extend(basin.members)
        joined.parts.append(unit)
    for m in leaders:
        m.basin.members.sort()
        if len(m.parts) > 1:
            parts = np.array(m.parts)
            m.spread = float(np.max(parts.max(axis=0) - parts.min(axis=0)))
        m.degenerate = m.flat and m.spread > flat_xtol
    return leaders, spent
