"""Starts stuck inside one objective call that ``start_timeout`` cannot interrupt.

A call blocked in C code (here ``time.sleep(60)``) ends only when it returns. On a cluster
the start's worker is restarted once the start is past ``start_timeout`` plus a grace, the
start is recorded as timed out, its chunk-mates are solved again and the run goes on; in
this process (``client="serial"``), ``max_time`` still ends the run. Workers are real
``distributed.LocalCluster`` processes with nannies; each test that restarts workers has a
cluster of its own, so no other test meets a worker in the middle of a restart.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import numpy as np
import pytest
from runfiles import DATA

import engine
from engine.options import LocalOptions
from engine.parallel.chunking import ChunkSizer
from engine.parallel.hangs import hang_limit
from engine.parallel.serial import SerialExecutor
from engine.parallel.window import ChunkWindow, Hung
from engine.problem import Problem, load_callable
from engine.results.types import LocalRun

BOX = [(-5.0, 5.0), (-5.0, 5.0)]
TRAP = [0.1, 0.1]  # slow_objectives.TRAP: where the objectives below get stuck
HIMMELBLAU = [(3.0, 2.0), (-2.805118, 3.131313), (-3.779310, -3.283186), (3.584428, -1.848127)]


def data_objective(name: str):
    """A function of tests/data/slow_objectives.py, sent to workers by value."""
    return load_callable(f"{DATA}:{name}")


def assert_all_four_minima(minima) -> None:
    assert len(minima) == 4
    for m in minima:
        assert min(float(np.max(np.abs(m.x - np.array(k)))) for k in HIMMELBLAU) < 1e-5


def cluster_client():
    """A fresh 2-worker cluster (worker processes, each with a nanny) and its client."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                           silence_logs=logging.CRITICAL)
    return cluster, Client(cluster)


def starts_with_traps_at(positions: list[int], n: int, seed: int = 5) -> list[list[float]]:
    """``n`` user start points in the box, ``TRAP`` at ``positions``, the others random."""
    points = np.random.default_rng(seed).uniform(-4.5, 4.5, size=(n, 2)).tolist()
    for position in positions:
        points[position] = list(TRAP)
    return points


# ======================================================================== on a cluster


@pytest.mark.slow
def test_starts_blocked_in_c_get_their_workers_restarted_and_the_run_goes_on():
    # Two starts stuck in time.sleep(60) on a 2-worker cluster: before, neither worker ever
    # came back and no start finished until the calls returned. The traps sit among user
    # starts so that the second one is sent in a chunk of several starts.
    fun = data_objective("sleepy_himmelblau")
    x0 = starts_with_traps_at([0, 25], 30)
    seen: list[int] = []
    cluster, client = cluster_client()
    with cluster, client:
        pids = set(client.run(os.getpid).values())
        started = time.monotonic()
        res = engine.minimize(fun, BOX, x0=x0, n_starts=60, seed=2, client=client,
                              start_timeout=1.0, callback=lambda s: seen.append(s.run.index))
        took = time.monotonic() - started
        client.wait_for_workers(2, timeout=30)
        # Both workers were restarted (new processes), and each runs tasks again.
        assert not pids & set(client.run(os.getpid).values())
        for address in client.scheduler_info()["workers"]:
            assert client.submit(sum, [1, 2], workers=[address], pure=False).result(10) == 3
    assert took < 30, f"the run took {took:.1f} s"
    assert [r.index for r in res.runs] == list(range(90))
    assert len(seen) == len(set(seen)) == 90  # chunk-mates re-run, none counted twice
    for index in (0, 25):
        hung = res.runs[index]
        assert not hung.success and hung.nfev == 0
        assert hung.error.startswith(
            "TimeoutError: start_timeout=1 s reached inside a call that did not return")
        assert hung.error.endswith("worker restarted")
        assert hung.message.startswith("timed out")
    assert res.n_failed == 2 and res.stop_reason == "n_starts"
    assert all(r.success for r in res.runs if r.index not in (0, 25))
    assert_all_four_minima(res.minima)


@pytest.mark.slow
def test_start_holding_the_interpreter_lock_is_found_and_its_worker_restarted():
    # A C loop that never releases the GIL stops the worker's event loop too: the worker
    # cannot say which start it runs, so its tasks are lost with it and re-run one start at a
    # time; the stuck one is then recorded as timed out.
    fun = data_objective("gil_holding_himmelblau")
    cluster, client = cluster_client()
    with cluster, client:
        started = time.monotonic()
        res = engine.minimize(fun, BOX, x0=[TRAP], n_starts=20, seed=3, client=client,
                              start_timeout=1.0)
        took = time.monotonic() - started
    assert took < 60, f"the run took {took:.1f} s"
    assert [r.index for r in res.runs] == list(range(21))
    stuck = res.runs[0]
    assert not stuck.success
    assert stuck.error.startswith("TimeoutError: start_timeout=1 s reached inside a call that "
                                  "held the interpreter lock")
    assert res.n_failed == 1 and all(r.success for r in res.runs[1:])
    assert_all_four_minima(res.minima)


