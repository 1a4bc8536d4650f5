"""The worker jobs of one batch-system run: which were submitted, which were refused, and
their cancellation whatever way the driver ends.

:class:`JobRegistry` keeps the job IDs in a file beside a watchdog process
(:mod:`engine.parallel.reaper`) that cancels them if the driver dies without closing its
cluster, and cancels them itself at interpreter exit. :func:`tracked_job_class` makes the
dask-jobqueue job class report to it, so that a job the batch system refuses (a bad walltime,
an unknown partition) ends the run with the batch system's own message instead of a run that
waits for workers forever.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import engine.parallel.reaper as _reaper

#: Seconds a driver may run no Python (stopped, deadlocked) before its jobs are cancelled.
DRIVER_TIMEOUT_S = 300.0
#: SLURM reasons for a pending job that will not start whatever the wait.
HOPELESS_REASONS = (
    "PartitionTimeLimit", "PartitionNodeLimit", "PartitionConfig", "InvalidAccount",
    "InvalidQOS", "QOSMaxWallDurationPerJobLimit", "BadConstraints", "AccountNotAllowed",
    "QOSNotAllowed", "ReqNodeNotAvail", "JobHeldAdmin", "JobHeldUser",
)


#: Every job ID submitted by this process, for the result's provenance.
_SUBMITTED: list[str] = []


def submitted_job_ids() -> list[str]:
    """The IDs of every worker job this process submitted, oldest first."""
    return list(_SUBMITTED)


class JobRegistry:
    """The job IDs a driver submitted, cancelled if the driver ends without cancelling them.

    Parameters
    ----------
    cancel_command : str
        The batch system's cancel command (``scancel``, ``qdel``, ...).
    reaper : bool
        Start the watchdog process that cancels the jobs after a ``kill -9`` of the driver.
    frozen_s : float
        Seconds after which the watchdog cancels the jobs of a driver that runs no Python
        any more (stopped, deadlocked); the driver shows it is alive every few seconds.

    Examples
    --------
    >>> registry = JobRegistry("true", reaper=False)
    >>> registry.add("12"); registry.job_ids
    ['12']
    >>> registry.close(); registry.path.exists()
    False
    """

    def __init__(self, cancel_command: str, *, reaper: bool = True,
                 frozen_s: float = DRIVER_TIMEOUT_S) -> None:
        self.cancel = shlex.split(cancel_command)
        self.job_ids: list[str] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        folder = Path(tempfile.mkdtemp(prefix="multistart-jobs-"))
        self.path = folder / "job_ids"
        self.path.write_text("")
        self._process: subprocess.Popen[bytes] | None = None
        if reaper and shutil.which(self.cancel[0]) is not None:
            self._process = subprocess.Popen(
                [sys.executable, _reaper.__file__, str(os.getpid()), str(self.path),
                 str(frozen_s), *self.cancel],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True)
        self._closed = threading.Event()
        self._beat = min(5.0, frozen_s / 3)
        threading.Thread(target=self._heartbeat, name="multistart-job-registry",
                         daemon=True).start()
        atexit.register(self.close)

    def _heartbeat(self) -> None:
        """Touch the file while this process runs Python (see engine.parallel.reaper)."""
        while not self._closed.wait(self._beat):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def add(self, job_id: str) -> None:
        """Record a submitted job (appended to the file the watchdog reads)."""
        with self._lock:
            self.job_ids.append(str(job_id))
            _SUBMITTED.append(str(job_id))
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(f"{job_id}\n")

    def refused(self, message: str) -> None:
        """Record the batch system's message for a job it would not take."""
        with self._lock:
            self.errors.append(message)

    def close(self) -> None:
        """Cancel every recorded job still known to the batch system, stop the watchdog."""
        atexit.unregister(self.close)
        self._closed.set()
        with self._lock:
            ids, self.job_ids = list(self.job_ids), []
        if ids and shutil.which(self.cancel[0]) is not None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run([*self.cancel, *ids], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False, timeout=60)
        self.path.unlink(missing_ok=True)  # the watchdog leaves when the file is gone
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
            self._process = None


