"""Typed results: one local run, one distinct minimum, the whole multistart result.

Field names follow :class:`scipy.optimize.OptimizeResult` (``x``, ``fun``, ``nfev``, ``nit``,
``success``, ``message``) so a scipy user reads them without a manual. Values are always
reported with the user's sign, also when maximizing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import OptimizeResult

from engine.options import (
    DedupOptions,
    LocalOptions,
    SearchOptions,
    StartOptions,
    StopOptions,
    plain_data,
)
from engine.results.outputs import atomic_write_json


def _float_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# Results with more runs than this leave them out of to_dict() / result.json by default.
RUNS_IN_DICT = 100_000


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _floats(values: np.ndarray) -> list[float | None]:
    return [_float_or_none(v) for v in np.asarray(values, dtype=float).ravel()]


#: The error type of a run that the evaluation budget (``max_evals``) cut short: it is
#: "stopped by budget", not a failure, and not counted in ``n_failed``.
BUDGET_STOP = "BudgetExhausted"


def stopped_by_budget(error: str | None) -> bool:
    """Whether a run's ``error`` says the evaluation budget cut it short.

    Examples
    --------
    >>> stopped_by_budget("BudgetExhausted: max_evals reached after 12 evaluations")
    True
    >>> stopped_by_budget("ValueError: objective returned nan at x=[0.0]"), stopped_by_budget(None)
    (False, False)
    """
    return error is not None and error.startswith(BUDGET_STOP)


@dataclass(frozen=True, eq=False)
class LocalRun:
    """The outcome of one local solve from one start point.

    Attributes
    ----------
    index : int
        Start number (user ``x0`` points first, then sampled points).
    x0, x : numpy.ndarray
        Start point and the point the solver returned (the start itself if it never moved).
    fun : float
        Objective at ``x`` with the user's sign; NaN when no finite value was obtained.
    nfev, nit : int
        Objective evaluations (counted by the engine, finite-difference calls included) and
        solver iterations.
    success : bool
        The solver reported convergence, the value is finite and ``x`` lies in the bounds.
    message : str
        The solver's message, or why the run failed.
    error : str or None
        ``"ExceptionType: text"`` when the objective raised or returned a bad value.
    time : float
        Wall seconds spent on this start.
    in_bounds : bool
        Whether ``x`` lies inside the bounds (methods without bound support may leave them).
    """

    index: int
    x0: np.ndarray
    x: np.ndarray
    fun: float
    nfev: int
    nit: int
    success: bool
    message: str
    error: str | None = None
    time: float = 0.0
    in_bounds: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite numbers become ``None``)."""
        return {
            "index": self.index,
            "x0": _floats(self.x0),
            "x": _floats(self.x),
            "fun": _float_or_none(self.fun),
            "nfev": self.nfev,
            "nit": self.nit,
            "success": self.success,
            "message": self.message,
            "error": self.error,
            "time": self.time,
            "in_bounds": self.in_bounds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LocalRun:
        """Inverse of :meth:`to_dict`."""

        def arr(values: list[float | None]) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values], dtype=float)

        return cls(
            index=int(data["index"]),
            x0=arr(data["x0"]),
            x=arr(data["x"]),
            fun=np.nan if data["fun"] is None else float(data["fun"]),
            nfev=int(data["nfev"]),
            nit=int(data["nit"]),
            success=bool(data["success"]),
            message=str(data["message"]),
            error=data.get("error"),
            time=float(data.get("time", 0.0)),
            in_bounds=bool(data.get("in_bounds", True)),
        )


#: The numeric fields of a :class:`LocalRun` and the dtype each is kept in when runs are
#: stored or sent in columns (besides ``x0`` and ``x``, rows of floats, and ``message`` and
#: ``error``, numbers of texts).
RUN_SCALARS: tuple[tuple[str, Any], ...] = (
    ("index", np.int64), ("fun", np.float64), ("nfev", np.int64), ("nit", np.int64),
    ("success", np.bool_), ("time", np.float64), ("in_bounds", np.bool_),
)


