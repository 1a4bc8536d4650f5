"""The runs of a big run as a view over its Parquet segments, not held by the driver.

:class:`RunsOnDisk` answers what the search and the result ask of the runs (which starts are
done, counts, evaluations, the run of one start) from a bitmap of finished starts and a few
counters: about one bit per start instead of about 110 bytes. Everything else (columns,
iteration, failures) is read from the segments when asked, one segment at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from engine.results.segments import SegmentJournal, read_segment, table_runs
from engine.results.store import RunCounts, RunStore
from engine.results.types import LocalRun, is_ascending, stopped_by_budget

if TYPE_CHECKING:
    from engine.results.history import RunHistory

#: Columns read for the aggregates (never the points unless asked for).
_COUNTS = ["index", "fun", "nfev", "success", "error", "message"]


class RunsOnDisk(RunCounts, Sequence[LocalRun]):
    """Every run recorded, kept on disk by ``journal``; the driver holds only counters.

    A start is recorded once (``append`` returns False for a start already there), as in
    :class:`~engine.results.store.RunStore`. Iteration follows the order the runs were written
    (by start index within what a serial run solves in order); ``view[-1]`` is the run of the
    highest start index and ``view[k]`` the k-th by start index.

    Parameters
    ----------
    journal : SegmentJournal or RunHistory
        Where the runs are: its ``sealed()`` segments, its ``pending_table()`` of runs not
        in a segment, and ``get(index)``.
    """

    def __init__(self, journal: SegmentJournal | RunHistory) -> None:
        self.journal = journal
        self._bits = np.zeros(0, dtype=np.uint8)  # bit i: start i is recorded
        self._n = 0
        self._nfev = 0
        self._nit = 0
        self._n_success = 0
        self._n_budget = 0
        self._highest = -1
        self._dim: int | None = None

    @classmethod
    def from_store(cls, store: RunStore, journal: SegmentJournal) -> RunsOnDisk:
        """A view continuing ``store`` (its runs are in ``journal`` or about to be)."""
        view = cls(journal)
        indices = store.indices
        if indices.size:
            view._mark(indices)
            view._highest = int(indices.max())
        view._n = len(store)
        view._nfev = store.nfev
        view._nit = store.nit
        view._n_success = store.n_success
        view._n_budget = store.n_stopped
        view._dim = store.dim
        return view

    @classmethod
    def of_history(cls, history: Any) -> RunsOnDisk:
        """A view of the runs of a finished history (a
        :class:`~engine.results.history.RunHistory`), counted in one pass over them."""
        view = cls(history)
        for table in view.tables():
            index = table.column("index").to_numpy()
            view._mark(index)
            view._highest = max(view._highest, int(index.max()))
            view._n += len(index)
            view._nfev += int(table.column("nfev").to_numpy().sum())
            view._nit += int(table.column("nit").to_numpy().sum())
            success = table.column("success").to_numpy(zero_copy_only=False)
            view._n_success += int(success.sum())
            view._n_budget += sum(stopped_by_budget(e) for e in
                                  table.column("error").filter(~success).to_pylist())
            view._dim = len([n for n in table.schema.names if n.startswith("x0_")])
        return view

    # ------------------------------------------------------------------ recording

    def _mark(self, indices: np.ndarray) -> None:
        top = int(indices.max())
        if top >> 3 >= self._bits.size:
            # Grow by half at least: amortized constant time, a bit per start.
            size = max((top >> 3) + 1, self._bits.size + self._bits.size // 2 + 4096)
            self._bits = np.concatenate([self._bits,
                                         np.zeros(size - self._bits.size, np.uint8)])
        np.bitwise_or.at(self._bits, indices >> 3, (1 << (indices & 7)).astype(np.uint8))

    def append(self, run: LocalRun) -> bool:
        """Count ``run`` as recorded; False (nothing counted) when its start already is."""
        index = int(run.index)
        if index < 0:
            raise ValueError(f"run.index={index} is negative; start indices count from 0")
        if index in self:
            return False
        if index >> 3 >= self._bits.size:
            self._mark(np.array([index]))
        else:
            self._bits[index >> 3] |= 1 << (index & 7)
        if self._dim is None:
            self._dim = int(np.asarray(run.x0).size)
        self._n += 1
        self._nfev += int(run.nfev)
        self._nit += int(run.nit)
        self._n_success += bool(run.success)
        self._n_budget += stopped_by_budget(run.error)
        self._highest = max(self._highest, index)
        return True

    # ------------------------------------------------------------------ Sequence

    def __contains__(self, item: object) -> bool:
        index = self.start_index(item)
        return index is not None and index >= 0 and (index >> 3) < self._bits.size and bool(
            self._bits[index >> 3] >> (index & 7) & 1)

    def tables(self, columns: list[str] | None = None,
               encoded: Sequence[str] = ()) -> Iterator[Any]:
        """The runs as Arrow tables: each sealed segment, then the runs still buffered;
        ``columns`` reads only those (``index`` is always read); the text columns named in
        ``encoded`` are read dictionary-encoded from the segments (see :func:`read_segment`).

        A start recorded twice (a task re-run after a lost worker) appears once: only the
        first record counts, as in the store.
        """
        if columns is not None:
            columns = ["index", *[c for c in columns if c != "index"]]

        seen = np.zeros(self._bits.size, dtype=np.uint8)  # a bit per start, as _bits
        sources = [*self.journal.sealed(), None]
        for path in sources:
            table = (self.journal.pending_table() if path is None
                     else read_segment(path, columns, encoded))
            if table is None or not table.num_rows:
                continue
            if columns is not None and table.num_columns != len(columns):
                table = table.select(columns)
            index = table.column("index").to_numpy()
            if int(index.max()) >> 3 >= seen.size:  # a history being counted: size unknown
                more = (int(index.max()) >> 3) + 1 - seen.size
                seen = np.concatenate([seen, np.zeros(more, np.uint8)])
            bit = (1 << (index & 7)).astype(np.uint8)
            first = (seen[index >> 3] & bit) == 0
            first &= _first_occurrence(index)
            np.bitwise_or.at(seen, index >> 3, bit)
            yield table if first.all() else table.filter(first)

    def __iter__(self) -> Iterator[LocalRun]:
        for table in self.tables():
            yield from table_runs(table)

    @overload
    def __getitem__(self, position: int) -> LocalRun: ...

    @overload
    def __getitem__(self, position: slice) -> list[LocalRun]: ...

    def __getitem__(self, position: int | slice) -> LocalRun | list[LocalRun]:
        """The run at ``position`` in start-index order (``[-1]``: the highest start)."""
        if position == -1 and self._n:
            return self._get_or_raise(self._highest)
        order = self.indices
        if isinstance(position, slice):
            return [self._get_or_raise(int(i)) for i in order[position]]
        return self._get_or_raise(int(order[position]))

    def _get_or_raise(self, index: int) -> LocalRun:
        run = self.get(index)
        if run is None:
            raise IndexError(f"start {index} is recorded but not found in {self.journal.path}")
        return run

    def get(self, index: int, default: Any = None) -> LocalRun | Any:
        """The run of start ``index``, or ``default`` (read from its segment)."""
        if index not in self:
            return default
        found = self.journal.get(int(index))
        return default if found is None else found

    def __repr__(self) -> str:
        return (f"RunsOnDisk({self._n} runs in {self.journal.path}, dim={self._dim}, "
                f"nfev={self._nfev})")

    # ------------------------------------------------------------------ aggregates

    @property
    def nit(self) -> int:
        return self._nit

    @property
    def nbytes(self) -> int:
        """Bytes the driver holds for these runs (the bitmap of recorded starts)."""
        return int(self._bits.nbytes)

    def column(self, name: str) -> np.ndarray:
        """One column over every run, in start-index order (read from the segments)."""
        if name in ("x", "x0"):
            dim = self._dim or 0
            names = [f"{name}_{j}" for j in range(dim)]
            parts = [np.column_stack([t.column(c).to_numpy() for c in names]).reshape(-1, dim)
                     for t in self.tables(names)]
            index = self._index_parts()
            if not parts:
                return np.empty((0, dim))
            return np.concatenate(parts)[np.argsort(index, kind="stable")]
        parts = [t.column(name).to_numpy(zero_copy_only=False) for t in self.tables([name])]
        if not parts:
            return np.empty(0)
        values = np.concatenate(parts)
        return values[np.argsort(self._index_parts(), kind="stable")]

    def _index_parts(self) -> np.ndarray:
        parts = [t.column("index").to_numpy() for t in self.tables(["index"])]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    @property
    def indices(self) -> np.ndarray:
        return np.sort(self._index_parts())

    @property
    def x0(self) -> np.ndarray:
        return self.column("x0")

    @property
    def x(self) -> np.ndarray:
        return self.column("x")

    @property
    def fun(self) -> np.ndarray:
        return self.column("fun").astype(float)

    @property
    def success(self) -> np.ndarray:
        return self.column("success").astype(bool)

    @property
    def nfevs(self) -> np.ndarray:
        return self.column("nfev").astype(np.int64)

    def successful(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ok = self.success
        return self.indices[ok], self.x[ok], self.fun[ok]

    def failures(self) -> dict[str, int]:
        """Failed runs counted by reason (error type, else message), most common first."""
        counts: dict[str, int] = {}
        if not self.n_failed:  # the usual big run: nothing to read
            return counts
        # The texts stay encoded and only the failed rows' are decoded: at the end of a run of
        # ten million starts, decoding every message would cost more than the whole search.
        for table in self.tables(["success", "error", "message"], encoded=("error", "message")):
            succeeded = table.column("success").to_numpy(zero_copy_only=False)
            if succeeded.all():
                continue
            failed = table.filter(np.logical_not(succeeded))
            for error, message in zip(failed.column("error").to_pylist(),
                                      failed.column("message").to_pylist(), strict=True):
                if stopped_by_budget(error):
                    continue
                reason = error.split(":", 1)[0] if error is not None else message
                counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def best_and_nfev(self, starts: Sequence[int], sign: float = 1.0) -> tuple[int, int] | None:
        """As :meth:`RunStore.best_and_nfev`, for one minimum (one pass over the segments)."""
        found = self.best_and_nfev_many([starts], sign)[0]
        return None if found is None else found[:2]

    def best_and_nfev_many(self, groups: Sequence[Sequence[int]], sign: float = 1.0
                           ) -> list[tuple[int, int, np.ndarray] | None]:
        """For each group of starts (a minimum's), the start of its lowest ``sign * fun``
        (the lowest start index among equals), its runs' evaluations summed and that start's
        ``x0``; None for a group whose runs are not all recorded. One pass over the segments
        for all groups: the end of a big run reads the minima, not run by run."""
        sizes = np.array([len(g) for g in groups], dtype=np.int64)
        arrays = [np.asarray(g) for g in groups]  # a StartList: no copy
        arrays = [a if a.dtype.kind == "i" else a.astype(np.int64) for a in arrays]
        if len(groups) > 64:
            # Many minima: one sorted array of every member with its minimum's number.
            members = np.concatenate(arrays)
            labels = np.repeat(np.arange(len(groups), dtype=np.int32), sizes)
            order = np.argsort(members, kind="stable")
            sorted_groups = [(members[order], labels[order])]
        else:
            # Few (the usual case): each minimum's own members, already in memory, no copy.
            sorted_groups = [(a if is_ascending(a) else np.sort(a),
                              np.full(1, g, dtype=np.int32)) for g, a in enumerate(arrays)]
        matched = np.zeros(len(groups), dtype=np.int64)
        nfev = np.zeros(len(groups), dtype=np.int64)
        best_value = np.full(len(groups), np.inf)
        best_index = np.full(len(groups), -1, dtype=np.int64)
        best_x0: dict[int, np.ndarray] = {}
        dim = self._dim or 0
        wanted = ["fun", "nfev", *[f"x0_{j}" for j in range(dim)]]
        for table in self.tables(wanted):
            index = table.column("index").to_numpy()
            fun = table.column("fun").to_numpy()
            evaluations = table.column("nfev").to_numpy()
            for members, labels in sorted_groups:
                if not members.size:
                    continue
                # Compare in the members' own type (a StartList holds 4-byte starts) unless
                # this table holds starts past it.
                fits = index.max() <= np.iinfo(members.dtype).max
                probe = index.astype(members.dtype, copy=False) if fits else index
                at = np.searchsorted(members if fits else members.astype(np.int64), probe)
                hit = at < members.size
                hit[hit] = members[at[hit]] == probe[hit]
                if not hit.any():
                    continue
                rows = np.flatnonzero(hit)
                label = labels[at[rows]] if labels.size > 1 else np.full(rows.size, labels[0])
                value = sign * fun[rows]
                value = np.where(np.isnan(value), np.inf, value)
                np.add.at(matched, label, 1)
                np.add.at(nfev, label, evaluations[rows])
                # Within this table: the best row of each label (value, then start index).
                ranked = np.lexsort((index[rows], value, label))
                first = ranked[np.r_[True, label[ranked][1:] != label[ranked][:-1]]]
                for row in first:
                    g = int(label[row])
                    key = (float(value[row]), int(index[rows[row]]))
                    if best_index[g] < 0 or key < (best_value[g], int(best_index[g])):
                        best_value[g], best_index[g] = key
                        best_x0[g] = np.array([table.column(f"x0_{j}")[int(rows[row])].as_py()
                                               for j in range(dim)], dtype=float)
        _give_back_memory()
        return [(int(best_index[g]), int(nfev[g]), best_x0[g])
                if matched[g] == sizes[g] and sizes[g] and g in best_x0 else None
                for g in range(len(groups))]


def _give_back_memory() -> None:
    """Return the memory of the tables just read to the system: Arrow's allocator keeps
    freed memory for reuse, which after a pass over every run is a driver's peak."""
    import pyarrow

    pyarrow.default_memory_pool().release_unused()


def _first_occurrence(index: np.ndarray) -> np.ndarray:
    """True at the first row of each distinct value of ``index``."""
    _, first = np.unique(index, return_index=True)
    mask = np.zeros(index.size, dtype=bool)
    mask[first] = True
    return mask
