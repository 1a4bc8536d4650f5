"""Cancel a driver's worker jobs when the driver dies or freezes:
``python reaper.py PID REGISTRY FROZEN_S CMD...``.

Started (in its own session, so that Ctrl-C does not reach it) by the driver of a
batch-system run. Every second it checks that process ``PID`` is alive and that the file
``REGISTRY`` still exists. When the file is gone the driver closed its cluster itself and
the reaper leaves; when the driver is gone (``kill -9``, out of memory, a crash), the reaper
runs ``CMD JOB_ID...`` (e.g. ``scancel 12 13``) on every job ID listed in the file, one a
line, removes the file and leaves. A pending worker job therefore never waits for a driver
that will not come back.

The driver touches the file every few seconds from a thread of its own; a file not touched
for ``FROZEN_S`` seconds means a driver that runs no Python any more (stopped with SIGSTOP
or Ctrl-Z, deadlocked): its jobs are cancelled too, so that they do not hold the allocation
until their walltime, and the reaper keeps watching (a driver that wakes up again submits
new jobs through its adaptive cluster).

Standard library only, and run by path: it needs nothing of the engine on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

POLL_S = 1.0


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def job_ids(registry: Path) -> list[str]:
    """The job IDs listed in ``registry`` (empty when it cannot be read)."""
    try:
        return [line.strip() for line in registry.read_text().splitlines() if line.strip()]
    except OSError:
        return []


def cancel_jobs(cancel: list[str], ids: list[str]) -> None:
    """Run the batch system's cancel command on ``ids`` (errors ignored: jobs may be gone)."""
    if ids:
        subprocess.run([*cancel, *ids], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False, timeout=60)


def watch(pid: int, registry: Path, frozen_s: float, cancel: list[str]) -> int:
    """Wait for the driver ``pid`` to end; cancel the registered jobs if it left them, and
    those of a driver frozen for ``frozen_s`` seconds."""
    cancelled: set[str] = set()
    while registry.exists():
        if not alive(pid):
            cancel_jobs(cancel, job_ids(registry))
            registry.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                registry.parent.rmdir()
            return 0
        try:
            quiet = time.time() - registry.stat().st_mtime
        except OSError:
            return 0
        if quiet > frozen_s:
            fresh = [i for i in job_ids(registry) if i not in cancelled]
            cancel_jobs(cancel, fresh)
            cancelled.update(fresh)
        time.sleep(POLL_S)
    return 0


if __name__ == "__main__":
    sys.exit(watch(int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]))