class RunBatch:
    """The runs of one task in columns, for the trip from a worker to the driver.

    Pickling a list of :class:`LocalRun` costs an object and two small arrays per run (about
    9 us to pickle and 15 us to unpickle each, measured here); a batch is a few arrays and
    one list of distinct messages, so the driver, which receives every run of the cluster,
    spends a few microseconds per run instead.

    Examples
    --------
    >>> runs = [LocalRun(3, np.zeros(2), np.ones(2), 0.5, 10, 3, True, "ok", time=0.1),
    ...         LocalRun(4, np.ones(2), np.ones(2), np.nan, 2, 0, False, "failed: x",
    ...                  error="ValueError: x")]
    >>> back = RunBatch.pack(runs).unpack()
    >>> [(r.index, r.x.tolist(), r.success, r.message, r.error) for r in back]
    [(3, [1.0, 1.0], True, 'ok', None), (4, [1.0, 1.0], False, 'failed: x', 'ValueError: x')]
    """

    __slots__ = ("columns", "texts")

    def __init__(self, columns: dict[str, np.ndarray], texts: list[str | None]) -> None:
        self.columns = columns
        self.texts = texts

    @classmethod
    def pack(cls, runs: Sequence[LocalRun]) -> RunBatch | list[LocalRun]:
        """The runs as a batch; the list itself when their points differ in shape."""
        if not runs:
            return list(runs)
        shape = np.shape(runs[0].x0)
        if len(shape) != 1 or any(np.shape(r.x0) != shape or np.shape(r.x) != shape
                                  for r in runs):
            return list(runs)
        codes: dict[str | None, int] = {}

        def code(text: str | None) -> int:
            return codes.setdefault(text, len(codes))

        columns = {name: np.array([getattr(r, name) for r in runs], dtype=dtype)
                   for name, dtype in RUN_SCALARS}
        columns["x0"] = np.array([r.x0 for r in runs], dtype=float)
        columns["x"] = np.array([r.x for r in runs], dtype=float)
        columns["message"] = np.array([code(r.message) for r in runs], dtype=np.int32)
        columns["error"] = np.array([code(r.error) for r in runs], dtype=np.int32)
        return cls(columns, list(codes))

    def unpack(self) -> list[LocalRun]:
        """The runs, in the order they were packed (their points are rows of two arrays)."""
        c, texts = self.columns, self.texts
        x0, x = c["x0"], c["x"]
        return [
            LocalRun(index=index, x0=x0[row], x=x[row], fun=fun, nfev=nfev, nit=nit,
                     success=success, message=texts[message], error=texts[error],
                     time=seconds, in_bounds=in_bounds)
            for row, (index, fun, nfev, nit, success, message, error, seconds, in_bounds)
            in enumerate(zip(c["index"].tolist(), c["fun"].tolist(), c["nfev"].tolist(),
                             c["nit"].tolist(), c["success"].tolist(), c["message"].tolist(),
                             c["error"].tolist(), c["time"].tolist(), c["in_bounds"].tolist(),
                             strict=True))
        ]


