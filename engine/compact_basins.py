"""Distinct minima whose member starts are held compactly, for runs of millions of starts.

A :class:`~engine.basins.BasinSet` keeps each minimum's member starts as a list of Python
ints: about 36 bytes a start, which is most of what a driver holding its runs on disk still
grows by. :class:`CompactBasinSet` is the same set with each minimum's members in an
``array('q')`` (8 bytes a start) and gives them back as a
:class:`~engine.results.types.StartList` (one numpy array), never as a list.
"""

from __future__ import annotations

from array import array

import numpy as np

from engine.basins import Basin, BasinSet
from engine.results.types import StartList


class CompactBasinSet(BasinSet):
    """A :class:`BasinSet` holding member starts in ``array('q')``; see the module.

    Examples
    --------
    >>> bs = CompactBasinSet(np.zeros(1), np.ones(1))
    >>> for i, x in enumerate([0.2, 0.7, 0.2]):
    ...     _ = bs.add(i, np.array([x]), 0.0)
    >>> [tuple(b.members) for b in bs.basins()]
    [(0, 2), (1,)]
    """

    @classmethod
    def of(cls, online: BasinSet) -> CompactBasinSet:
        """``online`` itself, its members moved into arrays (the set is taken over)."""
        compact = cls.__new__(cls)
        compact.__dict__.update(online.__dict__)
        for basin in compact._basins:
            basin.members = array("q", basin.members)
        return compact

    def _append(self, index: int, x: np.ndarray, unit: np.ndarray, f: float) -> int:
        basin_id = super()._append(index, x, unit, f)
        basin = self._basins[basin_id]
        basin.members = array("q", basin.members)
        return basin_id

    def basins(self) -> list[Basin]:
        """The minima, best value first (ties by start index), members ascending."""
        ordered = sorted(self._basins, key=lambda b: (b.f, b.index))
        return [Basin(b.x, b.f, b.index,
                      StartList(np.sort(np.frombuffer(b.members, dtype=np.int64))))
                for b in ordered]
