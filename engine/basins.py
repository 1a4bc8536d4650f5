"""Merge converged points into distinct minima.

Two converged points belong to the same minimum when they are within ``xtol`` of each other in
every coordinate of the unit box (the bounds scaled to ``[0, 1]``) and their values agree to
``ftol`` relative to ``max(1, |f|)``. Points are taken best value first (ties by start index);
each joins the earliest-made minimum it matches, or makes a new one. Because that order depends
only on the set of points, the final minima do not depend on the order in which results
arrived, nor on the number of workers. The same structure, fed in arrival order, gives the
running count shown while a run is in progress.

Candidate minima are found with a :class:`scipy.spatial.cKDTree` over the representatives
(Chebyshev metric), rebuilt as the set grows, so each point costs ``O(log m)`` for ``m``
minima rather than a scan of all points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

# Representatives not yet in the tree are scanned directly; past this many the tree is rebuilt.
_UNINDEXED_LIMIT = 32


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
        self._tree: cKDTree | None = None
        self._indexed = 0

    def __len__(self) -> int:
        return len(self._basins)

    def _candidates(self, unit: np.ndarray) -> list[int]:
        """Ids of representatives within ``xtol`` of ``unit`` (Chebyshev distance), ascending."""
        found: list[int] = []
        if self._tree is not None:
            found.extend(self._tree.query_ball_point(unit, r=self.xtol, p=np.inf))
        n = len(self._basins)
        if n > self._indexed:
            tail = self._units[self._indexed : n]
            near = np.flatnonzero(np.abs(tail - unit).max(axis=1) <= self.xtol)
            found.extend((near + self._indexed).tolist())
        if len(found) > 1:
            found.sort()
        return found

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
        for basin_id in self._candidates(unit):
            ref = self._values[basin_id]
            if abs(f - ref) <= self.ftol * max(1.0, abs(f), abs(ref)):
                basin = self._basins[basin_id]
                basin.members.append(index)
                if (f, index) < (basin.f, basin.index):
                    # Arrival order may differ from value order: keep the best representative
                    # but leave the matching centre where it is, so earlier decisions stand.
                    basin.x, basin.f, basin.index = x.copy(), float(f), index
                return int(basin_id)
        basin_id = self._append(index, x, unit, f)
        self._index_if_tail_long()
        return basin_id

    def _index_if_tail_long(self) -> None:
        """Rebuild the tree once the unindexed tail passes 1/8 of the indexed part: O(log m)
        rebuilds as the set grows, and the tail stays a short vectorized scan."""
        n = len(self._basins)
        if n - self._indexed > max(_UNINDEXED_LIMIT, self._indexed // 8):
            self._tree = cKDTree(self._units[:n])
            self._indexed = n

    def add_many(
        self, indices: np.ndarray, points: np.ndarray, values: np.ndarray, block: int = 8192
    ) -> None:
        """Add many points, in the given order, with the same outcome as repeated :meth:`add`.

        Each block of points is first matched in one vectorized tree query against the
        minima that existed before the block. A point matching one of those joins the
        earliest it matches, which is what :meth:`add` would choose, since minima made inside
        the block come later. Only the points matching none are added one by one.
        """
        points = np.asarray(points, dtype=float)
        values = np.asarray(values, dtype=float)
        for first in range(0, len(points), block):
            last = min(first + block, len(points))
            n_known = len(self._basins)
            if n_known > self._indexed:  # index everything before matching the block
                self._tree = cKDTree(self._units[:n_known])
                self._indexed = n_known
            joined = np.full(last - first, -1)
            if self._tree is not None:
                joined = self._match_known(points[first:last], values[first:last])
            block_idx, block_pts = indices[first:last], points[first:last]
            block_vals = values[first:last]
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
        tree = cKDTree(units) if n > 1 else None
        joined = np.full(n, -1)
        founders = np.zeros(n, dtype=bool)
        for k in range(n):
            if joined[k] >= 0:
                continue
            basin_id = self._append(int(indices[k]), points[k], units[k], float(values[k]))
            joined[k], founders[k] = basin_id, True
            if tree is None:
                continue
            near = np.asarray(tree.query_ball_point(units[k], r=self.xtol, p=np.inf), dtype=int)
            near = near[(near > k)]
            near = near[joined[near] < 0]
            ref = float(values[k])
            near = near[np.abs(values[near] - ref)
                        <= self.ftol * np.maximum(1.0, np.maximum(np.abs(values[near]), abs(ref)))]
            joined[near] = basin_id
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
        self._basins.append(Basin(x=np.array(x, dtype=float), f=float(f), index=index,
                                  members=[index]))
        return basin_id

    def _match_known(self, points: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Id of the earliest indexed minimum each point matches, or -1."""
        assert self._tree is not None
        units = (points - self.lower) / self.width
        k = min(2, self._indexed)
        dist, ids = self._tree.query(units, k=k, p=np.inf, distance_upper_bound=self.xtol)
        dist, ids = dist.reshape(len(points), k), ids.reshape(len(points), k)
        nearest = np.where(np.isfinite(dist[:, 0]), ids[:, 0], 0)
        ref = self._values[nearest]
        f_close = np.abs(values - ref) <= self.ftol * np.maximum(
            1.0, np.maximum(np.abs(values), np.abs(ref)))
        single = np.isfinite(dist[:, 0]) & ~np.isfinite(dist[:, -1]) if k == 2 else (
            np.isfinite(dist[:, 0]))
        joined = np.where(single & f_close, nearest, -1)
        # Several minima within xtol (rare): check them in id order, as add() does.
        for row in np.flatnonzero(np.isfinite(dist[:, -1]) & (k == 2)):
            for basin_id in self._tree.query_ball_point(units[row], r=self.xtol, p=np.inf,
                                                        return_sorted=True):
                ref_f = self._values[basin_id]
                if abs(values[row] - ref_f) <= self.ftol * max(1.0, abs(values[row]),
                                                                abs(ref_f)):
                    joined[row] = basin_id
                    break
        return joined

    def _join_bulk(self, ids: np.ndarray, indices: np.ndarray, points: np.ndarray,
                   values: np.ndarray) -> None:
        """Append matched points to their minima; keep each minimum's best representative."""
        order = np.lexsort((indices, values, ids))  # by minimum, then best first
        ids, indices, points, values = ids[order], indices[order], points[order], values[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        ends = np.r_[starts[1:], len(ids)]
        for lo, hi in zip(starts, ends, strict=True):
            basin = self._basins[ids[lo]]
            basin.members.extend(indices[lo:hi].tolist())
            if (values[lo], int(indices[lo])) < (basin.f, basin.index):
                basin.x, basin.f, basin.index = points[lo].copy(), float(values[lo]), int(
                    indices[lo])

    def best(self) -> Basin:
        """The minimum with the lowest value so far (ties: the earliest start)."""
        return min(self._basins, key=lambda b: (b.f, b.index))

    def basins(self) -> list[Basin]:
        """The minima, best value first (ties by start index), members ascending."""
        ordered = sorted(self._basins, key=lambda b: (b.f, b.index))
        return [Basin(b.x, b.f, b.index, sorted(b.members)) for b in ordered]


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
    indices, values = np.asarray(indices), np.asarray(values, dtype=float)
    order = np.lexsort((indices, values))
    basin_set = BasinSet(lower, upper, xtol=xtol, ftol=ftol)
    basin_set.add_many(indices[order], np.asarray(points, dtype=float)[order], values[order])
    return basin_set.basins()
