"""A local cluster's scheduler in its own process (engine.parallel.scheduler_process).

Real clusters and real processes: where the scheduler runs is checked by asking it for its
process id, and a killed driver is a real ``kill -9``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from functions import get

import engine
from engine.api import planned_runs, resolve_spec
from engine.exceptions import ClusterError
from engine.options import StartOptions, StopOptions
from engine.parallel.clusters import open_executor, validate_cluster
from engine.parallel.scheduler_process import scheduler_process_class
from engine.problem import Problem


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return not alive(pid)


def test_default_local_cluster_runs_its_scheduler_apart_with_the_tuned_settings():
    prob = get("himmelblau")
    with engine.local_client(n_workers=2, dashboard_address=None) as client:
        scheduler_pid = client.run_on_scheduler(os.getpid)
        assert scheduler_pid != os.getpid()
        # The driver's Dask settings for the cluster reached the scheduler process too.
        assert client.run_on_scheduler(
            lambda: __import__("dask").config.get("distributed.admin.tick.interval")) == "500ms"
        res = engine.minimize(prob.fun, prob.bounds, n_starts=64, seed=0, client=client,
                              jac=prob.jac)
        assert len(res.minima) == 4 and res.n_failed == 0
        assert abs(res.fun - prob.f_min) < 1e-8
    assert wait_gone(scheduler_pid, 10), "closing the client left the scheduler running"


def test_scheduler_driver_keeps_it_in_this_process():
    with engine.local_client(n_workers=1, dashboard_address=None, scheduler="driver") as client:
        assert client.run_on_scheduler(os.getpid) == os.getpid()


def test_a_killed_driver_leaves_no_scheduler_or_worker_behind(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent("""
        import os, sys, time
        import engine

        if __name__ == "__main__":
            client = engine.local_client(n_workers=1, dashboard_address=None)
            workers = client.run(os.getpid)
            print(client.run_on_scheduler(os.getpid), *workers.values(), flush=True)
            time.sleep(600)
    """))
    driver = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              cwd=tmp_path)
    try:
        pids = [int(word) for word in driver.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    assert wait_gone(pids[0], 15), "the scheduler outlived its driver"
    assert wait_gone(pids[1], 15), "the worker outlived its driver"


def test_a_scheduler_that_cannot_start_says_why():
    async def start() -> None:
        await scheduler_process_class()({"protocol": "nosuchproto://", "host": "127.0.0.1"})

    with pytest.raises(RuntimeError, match=r"exited with code [1-9](.|\n)*nosuchproto"):
        asyncio.run(start())


@pytest.mark.parametrize(("body", "needles"), [
    ({"kind": "local", "scheduler": "thread"},
     ["cluster.scheduler='thread'", "'auto', 'process', 'driver'"]),
    ({"kind": "local", "scheduler": "process", "processes": False},
     ["cluster.scheduler='process' needs worker processes", "processes=True"]),
])
def test_bad_scheduler_place_is_refused_naming_the_key(body, needles):
    errors = validate_cluster(body)
    assert len(errors) == 1 and all(needle in errors[0] for needle in needles)
    with pytest.raises(ClusterError, match="scheduler="):
        engine.local_client(n_workers=1, scheduler=body["scheduler"],
                            processes=body.get("processes", True))


def test_threads_cluster_keeps_the_scheduler_in_memory():
    with engine.local_client(n_workers=1, processes=False, dashboard_address=None) as client:
        assert client.scheduler.address.startswith("inproc://")
        assert client.run_on_scheduler(os.getpid) == os.getpid()


@pytest.mark.parametrize(("planned", "apart"), [(64, False), (200_000, True)])
def test_a_run_that_starts_its_own_cluster_places_the_scheduler_by_its_size(planned, apart):
    """client=None and cluster: {kind: local}: a small run keeps the scheduler in the driver
    (a second quicker to start), a big one runs it apart (the driver's memory stays flat)."""
    with open_executor({"kind": "local", "n_workers": 1, "dashboard_address": None},
                       planned_runs=planned) as executor:
        assert (executor.client.run_on_scheduler(os.getpid) != os.getpid()) is apart


def test_planned_runs_counts_starts_x0_and_the_budget():
    problem = Problem.create(lambda x: float(x @ x), [(-1, 1)] * 3)
    spec = resolve_spec(problem, {"starts": StartOptions(n_starts=1000, x0=[[0, 0, 0]]),
                                  "stop": StopOptions(max_evals=400)})
    assert planned_runs(problem, spec) == 400 // 4 + 1 + 1