@dataclass(frozen=True, eq=False)
class RunSpec:
    """Everything that decided a run, resolved: what diagnostics and plots read back.

    ``"auto"`` values are resolved (``local.method``, ``search.strategy``,
    ``starts.n_starts``), ``scaled`` says whether solves ran in unit-box coordinates and
    ``seed`` is the root entropy (pass it as ``seed=`` to repeat the run).

    Examples
    --------
    >>> spec = RunSpec(lower=np.zeros(2), upper=np.ones(2))
    >>> spec.xtol, spec.bounds.tolist()
    (0.0001, [[0.0, 1.0], [0.0, 1.0]])
    """

    lower: np.ndarray
    upper: np.ndarray
    maximize: bool = False
    starts: StartOptions = field(default_factory=StartOptions)
    local: LocalOptions = field(default_factory=LocalOptions)
    search: SearchOptions = field(default_factory=SearchOptions)
    dedup: DedupOptions = field(default_factory=DedupOptions)
    stop: StopOptions = field(default_factory=StopOptions)
    method_reason: str = ""
    scaled: bool = False
    seed: int | None = None
    fingerprint: str = ""

    _GROUPS: ClassVar[dict[str, type]] = {
        "starts": StartOptions, "local": LocalOptions, "search": SearchOptions,
        "dedup": DedupOptions, "stop": StopOptions}

    @property
    def bounds(self) -> np.ndarray:
        """The box as an ``(n, 2)`` array of ``(low, high)`` rows."""
        return np.column_stack([self.lower, self.upper])

    @property
    def dim(self) -> int:
        """Number of variables."""
        return int(np.asarray(self.lower).size)

    @property
    def method(self) -> str:
        """The local method the solves used."""
        return self.local.method

    @property
    def strategy(self) -> str:
        """The search strategy the run used."""
        return self.search.strategy

    @property
    def xtol(self) -> float:
        """Distance tolerance of the minima merge (fraction of each bound's width)."""
        return self.dedup.xtol

    @property
    def ftol(self) -> float:
        """Value tolerance of the minima merge (relative to ``max(1, |f|)``)."""
        return self.dedup.ftol

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (``from_dict`` reads it back)."""
        return plain_data({
            "bounds": self.bounds, "maximize": self.maximize,
            **{name: getattr(self, name).to_dict() for name in self._GROUPS},
            "method_reason": self.method_reason, "scaled": self.scaled, "seed": self.seed,
            "fingerprint": self.fingerprint})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        """The spec saved by :meth:`to_dict`."""
        bounds = np.asarray(data["bounds"], dtype=float).reshape(-1, 2)
        groups = {name: group(**data.get(name, {})) for name, group in cls._GROUPS.items()}
        return cls(lower=bounds[:, 0], upper=bounds[:, 1], maximize=bool(data.get("maximize")),
                   method_reason=str(data.get("method_reason", "")),
                   scaled=bool(data.get("scaled", False)), seed=data.get("seed"),
                   fingerprint=str(data.get("fingerprint", "")), **groups)


def is_ascending(values: np.ndarray, block: int = 1 << 20) -> bool:
    """Whether ``values`` never decrease, checked a block at a time: a minimum's ten million
    starts would otherwise take a comparison array of their size.

    Examples
    --------
    >>> is_ascending(np.array([1, 1, 2])), is_ascending(np.array([2, 1]))
    (True, False)
    >>> is_ascending(np.array([0, 1, 2, 1, 5]), block=2)
    False
    """
    for lo in range(0, values.size - 1, block):
        hi = min(lo + block, values.size - 1)
        if (values[lo + 1:hi + 1] < values[lo:hi]).any():
            return False
    return True


class StartList(Sequence[int]):
    """Start indices held as one numpy array (4 bytes each), read as a tuple of ints.

    The member starts of a minimum of a million runs: a tuple would hold a million Python
    ints (36 bytes each). It compares equal to a tuple or list of the same ints.

    Examples
    --------
    >>> starts = StartList([0, 2, 5])
    >>> starts == (0, 2, 5), len(starts), starts[1], list(starts), 5 in starts
    (True, 3, 2, [0, 2, 5], True)
    """

    __slots__ = ("_values",)

    def __init__(self, values: Any) -> None:
        if isinstance(values, np.ndarray) and values.dtype in (np.int32, np.int64):
            values = values.ravel().copy()  # its own copy, in the type it came in
        else:
            values = np.array(values, dtype=np.int64).ravel()
        if (values.dtype == np.int64 and values.size and values.min() >= 0
                and values.max() <= np.iinfo(np.int32).max):
            values = values.astype(np.int32)  # 4 bytes a start: start indices fit
        self._values = values
        self._values.flags.writeable = False

    @classmethod
    def wrap(cls, values: np.ndarray) -> StartList:
        """A StartList of the ascending integer array ``values`` itself (no copy)."""
        out = cls.__new__(cls)
        out._values = values.view()
        out._values.flags.writeable = False
        return out

    def __len__(self) -> int:
        return int(self._values.size)

    def __getitem__(self, position: Any) -> Any:
        if isinstance(position, slice):
            return tuple(self._values[position].tolist())
        return int(self._values[position])

    def __iter__(self) -> Iterator[int]:
        for start in range(0, self._values.size, 65536):  # not a million ints at once
            yield from self._values[start : start + 65536].tolist()

    def __contains__(self, value: object) -> bool:
        return isinstance(value, (int, np.integer)) and bool((self._values == value).any())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._values if dtype is None else self._values.astype(dtype, copy=False)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (StartList, tuple, list)):
            return len(other) == len(self) and bool(np.array_equal(self._values,
                                                                    np.asarray(other)))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values.tobytes())

    def __repr__(self) -> str:
        if len(self) <= 20:
            return repr(tuple(self))
        head = ", ".join(map(str, self._values[:10].tolist()))
        return f"StartList(({head}, ...), {len(self)} starts)"


@dataclass(frozen=True, eq=False)
class Minimum:
    """A distinct local minimum: the best point of a basin and how often starts reached it.

    Like an entry of MATLAB's ``GlobalOptimSolution`` list, it carries its start point, its
    evaluations and an exit flag.

    Attributes
    ----------
    x : numpy.ndarray
        Best representative found for this minimum.
    fun : float
        Objective at ``x`` (user's sign).
    n_hits : int
        Number of successful runs that converged here.
    starts : tuple of int
        Indices of those runs, ascending (``res.runs`` holds each one's ``x0``); a
        :class:`StartList` (the same, as one numpy array) for a run holding its runs on disk.
    x0 : numpy.ndarray or None
        Start point of the best of those runs (the one that reached ``x``); None when not
        recorded (a ``result.json`` written before it was).
    nfev : int or None
        Objective evaluations of those runs, summed; None when not recorded.
    exitflag : int
        As MATLAB's ``Exitflag`` (see :data:`EXITFLAGS`): 1, the local solver converged.
        Runs that did not converge never make a minimum, so no other value occurs today.
    note : str or None
        What the second merge found about this minimum in words, e.g. that it is degenerate (a
        flat direction: equally good points along a line or surface, reported as one minimum);
        None otherwise and in a ``result.json`` written before notes were.
    """

    x: np.ndarray
    fun: float
    n_hits: int
    starts: tuple[int, ...] | StartList
    x0: np.ndarray | None = None
    nfev: int | None = None
    exitflag: int = 1
    note: str | None = None

    def to_dict(self, starts_as_list: bool = True) -> dict[str, Any]:
        """JSON-safe dict (``starts_as_list=False``: a :class:`StartList` stays one, for
        :func:`~engine.results.outputs.atomic_write_json`)."""
        return {
            "x": _floats(self.x),
            "fun": _float_or_none(self.fun),
            "n_hits": self.n_hits,
            "starts": (self.starts if not starts_as_list and isinstance(self.starts, StartList)
                       else list(self.starts)),
            "x0": None if self.x0 is None else _floats(self.x0),
            "nfev": self.nfev,
            "exitflag": self.exitflag,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Minimum:
        """Inverse of :meth:`to_dict`; a dict without ``x0``/``nfev``/``exitflag``/``note`` (an
        older ``result.json``) gives None, None, 1 and None."""

        def arr(values: list[float | None]) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values], dtype=float)

        return cls(x=arr(data["x"]), fun=_nan_if_none(data["fun"]),
                   n_hits=int(data["n_hits"]), starts=tuple(int(i) for i in data["starts"]),
                   x0=None if data.get("x0") is None else arr(data["x0"]),
                   nfev=None if data.get("nfev") is None else int(data["nfev"]),
                   exitflag=int(data.get("exitflag", 1)),
                   note=None if data.get("note") is None else str(data["note"]))


#: :attr:`Minimum.exitflag` values, as MATLAB documents its own.
EXITFLAGS: dict[int, str] = {1: "the local solver converged"}


def with_runs(minima: Sequence[Minimum], runs: Sequence[LocalRun],
              sign: float) -> tuple[Minimum, ...]:
    """``minima`` with the start point of each one's best run and its runs' evaluations.

    ``sign`` is -1 when maximizing (the best run is then the highest). Minima whose runs are
    not all in ``runs`` are returned as they are.
    """
    many = getattr(runs, "best_and_nfev_many", None)
    if many is not None:  # runs on disk: one pass over them for every minimum
        found = many([m.starts for m in minima], sign)
        return tuple(m if hit is None else replace(m, x0=np.array(hit[2], dtype=float),
                                                   nfev=int(hit[1]))
                     for m, hit in zip(minima, found, strict=True))
    by_index = getattr(runs, "best_and_nfev", None)
    table = None if by_index is not None else {r.index: r for r in runs}
    out = []
    for m in minima:
        if by_index is not None:  # a RunStore: its columns, no run objects
            found = by_index(m.starts, sign)
            if found is None:
                out.append(m)
                continue
            best, nfev = found
            x0 = runs.get(best).x0
        else:
            members = [table[i] for i in m.starts if i in table]
            if len(members) != len(m.starts) or not members:
                out.append(m)
                continue
            x0 = min(members, key=lambda r: sign * r.fun).x0
            nfev = sum(r.nfev for r in members)
        out.append(replace(m, x0=np.array(x0, dtype=float), nfev=int(nfev)))
    return tuple(out)


#: The keys of :meth:`MultistartResult.keys`: scipy's ``OptimizeResult`` fields.
SCIPY_KEYS: tuple[str, ...] = (
    "x", "fun", "success", "status", "message", "nfev", "nit", "lowest_optimization_result")

#: :attr:`MultistartResult.status` codes, as scipy documents its own.
STATUS: dict[int, str] = {
    0: "at least one local minimum was found",
    1: "no minimum: a limit (max_evals, max_time, ...), the callback or an interrupt stopped "
       "the run first",
    2: "no minimum: every start that was run failed",
}

# Stop reasons that mean no start was cut short by the user or a limit.
_EVERY_START_RAN = frozenset({"n_starts", "explored"})


def _best_run(runs: Sequence[LocalRun], sign: float) -> LocalRun | None:
    """The lowest successful run (``sign`` * fun), else the lowest finite one, or None."""
    if hasattr(runs, "successful"):  # a RunStore: read its columns, build one run
        values = sign * np.asarray(runs.fun, dtype=float)
        indices, ok = runs.indices, np.asarray(runs.success, dtype=bool)
        for mask in (ok & np.isfinite(values), np.isfinite(values)):
            if mask.any():
                row = np.flatnonzero(mask)[np.argmin(values[mask])]
                return runs.get(int(indices[row]))
        return None
    finite = [r for r in runs if math.isfinite(r.fun)]
    pool = [r for r in finite if r.success] or finite
    return min(pool, key=lambda r: sign * r.fun, default=None)


@dataclass(frozen=True, eq=False)
class MultistartResult:
    """What a multistart run found.

    Attributes
    ----------
    x, fun : numpy.ndarray, float
        The global estimate: the best minimum, or, when the run stopped (budget, time)
        before any descent reached a point as low as the best one evaluated, that point
        (``message`` then says so). ``x`` is None and ``fun`` NaN when nothing finite was
        evaluated.
    minima : tuple of Minimum
        Distinct minima, best first (lowest ``fun``, or highest when maximizing).
    runs : sequence of LocalRun
        Every local run, ordered by start index (a compact
        :class:`~engine.results.store.RunStore`; each item is built on access).
    n_starts, nfev, n_failed : int
        Starts solved, objective evaluations over all runs, runs that did not succeed.
    wall_time : float
        Seconds from start to end of the run.
    stop_reason : str
        Why the run ended: ``"n_starts"`` (all starts solved), ``"max_evals"``, ``"max_time"``,
        ``"target"``, ``"callback"`` (it returned True, or raised: ``message`` then ends with
        its error) or ``"interrupted"``.
    success : bool
        At least one local run succeeded.
    status : int
        scipy's exit code (see :data:`STATUS`): 0 at least one minimum was found; 1 none,
        and a limit, the callback or an interrupt stopped the run; 2 none, and every start
        that was run failed.
    message : str
        One-line human summary.
    maximize : bool
        Whether values are maxima of the user's function.
    provenance : dict
        Seed, options, versions, host, cluster, times: what is needed to reproduce the run.
    n_explore : int
        Evaluations spent on the exploration sample and the global phase (included in
        ``nfev``).
    n_skipped : int
        Sample points not started from because a better known minimum lies within the
        critical distance (basin-aware scheduling).
    estimated_n_minima : float
        Boender and Rinnooy Kan's posterior estimate of the number of minima, from the hit
        counts (``inf`` while too few solves to tell).
    coverage : float
        Estimated fraction of the box lying in the basins of the minima found.
    method, strategy : str
        The local method used (what ``method="auto"`` chose) and the search strategy.
    portfolio : dict or None
        With ``strategy="portfolio"``: how the budget was split, per search its
        ``evaluations``, ``improvements`` (steps that lowered the best value), ``new_minima``,
        ``steps`` and why it ``ended`` early (None while it could go on); None otherwise.

    Notes
    -----
    The result also reads like scipy's :class:`~scipy.optimize.OptimizeResult`: ``res["x"]``,
    ``res["fun"]``, ``res.keys()`` (:data:`SCIPY_KEYS`), ``dict(res)``, and
    ``res.lowest_optimization_result`` as :func:`scipy.optimize.basinhopping` has it.
    """

    x: np.ndarray | None
    fun: float
    minima: tuple[Minimum, ...]
    runs: Sequence[LocalRun]
    n_starts: int
    nfev: int
    n_failed: int
    wall_time: float
    stop_reason: str
    success: bool
    message: str
    maximize: bool = False
    provenance: dict[str, Any] = field(default_factory=dict)
    n_explore: int = 0
    n_skipped: int = 0
    estimated_n_minima: float = math.nan
    coverage: float = math.nan
    method: str = ""
    strategy: str = "all"
    spec: RunSpec | None = None
    portfolio: dict[str, dict[str, Any]] | None = None


    # -- scipy's OptimizeResult view (a frozen dataclass, not a dict subclass)
    def keys(self) -> tuple[str, ...]:
        """The scipy ``OptimizeResult`` fields this result answers by item access."""
        return SCIPY_KEYS

    def __getitem__(self, key: str) -> Any:
        if key not in SCIPY_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in SCIPY_KEYS

    def __iter__(self) -> Iterator[str]:
        # As iterating a scipy OptimizeResult (a dict) gives its keys.
        return iter(SCIPY_KEYS)

    @property
    def status(self) -> int:
        """scipy's exit code: 0 a minimum was found, else 1 or 2 (see :data:`STATUS`)."""
        if self.success:
            return 0
        return 2 if self.stop_reason in _EVERY_START_RAN else 1

    @property
    def lowest_optimization_result(self) -> OptimizeResult | None:
        """The best local run as scipy's ``OptimizeResult`` (as basinhopping reports it).

        The lowest successful run (highest when maximizing), else the lowest run with a
        finite value; None when no run has one. Fields: ``x``, ``fun``, ``nfev``, ``nit``,
        ``success``, ``message`` and ``x0``, the start.
        """
        best = _best_run(self.runs, -1.0 if self.maximize else 1.0)
        if best is None:
            return None
        return OptimizeResult(x=best.x, fun=best.fun, nfev=best.nfev, nit=best.nit,
                              success=best.success, message=best.message, x0=best.x0)

    @property
    def nit(self) -> int:
        """Solver iterations summed over all runs."""
        total = getattr(self.runs, "nit", None)
        return int(total) if total is not None else sum(r.nit for r in self.runs)

    @property
    def seed(self) -> int | None:
        """The root seed's entropy: pass it as ``seed=`` to repeat this run exactly."""
        return self.provenance.get("seed")

    def failures(self) -> dict[str, int]:
        """Count failed runs by reason (error type or solver message)."""
        if hasattr(self.runs, "failures"):
            return self.runs.failures()
        counts: dict[str, int] = {}
        for run in self.runs:
            if not run.success and not stopped_by_budget(run.error):
                reason = run.error.split(":", 1)[0] if run.error else run.message
                counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def to_dict(self, include_runs: bool | None = None,
                starts_as_lists: bool = True) -> dict[str, Any]:
        """JSON-safe dict of everything (``json.dumps`` works on it directly).

        ``include_runs=None`` includes every run up to :data:`RUNS_IN_DICT` of them, when
        they are held in memory; larger results leave the runs to their run history (a
        million runs would make a result file of hundreds of megabytes).
        ``starts_as_lists=False`` leaves a minimum's :class:`StartList` as it is (for
        :func:`~engine.results.outputs.atomic_write_json`, which writes it in pieces).
        """
        if include_runs is None:
            include_runs = len(self.runs) <= RUNS_IN_DICT and not hasattr(self.runs, "tables")
        out: dict[str, Any] = {
            "x": None if self.x is None else _floats(self.x),
            "fun": _float_or_none(self.fun),
            "success": self.success,
            "message": self.message,
            "stop_reason": self.stop_reason,
            "maximize": self.maximize,
            "n_starts": self.n_starts,
            "nfev": self.nfev,
            "nit": self.nit,
            "n_failed": self.n_failed,
            "n_minima": len(self.minima),
            "n_explore": self.n_explore,
            "n_skipped": self.n_skipped,
            "estimated_n_minima": _float_or_none(self.estimated_n_minima),
            "coverage": _float_or_none(self.coverage),
            "method": self.method,
            "strategy": self.strategy,
            "wall_time": self.wall_time,
            "failures": self.failures(),
            "minima": [m.to_dict(starts_as_lists) for m in self.minima],
            "provenance": self.provenance,
            "spec": None if self.spec is None else self.spec.to_dict(),
            "portfolio": self.portfolio,
        }
        if include_runs:
            out["runs"] = [r.to_dict() for r in self.runs]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MultistartResult:
        """Rebuild a result from :meth:`to_dict` output (e.g. a saved ``result.json``)."""

        def arr(values: list[float | None] | None) -> np.ndarray | None:
            if values is None:
                return None
            return np.array([np.nan if v is None else v for v in values], dtype=float)

        minima = tuple(Minimum.from_dict(m) for m in data.get("minima", []))
        return cls(
            x=arr(data.get("x")),
            fun=np.nan if data.get("fun") is None else float(data["fun"]),
            minima=minima,
            runs=tuple(LocalRun.from_dict(r) for r in data.get("runs", [])),
            n_starts=int(data["n_starts"]),
            nfev=int(data["nfev"]),
            n_failed=int(data["n_failed"]),
            wall_time=float(data["wall_time"]),
            stop_reason=str(data["stop_reason"]),
            success=bool(data["success"]),
            message=str(data["message"]),
            maximize=bool(data.get("maximize", False)),
            provenance=dict(data.get("provenance", {})),
            n_explore=int(data.get("n_explore", 0)),
            n_skipped=int(data.get("n_skipped", 0)),
            estimated_n_minima=_nan_if_none(data.get("estimated_n_minima")),
            coverage=_nan_if_none(data.get("coverage")),
            method=str(data.get("method", "")),
            strategy=str(data.get("strategy", "all")),
            spec=RunSpec.from_dict(data["spec"]) if data.get("spec") else None,
            portfolio=data.get("portfolio"),
        )

    @classmethod
    def load(cls, path: str | Path) -> MultistartResult:
        """Read a ``result.json`` written by :meth:`save` or ``multistart run``."""
        path = Path(path)
        if path.is_dir():
            path = path / "result.json"
        return cls.from_dict(json.loads(path.read_text()))

    def to_frame(self, what: str = "minima") -> Any:
        """A pandas DataFrame of the ``"minima"`` (default) or of the ``"runs"``.

        Solutions are columns ``x_0, x_1, ...`` and, for runs, starts ``x0_0, x0_1, ...``
        (``x0`` is the start, as in scipy), like ``minima.csv`` and ``runs.csv``.

        Needs the optional ``pandas`` extra (``pip install multistart-engine[pandas]``).
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "to_frame() needs pandas: pip install 'multistart-engine[pandas]'"
            ) from None
        if what == "minima":
            rows = [
                {"rank": i + 1, "fun": m.fun, "n_hits": m.n_hits,
                 **{f"x_{j}": v for j, v in enumerate(m.x)}}
                for i, m in enumerate(self.minima)
            ]
        elif what == "runs":
            rows = [
                {**{k: v for k, v in r.to_dict().items() if k not in ("x", "x0")},
                 **{f"x_{j}": v for j, v in enumerate(r.x)},
                 **{f"x0_{j}": v for j, v in enumerate(r.x0)}}
                for r in self.runs
            ]
        else:
            raise ValueError(f"to_frame(what={what!r}): use 'minima' or 'runs'")
        return pd.DataFrame(rows)

    def runs_frame(self, columns: list[str] | None = None) -> Any:
        """Every run as a pandas DataFrame, by start index: ``index, fun, nfev, nit, success,
        in_bounds, time, message, error`` and ``x_0..`` (solution), ``x0_0..`` (start).

        The runs of a big run are read from its Parquet segments (``columns`` then reads
        only those); a small one's from memory. Needs pandas and pyarrow
        (``pip install 'multistart-engine[runs]'``).
        """
        tables = getattr(self.runs, "tables", None)
        if tables is not None:  # on disk: the columns asked for, segment by segment
            import pyarrow as pa

            wanted = None if columns is None else ["index", *[c for c in columns
                                                               if c != "index"]]
            frame = pa.concat_tables(list(tables(wanted))).to_pandas()
            return frame.sort_values("index", kind="stable").reset_index(drop=True)
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("runs_frame() needs pandas: pip install "
                              "'multistart-engine[pandas]'") from None
        dim = len(self.runs[0].x0) if len(self.runs) else 0
        rows = [(r.index, r.fun, r.nfev, r.nit, r.success, r.in_bounds, r.time, r.message,
                 r.error, *np.asarray(r.x, dtype=float), *np.asarray(r.x0, dtype=float))
                for r in self.runs]
        names = ["index", "fun", "nfev", "nit", "success", "in_bounds", "time", "message",
                 "error", *[f"x_{j}" for j in range(dim)], *[f"x0_{j}" for j in range(dim)]]
        frame = pd.DataFrame(rows, columns=names).sort_values("index", kind="stable")
        frame = frame.reset_index(drop=True)
        return frame if columns is None else frame[["index", *[c for c in columns
                                                                 if c != "index"]]]

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON to ``path`` atomically (temp file + rename).

        A directory gets ``result.json`` inside it (as ``multistart run`` writes it).
        """
        path = Path(path)
        if path.is_dir():
            path = path / "result.json"
        return atomic_write_json(path, self.to_dict(starts_as_lists=False))

    def summary(self, max_rows: int = 10) -> str:
        """A ranked table of the minima as text."""
        kind = "maxima" if self.maximize else "minima"
        lines = [
            f"{len(self.minima)} distinct {kind} from {self.n_starts} starts "
            f"({self.n_failed} failed, {self.nfev} evaluations, {self.wall_time:.2f} s, "
            f"stop: {self.stop_reason})",
            f"{'rank':>4}  {'fun':>16}  {'hits':>5}  x",
        ]
        for i, m in enumerate(self.minima[:max_rows]):
            xs = ", ".join(f"{v:.6g}" for v in m.x)
            lines.append(f"{i + 1:>4}  {m.fun:>16.10g}  {m.n_hits:>5}  [{xs}]")
        if len(self.minima) > max_rows:
            lines.append(f"  ... {len(self.minima) - max_rows} more")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"MultistartResult(fun={self.fun!r}, x={None if self.x is None else self.x.tolist()},"
            f" n_minima={len(self.minima)}, n_starts={self.n_starts}, nfev={self.nfev}, "
            f"n_failed={self.n_failed}, stop_reason={self.stop_reason!r})"
        )
