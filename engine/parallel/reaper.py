"""Cancel a driver's worker jobs when the driver dies: ``python reaper.py PID REGISTRY CMD...``.

Started (in its own session, so that Ctrl-C does not reach it) by the driver of a
batch-system run. Every second it checks that process ``PID`` is alive and that the file
``REGISTRY`` still exists. When the file is gone the driver closed its cluster itself and
the reaper leaves; when the driver is gone (``kill -9``, out of memory, a crash), the reaper
runs ``CMD JOB_ID...`` (e.g. ``scancel 12 13``) on every job ID listed in the file, one a
line, removes the file and leaves. A pending worker job therefore never waits for a driver
that will not come back.

Standard library only, and run by path: it needs nothing of the engine on ``sys.path``.
"""

from __future__ import annotations

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


def watch(pid: int, registry: Path, cancel: list[str]) -> int:
    """Wait for the driver ``pid`` to end; cancel the registered jobs if it left them."""
    while registry.exists():
        if not alive(pid):
            ids = job_ids(registry)
            if ids:
                subprocess.run([*cancel, *ids], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False, timeout=60)
            registry.unlink(missing_ok=True)
            return 0
        time.sleep(POLL_S)
    return 0


if __name__ == "__main__":
    sys.exit(watch(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]))
