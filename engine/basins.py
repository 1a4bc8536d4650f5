"""Merge converged points into distinct minima.

Two converged points belong to the same minimum when they are within ``xtol`` of each other in
every coordinate of the unit box (the bounds scaled to ``[0, 1]``) and their values agree to
``ftol`` relative to ``max(1, |f|)``. Points are taken best value first (ties by start index);
each joins the earliest-made minimum it matches, or makes a new one. Because that order depends
only on the set of points, the final minima do not depend on the order in which results
arrived, nor on the number of workers. The same structure, fed in arrival order, gives the
running count shown while a run is in progress.

Candidate minima are found with :class:`scipy.spatial.cKDTree` s over the representatives
(Chebyshev metric). The trees form a forest in the manner of Bentley and Saxe's logarithmic
method: each covers a consecutive range of minima, sizes at least halve down the list, and new
minima wait in a short unindexed tail until there are enough of them for a tree of their own,
which then absorbs the smaller trees before it. A point is thus built into a tree
``O(log m)`` times over a run and a query visits ``O(log m)`` trees, however the ``m`` minima
arrive: one at a time, in a task's batch, or a million at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

# Representatives not yet in a tree are scanned directly; this many get a tree of their own.
_LEAF = 64


@dataclass
class Basin:
    """A distinct minimum while it is being built: best point, its value, member starts."""

    x: np.ndarray
    f: float
    index: int
    members: list[int]


class BasinSet:
    """Distinct minima found so far, in unit-box coordinates.

    Parameters
    ----------
    lower, upper : numpy.ndarray
        Bounds of the problem; distances are measured after scaling the box to ``[0, 1]^d``.
    xtol : float
        Largest per-coordinate distance (fraction of each bound's width) between two points of
        the same minimum.
    ftol : float
        Largest value difference, relative to ``max(1, |f|)``, within one minimum.

    Examples
    --------
    >>> import numpy as np
    >>> bs = BasinSet(np.zeros(2), np.ones(2) * 10)
    >>> for i, (x, f) in enumerate([([1, 1], 0.0), ([1, 1 + 1e-6], 1e-9), ([5, 5], 2.0)]):
    ...     _ = bs.add(i, np.array(x, float), f)
    >>> len(bs), [b.members for b in bs.basins()]
    (2, [[0, 1], [2]])
    """

    def __init__(
        self, lower: np.ndarray, upper: np.ndarray, xtol: float = 1e-4, ftol: float = 1e-6
    ) -> None:
        self.lower = np.asarray(lower, dtype=float)
        self.width = np.asarray(upper, dtype=float) - self.lower
        self.xtol = float(xtol)
        self.ftol = float(ftol)
        dim = self.lower.size
        self._units = np.empty((16, dim))
        self._values = np.empty(16)
        self._basins: list[Basin] = []
        # (first id, tree over ids first .. first + tree.n - 1); consecutive, sizes decreasing
        self._trees: list[tuple[int, cKDTree]] = []
        self._indexed = 0  # ids below this are in a tree; the rest form the tail

    def __len__(self) -> int:
        return len(self._basins)

    def _candidates(self, unit: np.ndarray) -> Iterator[int]:
        """Ids of representatives within ``xtol`` of ``unit`` (Chebyshev distance), ascending.

        Lazily, tree by tree (their id ranges ascend): a caller that takes the first match
        skips the later trees, and most points match a minimum found early in the run.
        """
        for first, tree in self._trees:
            near = tree.query_ball_point(unit, r=self.xtol, p=np.inf, return_sorted=True)
            for i in near:
                yield first + i
        tail = self._units[self._indexed : len(self._basins)]  # may be empty
        near = np.flatnonzero(np.abs(tail - unit).max(axis=1) <= self.xtol)
        yield from (near + self._indexed).tolist()

    def _grow(self) -> None:
        size = self._units.shape[0] * 2
        self._units = np.resize(self._units, (size, self._units.shape[1]))
        self._values = np.resize(self._values, size)

    def add(self, index: int, x: np.ndarray, f: float) -> int:
        """Add the converged point ``x`` (value ``f``, minimized sign) of start ``index``.

        Returns the id of the minimum it joined or founded.
        """
        x = np.asarray(x, dtype=float)
        unit = (x - self.lower) / self.width
        basin_id = self._first_match(unit, f)
        if basin_id is None:
            basin_id = self._append(index, x, unit, f)
            self._index_if_tail_long()
            return basin_id
        basin = self._basins[basin_id]
        basin.members.append(index)
        if (f, index) < (basin.f, basin.index):
            # Arrival order may differ from value order: keep the best representative but
            # leave the matching centre where it is, so earlier decisions stand.
            basin.x, basin.f, basin.index = x.copy(), float(f), index
        return basin_id

    def _first_match(self, unit: np.ndarray, f: float) -> int | None:
        """The earliest minimum within ``xtol`` of ``unit`` whose value agrees with ``f``."""
        for basin_id in self._candidates(unit):
            if self._agree(f, self._values[basin_id]):
                return int(basin_id)
        return None

    def _agree(self, values: Any, refs: Any) -> Any:
        """Whether values agree to ``ftol`` relative to ``max(1, |value|, |ref|)``
        (elementwise for arrays)."""
        return np.abs(values - refs) <= self.ftol * np.maximum(
            1.0, np.maximum(np.abs(values), np.abs(refs)))

    def _index_if_tail_long(self) -> None:
        """Give the tail a tree once it reaches ``_LEAF`` minima, merged with every tree
        before it that is not larger (so tree sizes at least halve down the list)."""
        n = len(self._basins)
        if n - self._indexed < _LEAF:
            return
        first = self._indexed
        while self._trees and self._trees[-1][1].n <= n - first:
            first = self._trees.pop()[0]
        self._trees.append((first, cKDTree(self._units[first:n])))
        self._indexed = n

    def add_many(
        self, indices: np.ndarray, points: np.ndarray, values: np.ndarray, block: int = 8192
    ) -> None:
        """Add many points, in the given order, with the same outcome as repeated :meth:`add`.

        Each block of points is first matched in one vectorized query per tree against the
        minima that existed before the block. A point matching one of those joins the
        earliest it matches, which is what :meth:`add` would choose, since minima made inside
        the block come later. Only the points matching none are added one by one.

        Examples
        --------
        >>> import numpy as np
        >>> bs = BasinSet(np.zeros(1), np.ones(1))
        >>> bs.add_many(np.arange(4), np.array([[0.2], [0.7], [0.2], [0.70000001]]),
        ...             np.array([1.0, 2.0, 1.0, 2.0]))
        >>> [b.members for b in bs.basins()]
        [[0, 2], [1, 3]]
        """
        indices = np.asarray(indices)
        if len(indices) == 0:
            return
        points = np.asarray(points, dtype=float).reshape(len(indices), self.lower.size)
        values = np.asarray(values, dtype=float)
        for first in range(0, len(points), block):
            last = min(first + block, len(points))
            block_idx, block_pts = indices[first:last], points[first:last]
            block_vals = values[first:last]
            joined = self._match_known(block_pts, block_vals)
            matched = np.flatnonzero(joined >= 0)
            if matched.size:
                self._join_bulk(joined[matched], block_idx[matched], block_pts[matched],
                                block_vals[matched])
            pending = np.flatnonzero(joined < 0)
            if pending.size:
                self._found_among(block_idx[pending], block_pts[pending], block_vals[pending])
            self._index_if_tail_long()

    def _found_among(self, indices: np.ndarray, points: np.ndarray, values: np.ndarray) -> None:
        """Add, in order, points that match no minimum made before them outside this group.

        Each joins the earliest minimum made by a point before it in the group that it
        matches, or makes a new one, as :meth:`add` would. Each new minimum takes the later
        points near it in one query of a tree over the group, so both a rugged landscape
        (every point a new minimum) and a smooth one (thousands of points per minimum) cost
        about ``O(n log n)``, not ``O(n^2)``.
        """
        units = (points - self.lower) / self.width
        n = len(points)
        tree = cKDTree(units)
        joined = np.empty(n, dtype=int)  # the minimum of each point, where taken
        taken = np.zeros(n, dtype=bool)
        founders = np.zeros(n, dtype=bool)
        # The next founders' neighbourhoods are fetched several at a time, in one call: in a
        # rugged landscape nearly every point founds a minimum alone and one call per point
        # would cost more than the rest. A fetched point that an earlier one of the same
        # batch takes in wasted its query, so the batch doubles (up to 1024) while every
        # fetched point founds a minimum and drops back to one when some do not (crowded
        # minima: thousands of points each).
        batch, k = 1, 0
        while k < n:
            todo = []
            while k < n and len(todo) < batch:
                if not taken[k]:
                    todo.append(k)
                k += 1
            balls = tree.query_ball_point(units[todo], r=self.xtol, p=np.inf)
            founded = 0
            for t, ball in zip(todo, balls, strict=True):
                if taken[t]:
                    continue
                basin_id = self._append(int(indices[t]), points[t], units[t], float(values[t]))
                joined[t] = basin_id
                taken[t] = founders[t] = True
                founded += 1
                if len(ball) == 1:
                    continue  # only itself
                # Every point before t is taken by now (a founder, or joined to one), so the
                # free points of its ball all come after it.
                near = np.array(ball)
                near = near[~taken[near]]
                near = near[self._agree(values[near], values[t])]
                joined[near] = basin_id
                taken[near] = True
            batch = min(2 * batch, 1024) if founded == len(todo) else 1
            while k < n and taken[k]:  # so that no query is made for nothing at the end
                k += 1
        rest = np.flatnonzero(~founders)
        if rest.size:
            self._join_bulk(joined[rest], indices[rest], points[rest], values[rest])

    def _append(self, index: int, x: np.ndarray, unit: np.ndarray, f: float) -> int:
        """Make a new minimum at ``x`` (not yet in the tree); its id."""
        basin_id = len(self._basins)
        if basin_id == self._units.shape[0]:
            self._grow()
        self._units[basin_id] = unit
        self._values[basin_id] = f
        self._basins.append(Basin(x=x.copy(), f=float(f), index=index, members=[index]))
        return basin_id

    def _match_known(self, points: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Id of the earliest existing minimum each point matches, or -1."""
        joined = np.full(len(points), -1)
        n = len(self._basins)
        if n == 0:
            return joined
        units = (points - self.lower) / self.width
        trees = list(self._trees)
        if n > self._indexed:  # the tail, for this query only
            trees.append((self._indexed, cKDTree(self._units[self._indexed : n])))
        # Two nearest per tree tell apart the usual case (one minimum within xtol) from the
        # rare crowded one (several), which is then resolved by id as add() does.
        n_near = np.zeros(len(points), dtype=int)
        nearest = np.zeros(len(points), dtype=int)
        for first, tree in trees:
            k = min(2, tree.n)
            # The query's bound is strict; "within xtol" includes xtol itself, as in add().
            dist, ids = tree.query(units, k=k, p=np.inf,
                                   distance_upper_bound=np.nextafter(self.xtol, np.inf))
            within = np.isfinite(dist.reshape(len(points), k))
            ids = ids.reshape(len(points), k)
            nearest = np.where(within[:, 0] & (n_near == 0), first + ids[:, 0], nearest)
            n_near += within.sum(axis=1)
        single = (n_near == 1) & self._agree(values, self._values[nearest])
        joined[single] = nearest[single]
        for row in np.flatnonzero(n_near > 1):
            found = self._first_match(units[row], values[row])
            joined[row] = -1 if found is None else found
        return joined

    def _join_bulk(self, ids: np.ndarray, indices: np.ndarray, points: np.ndarray,
                   values: np.ndarray) -> None:
        """Append matched points to their minima; keep each minimum's best representative."""
        order = np.lexsort((indices, values, ids))  # by minimum, then best first
        ids, indices, points, values = ids[order], indices[order], points[order], values[order]
        _, starts = np.unique(ids, return_index=True)
        for lo, hi in itertools.pairwise([*starts.tolist(), len(ids)]):
            basin = self._basins[ids[lo]]
            basin.members.extend(indices[lo:hi].tolist())
            if (values[lo], int(indices[lo])) < (basin.f, basin.index):
                basin.x, basin.f, basin.index = points[lo].copy(), float(values[lo]), int(
                    indices[lo])

    def best(self) -> Basin:
        """The minimum with the lowest value so far (ties: the earliest start)."""
        return min(self._basins, key=lambda b: (b.f, b.index))

    def _ordered(self) -> list[Basin]:
        """The minima as held, best value first (ties by start index)."""
        return sorted(self._basins, key=lambda b: (b.f, b.index))

    def basins(self) -> list[Basin]:
        """The minima, best value first (ties by start index), members ascending."""
        return [Basin(b.x, b.f, b.index, sorted(b.members)) for b in self._ordered()]

    def leaders(self, k: int | None = None) -> list[tuple[np.ndarray, float]]:
        """The point and value of the ``k`` best minima (all by default), best value first
        (ties by start index), as :meth:`basins` orders them, without their members: a
        search asks for these every round, and a minimum may have ten million members.

        Examples
        --------
        >>> bs = BasinSet(np.zeros(1), np.ones(1), xtol=1e-3, ftol=1e-6)
        >>> for i, (x, f) in enumerate([(0.2, 1.0), (0.7, 0.5), (0.2, 1.0)]):
        ...     _ = bs.add(i, np.array([x]), f)
        >>> [(float(x[0]), f) for x, f in bs.leaders()], len(bs.leaders(1))
        ([(0.7, 0.5), (0.2, 1.0)], 1)
        """
        return [(b.x, b.f) for b in self._ordered()[:k]]


def cluster_points(
    indices: np.ndarray,
    points: np.ndarray,
    values: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    xtol: float = 1e-4,
    ftol: float = 1e-6,
) -> list[Basin]:
    """Distinct minima of a set of converged points, independent of their order.

    Points are fed to a :class:`BasinSet` sorted by ``(value, index)``.

    Examples
    --------
    >>> import numpy as np
    >>> pts = np.array([[0.5], [0.1], [0.5000001]])
    >>> [b.members for b in cluster_points(np.arange(3), pts, np.array([1.0, 0.0, 1.0]),
    ...                                    np.array([0.0]), np.array([1.0]))]
    [[1], [0, 2]]
    """
    indices, values = np.asarray(indices), np.asarray(values)
    order = np.lexsort((indices, values))
    basin_set = BasinSet(lower, upper, xtol=xtol, ftol=ftol)
    basin_set.add_many(indices[order], np.asarray(points)[order], values[order])
    return basin_set.basins()
