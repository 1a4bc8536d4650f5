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
from engine.results.types import StartList, is_ascending

#: Start indices below this fit the 4-byte arrays members are kept in at first.
_INT32 = 2**31 - 1


class CompactBasinSet(BasinSet):
    """A :class:`BasinSet` holding member starts in ``array('i')`` (``'q'`` past 2**31 - 1);
    see the module.

    Examples
    --------
    >>> bs = CompactBasinSet(np.zeros(1), np.ones(1))
    >>> for i, x in enumerate([0.2, 0.7, 0.2]):
    ...     _ = bs.add(i, np.array([x]), 0.0)
    >>> [tuple(b.members) for b in bs.basins()]
    [(0, 2), (1,)]
    """

    _code = "i"

    @classmethod
    def of(cls, online: BasinSet) -> CompactBasinSet:
        """``online`` itself, its members moved into arrays (the set is taken over)."""
        compact = cls.__new__(cls)
        compact.__dict__.update(online.__dict__)
        top = max((max(b.members) for b in compact._basins if b.members), default=0)
        compact._code = "i" if top <= _INT32 else "q"
        for basin in compact._basins:
            basin.members = array(compact._code, basin.members)
        return compact

    def _room_for(self, top: int) -> None:
        """Move every minimum's members to 8-byte arrays before a start past 2**31 - 1."""
        if top > _INT32 and self._code == "i":
            self._code = "q"
            for basin in self._basins:
                basin.members = array("q", basin.members)

    def add(self, index: int, x: np.ndarray, f: float) -> int:
        self._room_for(int(index))
        return super().add(index, x, f)

    def _join_bulk(self, ids: np.ndarray, indices: np.ndarray, points: np.ndarray,
                   values: np.ndarray) -> None:
        if len(indices):
            self._room_for(int(np.max(indices)))
        super()._join_bulk(ids, indices, points, values)

    def _append(self, index: int, x: np.ndarray, unit: np.ndarray, f: float) -> int:
        self._room_for(int(index))
        basin_id = super()._append(index, x, unit, f)
        basin = self._basins[basin_id]
        basin.members = array(self._code, basin.members)
        return basin_id

    def basins(self) -> list[Basin]:
        """The minima, best value first (ties by start index), members ascending."""
        ordered = self._ordered()
        dtype = np.int32 if self._code == "i" else np.int64
        return [Basin(b.x, b.f, b.index, StartList(_sorted(np.frombuffer(b.members, dtype))))
                for b in ordered]


    def final_basins(self) -> list[Basin]:
        """As :meth:`basins`, at the end of the run: each minimum's members are sorted where
        they are and given without a copy (ten million starts: 40 MB, not twice that), so the
        set accepts no start after this.
        """
        ordered = self._ordered()
        dtype = np.int32 if self._code == "i" else np.int64
        out = []
        for b in ordered:
            members = np.frombuffer(b.members, dtype)  # a writable view of the array
            if not is_ascending(members):
                members.sort()  # a cluster's runs arrive out of order
            out.append(Basin(b.x, b.f, b.index, StartList.wrap(members)))
        return out


def _sorted(values: np.ndarray) -> np.ndarray:
    """``values`` ascending: the array itself when it already is (a serial run's members),
    which :class:`StartList` then copies once; else a sorted copy."""
    if is_ascending(values):
        return values
    return np.sort(values)
