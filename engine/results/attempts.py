"""The history of a run across its attempts (``attempts.jsonl`` beside the journal).

Each ``multistart run`` of an output folder is one attempt: a first run, then each
``--resume`` (after Ctrl-C, a walltime, a requeue). An attempt appends a ``start`` line
when it begins and an ``end`` line when it ends; an attempt killed outright (SIGKILL) has
no ``end`` line, and shows so. :func:`history` reads them back for the result's provenance.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

FILE = "attempts.jsonl"
#: Environment variables naming the batch job the driver runs in, by batch system.
JOB_ENV = {"slurm": "SLURM_JOB_ID", "pbs": "PBS_JOBID", "sge": "JOB_ID", "lsf": "LSB_JOBID"}


def driver_job() -> dict[str, str]:
    """The batch job this process runs in: ``{"slurm": "123"}``, empty outside any.

    Examples
    --------
    >>> import os
    >>> os.environ["SLURM_JOB_ID"] = "42"; driver_job()["slurm"]
    '42'
    >>> del os.environ["SLURM_JOB_ID"]
    """
    found = {system: os.environ[name] for system, name in JOB_ENV.items() if os.environ.get(name)}
    if os.environ.get("SLURM_RESTART_COUNT"):
        found["slurm_restart_count"] = os.environ["SLURM_RESTART_COUNT"]
    return found


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _append(folder: Path, record: dict[str, Any], fresh: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / FILE, "w" if fresh else "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, default=str) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def begin(folder: Path, *, kind: str, resume: bool, command: list[str]) -> int:
    """Record the start of an attempt; returns its number (1 for a fresh run).

    A run that is not a resume starts the history afresh.
    """
    number = len(history(folder)) + 1 if resume else 1
    _append(folder, {"attempt": number, "event": "start", "time": _now(), "kind": kind,
                     "resume": resume, "command": command, "job": driver_job()},
            fresh=not resume)
    return number


def end(folder: Path, number: int, *, n_starts: int, stop_reason: str) -> None:
    """Record how attempt ``number`` ended: starts solved in all, the stop reason."""
    _append(folder, {"attempt": number, "event": "end", "time": _now(),
                     "starts_solved": n_starts, "stop_reason": stop_reason})


def history(folder: Path) -> list[dict[str, Any]]:
    """Every attempt recorded in ``folder``, oldest first, start and end merged.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> n = begin(d, kind="slurm", resume=False, command=["multistart", "run", "c.yaml"])
    >>> end(d, n, n_starts=10, stop_reason="interrupted")
    >>> n = begin(d, kind="local", resume=True, command=["multistart", "run", "--resume"])
    >>> [(a["attempt"], a["kind"], a.get("stop_reason")) for a in history(d)]
    [(1, 'slurm', 'interrupted'), (2, 'local', None)]
    """
    merged: dict[int, dict[str, Any]] = {}
    try:
        lines = (Path(folder) / FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
            number = int(record.pop("attempt"))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a torn last line of a killed attempt
        event = record.pop("event", None)
        entry = merged.setdefault(number, {"attempt": number})
        if event == "end":
            entry.update(end=record.get("time"), starts_solved=record.get("starts_solved"),
                         stop_reason=record.get("stop_reason"))
        else:
            record["start"] = record.pop("time", None)
            entry.update(record)
    return [merged[n] for n in sorted(merged)]
