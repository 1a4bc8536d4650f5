"""A compact, columnar store of finished local runs.

A million :class:`~engine.results.LocalRun` objects cost the driver several hundred bytes
each (an object, two small arrays, boxed floats). :class:`RunStore` keeps the same data in a
few numpy arrays that grow in blocks, with the solver messages interned (a run holds the
number of its message), so a run costs about ``2 * dim * 8 + 60`` bytes. It still reads as a
sequence of :class:`LocalRun`, ordered by start index, built on access.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np

from engine.results.types import RUN_SCALARS, LocalRun, stopped_by_budget

_NO_ERROR = -1


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

#: Characters of distinct message text kept exactly (about 16-32 MB of strings).
MESSAGE_BUDGET = 16_000_000


class _Interned:
    """Strings stored once; each is referred to by its number.

    Distinct strings are kept exactly until they add up to ``budget`` characters. Past that
    (an objective failing a million times with its point in every error message) the numbers
    of each new string are masked, so that messages differing only in their values share one
    entry and the driver's memory stays bounded; the reason stays readable.

    Examples
    --------
    >>> table = _Interned(budget=10)
    >>> table.id_of("failed at x=[1.5]"), table.id_of("failed at x=[2.5]")
    (0, 1)
    >>> table.values[1], table.id_of("failed at x=[3.5]")
    ('failed at x=[#] (values dropped: message store full)', 1)
    """

    def __init__(self, budget: int = MESSAGE_BUDGET) -> None:
        self.values: list[str] = []
        self._ids: dict[str, int] = {}
        self.budget = budget
        self._chars = 0

    def id_of(self, value: str) -> int:
        found = self._ids.get(value)
        if found is not None:
            return found
        if self._chars > self.budget:
            # An error reads "Type: text": the type's name is kept as it is (Py4JError).
            kind, colon, text = value.partition(": ")
            masked = kind + colon + _NUMBER.sub("#", text) if colon else _NUMBER.sub("#", value)
            if masked != value:
                value = masked + " (values dropped: message store full)"
                found = self._ids.get(value)
                if found is not None:
                    return found
        found = self._ids[value] = len(self.values)
        self.values.append(value)
        self._chars += len(value)
        return found


class RunCounts:
    """What a set of runs counts as they are added: their number, dimension, evaluations,
    successes and runs cut short by the budget. Shared by :class:`RunStore` (runs in memory)
    and ``RunsOnDisk`` (runs read back from segments), which keep the same counters."""

    _n: int
    _dim: int | None
    _nfev: int
    _n_success: int
    _n_budget: int

    @property
    def dim(self) -> int | None:
        """Number of variables (None while empty)."""
        return self._dim

    @property
    def nfev(self) -> int:
        """Objective evaluations over all runs."""
        return self._nfev

    @property
    def n_success(self) -> int:
        return self._n_success

    @property
    def n_failed(self) -> int:
        """Runs that failed (a run the budget cut short is not a failure)."""
        return self._n - self._n_success - self._n_budget

    @property
    def n_stopped(self) -> int:
        """Runs the evaluation budget (``max_evals``) cut short."""
        return self._n_budget

    def append(self, run: LocalRun) -> bool:
        raise NotImplementedError

    def extend(self, runs: Iterable[LocalRun]) -> int:
        """Store several runs; return how many were new."""
        return sum(self.append(run) for run in runs)

    def __len__(self) -> int:
        return self._n

    @staticmethod
    def start_index(item: object) -> int | None:
        """The start index that ``item`` (an int, or a LocalRun's index) names, or None."""
        index = item.index if isinstance(item, LocalRun) else item
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            return None
        return int(index)


class RunStore(RunCounts, Sequence[LocalRun]):
    """Finished local runs in growable numpy columns, read back as :class:`LocalRun`.

    Runs may be added in any order; reading is ordered by start index. A start index is
    stored once: adding a run whose index is already there keeps the first and returns
    False (a task re-run after a lost worker may repeat starts).

    Parameters
    ----------
    block : int
        Rows allocated at first; capacity then grows by half of itself (at least one block),
        so adding a run costs amortized constant time.
    message_budget : int
        Characters of distinct message and error text kept exactly; past them the numbers in
        new texts are masked (see :class:`_Interned`), so a million failures whose errors
        embed the point do not hold a million distinct strings.

    Examples
    --------
    >>> import numpy as np
    >>> store = RunStore()
    >>> store.append(LocalRun(1, np.zeros(2), np.ones(2), 0.5, 10, 3, True, "ok"))
    True
    >>> store.append(LocalRun(0, np.zeros(2), np.zeros(2), 2.0, 7, 2, False, "failed: x",
    ...                       error="ValueError: x"))
    True
    >>> [run.index for run in store], 1 in store, 5 in store
    ([0, 1], True, False)
    >>> store.nfev, store.n_failed, store.fun.tolist()
    (17, 1, [2.0, 0.5])
    """

    def __init__(self, block: int = 4096, message_budget: int = MESSAGE_BUDGET) -> None:
        self.block = max(1, int(block))
        self._n = 0
        self._dim: int | None = None
        self._capacity = 0
        self._columns: dict[str, np.ndarray] = {}
        self._row_of = np.full(0, -1, dtype=np.int64)  # start index -> row, -1 when absent
        self._order: np.ndarray | None = None  # rows by start index, cached
        self._in_order = True  # every run so far came in increasing index order
        self._strings = _Interned(message_budget)
        self._nfev = 0
        self._n_success = 0
        self._n_budget = 0

    # ------------------------------------------------------------------ building

    @classmethod
    def from_runs(cls, runs: Iterable[LocalRun], block: int = 4096) -> RunStore:
        """A store holding ``runs`` (the first run of each start index)."""
        store = cls(block)
        store.extend(runs)
        return store

    def _allocate(self, dim: int, capacity: int) -> None:
        self._dim = dim
        self._capacity = capacity
        self._columns = {name: np.empty(capacity, dtype=dtype) for name, dtype in RUN_SCALARS}
        for name in ("x0", "x"):
            self._columns[name] = np.empty((capacity, dim), dtype=np.float64)
        for name in ("message", "error"):
            self._columns[name] = np.empty(capacity, dtype=np.int32)

    def _grow(self, needed: int) -> None:
        capacity = max(needed, self._capacity + max(self.block, self._capacity // 2))
        for name, column in self._columns.items():
            bigger = np.empty((capacity, *column.shape[1:]), dtype=column.dtype)
            bigger[: self._n] = column[: self._n]
            self._columns[name] = bigger
        self._capacity = capacity

    def _make_room_for_index(self, index: int) -> None:
        if index >= self._row_of.size:
            size = max(index + 1, self._row_of.size + max(self.block, self._row_of.size // 2))
            grown = np.full(size, -1, dtype=np.int64)
            grown[: self._row_of.size] = self._row_of
            self._row_of = grown

    def append(self, run: LocalRun) -> bool:
        """Store ``run``; False (and nothing stored) when its start index is already here."""
        index = int(run.index)
        if index < 0:
            raise ValueError(f"run.index={index} is negative; start indices count from 0")
        if index in self:
            return False
        x0 = np.asarray(run.x0, dtype=np.float64).ravel()
        x = np.asarray(run.x, dtype=np.float64).ravel()
        if self._dim is None:
            self._allocate(x0.size, self.block)
        if x0.size != self._dim or x.size != self._dim:
            raise ValueError(
                f"run {index} has x0 of size {x0.size} and x of size {x.size}; this store holds "
                f"runs of {self._dim} variables"
            )
        if self._n == self._capacity:
            self._grow(self._n + 1)
        row = self._n
        c = self._columns
        c["index"][row] = index
        c["x0"][row] = x0
        c["x"][row] = x
        c["fun"][row] = run.fun
        c["nfev"][row] = run.nfev
        c["nit"][row] = run.nit
        c["success"][row] = run.success
        c["time"][row] = run.time
        c["in_bounds"][row] = run.in_bounds
        c["message"][row] = self._strings.id_of(run.message)
        c["error"][row] = _NO_ERROR if run.error is None else self._strings.id_of(run.error)
        self._make_room_for_index(index)
        self._row_of[index] = row
        if row > 0 and index < c["index"][row - 1]:
            self._in_order = False
        self._n += 1
        self._nfev += int(run.nfev)
        self._n_success += bool(run.success)
        self._n_budget += stopped_by_budget(run.error)
        return True

    # ------------------------------------------------------------------ Sequence

    def __contains__(self, item: object) -> bool:
        """Whether a run of this start index (an int, or a LocalRun's index) is stored."""
        index = self.start_index(item)
        return index is not None and 0 <= index < self._row_of.size and bool(
            self._row_of[index] >= 0)

    def _rows(self) -> np.ndarray:
        """Row numbers ordered by start index (cached until the next append)."""
        if self._order is None or self._order.size != self._n:
            if self._in_order:
                self._order = np.arange(self._n)
            else:
                self._order = np.argsort(self._columns["index"][: self._n], kind="stable")
        return self._order

    def _run_at(self, row: int) -> LocalRun:
        c = self._columns
        error = int(c["error"][row])
        return LocalRun(
            index=int(c["index"][row]),
            x0=c["x0"][row].copy(),
            x=c["x"][row].copy(),
            fun=float(c["fun"][row]),
            nfev=int(c["nfev"][row]),
            nit=int(c["nit"][row]),
            success=bool(c["success"][row]),
            message=self._strings.values[int(c["message"][row])],
            error=None if error == _NO_ERROR else self._strings.values[error],
            time=float(c["time"][row]),
            in_bounds=bool(c["in_bounds"][row]),
        )

    @overload
    def __getitem__(self, position: int) -> LocalRun: ...

    @overload
    def __getitem__(self, position: slice) -> list[LocalRun]: ...

    def __getitem__(self, position: int | slice) -> LocalRun | list[LocalRun]:
        """The run at ``position`` in start-index order (not the run *of* start ``position``)."""
        rows = self._rows()
        if isinstance(position, slice):
            return [self._run_at(int(row)) for row in rows[position]]
        return self._run_at(int(rows[position]))

    def __iter__(self) -> Iterator[LocalRun]:
        for row in self._rows():
            yield self._run_at(int(row))

    def get(self, index: int, default: Any = None) -> LocalRun | Any:
        """The run of start ``index``, or ``default``."""
        if index not in self:
            return default
        return self._run_at(int(self._row_of[index]))

    def __repr__(self) -> str:
        return (f"RunStore({self._n} runs, dim={self._dim}, nfev={self._nfev}, "
                f"n_failed={self.n_failed})")

    # ------------------------------------------------------------------ aggregates

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the interned strings not counted)."""
        return sum(c.nbytes for c in self._columns.values()) + self._row_of.nbytes

    def _column(self, name: str) -> np.ndarray:
        if self._dim is None:
            return np.empty((0, 0) if name in ("x0", "x") else 0,
                            dtype=np.float64 if name in ("x0", "x", "fun", "time") else
                            bool if name in ("success", "in_bounds") else np.int64)
        return self._columns[name][: self._n][self._rows()]

    @property
    def indices(self) -> np.ndarray:
        """Start indices, ascending."""
        return self._column("index")

    @property
    def x0(self) -> np.ndarray:
        """Start points, shape ``(n, dim)``, in start-index order."""
        return self._column("x0")

    @property
    def x(self) -> np.ndarray:
        """End points, shape ``(n, dim)``, in start-index order."""
        return self._column("x")

    @property
    def fun(self) -> np.ndarray:
        """Values at the end points (user's sign), in start-index order."""
        return self._column("fun")

    @property
    def success(self) -> np.ndarray:
        return self._column("success")

    @property
    def nfevs(self) -> np.ndarray:
        """Evaluations of each run, in start-index order."""
        return self._column("nfev")

    @property
    def nit(self) -> int:
        """Solver iterations over all stored runs."""
        return int(self._columns["nit"][: self._n].sum()) if self._n else 0

    def best_and_nfev(self, starts: Sequence[int], sign: float = 1.0) -> tuple[int, int] | None:
        """The start index of the lowest (``sign`` * fun) of the runs of ``starts`` and
        their evaluations summed; None when one of them is not stored.

        Examples
        --------
        >>> store = RunStore.from_runs([
        ...     LocalRun(0, np.zeros(1), np.ones(1), 2.0, 10, 3, True, "ok"),
        ...     LocalRun(1, np.zeros(1), np.ones(1), 1.0, 7, 2, True, "ok")])
        >>> store.best_and_nfev([0, 1]), store.best_and_nfev([0, 1], sign=-1.0)
        ((1, 17), (0, 17))
        """
        wanted = np.asarray(starts, dtype=np.int64)
        if not wanted.size or wanted.min() < 0 or wanted.max() >= self._row_of.size:
            return None
        rows = self._row_of[wanted]
        if (rows < 0).any():
            return None
        c = self._columns
        best = rows[int(np.argmin(sign * c["fun"][rows]))]
        return int(c["index"][best]), int(c["nfev"][rows].sum())

    def successful(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indices, x, fun)`` of the successful runs, in start-index order."""
        ok = self.success
        return self.indices[ok], self.x[ok], self.fun[ok]

    def failures(self) -> dict[str, int]:
        """Failed runs counted by reason (error type, else message), most common first."""
        if not self._n:
            return {}
        c = self._columns
        failed = ~c["success"][: self._n]
        counts: dict[str, int] = {}
        for error, message in zip(c["error"][: self._n][failed], c["message"][: self._n][failed],
                                  strict=True):
            text = self._strings.values[int(error)] if error != _NO_ERROR else None
            if stopped_by_budget(text):
                continue  # stopped, not failed
            reason = (text.split(":", 1)[0] if text is not None
                      else self._strings.values[int(message)])
            counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