def test_start_timeout_on_a_run_that_keeps_to_it_restarts_no_worker(dask_client):
    pids = dask_client.run(os.getpid)
    res = engine.minimize(data_objective("slow_himmelblau"), BOX, n_starts=40, seed=1,
                          client=dask_client, start_timeout=0.5)
    assert res.n_failed == 0 and res.stop_reason == "n_starts"
    assert dask_client.run(os.getpid) == pids


def test_hang_limit_leaves_the_solve_watchdog_time_to_act_first():
    # The solve interrupts a call spinning in Python at 1.5 x start_timeout (plus 50 ms):
    # only a call that cannot be interrupted must cost a worker restart.
    for start_timeout in (0.01, 0.5, 1.0, 3.0, 4.0, 10.0, 1000.0):
        assert hang_limit(start_timeout) > 1.5 * start_timeout + 0.05


# ======================================================================== the window


class StuckOnce:
    """Chunk tasks in this process, where the task holding start 3 comes back :class:`Hung`
    the first time (as the Dask executor reports a start stuck inside a call)."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []
        self.chunks: dict[int, list] = {}  # future (a number) -> its chunk

    def slots(self) -> int:
        return 1

    def submit(self, chunk):
        self.sent.append([index for index, _ in chunk])
        self.chunks[len(self.sent)] = chunk
        return len(self.sent)

    def submit_many(self, chunks):
        return [self.submit(chunk) for chunk in chunks]

    def next_done(self):
        return min(self.chunks, default=None)

    def outcome(self, future):
        chunk = self.chunks.pop(future)
        indices = [index for index, _ in chunk]
        if 3 in indices and sum(3 in sent for sent in self.sent) == 1:
            return Hung(indices.index(3), "TimeoutError: stuck; worker restarted")
        return [LocalRun(index, x0, x0, 0.0, 1, 1, True, "ok") for index, x0 in chunk]

    def cancel(self, futures) -> None:
        pass


def test_window_records_a_hung_start_once_and_solves_its_chunk_mates_again():
    problem = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    tasks = StuckOnce()
    sizer = ChunkSizer(1, target_seconds=1.0)
    sizer.observe(10, 0.01)  # cheap starts: chunks of several starts from the first one
    starts = [(i, np.array([i / 10])) for i in range(8)]
    runs = [run for batch in ChunkWindow(tasks, problem, iter(starts), 8, sizer)
            for run in batch]
    assert sorted(run.index for run in runs) == list(range(8))
    (hung,) = [run for run in runs if not run.success]
    assert hung.index == 3 and hung.message == "timed out: TimeoutError: stuck; worker restarted"
    holding_3 = [sent for sent in tasks.sent if 3 in sent]
    assert len(holding_3) == 1 and len(holding_3[0]) > 1, tasks.sent  # never sent again
    assert [i for i in holding_3[0] if i != 3] in tasks.sent  # its chunk-mates, together


# ======================================================================== in this process


def test_serial_max_time_ends_a_run_stuck_in_a_blocked_call():
    fun = data_objective("sleepy_himmelblau")  # time.sleep(60) at TRAP
    started = time.monotonic()
    res = engine.minimize(fun, BOX, x0=[[3.1, 2.1], TRAP, [-3.0, 3.0]], n_starts=5, seed=1,
                          client="serial", max_time=2.0)
    took = time.monotonic() - started
    assert took < 3.5, f"the run took {took:.1f} s"
    assert res.stop_reason == "max_time"
    # The start before the stuck one is kept; the stuck one is not finished, so not recorded
    # (a resumed run solves it again), and nothing after it began.
    assert [r.index for r in res.runs] == [0] and res.runs[0].success


def test_serial_helper_thread_stops_when_the_blocked_call_returns():
    calls, threads = [], set()

    def fun(x):
        calls.append(1)
        threads.add(threading.current_thread())
        if len(calls) == 5:
            time.sleep(1.5)  # blocked in C past max_time
        return float(x[0] ** 2 + x[1] ** 2)

    res = engine.minimize(fun, BOX, x0=[[1.0, 1.0]], n_starts=0, client="serial",
                          max_time=0.5)
    assert res.stop_reason == "max_time" and len(res.runs) == 0
    (helper,) = threads
    assert helper is not threading.main_thread()
    helper.join(timeout=5)
    # Given up on, the solve stopped at its first line of Python after the call returned.
    assert not helper.is_alive() and len(calls) == 5


def test_serial_evaluate_gives_up_at_its_timeout():
    problem = Problem.create(data_objective("sleepy_himmelblau"), BOX)
    points = np.array([[3.0, 2.0], TRAP, [1.0, 1.0]])
    started = time.monotonic()
    values = SerialExecutor().evaluate(problem, points, vectorized=False, timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert np.isinf(values).all() and values.shape == (3,)
    quick = SerialExecutor().evaluate(problem, points[[0, 2]], vectorized=False, timeout=5.0)
    np.testing.assert_allclose(quick, [0.0, 106.0])


def test_serial_without_max_time_solves_in_this_thread():
    threads = []

    def fun(x):
        threads.append(threading.current_thread())
        return float(x[0] ** 2)

    executor = SerialExecutor()
    problem = Problem.create(fun, [(-1, 1)])
    opts = LocalOptions(method="L-BFGS-B")
    runs = [r for batch in executor.run(problem, opts, iter([(0, np.array([0.5]))]))
            for r in batch]
    assert runs[0].success and set(threads) == {threading.main_thread()}
