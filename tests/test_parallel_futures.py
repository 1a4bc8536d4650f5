"""Runs on concurrent.futures pools: real process pools (forkserver) and thread pools.

The same answers as on Dask, a start that raises or kills its worker fails alone, max_time
holds, and the pool passed in is used and left running.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from runfiles import DATA

import engine
from engine.exceptions import ClusterError
from engine.parallel.clusters import open_executor
from engine.parallel.futures import FuturesExecutor, pool_size, replacement_factory
from engine.problem import load_callable

BOX = [(-5.0, 5.0), (-5.0, 5.0)]
TRAP = [0.1, 0.1]  # slow_objectives.TRAP: where the data objectives misbehave
HIMMELBLAU = [(3.0, 2.0), (-2.805118, 3.131313), (-3.779310, -3.283186), (3.584428, -1.848127)]


def data_objective(name: str):
    """A function of tests/data/slow_objectives.py, sent to the workers by value."""
    return load_callable(f"{DATA}:{name}")


def assert_himmelblau(minima) -> None:
    assert len(minima) == 4
    for m in minima:
        assert min(np.max(np.abs(m.x - np.array(known))) for known in HIMMELBLAU) < 1e-5


def process_pool(n: int = 2) -> ProcessPoolExecutor:
    # Not fork: the test process runs threads (a Dask cluster, pytest's timeout thread), and
    # forking a threaded process can deadlock its children.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(n, mp_context=multiprocessing.get_context(method))


@pytest.fixture(scope="module")
def processes():
    with process_pool() as pool:
        yield pool


@pytest.fixture(params=["processes", "threads"])
def pool(request, processes):
    if request.param == "processes":
        yield processes
        return
    with ThreadPoolExecutor(2) as threads:
        yield threads


def test_himmelblau_four_minima_on_a_pool_same_as_serial(pool):
    fun = data_objective("himmelblau")
    res = engine.minimize(fun, BOX, n_starts=64, seed=3, client=pool)
    serial = engine.minimize(fun, BOX, n_starts=64, seed=3, client="serial")
    assert_himmelblau(res.minima)
    assert res.n_starts == 64 and res.n_failed == 0
    assert sorted(r.index for r in res.runs) == list(range(64))
    assert [m.starts for m in res.minima] == [m.starts for m in serial.minima]
    cluster = res.provenance["cluster"]
    assert cluster["kind"] == "futures" and cluster["n_workers"] == 2
    assert cluster["pool"] == type(pool).__name__
    assert pool.submit(sum, [1, 2]).result() == 3  # the pool is left running


def test_a_journal_written_on_a_pool_resumes_anywhere_with_nothing_solved_again(processes,
                                                                                 tmp_path):
    """client= any concurrent.futures pool keeps the journal rules: a run journaled on a
    process pool and resumed in this process solves no start twice and gives the minima of
    an uninterrupted serial run with the same seed."""
    path, log = tmp_path / "runs.jsonl", tmp_path / "calls.log"
    logged = data_objective("logged_himmelblau")
    on_pool = engine.minimize(logged, BOX, n_starts=24, seed=5, client=processes,
                              journal=path, args=(str(log),))
    assert log.read_text().count("\n") == on_pool.nfev + on_pool.provenance["merge"][
        "evaluations"]  # every call counted, in whichever process it ran
    log.unlink()
    resumed = engine.minimize(logged, BOX, n_starts=24, seed=5, client="serial",
                              journal=path, args=(str(log),))
    serial = engine.minimize(data_objective("himmelblau"), BOX, n_starts=24, seed=5,
                             client="serial")
    assert_himmelblau(resumed.minima)
    # Nothing solved again: the only calls are the second merge's segment checks.
    calls = log.read_text().count("\n") if log.exists() else 0
    assert calls == resumed.provenance["merge"]["evaluations"]
    assert sorted(r.index for r in resumed.runs) == list(range(24))
    assert ([m.starts for m in resumed.minima] == [m.starts for m in on_pool.minima]
            == [m.starts for m in serial.minima])


def test_lambda_objective_travels_to_worker_processes(processes):
    offset = 0.25
    res = engine.minimize(lambda x: float((x[0] - offset) ** 2), [(-1, 1)], n_starts=6,
                          seed=0, client=processes)
    assert res.x == pytest.approx([0.25], abs=1e-6) and res.n_failed == 0


def test_a_start_that_raises_fails_alone(pool):
    fun, _ = data_objective("faulty")("raises")
    res = engine.minimize(fun, BOX, x0=[TRAP], n_starts=12, seed=3, client=pool)
    assert [r.index for r in res.runs] == list(range(13))
    assert not res.runs[0].success
    assert "ZeroDivisionError: division by zero near the trap" in res.runs[0].error
    assert res.n_failed == 1 and all(r.success for r in res.runs[1:])


def test_exploration_sample_is_evaluated_on_the_pool(pool):
    fun = data_objective("himmelblau")
    res = engine.minimize(fun, BOX, max_evals=3000, seed=1, client=pool)
    assert res.n_explore > 0 and res.nfev <= 3000 + 200
    assert any(np.max(np.abs(m.x - np.array([3.0, 2.0]))) < 1e-5 for m in res.minima)


def test_objective_of_a_process_pool_run_never_runs_in_the_driver(processes, tmp_path):
    driver, marker = os.getpid(), tmp_path / "called-in-driver"
    himmelblau = data_objective("himmelblau")

    def fun(x):
        if os.getpid() == driver:
            marker.touch()
        return himmelblau(x)

    res = engine.minimize(fun, BOX, max_evals=3000, seed=0, client=processes)
    assert res.n_explore > 0 and len(res.minima) == 4
    assert not marker.exists(), "the objective ran in the driver process"


def test_max_time_ends_a_run_on_a_pool(processes):
    fun = data_objective("slow_himmelblau")
    started = time.monotonic()
    res = engine.minimize(fun, BOX, n_starts=100_000, seed=2, client=processes, max_time=1.5)
    assert time.monotonic() - started < 10
    assert res.stop_reason == "max_time" and 0 < res.n_starts < 100_000
    assert len({r.index for r in res.runs}) == res.n_starts


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="kills worker processes with SIGKILL")
def test_start_that_kills_its_worker_fails_alone_and_the_pool_is_replaced():
    fun = data_objective("deadly_himmelblau")
    seen = []
    with process_pool() as pool:
        executor = FuturesExecutor(pool)
        res = engine.minimize(fun, BOX, x0=[TRAP, [3.1, 2.1]], n_starts=40, seed=1,
                              client=executor, callback=lambda s: seen.append(s.run.index))
        assert executor.current_pool() is not pool  # the broken one was replaced...
        executor.close()
        assert executor.current_pool() is pool  # ...and the replacement shut down
    assert sorted(r.index for r in res.runs) == list(range(42))
    assert len(seen) == len(set(seen)) == 42  # none counted twice
    deadly = res.runs[0]
    assert not deadly.success and deadly.nfev == 0
    assert "died every time it was tried" in deadly.message
    assert "BrokenProcessPool" in deadly.error and "attempts alone" in deadly.error
    assert res.n_failed == 1  # the starts lost beside it were solved again
    assert res.runs[1].success and np.allclose(res.runs[1].x, [3.0, 2.0], atol=1e-5)
    assert_himmelblau(res.minima)


def test_a_pool_that_was_shut_down_is_a_clear_cluster_error():
    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    with pytest.raises(ClusterError, match="ThreadPoolExecutor cannot take tasks"):
        engine.minimize(lambda x: float(x[0] ** 2), [(-1, 1)], n_starts=2, client=pool)


def test_open_executor_wraps_a_pool_without_closing_it():
    with ThreadPoolExecutor(3) as pool:
        with open_executor(pool) as executor:
            assert executor.kind == "futures" and executor.describe()["n_workers"] == 3
        assert pool.submit(sum, [1, 1]).result() == 2
        with open_executor(executor) as same:  # an executor passes through as it is
            assert same is executor


def test_pool_size_and_replacement_of_process_pools_only(processes):
    assert pool_size(processes) == 2
    with ThreadPoolExecutor(5) as threads:
        assert pool_size(threads) == 5 and replacement_factory(threads) is None
    factory = replacement_factory(processes)
    assert factory is not None
    copy = factory()
    try:
        assert pool_size(copy) == 2
        assert copy._mp_context is processes._mp_context
    finally:
        copy.shutdown()
