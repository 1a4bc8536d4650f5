"""Append-only JSONL journal of finished runs, for checkpoint and resume.

Line 1 is a header naming the run's fingerprint (problem, starts, local solver, dedup); every
further line is one :class:`~engine.results.LocalRun`. Each line is flushed to the OS as it
is written (and fsynced with the first write half a second after the last fsync, and on
close), so a killed driver loses at most the line it was writing; a torn or corrupt line is
skipped with a warning naming it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from engine.exceptions import JournalError
from engine.results.store import RunStore
from engine.results.types import LocalRun

FORMAT = "multistart-journal/1"
#: Seconds between two fsyncs: every line reaches the OS when written (a killed driver loses
#: none), and the disk at least this often (one fsync per start would cap a serial run of
#: cheap starts at the disk's sync rate).
FSYNC_INTERVAL = 0.5


class JournalNotEmptyError(JournalError):
    """A fresh run would overwrite a journal that holds finished starts."""


class Journal:
    """A run journal at ``path`` for the run identified by ``fingerprint``.

    Parameters
    ----------
    path : str or Path
        The JSONL file. Created when missing.
    fingerprint : str
        Identifies the problem and options; a journal written for another fingerprint is
        refused unless ``force=True``.
    resume : bool
        Keep the runs already in the file (True) or start the file afresh (False). Starting
        afresh over a journal that holds finished starts is refused
        (:class:`JournalNotEmptyError`) unless ``force=True``.
    force : bool
        With ``resume``: accept a journal whose fingerprint differs (its runs are then re-used
        as they are). Without: move a journal holding finished starts aside to
        ``NAME.<UTC time>.jsonl`` (it is never deleted) and start afresh.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "runs.jsonl"
    >>> j = Journal(path, "abc")
    >>> j.append(LocalRun(0, np.zeros(1), np.ones(1), 1.0, 5, 2, True, "ok"))
    >>> j.close()
    >>> [r.index for r in Journal(path, "abc", resume=True).completed()]
    [0]
    """

    def __init__(
        self, path: str | Path, fingerprint: str, *, resume: bool = True, force: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise JournalError(
                f"journal={path!r} is not a file path; give a str or pathlib.Path such as "
                "'runs.jsonl', or None for no journal"
            )
        self.path = Path(path)
        self.fingerprint = fingerprint
        self._runs = RunStore()
        self._handle: TextIO | None = None
        if self.path.is_dir():
            raise JournalError(
                f"journal={str(self.path)!r} is a directory; give a file path such as "
                f"{str(self.path / 'journal.jsonl')!r}"
            )
        existing = self.path.exists() and self.path.stat().st_size > 0
        if existing and resume:
            self._runs = self._read(force)
            self._open("a")
        else:
            if existing:
                self._keep_finished_starts(force)
            self._open("w")
            header = {"format": FORMAT, "fingerprint": fingerprint, **(meta or {})}
            self._write_line(header)

    @classmethod
    def append_to(cls, path: str | Path, fingerprint: str) -> Journal:
        """A journal appending to ``path``, a whole journal this process has just written
        (header first): its runs are not read back, the writer holds them already.

        Reading them would build a :class:`RunStore`, whose index map takes 8 bytes per start
        index up to the highest: a run that starts its JSONL tail afresh after each Parquet
        segment would allocate ever larger maps (80 MB at start ten million), and the heap
        they leave behind was most of a big run's driver memory.
        """
        journal = cls.__new__(cls)
        journal.path = Path(path)
        journal.fingerprint = fingerprint
        journal._runs = RunStore()
        journal._handle = None
        journal._open("a")
        return journal

    def _open(self, mode: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, mode, encoding="utf-8")  # noqa: SIM115
            self._synced = -math.inf
        except OSError as exc:
            raise JournalError(
                f"journal {str(self.path)!r} cannot be opened for writing ({exc.strerror}); "
                "choose a writable location"
            ) from None

    def _keep_finished_starts(self, force: bool) -> None:
        """Before a fresh start over an existing file: refuse, or move it aside (``force``),
        when it holds finished starts (see :func:`refuse_to_overwrite`)."""
        if not force:
            refuse_to_overwrite(self.path)
            return
        n_done = finished_starts(self.path)
        if n_done == 0:
            return  # a header only: nothing to lose
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.stem}.{stamp}{self.path.suffix}")
        number = 1
        while aside.exists():  # forced twice within a second: keep both old journals
            aside = self.path.with_name(f"{self.path.stem}.{stamp}-{number}{self.path.suffix}")
            number += 1
        try:
            self.path.rename(aside)
        except OSError as exc:
            raise JournalError(
                f"journal {str(self.path)!r} cannot be moved aside to {str(aside)!r} "
                f"({exc.strerror or exc}); move it yourself, or choose another output directory"
            ) from None
        warnings.warn(f"moved the journal of the previous run ({n_done} finished starts) to "
                      f"{aside}", RuntimeWarning, stacklevel=3)

    def _read(self, force: bool) -> RunStore:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().split("\n")
        except OSError as exc:
            raise JournalError(
                f"journal {str(self.path)!r} cannot be read ({exc.strerror or exc}); check its "
                "permissions, or choose another output directory"
            ) from None
        try:
            header = json.loads(lines[0])
        except json.JSONDecodeError:
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise JournalError(
                f"{str(self.path)!r} is not a multistart journal (first line is not its header);"
                " remove it or choose another output directory"
            )
        if header.get("fingerprint") != self.fingerprint and not force:
            raise JournalError(
                f"journal {str(self.path)!r} belongs to a different run (fingerprint "
                f"{header.get('fingerprint')!r}, this run is {self.fingerprint!r}): the problem "
                "(its objective's code, source file or package version included), starts, local "
                "solver or dedup options changed. Use another output directory (from Python: "
                "another journal= path), or --force to resume from it anyway"
            )
        runs = RunStore()  # compact: a resumed journal may hold millions of runs
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                run = _parse_run(line)
                runs.append(run)  # a start recorded twice: the first record counts
            except (json.JSONDecodeError, KeyError, TypeError, ValueError,
                    OverflowError) as exc:
                warnings.warn(
                    f"journal {self.path}: line {number} is torn or corrupt and was skipped "
                    f"({type(exc).__name__}: {str(exc)[:80]}); that start will be solved again",
                    RuntimeWarning, stacklevel=3,
                )
                continue
        if lines and lines[-1].strip():
            # A torn last line has no newline; start the next record on a fresh line.
            self._open("a")
            self._write("\n")
            self.close()
        return runs

    def _write_line(self, record: dict[str, Any]) -> None:
        self._write(json.dumps(record, separators=(",", ":")) + "\n")

    def _write(self, text: str) -> None:
        """Append ``text``, flushed to the OS at once, and fsynced when the last fsync is
        :data:`FSYNC_INTERVAL` seconds old (and on close); a failing disk becomes a
        JournalError."""
        assert self._handle is not None
        try:
            self._handle.write(text)
            self._handle.flush()  # in the OS's hands: a killed driver loses nothing
            now = time.monotonic()
            if now - self._synced >= FSYNC_INTERVAL:
                os.fsync(self._handle.fileno())  # on disk: survives a crash of the machine
                self._synced = now
        except OSError as exc:
            raise JournalError(
                f"writing journal {str(self.path)!r} failed ({exc.strerror or exc}): the disk "
                "may be full or read-only. Every run written before is kept; free space (or "
                "move the output directory) and continue with --resume"
            ) from None

    def completed(self) -> RunStore:
        """Runs already in the journal when it was opened (one per start index, by index)."""
        return self._runs

    def release(self) -> None:
        """Forget the runs read at opening (a caller that took them over frees them)."""
        self._runs = RunStore()

    def append(self, run: LocalRun) -> None:
        """Write one finished run (flushed to the OS before returning)."""
        self.extend([run])

    def extend(self, runs: list[LocalRun]) -> None:
        """Write several finished runs with one flush."""
        if not runs:
            return
        self._write("".join(json.dumps(r.to_dict(), separators=(",", ":")) + "\n"
                            for r in runs))

    def close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):  # already reported by the failing write
                self._handle.flush()
                os.fsync(self._handle.fileno())
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def finished_starts(path: str | Path) -> int:
    """How many distinct starts the journal at ``path`` records (0 when there is none).

    Examples
    --------
    >>> finished_starts("no-such-journal.jsonl")
    0
    """
    path = Path(path)
    if not path.is_file():
        return 0
    indices = set()
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            next(handle, None)  # the header
            for line in handle:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    indices.add(json.loads(line)["index"])
    except OSError as exc:
        raise JournalError(
            f"journal {str(path)!r} cannot be read ({exc.strerror or exc}); check its "
            "permissions, or choose another output directory"
        ) from None
    return len(indices)


def refuse_to_overwrite(path: str | Path) -> None:
    """Raise :class:`JournalNotEmptyError` when the journal at ``path`` holds finished starts.

    A fresh run would truncate it; a requeued batch job runs the same command again, and the
    work of its first attempt would be lost.
    """
    n_done = finished_starts(path)
    if n_done:
        raise JournalNotEmptyError(f"{n_done} finished starts in {path}: add --resume to "
                                   "continue or --force to start over")


def _parse_run(line: str) -> LocalRun:
    """One journal record, checked field by field (a corrupt line raises ValueError)."""
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    index = data["index"]
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f"index {index!r} is not a start number")
    for name in ("nfev", "nit"):
        if not isinstance(data[name], int) or data[name] < 0:
            raise ValueError(f"{name} {data[name]!r} is not a count")
    if not isinstance(data["success"], bool) or not isinstance(data["message"], str):
        raise ValueError("success or message has the wrong type")
    run = LocalRun.from_dict(data)
    if run.x0.ndim != 1 or run.x0.shape != run.x.shape or run.x0.size == 0:
        raise ValueError(f"x0 and x have shapes {run.x0.shape} and {run.x.shape}")
    if not np.all(np.isfinite(run.x0)):
        raise ValueError("x0 is not finite")
    if run.success and not math.isfinite(run.fun):
        raise ValueError("a successful run without a finite fun")
    return run
