"""Which run history an output directory holds, and opening it for a run.

An output directory records its finished runs either as Parquet segments in ``OUT/runs/``
(:mod:`engine.results.segments`; where pyarrow is installed) or as the JSONL journal
``OUT/journal.jsonl`` (:mod:`engine.results.journal`; without pyarrow, and every directory
written before the segments). A directory whose runs are in a JSONL journal is resumed from
it, so runs started with an older version finish as they began.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

from engine.exceptions import JournalError
from engine.results import journal as jsonl
from engine.results import segments

RUNS_DIR = "runs"
JOURNAL = "journal.jsonl"


def runs_dir(out_dir: str | Path) -> Path:
    """The folder of Parquet segments of ``out_dir``."""
    return Path(out_dir) / RUNS_DIR


def has_segments(out_dir: str | Path) -> bool:
    """Whether ``out_dir`` holds a Parquet run history (its header, maybe no segment yet)."""
    return (runs_dir(out_dir) / segments.HEADER).is_file() or bool(
        segments.segment_paths(runs_dir(out_dir)))


def has_history(out_dir: str | Path) -> bool:
    """Whether ``out_dir`` holds a run history of either kind."""
    journal = Path(out_dir) / JOURNAL
    return has_segments(out_dir) or (journal.is_file() and journal.stat().st_size > 0)


def finished_starts(out_dir: str | Path) -> int:
    """Distinct finished starts recorded in ``out_dir`` (both kinds of history)."""
    return max(segments.finished_starts(runs_dir(out_dir)),
               jsonl.finished_starts(Path(out_dir) / JOURNAL))


def refuse_to_overwrite(out_dir: str | Path) -> None:
    """Raise :class:`~engine.results.journal.JournalNotEmptyError` when ``out_dir`` records
    finished starts (a fresh run would lose them)."""
    n_done = finished_starts(out_dir)
    if n_done:
        raise jsonl.JournalNotEmptyError(f"{n_done} finished starts in {out_dir}: add --resume "
                                         "to continue or --force to start over")


def uses_segments(out_dir: str | Path, resume: bool) -> bool:
    """Whether a run in ``out_dir`` records its runs as Parquet segments.

    Yes where pyarrow is installed, unless a resumed run finds its runs in a JSONL journal
    (and no segments): it continues where it began.
    """
    if not segments.have_pyarrow():
        return False
    journal = Path(out_dir) / JOURNAL
    old_journal = journal.is_file() and journal.stat().st_size > 0
    return not (resume and old_journal and not has_segments(out_dir))


def open_history(out_dir: str | Path, fingerprint: str, *, resume: bool, force: bool,
                 meta: dict[str, Any] | None = None) -> Any:
    """The run history of a run in ``out_dir``: a :class:`~segments.SegmentJournal` or a
    :class:`~jsonl.Journal` (see :func:`uses_segments`), opened to resume or afresh.

    A fresh start (``resume=False``) over finished starts of either kind is refused unless
    ``force``, which moves them aside (never deletes them).
    """
    out_dir = Path(out_dir)
    if not uses_segments(out_dir, resume):
        return jsonl.Journal(out_dir / JOURNAL, fingerprint, resume=resume, force=force,
                             meta=meta)
    journal = out_dir / JOURNAL
    if not resume and jsonl.finished_starts(journal):
        if not force:
            jsonl.refuse_to_overwrite(journal)
        _move_aside(journal)
    return segments.SegmentJournal(runs_dir(out_dir), fingerprint, resume=resume, force=force,
                                   meta=meta)


def _move_aside(path: Path) -> None:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
    try:
        path.rename(aside)
    except OSError as exc:
        raise JournalError(f"journal {str(path)!r} cannot be moved aside to {str(aside)!r} "
                           f"({exc.strerror or exc}); move it yourself, or choose another "
                           "output directory") from None
    warnings.warn(f"moved the journal of the previous run to {aside}", RuntimeWarning,
                  stacklevel=3)


def read_runs(out_dir: str | Path, fingerprint: str) -> Any:
    """The runs recorded in ``out_dir`` (either kind), to read; a JournalError when none."""
    out_dir = Path(out_dir)
    if has_segments(out_dir):
        return segments.SegmentJournal(runs_dir(out_dir), fingerprint, resume=True).completed()
    journal = out_dir / JOURNAL
    if journal.is_file() and journal.stat().st_size:
        with jsonl.Journal(journal, fingerprint, resume=True) as opened:
            return opened.completed()
    raise JournalError(f"{str(out_dir)!r} holds no run history ({RUNS_DIR}/ or {JOURNAL}); "
                       "pass the output directory of a run")