def submission_message(exc: BaseException) -> str:
    """The batch system's own words in dask-jobqueue's error for a refused submission."""
    text = str(exc)
    if "stderr:" in text:
        text = text.split("stderr:", 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " / ".join(lines) or f"{type(exc).__name__}: {exc}"


def tracked_job_class(base: type, registry: JobRegistry) -> type:
    """A subclass of the dask-jobqueue job class ``base`` that reports to ``registry``."""

    class TrackedJob(base):  # type: ignore[misc, valid-type]
        async def start(self) -> None:
            try:
                await super().start()
            except Exception as exc:
                registry.refused(submission_message(exc))
                raise
            if getattr(self, "job_id", None):
                registry.add(self.job_id)

    TrackedJob.__name__ = TrackedJob.__qualname__ = f"Tracked{base.__name__}"
    return TrackedJob


def slurm_states(job_ids: list[str]) -> list[tuple[str, str, str]]:
    """``(state, reason, partition)`` of each listed SLURM job squeue still knows."""
    if not job_ids or shutil.which("squeue") is None:
        return []
    try:
        out = subprocess.run(["squeue", "-h", "-j", ",".join(job_ids), "-o", "%T|%r|%P"],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [line.split("|") for line in out.splitlines() if line.count("|") == 2]
    return [(r[0], r[1], r[2]) for r in rows]


def queue_summary(kind: str, job_ids: list[str], queue: Any) -> str:
    """One line on the worker jobs, e.g. ``2 worker jobs pending in queue debug (Resources)``.

    Examples
    --------
    >>> queue_summary("pbs", ["1", "2"], "workq")
    '2 worker jobs submitted to queue workq, none has joined yet'
    """
    where = f" in queue {queue}" if queue else ""
    if kind != "slurm":
        to = f" to queue {queue}" if queue else ""
        return f"{len(job_ids)} worker jobs submitted{to}, none has joined yet"
    states = slurm_states(job_ids)
    if not states:
        return f"{len(job_ids)} worker jobs submitted{where}, none in squeue"
    parts = []
    for state in sorted({s for s, _, _ in states}):
        reasons = sorted({r for s, r, _ in states if s == state and r not in ("None", "")})
        count = sum(1 for s, _, _ in states if s == state)
        why = f" ({', '.join(reasons)})" if reasons else ""
        parts.append(f"{count} worker job{'s' if count > 1 else ''} {state.lower()}{why}")
    partition = queue or states[0][2]
    return f"{', '.join(parts)} in queue {partition}"


def hopeless(kind: str, job_ids: list[str]) -> str | None:
    """The SLURM reason when every listed job is pending for a reason no wait cures."""
    if kind != "slurm":
        return None
    states = slurm_states(job_ids)
    reasons = {r for s, r, _ in states if s == "PENDING"}
    if states and all(s == "PENDING" for s, _, _ in states) and reasons and all(
            any(r.startswith(h) for h in HOPELESS_REASONS) for r in reasons):
        return ", ".join(sorted(reasons))
    return None


#: Words of sbatch when it cannot reach the controller (no verdict on the job itself).
UNREACHABLE = ("Unable to contact", "Socket timed out", "Connection refused",
               "Zero Bytes were transmitted")


def dry_run_submit(kind: str, script: str) -> tuple[bool | None, str] | None:
    """Ask the batch system whether it would take ``script`` without submitting it.

    SLURM only (``sbatch --test-only``); None where that is not possible (another batch
    system, or no ``sbatch`` here). Returns (accepted, the batch system's message), with
    accepted None when the batch system could not be asked (its controller is down).
    """
    if kind != "slurm" or shutil.which("sbatch") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as handle:
        handle.write(script)
    try:
        proc = subprocess.run(["sbatch", "--test-only", handle.name], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        os.unlink(handle.name)
    message = " / ".join(line.strip() for line in (proc.stderr + proc.stdout).splitlines()
                         if line.strip())
    if proc.returncode != 0 and any(words in message for words in UNREACHABLE):
        return None, message
    return proc.returncode == 0, message
