"""The run history of an output directory: opening it for a run, reading it back.

Where pyarrow is installed a run records its runs as Parquet segments in ``OUT/runs/`` with
the newest ones in the JSONL journal ``OUT/journal.jsonl`` (see
:class:`~engine.results.segments.SegmentJournal`); without pyarrow, in the JSONL journal
alone (:class:`~engine.results.journal.Journal`), as every directory written before the
segments does. Either is resumed by either: an older directory's long journal is sealed into
segments as it is taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from engine.exceptions import JournalError
from engine.results import journal as jsonl
from engine.results import segments
from engine.results.types import LocalRun

RUNS_DIR = "runs"
JOURNAL = "journal.jsonl"


def runs_dir(out_dir: str | Path) -> Path:
    """The folder of Parquet segments of ``out_dir``."""
    return Path(out_dir) / RUNS_DIR


def has_history(out_dir: str | Path) -> bool:
    """Whether ``out_dir`` holds a run history (segments or a JSONL journal)."""
    journal = Path(out_dir) / JOURNAL
    return bool(segments.segment_paths(runs_dir(out_dir))) or (
        journal.is_file() and journal.stat().st_size > 0)


def finished_starts(out_dir: str | Path) -> int:
    """Distinct finished starts recorded in ``out_dir`` (segments and journal)."""
    sealed = segments.sealed_mask(runs_dir(out_dir))
    in_journal_only = [index for index in jsonl_indices(Path(out_dir) / JOURNAL)
                       if not segments.is_sealed(sealed, index)]
    return int(np.count_nonzero(sealed)) + len(in_journal_only)


def refuse_to_overwrite(out_dir: str | Path) -> None:
    """Raise :class:`~engine.results.journal.JournalNotEmptyError` when ``out_dir`` records
    finished starts (a fresh run would lose them)."""
    if not segments.segment_paths(runs_dir(out_dir)):
        jsonl.refuse_to_overwrite(Path(out_dir) / JOURNAL)  # names the journal, as it did
        return
    n_done = finished_starts(out_dir)
    if n_done:
        raise jsonl.JournalNotEmptyError(f"{n_done} finished starts in {out_dir}: add --resume "
                                         "to continue or --force to start over")


def open_history(out_dir: str | Path, fingerprint: str, *, resume: bool, force: bool,
                 meta: dict[str, Any] | None = None) -> Any:
    """The run history of a run in ``out_dir``, opened to resume or afresh: Parquet segments
    backed by the JSONL journal where pyarrow is installed, else the journal alone.

    A fresh start (``resume=False``) over finished starts is refused unless ``force``, which
    moves them aside (never deletes them).
    """
    out_dir = Path(out_dir)
    if segments.have_pyarrow():
        return segments.SegmentJournal(runs_dir(out_dir), out_dir / JOURNAL, fingerprint,
                                       resume=resume, force=force, meta=meta)
    if resume and segments.segment_paths(runs_dir(out_dir)):
        raise JournalError(
            f"{str(runs_dir(out_dir))!r} holds Parquet segments of this run, which need "
            "pyarrow to be read: pip install 'multistart-engine[runs]', then resume")
    return jsonl.Journal(out_dir / JOURNAL, fingerprint, resume=resume, force=force,
                         meta=meta)


def open_journal(path: str | Path, fingerprint: str) -> Any:
    """The journal a Python call names with ``journal=path``, resumed where it holds runs.

    A directory (one that exists, or a new path without a suffix such as ``.jsonl``) holds
    a run history as an output directory does (Parquet segments in ``path/runs/`` where
    pyarrow is installed), so a run of millions of starts keeps its runs on disk, not in the
    driver, and :func:`engine.load` reads it; any other path is a JSONL journal file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> base = pathlib.Path(tempfile.mkdtemp())
    >>> type(open_journal(base / "history", "abc")).__name__ in ("SegmentJournal", "Journal")
    True
    >>> type(open_journal(base / "runs.jsonl", "abc")).__name__
    'Journal'
    """
    if not isinstance(path, (str, os.PathLike)):
        raise JournalError(f"journal={path!r} is not a path; give a file such as 'runs.jsonl' "
                           "or a directory such as 'history' for the run history")
    path = Path(path)
    if path.is_dir() and not has_history(path):
        others = sorted(entry.name for entry in path.iterdir()
                        if entry.name not in (RUNS_DIR, JOURNAL))
        if others:
            raise JournalError(
                f"journal={str(path)!r} is a directory holding other files ({others[0]!r}"
                f"{f' and {len(others) - 1} more' if len(others) > 1 else ''}) and no run "
                "history; give a new or empty directory for the run history, or a file such "
                "as 'runs.jsonl'")
    if path.is_dir() or (not path.exists() and not path.suffix):
        path.mkdir(parents=True, exist_ok=True)
        return open_history(path, fingerprint, resume=True, force=False)
    return jsonl.Journal(path, fingerprint, resume=True)


def read_tail(out_dir: str | Path) -> list[LocalRun]:
    """The runs of the JSONL journal of ``out_dir`` (read only; torn lines skipped)."""
    path = Path(out_dir) / JOURNAL
    if not path.is_file():
        return []
    runs = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        first = next(handle, "")
        with contextlib.suppress(json.JSONDecodeError):
            if json.loads(first).get("format") != jsonl.FORMAT:
                raise JournalError(f"{str(path)!r} is not a multistart journal (first line is "
                                   "not its header); remove it or choose another directory")
        for line in handle:
            with contextlib.suppress(json.JSONDecodeError, KeyError, TypeError, ValueError,
                                     OverflowError):
                runs.append(jsonl._parse_run(line))
    return runs


def header(out_dir: str | Path) -> dict[str, Any]:
    """The header of the run history of ``out_dir`` (its fingerprint, config hash)."""
    for path in (runs_dir(out_dir) / segments.HEADER, Path(out_dir) / JOURNAL):
        with contextlib.suppress(OSError, json.JSONDecodeError, StopIteration):
            with open(path, encoding="utf-8") as handle:
                found = json.loads(next(handle))
            if isinstance(found, dict):
                return found
    return {}


def read_history(out_dir: str | Path) -> segments.SegmentRuns:
    """Every run recorded in ``out_dir``, read only: its segments, then the journal's runs
    that no segment holds. A JournalError when there is no history."""
    out_dir = Path(out_dir)
    if not has_history(out_dir):
        raise JournalError(f"{str(out_dir)!r} holds no run history ({RUNS_DIR}/ or {JOURNAL}); "
                           "pass the output directory of a run")
    paths = segments.segment_paths(runs_dir(out_dir))
    if paths and not segments.have_pyarrow():
        segments.require_pyarrow(f"reading the run history in {out_dir}")
    history = segments.SegmentRuns(paths)
    sealed = segments.sealed_mask(runs_dir(out_dir))
    history.tail = [run for run in read_tail(out_dir) if not segments.is_sealed(sealed, run.index)]
    return history


def jsonl_indices(path: Path) -> set[int]:
    """Start indices of the readable records of the JSONL journal at ``path``."""
    found: set[int] = set()
    if not path.is_file():
        return found
    with open(path, encoding="utf-8", errors="replace") as handle:
        next(handle, None)
        for line in handle:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                found.add(int(json.loads(line)["index"]))
    return found
