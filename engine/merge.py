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
minima whose values agree within the looser tolerance are ever compared. Segments are asked
for in few requests (one round trip each on a cluster): a minimum's segments to all its
candidates at once and, while no minimum has joined another, those the next minima will need
if each becomes a leader; a segment asked for and not used (a candidate after the one joined)
counts as spent.
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
    units = np.array([(b.x - lower) / width for b in ordered]).reshape(len(ordered), len(lower))
    values_f = np.array([b.f for b in ordered], dtype=float)
    leaders: list[Merged] = []
    # The leaders' unit points and values as arrays, in the order made: best value first, so
    # the values are sorted and the leaders a value can agree with are a suffix (found by
    # bisection). Thousands of distinct minima (a 20-D landscape) are then compared in C, not
    # pair by pair.
    lead_units = np.empty((len(ordered), len(lower)))
    lead_f = np.empty(len(ordered))
    widest = max(loose, window) * ftol

    def candidates(k: int, pool_units: np.ndarray, pool_f: np.ndarray) -> np.ndarray:
        """Positions in the pool (sorted values, all <= basin k's) of the minima basin k may
        join: values agreeing, nearest first (ties: the better one). Near each other (a
        loosely converged cluster, e.g. stops short of a minimum on a bound) values may differ
        up to ``loose * ftol``; far apart only up to ``window * ftol`` (a flat valley), so
        points left on a slope stay apart."""
        f = values_f[k]
        first = 0
        if widest < 1.0 and np.isfinite(f):
            # |f - g| <= c * max(1, |f|, |g|) with g <= f implies f - g <= c * max(1, |f|) /
            # (1 - c): nothing below that can agree.
            first = int(np.searchsorted(pool_f, f - widest * max(1.0, abs(f)) / (1.0 - widest),
                                        side="left"))
        apart = np.max(np.abs(pool_units[first:] - units[k]), axis=1, initial=0.0)
        factor = np.where(apart <= flat_xtol, loose, window)
        limit = factor * ftol * np.maximum(max(1.0, abs(f)), np.abs(pool_f[first:]))
        agree = np.flatnonzero(np.abs(f - pool_f[first:]) <= limit)
        return first + agree[np.argsort(apart[agree], kind="stable")]

    # Segment values by (basin position, position of the minimum it may join). On a cluster
    # each request for values is a round trip to the workers, so requests are few: while
    # every minimum checked so far has become a leader (distinct minima, the usual case when
    # there are many), the next ones likely will too, and the segments they will need are
    # asked for with the current ones: twice as many after each new leader, up to half the
    # budget left, none once a minimum has joined another. The checks made, and their order,
    # are those of one minimum at a time; a segment asked for and not needed counts as spent
    # (at most as many as were needed before the first join).
    cache: dict[tuple[int, int], np.ndarray] = {}
    spent = 0
    optimistic = True
    ahead = 0  # segments of later minima to ask for with the next request

    def fetch(pairs: list[tuple[int, int]]) -> None:
        nonlocal spent
        if not pairs:
            return
        segments = np.concatenate([ordered[j].x + t * (ordered[k].x - ordered[j].x)
                                   for k, j in pairs])
        along = np.asarray(values_at(segments), dtype=float).reshape(len(pairs), n_points)
        spent += len(pairs) * n_points
        cache.update(zip(pairs, along, strict=True))

    def prefetch(start: int, needed: list[tuple[int, int]], allowed: int) -> None:
        """Fetch ``needed`` and the segments the minima after ``start`` need if every one
        from ``start`` on becomes a leader, ``allowed`` segments in all."""
        pairs, wanted = list(needed), set(needed)
        n_lead = len(leaders)
        for k in range(start + 1, len(ordered)):
            if len(pairs) >= allowed:
                break
            pool_units = np.concatenate([lead_units[:n_lead], units[start:k]])
            pool_f = np.concatenate([lead_f[:n_lead], values_f[start:k]])
            for c in candidates(k, pool_units, pool_f):
                j = lead_pos[c] if c < n_lead else start + c - n_lead
                if (k, j) not in cache and (k, j) not in wanted:
                    pairs.append((k, j))
                    wanted.add((k, j))
        fetch(pairs[:max(allowed, len(needed))])

    lead_pos: list[int] = []  # position in ``ordered`` of each leader
    for k, basin in enumerate(ordered):
        scale = ftol * max(1.0, abs(basin.f))
        joined = None
        unit = units[k]
        n_lead = len(leaders)
        # The candidates the budget allows: a segment already fetched is free; the first one
        # the budget cannot pay for ends the list.
        near: list[int] = []  # leader numbers
        to_fetch: list[tuple[int, int]] = []
        affordable = max(0, (max_evals - spent) // n_points)
        for c in candidates(k, lead_units[:n_lead], lead_f[:n_lead]):
            pair = (k, lead_pos[c])
            if pair not in cache:
                if len(to_fetch) == affordable:
                    break
                to_fetch.append(pair)
            near.append(int(c))
        if to_fetch:
            if optimistic and ahead:
                prefetch(k, to_fetch, min(len(to_fetch) + ahead,
                                          max(len(to_fetch), affordable // 2)))
            else:
                fetch(to_fetch)
        for c in near:
            leader, values = leaders[c], cache[(k, lead_pos[c])]
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
            lead_pos.append(k)
            if near and optimistic:
                ahead = max(1, 2 * ahead)  # checked and still distinct: look further ahead
            continue
        optimistic = False  # minima join here: the next ones' leaders cannot be guessed
        joined.basin.members.extend(basin.members)
        joined.parts.append(unit)
    for m in leaders:
        m.basin.members.sort()
        if len(m.parts) > 1:
            parts = np.array(m.parts)
            m.spread = float(np.max(parts.max(axis=0) - parts.min(axis=0)))
        m.degenerate = m.flat and m.spread > flat_xtol
    return leaders, spent
