"""Append-only JSONL journal of finished runs, for checkpoint and resume.

Line 1 is a header naming the run's fingerprint (problem, starts, local solver, dedup); every
further line is one :class:`~engine.results.LocalRun`. Each line is flushed and fsynced as it
is written, so a killed driver loses at most the line it was writing; a torn or corrupt line is
skipped with a warning naming it.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, TextIO

from engine.exceptions import JournalError
from engine.results import LocalRun

FORMAT = "multistart-journal/1"


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
        Keep the runs already in the file (True) or start the file afresh (False).
    force : bool
        Accept a journal whose fingerprint differs (its runs are then re-used as they are).

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
        self.path = Path(path)
        self.fingerprint = fingerprint
        self._runs: list[LocalRun] = []
        self._handle: TextIO | None = None
        existing = self.path.exists() and self.path.stat().st_size > 0
        if existing and resume:
            self._runs = self._read(force)
            self._open("a")
        else:
            self._open("w")
            header = {"format": FORMAT, "fingerprint": fingerprint, **(meta or {})}
            self._write_line(header)

    def _open(self, mode: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, mode, encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise JournalError(
                f"journal {str(self.path)!r} cannot be opened for writing ({exc.strerror}); "
                "choose a writable location"
            ) from None

    def _read(self, force: bool) -> list[LocalRun]:
        with open(self.path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
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
                f"{header.get('fingerprint')!r}, this run is {self.fingerprint!r}): the problem, "
                "starts, local solver or dedup options changed. Use another output directory, "
                "or --force to resume from it anyway"
            )
        runs: dict[int, LocalRun] = {}
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                run = LocalRun.from_dict(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                warnings.warn(
                    f"journal {self.path}: line {number} is torn or corrupt and was skipped "
                    f"({type(exc).__name__}); that start will be solved again",
                    RuntimeWarning, stacklevel=3,
                )
                continue
            runs.setdefault(run.index, run)
        if lines and lines[-1].strip():
            # A torn last line has no newline; start the next record on a fresh line.
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write("\n")
        return list(runs.values())

    def _write_line(self, record: dict[str, Any]) -> None:
        assert self._handle is not None
        self._handle.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def completed(self) -> list[LocalRun]:
        """Runs already in the journal when it was opened (one per start index)."""
        return list(self._runs)

    def append(self, run: LocalRun) -> None:
        """Write one finished run (flushed and fsynced before returning)."""
        self.extend([run])

    def extend(self, runs: list[LocalRun]) -> None:
        """Write several finished runs with one flush and fsync."""
        if not runs:
            return
        assert self._handle is not None
        self._handle.write("".join(json.dumps(r.to_dict(), separators=(",", ":")) + "\n"
                                   for r in runs))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
