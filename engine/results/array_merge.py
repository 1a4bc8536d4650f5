"""The journals of a job array's tasks as one run journal (``multistart merge``).

Each task records its slice of the starts under ``OUT/tasks/task-K/`` (``runs/`` segments or
``journal.jsonl``). :func:`merge_journals` writes every run of every task, each start once and
in index order, into the run history of ``OUT`` under the run's fingerprint; resuming the run
from it then solves nothing and ranks the minima as one run would. Missing or partial tasks
are tolerated: what they lack is reported as the starts (and tasks) still to solve.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from engine.exceptions import JournalError
from engine.results.rundir import (
    JOURNAL,
    has_history,
    header,
    open_history,
    read_history,
    runs_dir,
)
from engine.results.types import LocalRun


@dataclass
class MergeReport:
    """What a merge found: runs merged, the tasks whose journal was there, what is missing."""

    n_runs: int = 0
    tasks_found: list[int] = field(default_factory=list)
    missing_starts: list[int] = field(default_factory=list)

    def missing_tasks(self, n_tasks: int) -> list[int]:
        """The array indices whose task must run (again) to solve the missing starts."""
        return sorted({index % n_tasks for index in self.missing_starts})


def merge_journals(out_dir: Path, n_tasks: int, fingerprint: str, total: int) -> MergeReport:
    """Write the run history of ``out_dir`` from the task histories (Parquet segments or JSONL
    journals, see :mod:`engine.results.rundir`); what was found and is missing.

    A task journal of another fingerprint (another config or objective) is an error; a task
    journal missing or torn counts as the starts it lacks.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from engine.results.journal import Journal
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> with Journal(out / "tasks" / "task-1" / "journal.jsonl", "fp", resume=False) as j:
    ...     j.append(LocalRun(1, np.zeros(1), np.ones(1), 1.0, 5, 2, True, "ok"))
    >>> report = merge_journals(out, 2, "fp", total=4)
    >>> report.n_runs, report.tasks_found, report.missing_starts, report.missing_tasks(2)
    (1, [1], [0, 2, 3], [0, 1])
    """
    runs: dict[int, LocalRun] = {}
    found = []
    for task in range(n_tasks):
        folder = Path(out_dir) / "tasks" / f"task-{task}"
        if not has_history(folder):
            continue
        found_print = header(folder).get("fingerprint")
        if found_print != fingerprint:
            raise JournalError(
                f"array task {task}: its run history in {str(folder)!r} belongs to a different "
                f"run (fingerprint {found_print!r}, this run is {fingerprint!r}); run that task "
                "again, or merge into another output directory")
        for run in read_history(folder):
            runs.setdefault(run.index, run)
        found.append(task)
    # Derived from the task histories: made afresh each merge.
    (Path(out_dir) / JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(runs_dir(out_dir), ignore_errors=True)
    with open_history(out_dir, fingerprint, resume=False, force=False,
                      meta={"merged_tasks": found}) as merged:
        merged.extend([runs[index] for index in sorted(runs)])
    return MergeReport(n_runs=len(runs), tasks_found=found,
                       missing_starts=[i for i in range(total) if i not in runs])
