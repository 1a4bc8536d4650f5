"""The run history as Parquet segments: finished runs leave the driver as they arrive.

A run directory ``OUT/runs/`` holds ``header.json`` (format and fingerprint, as the first line
of a JSONL journal) and ``part-NNNNNN.parquet`` files, one per :data:`ROWS_PER_SEGMENT` runs or
per :data:`SECONDS_PER_SEGMENT` seconds, whichever comes first, each zstd-compressed and
written atomically (a temporary name, then a rename), so a reader never sees half a segment.
One row per run: ``index, fun, nfev, nit, success, in_bounds, time, message, error`` and the
points as flat columns ``x_0 .. x_{d-1}`` (solution) and ``x0_0 .. x0_{d-1}`` (start), the
names of ``runs.csv``. pandas, DuckDB and ``dask.dataframe`` read the folder directly.

:class:`SegmentJournal` has the interface of :class:`~engine.results.journal.Journal`
(``completed``, ``extend``, ``close``) and replaces it where pyarrow is installed. A killed
driver loses the runs not yet sealed in a segment (at most :data:`SECONDS_PER_SEGMENT`
seconds of work); they are solved again on ``--resume``. A segment that cannot be read (a
torn copy, a disk that filled up) is skipped with a warning and renamed ``*.torn``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.exceptions import JournalError
from engine.results.journal import FORMAT as TAIL_FORMAT
from engine.results.journal import Journal, JournalNotEmptyError
from engine.results.journal import finished_starts as in_tail
from engine.results.outputs import atomic_file, atomic_write_text
from engine.results.store import _NO_ERROR, _Interned
from engine.results.types import LocalRun

FORMAT = "multistart-segments/1"
HEADER = "header.json"
#: Runs per segment: about 5 MB of buffer in the driver at two variables, and a segment of
#: about 2.5 MB on disk; ten million runs make about 150 files.
ROWS_PER_SEGMENT = 65_536
#: A segment is also sealed once its oldest run is this old (the JSONL tail of a run of
#: expensive starts then stays short; nothing is lost on a kill either way).
SECONDS_PER_SEGMENT = 600.0
#: zstd level: 3 is zstd's own default, most of the ratio at a small cost in CPU.
ZSTD_LEVEL = 3
_PART = re.compile(r"^part-(\d{6,})\.parquet$")
#: The scalar columns of a segment, in order, with their types (all as the run has them, so
#: a resumed run is the run that was recorded, to the bit).
_SCALARS = (("index", "int64"), ("fun", "float64"), ("nfev", "int64"), ("nit", "int64"),
            ("success", "bool"), ("in_bounds", "bool"), ("time", "float64"))


def have_pyarrow() -> bool:
    """Whether pyarrow is installed (Parquet segments are written only then)."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def require_pyarrow(what: str) -> Any:
    """The ``pyarrow`` module, or an ImportError saying which call needs it and how to get it."""
    try:
        import pyarrow
        import pyarrow.dataset
        import pyarrow.parquet
    except ImportError:
        raise ImportError(
            f"{what} needs pyarrow (the Parquet run history): pip install "
            "'multistart-engine[runs]'"
        ) from None
    return pyarrow


def segment_number(path: Path) -> int | None:
    """The number of a segment file ``part-NNNNNN.parquet``; None for any other name."""
    match = _PART.match(Path(path).name)
    return int(match.group(1)) if match else None


def segment_paths(directory: str | Path) -> list[Path]:
    """The sealed segments of ``directory``, in the order they were written."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(segment_number(p), p) for p in directory.iterdir()]
    return [p for number, p in sorted((n, p) for n, p in found if n is not None)]


def schema(dim: int) -> Any:
    """The Arrow schema of a segment of runs in ``dim`` variables."""
    pa = require_pyarrow("the run history")
    fields = [pa.field(name, pa.from_numpy_dtype(np.dtype(kind))) for name, kind in _SCALARS]
    fields += [pa.field("message", pa.string()), pa.field("error", pa.string())]
    fields += [pa.field(f"x_{j}", pa.float64()) for j in range(dim)]
    fields += [pa.field(f"x0_{j}", pa.float64()) for j in range(dim)]
    return pa.schema(fields)


def dim_of(table_schema: Any) -> int:
    """Number of variables of a segment schema (its ``x_j`` columns)."""
    return sum(1 for name in table_schema.names if re.fullmatch(r"x_\d+", name))


class _Buffer:
    """Runs not yet sealed in a segment, in fixed numpy columns (no object per run)."""

    def __init__(self, dim: int, capacity: int) -> None:
        self.dim = dim
        self.n = 0
        self.columns = {name: np.empty(capacity, dtype=kind) for name, kind in _SCALARS}
        self.x = np.empty((capacity, dim))
        self.x0 = np.empty((capacity, dim))
        self.message = np.empty(capacity, dtype=np.int32)
        self.error = np.empty(capacity, dtype=np.int32)
        # Messages repeat (a solver has a handful): each distinct text is kept once.
        self.strings = _Interned()

    @property
    def full(self) -> bool:
        return self.n == self.x.shape[0]

    def add(self, run: LocalRun) -> None:
        x0 = np.asarray(run.x0, dtype=np.float64).ravel()
        x = np.asarray(run.x, dtype=np.float64).ravel()
        if x0.size != self.dim or x.size != self.dim:
            raise JournalError(
                f"run {run.index} has x0 of size {x0.size} and x of size {x.size}; this run "
                f"history holds runs of {self.dim} variables"
            )
        row, c = self.n, self.columns
        c["index"][row] = run.index
        c["fun"][row] = run.fun
        c["nfev"][row] = run.nfev
        c["nit"][row] = run.nit
        c["success"][row] = run.success
        c["in_bounds"][row] = run.in_bounds
        c["time"][row] = run.time
        self.x[row] = x
        self.x0[row] = x0
        self.message[row] = self.strings.id_of(run.message)
        self.error[row] = _NO_ERROR if run.error is None else self.strings.id_of(run.error)
        self.n += 1

    def find(self, index: int) -> int | None:
        """The row of start ``index``, or None."""
        rows = np.flatnonzero(self.columns["index"][: self.n] == index)
        return int(rows[0]) if rows.size else None

    def run_at(self, row: int) -> LocalRun:
        c, values = self.columns, self.strings.values
        error = int(self.error[row])
        return LocalRun(
            index=int(c["index"][row]), x0=self.x0[row].copy(), x=self.x[row].copy(),
            fun=float(c["fun"][row]), nfev=int(c["nfev"][row]), nit=int(c["nit"][row]),
            success=bool(c["success"][row]), message=values[int(self.message[row])],
            error=None if error == _NO_ERROR else values[error], time=float(c["time"][row]),
            in_bounds=bool(c["in_bounds"][row]))

    def table(self) -> Any:
        """The buffered runs as an Arrow table (strings dictionary-encoded: a few distinct)."""
        pa = require_pyarrow("the run history")
        n, c = self.n, self.columns
        words = pa.array(self.strings.values, type=pa.string())
        error = self.error[:n]
        arrays = [pa.array(c[name][:n]) for name, _ in _SCALARS]
        arrays.append(words.take(pa.array(self.message[:n])))
        arrays.append(words.take(pa.array(np.where(error == _NO_ERROR, 0, error),
                                          mask=error == _NO_ERROR)) if len(words) else
                      pa.nulls(n, pa.string()))
        arrays += [pa.array(self.x[:n, j]) for j in range(self.dim)]
        arrays += [pa.array(self.x0[:n, j]) for j in range(self.dim)]
        return pa.Table.from_arrays(arrays, schema=schema(self.dim))


def write_segment(table: Any, path: Path) -> Path:
    """Write ``table`` to ``path`` as one zstd Parquet row group, atomically."""
    require_pyarrow("the run history")
    import pyarrow.parquet as pq

    # Byte-stream split puts the like bytes of the floats together (the sign and exponent of
    # points near one minimum are equal), which zstd then packs far better.
    floats = [name for name in table.schema.names
              if name.startswith("x") or name in ("fun", "time")]
    with atomic_file(path, "wb") as handle:
        pq.write_table(table, handle, compression="zstd", compression_level=ZSTD_LEVEL,
                       use_dictionary=["message", "error"], use_byte_stream_split=floats,
                       row_group_size=max(1, table.num_rows), write_statistics=["index"])
    return path


def read_segment(path: Path, columns: list[str] | None = None,
                 encoded: Sequence[str] = ()) -> Any | None:
    """The table of the segment at ``path`` (only ``columns`` when given); None, with a
    warning, when it cannot be read. The text columns named in ``encoded`` stay
    dictionary-encoded (an integer per row; a text is decoded only when asked for).

    The unreadable file is renamed ``NAME.torn`` (kept, never deleted) so that a reader of the
    folder (pandas, DuckDB) is not stopped by it; its starts are solved again on resume.
    """
    require_pyarrow("the run history")
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=columns, read_dictionary=list(encoded) or None)
        if "index" not in table.schema.names:
            raise ValueError("no index column")
        return table
    except (OSError, ValueError) as exc:
        aside = path.with_name(path.name + ".torn")
        with contextlib.suppress(OSError):
            path.rename(aside)
        warnings.warn(
            f"run history segment {path} is torn or corrupt and was skipped "
            f"({type(exc).__name__}: {str(exc)[:80]}); it was renamed {aside.name} and its "
            "starts will be solved again", RuntimeWarning, stacklevel=3)
        return None


def table_runs(table: Any) -> Iterator[LocalRun]:
    """The rows of a segment table as :class:`LocalRun` objects, in order."""
    dim = dim_of(table.schema)
    cols = {name: table.column(name).to_numpy(zero_copy_only=False) for name, _ in _SCALARS}
    x = np.column_stack([table.column(f"x_{j}").to_numpy() for j in range(dim)]
                        ) if dim else np.empty((table.num_rows, 0))
    x0 = np.column_stack([table.column(f"x0_{j}").to_numpy() for j in range(dim)]
                         ) if dim else np.empty((table.num_rows, 0))
    messages = table.column("message").to_pylist()
    errors = table.column("error").to_pylist()
    index, fun, nfev, nit = (cols[k].tolist() for k in ("index", "fun", "nfev", "nit"))
    success, in_bounds, seconds = (cols[k].tolist() for k in ("success", "in_bounds", "time"))
    for row in range(table.num_rows):
        yield LocalRun(index[row], x0[row], x[row], fun[row], nfev[row], nit[row],
                       success[row], messages[row], errors[row], seconds[row], in_bounds[row])


class SegmentRuns:
    """The runs of a run history: its sealed segments (read one at a time), then ``tail``.

    Iterating yields :class:`LocalRun` in the order they were written; ``len`` is the number
    of distinct starts.
    """

    def __init__(self, paths: list[Path], tail: list[LocalRun] | None = None) -> None:
        self.paths = paths
        self.tail = tail or []

    def tables(self) -> Iterator[Any]:
        for path in self.paths:
            table = read_segment(path)
            if table is not None:
                yield table

    def __iter__(self) -> Iterator[LocalRun]:
        for table in self.tables():
            yield from table_runs(table)
        yield from self.tail

    def __len__(self) -> int:
        parts = [t.column("index").to_numpy() for t in self.tables()]
        parts.append(np.array([r.index for r in self.tail], dtype=np.int64))
        return int(np.unique(np.concatenate(parts)).size)


class SegmentJournal:
    """A run history: sealed Parquet segments in ``directory``, the newest runs in ``tail``.

    Same use as :class:`~engine.results.journal.Journal`: ``completed()`` gives the runs of an
    earlier session, ``extend(runs)`` records finished ones, ``close()`` ends the session.
    Every run is first appended to the JSONL journal ``tail`` (flushed at once: a killed
    driver loses at most the line it was writing, as before); once ``rows`` runs (or
    ``seconds``) have gathered there they are sealed into a zstd Parquet segment and the tail
    starts afresh, so the JSONL file never holds more than one segment's worth of runs. A run
    with fewer runs than one segment never writes a segment: its history is the JSONL journal,
    as it always was. At ``close`` the tail of a run that has sealed segments is sealed too.

    Parameters
    ----------
    directory : str or Path
        The folder of segments (``OUT/runs``). Created when missing.
    tail : str or Path
        The JSONL journal of the runs not yet sealed (``OUT/journal.jsonl``). A journal of an
        earlier version holding every run is taken over on resume: sealed into segments.
    fingerprint : str
        Identifies the problem and options; a history written for another one is refused
        unless ``force=True``.
    resume : bool
        Keep the runs already there (True) or start afresh (False, refused over finished
        starts unless ``force``: :class:`~engine.results.journal.JournalNotEmptyError`).
    force : bool
        With ``resume``: accept another fingerprint. Without: move the old history aside
        (``NAME.<UTC time>``, never deleted) and start afresh.
    meta : dict, optional
        More keys for the headers.
    rows, seconds : int, float, optional
        A segment is sealed once ``rows`` runs, or runs ``seconds`` old, are in the tail
        (by default :data:`ROWS_PER_SEGMENT` and :data:`SECONDS_PER_SEGMENT`).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> runs = [LocalRun(i, np.zeros(1), np.ones(1), 1.0, 5, 2, True, "ok") for i in range(3)]
    >>> with SegmentJournal(out / "runs", out / "journal.jsonl", "abc", rows=2) as j:
    ...     j.extend(runs)
    >>> [p.name for p in segment_paths(out / "runs")], len(SegmentJournal(out / "runs",
    ...     out / "journal.jsonl", "abc").completed())
    (['part-000000.parquet', 'part-000001.parquet'], 3)
    """

    def __init__(self, directory: str | Path, tail: str | Path, fingerprint: str, *,
                 resume: bool = True, force: bool = False, meta: dict[str, Any] | None = None,
                 rows: int | None = None, seconds: float | None = None) -> None:
        require_pyarrow("a Parquet run history")
        if not isinstance(directory, (str, os.PathLike)):
            raise JournalError(f"runs directory={directory!r} is not a path; give a str or "
                               "pathlib.Path such as 'out/runs'")
        self.path = Path(directory)
        self.fingerprint = fingerprint
        self.rows = max(1, int(ROWS_PER_SEGMENT if rows is None else rows))
        self.seconds = float(SECONDS_PER_SEGMENT if seconds is None else seconds)
        self.meta = dict(meta or {})
        self._buffer: _Buffer | None = None
        self._sealed_at = time.monotonic()
        self._dim: int | None = None
        #: (lowest, highest start index, path) of each sealed segment: where a start is.
        self._ranges: list[tuple[int, int, Path]] = []
        self._next = 0
        if self.path.exists() and not self.path.is_dir():
            raise JournalError(f"runs directory {str(self.path)!r} is a file; give a folder "
                               "path, or remove the file")
        existing = finished_starts(self.path) > 0 or (self.path / HEADER).is_file()
        if existing and resume:
            self._check_header(force)
        elif existing:
            self._keep_finished_starts(force, Path(tail))
        # The tail refuses, or moves aside, an old journal as a Journal always has.
        self._tail = Journal(tail, fingerprint, resume=resume, force=force, meta=meta)
        if not resume and (self.path / HEADER).is_file():
            self._write_header()  # a fresh run: its own fingerprint
        # (The folder is made with the first segment: a small run leaves only its journal.)
        for stale in self.path.glob(".part-*.tmp"):  # a segment a killed driver was writing
            stale.unlink(missing_ok=True)
        for path in segment_paths(self.path):
            found = _index_range(path)
            if found is not None:
                lo, hi, self._dim = found
                self._ranges.append((lo, hi, path))
        numbers = [segment_number(p.with_suffix("")) if p.suffix == ".torn" else
                   segment_number(p) for p in self.path.glob("part-*")]
        self._next = max((n for n in numbers if n is not None), default=-1) + 1
        self._completed = SegmentRuns(self.sealed(), self._take_over_tail())

    # ------------------------------------------------------------------ opening

    def _take_over_tail(self) -> list[LocalRun]:
        """The tail's runs not sealed yet, back in the buffer (sealed when it fills: a long
        JSONL journal of an earlier version becomes segments); returns them."""
        runs = self._tail.completed()
        if not len(runs):
            return []
        sealed = sealed_mask(self.path)
        fresh = [run for run in runs if not is_sealed(sealed, run.index)]
        self._tail.release()  # its store is not needed again
        n_sealed = self._next
        kept: list[LocalRun] = []
        for run in fresh:
            self._add(run)
            kept.append(run)
            if self._buffer is not None and self._buffer.full:
                self._seal()
                kept = []
        if self._next != n_sealed or len(fresh) != len(runs):
            self._rotate_tail(kept)
        return fresh

    def _write_header(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            header = {"format": FORMAT, "fingerprint": self.fingerprint, **self.meta}
            atomic_write_text(self.path / HEADER, json.dumps(header) + "\n")
        except OSError as exc:
            raise JournalError(f"runs directory {str(self.path)!r} cannot be written "
                               f"({exc.strerror or exc}); choose a writable location, or free "
                               "space there") from None

    def _check_header(self, force: bool) -> None:
        try:
            header = json.loads((self.path / HEADER).read_text())
        except (OSError, json.JSONDecodeError):
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise JournalError(
                f"{str(self.path)!r} is not a multistart run history (its {HEADER} is missing "
                "or not one); remove it or choose another output directory")
        if header.get("fingerprint") != self.fingerprint and not force:
            raise JournalError(
                f"run history {str(self.path)!r} belongs to a different run (fingerprint "
                f"{header.get('fingerprint')!r}, this run is {self.fingerprint!r}): the problem "
                "(its objective's code, source file or package version included), starts, local "
                "solver or dedup options changed. Use another output directory (from Python: "
                "another journal= path), or --force to resume from it anyway")

    def _keep_finished_starts(self, force: bool, tail: Path) -> None:
        n_done = finished_starts(self.path) + in_tail(tail)
        if not n_done:
            return  # a header, no run: it is written afresh
        if not force:
            raise JournalNotEmptyError(f"{n_done} finished starts in {self.path.parent}: add "
                                       "--resume to continue or --force to start over")
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.{stamp}")
        number = 1
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.{stamp}-{number}")
            number += 1
        try:
            self.path.rename(aside)
        except OSError as exc:
            raise JournalError(
                f"run history {str(self.path)!r} cannot be moved aside to {str(aside)!r} "
                f"({exc.strerror or exc}); move it yourself, or choose another output "
                "directory") from None
        warnings.warn(f"moved the run history of the previous run ({n_done} finished "
                      f"starts) to {aside}", RuntimeWarning, stacklevel=4)

    # ------------------------------------------------------------------ the journal's API

    def completed(self) -> SegmentRuns:
        """Runs already in the history when it was opened."""
        return self._completed

    def append(self, run: LocalRun) -> None:
        """Record one finished run."""
        self.extend([run])

    def extend(self, runs: Iterable[LocalRun]) -> None:
        """Record finished runs: in the JSONL tail at once, in a segment when it is due."""
        runs = list(runs)
        if not runs:
            return
        self._tail.extend(runs)
        sealed = self._next
        for run in runs:
            self._add(run)
            if self._buffer is not None and self._buffer.n >= self.rows:
                self._seal()
        if self._buffer is not None and time.monotonic() - self._sealed_at >= self.seconds:
            self._seal()
        if self._next != sealed:  # the tail keeps only the runs no segment holds
            self._rotate_tail(self._buffered())

    def _add(self, run: LocalRun) -> None:
        if self._buffer is None:
            if self._dim is None:
                self._dim = int(np.asarray(run.x0).size)
            self._buffer = _Buffer(self._dim, self.rows)
            self._sealed_at = time.monotonic()
        self._buffer.add(run)

    def _buffered(self) -> list[LocalRun]:
        buffer = self._buffer
        return [] if buffer is None else [buffer.run_at(row) for row in range(buffer.n)]

    def flush(self) -> None:
        """Seal the runs of the tail into a segment now, and start the tail afresh."""
        if self._buffer is None or not self._buffer.n:
            return
        self._seal()
        self._rotate_tail([])

    def _seal(self) -> None:
        buffer = self._buffer
        assert buffer is not None
        path = self.path / f"part-{self._next:06d}.parquet"
        if not (self.path / HEADER).is_file():
            self._write_header()
        try:
            write_segment(buffer.table(), path)
        except OSError as exc:
            raise JournalError(
                f"writing run history segment {str(path)!r} failed ({exc.strerror or exc}): "
                "the disk may be full or read-only. Every run is still in the journal "
                f"{str(self._tail.path)!r}; free space (or move the output directory) and "
                "continue with --resume") from None
        index = buffer.columns["index"][: buffer.n]
        self._ranges.append((int(index.min()), int(index.max()), path))
        self._next += 1
        self._buffer = None
        self._sealed_at = time.monotonic()

    def _rotate_tail(self, runs: list[LocalRun]) -> None:
        """Replace the tail by its header and ``runs`` (atomically: a crash leaves the old
        tail, whose runs are also in a segment; the first record of a start counts)."""
        path = self._tail.path
        self._tail.close()
        header = {"format": TAIL_FORMAT, "fingerprint": self.fingerprint, **self.meta}
        lines = [json.dumps(header, separators=(",", ":"))]
        lines += [json.dumps(run.to_dict(), separators=(",", ":")) for run in runs]
        atomic_write_text(path, "\n".join(lines) + "\n")
        self._tail = Journal.append_to(path, self.fingerprint)

    def close(self) -> None:
        """End the session: a run that has sealed segments seals its tail too (its history is
        then all Parquet); a smaller run keeps its runs in the JSONL journal."""
        if self._ranges:
            self.flush()
        self._tail.close()

    def __enter__(self) -> SegmentJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading back

    @property
    def dim(self) -> int | None:
        return self._dim

    def sealed(self) -> list[Path]:
        """The segments written so far (the runs of the tail are not in any)."""
        return [path for _, _, path in self._ranges]

    def pending_table(self) -> Any | None:
        """The runs of the tail, as an Arrow table (None when there are none)."""
        return None if self._buffer is None or not self._buffer.n else self._buffer.table()

    def get(self, index: int) -> LocalRun | None:
        """The first run recorded for start ``index``, or None."""
        for lo, hi, path in self._ranges:
            if lo <= index <= hi:
                table = _read_rows(path, index)
                if table is not None and table.num_rows:
                    return next(table_runs(table.slice(0, 1)))
        if self._buffer is not None:
            row = self._buffer.find(index)
            if row is not None:
                return self._buffer.run_at(row)
        return None


def _index_range(path: Path) -> tuple[int, int, int] | None:
    """``(lowest, highest start index, dim)`` of a segment from its footer; None (a warning
    and the file renamed, see :func:`read_segment`) when it cannot be read."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        names = meta.schema.to_arrow_schema().names
        column = names.index("index")
        lo, hi = None, None
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(column).statistics
            if stats is None or not stats.has_min_max:
                raise ValueError("no index statistics")
            lo = stats.min if lo is None else min(lo, stats.min)
            hi = stats.max if hi is None else max(hi, stats.max)
        if lo is None:
            return None
        return int(lo), int(hi), dim_of(meta.schema.to_arrow_schema())
    except (OSError, ValueError):
        read_segment(path)  # warns and renames it
        return None


def _read_rows(path: Path, index: int) -> Any | None:
    import pyarrow.dataset as ds

    try:
        return ds.dataset(path, format="parquet").to_table(filter=ds.field("index") == index)
    except OSError:
        return None


def finished_starts(directory: str | Path) -> int:
    """How many distinct starts the segments in ``directory`` record (0 when none).

    Examples
    --------
    >>> finished_starts("no-such-folder")
    0
    """
    return int(np.count_nonzero(sealed_mask(directory)))


def sealed_mask(directory: str | Path) -> np.ndarray:
    """Which starts the readable segments in ``directory`` hold: ``mask[i]`` for start ``i``.

    One byte a start (a sorted array of distinct indices takes eight, and ``np.unique`` over
    ten million of them briefly three times that), read one segment's index column at a time.
    :func:`is_sealed` asks it about one start.

    Examples
    --------
    >>> sealed_mask("no-such-folder").size
    0
    """
    mask = np.zeros(0, dtype=bool)
    paths = segment_paths(directory)
    if not paths or not have_pyarrow():
        return mask
    import pyarrow.parquet as pq

    for path in paths:
        try:
            indices = pq.read_table(path, columns=["index"]).column("index").to_numpy()
        except (OSError, ValueError):
            continue  # torn: its starts are not finished
        indices = indices[indices >= 0]  # none are written; a negative one would wrap
        if not indices.size:
            continue
        top = int(indices.max()) + 1
        if top > mask.size:
            # Doubling: segments of a cluster run arrive roughly in index order, and growing
            # to each new top would copy the mask once a segment.
            grown = np.zeros(max(top, 2 * mask.size), dtype=bool)
            grown[:mask.size] = mask
            mask = grown
        mask[indices] = True
    return mask


def is_sealed(mask: np.ndarray, index: int) -> bool:
    """Whether start ``index`` is in the :func:`sealed_mask` ``mask``.

    Examples
    --------
    >>> mask = np.array([True, False, True])
    >>> is_sealed(mask, 2), is_sealed(mask, 1), is_sealed(mask, 7)
    (True, False, False)
    """
    return 0 <= index < mask.size and bool(mask[index])
