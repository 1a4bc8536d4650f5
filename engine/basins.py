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

    def _candidates(self, unit: np.ndarray) -> np.ndarray:
        """Ids of representatives within ``xtol`` of ``unit`` (Chebyshev distance), ascending."""
        found: list[int] = []
        if self._tree is not None:
            found.extend(self._tree.query_ball_point(unit, r=self.xtol, p=np.inf))
        n = len(self._basins)
        if n > self._indexed:
            tail = self._units[self._indexed : n]
            near = np.flatnonzero(np.max(np.abs(tail - unit), axis=1) <= self.xtol)
            found.extend((near + self._indexed).tolist())
        return np.array(sorted(found), dtype=int)

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
        basin_id = len(self._basins)
        if basin_id == self._units.shape[0]:
            self._grow()
        self._units[basin_id] = unit
        self._values[basin_id] = f
        self._basins.append(Basin(x=x.copy(), f=float(f), index=index, members=[index]))
        if basin_id + 1 - self._indexed > _UNINDEXED_LIMIT:
            self._tree = cKDTree(self._units[: basin_id + 1])
            self._indexed = basin_id + 1
        return basin_id

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
    order = np.lexsort((np.asarray(indices), np.asarray(values)))
    basin_set = BasinSet(lower, upper, xtol=xtol, ftol=ftol)
    for k in order:
        basin_set.add(int(indices[k]), points[k], float(values[k]))
    return basin_set.basins()
