"""Reading a finished (or interrupted) run's output directory: its result and its runs.

:func:`load` gives a :class:`RunHistory`; its runs are read where they lie (Parquet segments
in ``OUT/runs/`` and the newest runs in ``OUT/journal.jsonl``), so a history of ten million
runs is queried column by column without loading it::

    history = engine.load("results/big")
    dataset = history.runs_dataset()                 # pyarrow.dataset.Dataset
    nfev = dataset.to_table(columns=["nfev"])         # one column of every run
    frame = history.runs_frame(columns=["index", "success", "message"])  # pandas

The Parquet files are also read directly by DuckDB (``SELECT ... FROM 'OUT/runs/*.parquet'``)
and ``dask.dataframe.read_parquet("OUT/runs")`` (the runs sealed so far; the newest are in
``journal.jsonl``, which ``runs_dataset()`` includes).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.exceptions import JournalError
from engine.results import rundir, segments
from engine.results.runview import RunsOnDisk
from engine.results.types import LocalRun, MultistartResult


class RunHistory:
    """The output directory ``directory`` of a run, to read.

    Parameters
    ----------
    directory : str or Path
        A folder written by ``multistart run`` or :func:`engine.run_config` (``result.json``,
        ``runs/``, ``journal.jsonl``).

    Raises
    ------
    JournalError
        When the folder holds no run history (neither ``runs/`` nor ``journal.jsonl``).
    """

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory)
        if not rundir.has_history(self.path):
            raise JournalError(
                f"directory={str(self.path)!r} holds no run history (runs/ or journal.jsonl); "
                "pass the output directory of 'multistart run' or engine.run_config")
        self._tail: dict[int, LocalRun] | None = None

    def __repr__(self) -> str:
        return f"RunHistory({str(self.path)!r})"

    # ------------------------------------------------------------------ what RunsOnDisk reads

    def sealed(self) -> list[Path]:
        """The Parquet segments, in the order they were written."""
        return segments.segment_paths(rundir.runs_dir(self.path))

    def _tail_runs(self) -> dict[int, LocalRun]:
        if self._tail is None:
            history = rundir.read_history(self.path)
            self._tail = {}
            for run in history.tail:
                self._tail.setdefault(run.index, run)
        return self._tail

    def pending_table(self) -> Any | None:
        """The runs of the journal that no segment holds, as an Arrow table (None if none)."""
        tail = list(self._tail_runs().values())
        if not tail:
            return None
        return runs_table(tail)

    def get(self, index: int) -> LocalRun | None:
        """The first run recorded for start ``index``, or None."""
        found = self._tail_runs().get(int(index))
        if found is not None:
            return found
        import pyarrow.dataset as ds

        for path in self.sealed():
            table = ds.dataset(path, format="parquet").to_table(
                filter=ds.field("index") == int(index))
            if table.num_rows:
                return next(segments.table_runs(table.slice(0, 1)))
        return None

    # ------------------------------------------------------------------ the public API

    def runs(self) -> Sequence[LocalRun]:
        """Every run as a lazy sequence (:class:`~engine.results.runview.RunsOnDisk`)."""
        return RunsOnDisk.of_history(self)

    def result(self) -> MultistartResult:
        """The run's ``result.json``, its ``runs`` the lazy view when the file leaves them out
        (more than :data:`~engine.results.types.RUNS_IN_DICT` runs)."""
        target = self.path / "result.json"
        if not target.is_file():
            raise JournalError(f"directory={str(self.path)!r} holds no result.json (the run "
                               "has not ended); resume it, or read its runs with runs_frame()")
        result = MultistartResult.load(target)
        if len(result.runs) < result.n_starts:
                result = dataclasses.replace(result, runs=self.runs())
        return result

    def runs_dataset(self) -> Any:
        """Every run as a ``pyarrow.dataset.Dataset``: the segments and the journal's runs.

        Columns: ``index, fun, nfev, nit, success, in_bounds, time, message, error`` and
        ``x_0..``, ``x0_0..`` (solution and start). A start recorded twice (a crash between a
        segment and the journal's restart) appears twice: ``runs_frame`` keeps the first.
        """
        segments.require_pyarrow("runs_dataset()")
        import pyarrow.dataset as ds

        parts = []
        paths = [str(p) for p in self.sealed()]
        if paths:
            parts.append(ds.dataset(paths, format="parquet"))
        tail = self.pending_table()
        if tail is not None:
            parts.append(ds.dataset(tail))
        if not parts:
            return ds.dataset(runs_table([]))
        return parts[0] if len(parts) == 1 else ds.dataset(parts)

    def runs_frame(self, columns: list[str] | None = None, filter: Any = None) -> Any:
        """The runs as a pandas DataFrame, by start index (each start once).

        ``columns`` reads only those (``index`` is always read); ``filter`` is a
        ``pyarrow.dataset`` expression, e.g. ``pyarrow.dataset.field("success") == False``.
        """
        wanted = None if columns is None else ["index", *[c for c in columns if c != "index"]]
        table = self.runs_dataset().to_table(columns=wanted, filter=filter)
        return _frame(table)

    def minima_table(self) -> Any:
        """Which minimum each successful start ended in: an Arrow table ``index, minimum``
        (``minimum`` is the rank in ``result.json``, 1 = best), to join with the runs."""
        import pyarrow as pa

        result = MultistartResult.load(self.path / "result.json")
        starts = [np.asarray(m.starts, dtype=np.int64) for m in result.minima]
        ranks = [np.full(len(s), rank, dtype=np.int32) for rank, s in enumerate(starts, 1)]
        return pa.table({
            "index": np.concatenate(starts) if starts else np.empty(0, np.int64),
            "minimum": np.concatenate(ranks) if ranks else np.empty(0, np.int32)})

    def export_csv(self, path: str | Path | None = None) -> Path:
        """Write every run as CSV (the columns of ``runs.csv``), atomically; its path.

        The default is ``runs.csv`` in the output directory. Written segment by segment: the
        driver never holds the whole history.
        """
        target = Path(path) if path is not None else self.path / "runs.csv"
        return write_runs_csv(self.runs_dataset_tables(), target)

    def runs_dataset_tables(self) -> Iterator[Any]:
        """The runs as Arrow tables, segment by segment, each start once (the first)."""
        yield from RunsOnDisk.of_history(self).tables()


def load(directory: str | Path) -> RunHistory:
    """The output directory of a run, to read its result and query its runs.

    Examples
    --------
    >>> history = load("results/quickstart")  # doctest: +SKIP
    >>> history.runs_frame(columns=["nfev"]).nfev.describe()  # doctest: +SKIP
    """
    return RunHistory(directory)


def runs_table(runs: list[LocalRun], dim: int | None = None) -> Any:
    """``runs`` as an Arrow table with the columns of a segment."""
    if dim is None:
        dim = int(np.asarray(runs[0].x0).size) if runs else 0
    buffer = segments._Buffer(dim, max(1, len(runs)))
    for run in runs:
        buffer.add(run)
    return buffer.table()


def _frame(table: Any) -> Any:
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise ImportError("runs_frame() needs pandas: pip install "
                          "'multistart-engine[pandas]'") from None
    frame = table.to_pandas()
    frame = frame.drop_duplicates("index", keep="first").sort_values("index", kind="stable")
    return frame.reset_index(drop=True)


RUNS_CSV_HEADER = ("index", "fun", "success", "nfev", "nit", "time", "message")


def write_runs_csv(tables: Iterator[Any], path: Path) -> Path:
    """Stream Arrow tables of runs to ``path`` as ``runs.csv`` (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            dim = None
            for table in tables:
                if dim is None:
                    dim = segments.dim_of(table.schema)
                    writer.writerow([*RUNS_CSV_HEADER, *[f"x_{j}" for j in range(dim)],
                                     *[f"x0_{j}" for j in range(dim)]])
                cols = [table.column(name).to_pylist() for name in RUNS_CSV_HEADER]
                xs = [table.column(f"x_{j}").to_pylist() for j in range(dim)]
                x0s = [table.column(f"x0_{j}").to_pylist() for j in range(dim)]
                for row in range(table.num_rows):
                    index, fun, success, nfev, nit, seconds, message = (c[row] for c in cols)
                    writer.writerow([index, repr(float(fun)), success, nfev, nit,
                                     f"{seconds:.6f}", message,
                                     *[repr(float(c[row])) for c in xs],
                                     *[repr(float(c[row])) for c in x0s]])
            if dim is None:
                writer.writerow(RUNS_CSV_HEADER)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask
