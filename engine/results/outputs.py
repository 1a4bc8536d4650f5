"""Files a run leaves behind, each written atomically (temp file in the same folder, rename).

A reader never sees half a file: either the old one or the new one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from engine.exceptions import ConfigError

if TYPE_CHECKING:
    from engine.results.types import MultistartResult


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """A file to write ``path`` through: a temporary file beside it, flushed to disk and
    renamed over ``path`` when the block ends, removed if it raises, so that ``path`` is
    either complete or untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "b.bin"
    >>> with atomic_file(p, "wb") as handle:
    ...     _ = handle.write(b"ok")
    >>> p.read_bytes(), sorted(q.name for q in p.parent.iterdir())
    (b'ok', ['b.bin'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file 0600; the result is a file like any other, readable by
        # whom the user's umask allows (a group sharing a cluster project, say).
        os.chmod(tmp, 0o666 & ~_umask())
        text = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **text) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` so that the file is either complete or untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write_text(p, "hi").read_text()
    'hi'
    """
    with atomic_file(path) as handle:
        handle.write(text)
    return Path(path)


def atomic_write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically, streamed to the file.

    Arrays of start indices (a :class:`~engine.results.types.StartList`, a million starts
    of one minimum) are written as one compact JSON list in pieces: neither a list of Python
    ints nor the whole text is built in memory.
    """
    arrays: list[Any] = []
    # Each array is written where the encoder writes its marker: a string no other value of
    # ``data`` can be (a random tag).
    tag = f"\x00{secrets.token_hex(8)}:"
    quoted = json.dumps(tag)[:-1]

    def default(value: Any) -> Any:
        if hasattr(value, "__array__"):
            arrays.append(value)
            return f"{tag}{len(arrays) - 1}"
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    with atomic_file(path) as handle:
        for chunk in json.JSONEncoder(indent=1, default=default).iterencode(data):
            if chunk.startswith(quoted):
                _write_ints(handle, arrays[int(chunk[len(quoted):-1])])
            else:
                handle.write(chunk)
        handle.write("\n")
    return Path(path)


def _write_ints(handle: Any, values: Any) -> None:
    """``values`` (integers) as a JSON list, 65536 at a time."""
    values = np.asarray(values)
    handle.write("[")
    for start in range(0, values.size, 65536):
        if start:
            handle.write(",")
        handle.write(",".join(map(str, values[start : start + 65536].tolist())))
    handle.write("]")


def _umask() -> int:
    """The process's umask (reading it means setting it: put it straight back)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def minima_csv(result: MultistartResult) -> str:
    """The ranked minima as CSV text: rank, fun, n_hits, x_0..x_{d-1}.

    Points are ``x_j`` so that ``x0`` keeps scipy's meaning, the start point.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    dim = len(result.minima[0].x) if result.minima else 0
    writer.writerow(["rank", "fun", "n_hits", *[f"x_{j}" for j in range(dim)]])
    for rank, minimum in enumerate(result.minima, start=1):
        writer.writerow([rank, repr(float(minimum.fun)), minimum.n_hits,
                         *[repr(float(v)) for v in minimum.x]])
    return buffer.getvalue()


def journal_bytes(n_starts: int, dim: int) -> int:
    """About how many bytes the journal of ``n_starts`` starts in ``dim`` variables takes.

    Examples
    --------
    >>> journal_bytes(1000, 2) < 1_000_000
    True
    """
    # One JSON line per start: ~200 bytes of fields plus x0 and x at ~22 characters a number.
    return int(n_starts) * (200 + 44 * int(dim))


def check_writable(directory: Path, needed_bytes: int = 0) -> None:
    """Fail early (before any compute) when ``directory`` cannot be created or written.

    Parameters
    ----------
    directory : Path
        The output directory; created when missing.
    needed_bytes : int
        Free space the run needs there (see :func:`journal_bytes`); less is refused.

    Raises
    ------
    ConfigError
        Naming ``output.dir``, the reason (read-only, no permission, disk full) and the fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> check_writable(pathlib.Path(tempfile.mkdtemp()) / "out")
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # A real write, flushed to disk: a full disk or a read-only mount fails here, also
        # for root, who passes every permission check.
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test.") as probe:
            probe.write(b"x" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        raise ConfigError(
            f"output.dir={str(directory)!r} is not writable ({exc.strerror or exc}); "
            "choose a directory you can write to (--out DIR), or free space there"
        ) from None
    if free < needed_bytes:
        raise ConfigError(
            f"output.dir={str(directory)!r} has {free / 1e6:.1f} MB free, but the run needs "
            f"about {needed_bytes / 1e6:.1f} MB for its journal and results; free space "
            "there, choose another directory (--out DIR) or fewer starts"
        )


def _runs_csv(result: MultistartResult) -> str:
    """Every local run as CSV text, one row per start.

    Solutions are ``x_j`` and starts ``x0_j``: ``x0`` keeps scipy's meaning (the start), so
    ``x0`` and ``x0_0`` never name different things.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    dim = len(result.runs[0].x0) if result.runs else 0
    writer.writerow(["index", "fun", "success", "nfev", "nit", "time", "message",
                     *[f"x_{j}" for j in range(dim)], *[f"x0_{j}" for j in range(dim)]])
    for run in result.runs:
        writer.writerow([run.index, repr(float(run.fun)), run.success, run.nfev, run.nit,
                         f"{run.time:.6f}", run.message, *[repr(float(v)) for v in run.x],
                         *[repr(float(v)) for v in run.x0]])
    return buffer.getvalue()


def write_result_dir(
    result: MultistartResult, directory: Path, runs_csv: bool = True
) -> dict[str, Path]:
    """Write ``result.json``, ``minima.csv`` (and ``runs.csv``); return their paths.

    ``runs.csv`` is written only for runs held in memory: the runs of a big run stay in its
    Parquet segments (``runs/``), and ``multistart export DIR --csv`` writes them as CSV.
    """
    directory = Path(directory)
    runs_csv = runs_csv and not hasattr(result.runs, "tables")
    written = {
        "result.json": atomic_write_json(directory / "result.json",
                                         result.to_dict(starts_as_lists=False)),
        "minima.csv": atomic_write_text(directory / "minima.csv", minima_csv(result)),
    }
    if runs_csv:
        written["runs.csv"] = atomic_write_text(directory / "runs.csv", _runs_csv(result))
    return written
