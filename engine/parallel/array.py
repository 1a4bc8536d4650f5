"""A run as a SLURM job array: no daemon, no listening port, one serial slice per task.

Task ``k`` of ``n`` solves the starts whose index ``i`` has ``i % n == k``, in its own
process with the serial executor, and journals them under ``OUT/tasks/task-k/``. Start ``i``
gets the same run wherever it is solved (its own child of the seed), so the runs of all tasks
together are the runs of one Dask run of the same config; ``multistart merge OUT`` ranks
them into the same ``result.json`` and ``minima.csv``.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.exceptions import ClusterError
from engine.options import LocalOptions
from engine.parallel.base import Executor, Start
from engine.problem import Problem
from engine.results.types import LocalRun

#: What an array task runs on: the engine's own stop rules that need the whole run's
#: results are refused (each task would apply them to its slice only).
WHOLE_RUN_STOP_RULES = ("max_evals", "target", "max_discoveries", "bayes",
                        "max_evals_without_improvement")


class SliceExecutor:
    """An executor that solves only the starts ``keep(index)`` accepts, on ``inner``.

    The others are left out without a run, as if the run had stopped before them: a task of
    an array solves its slice; ``keep=lambda i: False`` solves nothing (a merge of journals).

    Examples
    --------
    >>> from engine.parallel.serial import SerialExecutor
    >>> ex = SliceExecutor(SerialExecutor(), lambda i: i % 2 == 1)
    >>> isinstance(ex, Executor), ex.kind
    (True, 'serial')
    """

    def __init__(self, inner: Executor, keep: Callable[[int], bool]) -> None:
        self.inner = inner
        self.keep = keep
        self.kind = inner.kind

    def run(self, problem: Problem, opts: LocalOptions, starts: Iterator[Start],
            total: int | None = None, timeout: float | None = None,
            ) -> Iterator[list[LocalRun]]:
        mine = (start for start in starts if self.keep(start[0]))
        return self.inner.run(problem, opts, mine, total=None, timeout=timeout)

    def evaluate(self, problem: Problem, points: np.ndarray, vectorized: bool,
                 timeout: float | None = None) -> np.ndarray:
        return self.inner.evaluate(problem, points, vectorized, timeout=timeout)

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "slice": True}

    def close(self) -> None:
        self.inner.close()


def task_slice(task: int, n_tasks: int) -> Callable[[int], bool]:
    """Which start indices task ``task`` of ``n_tasks`` solves.

    Examples
    --------
    >>> [i for i in range(10) if task_slice(1, 4)(i)]
    [1, 5, 9]
    """
    return lambda index: index % n_tasks == task


def task_of(index: int, n_tasks: int) -> int:
    """The task that solves start ``index``."""
    return index % n_tasks


def task_dir(out_dir: Path, task: int) -> Path:
    """The folder of task ``task``'s journal, result and log."""
    return Path(out_dir) / "tasks" / f"task-{task}"


def array_problems(strategy: str, stop: Any) -> list[str]:
    """Why a run with this strategy and these stop rules cannot be split into array tasks."""
    errors = []
    if strategy != "all":
        errors.append(f"search.strategy={strategy!r} cannot run as a job array (its starts "
                      "depend on earlier results); use strategy: all, or multistart run")
    for name in WHOLE_RUN_STOP_RULES:
        value = getattr(stop, name, None)
        if value is not None and value is not False:
            errors.append(f"stop.{name}={value!r} needs the whole run's results and cannot "
                          "apply to array tasks; remove it (stop.max_time applies per task)")
    return errors


def _directives(cluster: dict[str, Any]) -> list[str]:
    """#SBATCH lines for each task, from a ``kind: slurm`` cluster block where there is one."""
    from dask.utils import parse_bytes  # dask: a dependency of every cluster kind but serial

    body = cluster if cluster.get("kind") == "slurm" else {}
    lines = [f"--time={body.get('walltime', '01:00:00')}",
             f"--cpus-per-task={body.get('cores', 1)}",
             f"--mem={max(1, parse_bytes(str(body.get('memory', '2GB'))) // 2**20)}M"]
    if body.get("queue"):
        lines.append(f"--partition={body['queue']}")
    if body.get("account"):
        lines.append(f"--account={body['account']}")
    lines += list(body.get("job_extra_directives") or [])
    return lines


def array_script(config: Path, out_dir: Path, n_tasks: int, cluster: dict[str, Any],
                 python: str = sys.executable, workdir: Path | None = None) -> str:
    """The SLURM batch script of an array of ``n_tasks`` tasks (one serial slice each).

    Examples
    --------
    >>> script = array_script(Path("/c.yaml"), Path("/out"), 4, {"kind": "local"},
    ...                       python="python", workdir=Path("/w"))
    >>> "#SBATCH --array=0-3" in script, "--task \\"$SLURM_ARRAY_TASK_ID\\"" in script
    (True, True)
    """
    out_dir = Path(out_dir)
    lines = ["#!/usr/bin/env bash",
             f"# A multistart run as a SLURM job array of {n_tasks} tasks: each solves its own",
             "# slice of the starts (serial executor) into OUT/tasks/task-K/; then:",
             f"#   multistart merge {out_dir}",
             "#SBATCH --job-name=multistart-array",
             f"#SBATCH --array=0-{n_tasks - 1}",
             "#SBATCH --ntasks=1",
             f"#SBATCH --output={out_dir}/tasks/task-%a.log",
             "#SBATCH --open-mode=append",
             *(f"#SBATCH {line}" for line in _directives(cluster)),
             "set -euo pipefail",
             f"cd {shlex.quote(str(workdir or Path.cwd()))}",
             "export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1",
             f"exec {shlex.quote(python)} -m engine.cli array {shlex.quote(str(config))} "
             f"--tasks {n_tasks} --task \"$SLURM_ARRAY_TASK_ID\" --out "
             f"{shlex.quote(str(out_dir))}",
             ""]
    return "\n".join(lines)


def submit_array(script: Path, tasks: list[int] | None = None) -> str:
    """Submit ``script`` with ``sbatch`` (only array indices ``tasks`` when given); its job ID.
    """
    if shutil.which("sbatch") is None:
        raise ClusterError("multistart array needs SLURM's sbatch on this host; with "
                           "--dry-run the script is printed instead of submitted")
    command = ["sbatch", "--parsable"]
    if tasks is not None:
        command.append(f"--array={','.join(str(t) for t in tasks)}")
    proc = subprocess.run([*command, str(script)], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise ClusterError(f"sbatch refused the job array: {proc.stderr.strip()}; fix the "
                           "cluster: block (walltime, queue, memory) and submit again")
    return proc.stdout.strip().split(";")[0]


def resubmit_command(script: Path, tasks: list[int]) -> str:
    """The command that submits only the array tasks ``tasks`` again.

    Examples
    --------
    >>> resubmit_command(Path("/out/array.sh"), [1, 3])
    'sbatch --array=1,3 /out/array.sh'
    """
    return f"sbatch --array={','.join(str(t) for t in tasks)} {shlex.quote(str(script))}"
