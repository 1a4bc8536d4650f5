"""Solves on any ``concurrent.futures.Executor``: process pools, thread pools, MPI pools.

:class:`FuturesExecutor` keeps a bounded window of chunked tasks in flight, a few per
worker (:class:`~engine.parallel.window.ChunkWindow`, as on Dask), so a run of a million
starts never queues a million futures. A process pool gets the problem pickled once per run
(cloudpickle, so lambdas and closures travel) and unpickles it once per worker process; a
thread pool shares it.

A worker process that dies breaks a ``ProcessPoolExecutor`` for good: every task in flight
fails with ``BrokenProcessPool``. The executor then starts a new pool with the same settings
(it owns that one and shuts it down when closed) and tries the lost starts again one at a
time, so the start that killed the worker is found and recorded as a failed run while the
others are solved.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from engine.exceptions import ClusterError
from engine.local.solve import one_blas_thread, solve_chunk
from engine.options import LocalOptions
from engine.parallel.base import Start
from engine.parallel.chunking import MIN_TASK_SECONDS, ChunkSizer
from engine.parallel.evaluation_cost import EvaluationCost
from engine.parallel.tasks import (
    evaluate_chunk_task,
    payload_token,
    pickled,
    run_chunk_task,
    unpacked,
)
from engine.parallel.window import ChunkWindow, Lost, chunk_arrays
from engine.problem import Problem
from engine.results.types import LocalRun

PoolFactory = Callable[[], cf.Executor]


def pool_size(pool: cf.Executor) -> int:
    """How many tasks ``pool`` runs at once: its workers.

    Examples
    --------
    >>> with cf.ThreadPoolExecutor(3) as pool:
    ...     pool_size(pool)
    3
    """
    # concurrent.futures has no public attribute for it; the standard pools (and loky's)
    # keep it in _max_workers, mpi4py's MPIPoolExecutor in num_workers.
    for name in ("_max_workers", "num_workers"):
        size = getattr(pool, name, None)
        if isinstance(size, int) and size > 0:
            return size
    return max(1, os.cpu_count() or 1)


def replacement_factory(pool: cf.Executor) -> PoolFactory | None:
    """How to make a new pool like ``pool`` once a dead worker broke it; None if unknown.

    Only a plain ``ProcessPoolExecutor`` is copied: its settings are read from private
    attributes (concurrent.futures offers no public way), and a subclass may take other
    arguments. Give ``FuturesExecutor(pool, replace=...)`` for any other pool.
    """
    if type(pool) is not cf.ProcessPoolExecutor:
        return None
    try:
        kwargs: dict[str, Any] = {
            "max_workers": pool._max_workers, "mp_context": pool._mp_context,
            "initializer": pool._initializer, "initargs": pool._initargs,
        }
    except AttributeError:  # pragma: no cover - a Python whose pool keeps other names
        return None
    per_child = getattr(pool, "_max_tasks_per_child", None)  # Python 3.11+
    if per_child is not None:
        kwargs["max_tasks_per_child"] = per_child
    return lambda: cf.ProcessPoolExecutor(**kwargs)


class FuturesExecutor:
    """Run starts as chunked tasks on a ``concurrent.futures.Executor``.

    Parameters
    ----------
    pool : concurrent.futures.Executor
        A ``ProcessPoolExecutor``, ``ThreadPoolExecutor``, mpi4py's ``MPIPoolExecutor``, ...
        The executor does not shut it down.
    n_workers : int, optional
        Tasks the pool runs at once; read from the pool by default.
    tasks_per_slot : int
        Tasks kept in flight per worker: one running, the rest queued so that a worker
        never waits for the driver.
    target_task_seconds, min_task_seconds : float
        Wall time a chunked task should take, and below which tasks are not cut even at the
        end of a run (see :class:`~engine.parallel.chunking.ChunkSizer`).
    retries : int
        More lone attempts for a start whose lone attempt killed its worker; then it is
        recorded as a failed run and the run goes on.
    by_value : bool, optional
        Send the problem pickled (for pools of other processes). Default: pickled unless
        ``pool`` is a ``ThreadPoolExecutor``.
    replace : callable, optional
        Makes a new pool when a dead worker broke the current one. Default: a copy of a
        ``ProcessPoolExecutor``'s settings; other pools are not replaced, and a run on a
        broken one ends with a :class:`~engine.exceptions.ClusterError`.

    Examples
    --------
    >>> from engine.problem import Problem
    >>> p = Problem.create(lambda x: float((x[0] - 0.25) ** 2), [(-1, 1)])
    >>> with cf.ThreadPoolExecutor(2) as pool:
    ...     ex = FuturesExecutor(pool)
    ...     starts = iter([(i, np.array([x])) for i, x in enumerate([-0.5, 0.5, 0.9])])
    ...     opts = LocalOptions(method="L-BFGS-B")
    ...     runs = [r for batch in ex.run(p, opts, starts) for r in batch]
    >>> sorted((r.index, round(float(r.x[0]), 4)) for r in runs)
    [(0, 0.25), (1, 0.25), (2, 0.25)]
    """

    kind = "futures"

    def __init__(self, pool: cf.Executor, n_workers: int | None = None,
                 tasks_per_slot: int = 2, target_task_seconds: float = 1.0,
                 min_task_seconds: float = MIN_TASK_SECONDS, retries: int = 0,
                 by_value: bool | None = None, replace: PoolFactory | None = None) -> None:
        self.pool = pool
        self.n_workers = n_workers or pool_size(pool)
        self.tasks_per_slot = tasks_per_slot
        self.target_task_seconds = target_task_seconds
        self.min_task_seconds = min_task_seconds
        self.retries = retries
        self.by_value = not isinstance(pool, cf.ThreadPoolExecutor) if by_value is None \
            else by_value
        self._replace = replace or replacement_factory(pool)
        self._owned: cf.Executor | None = None  # a replacement pool: this executor's own
        self._cost: tuple[Problem, EvaluationCost] | None = None

    def describe(self) -> dict[str, Any]:
        return {"kind": "futures", "pool": type(self.pool).__name__,
                "n_workers": self.n_workers, "n_threads": self.n_workers}

    def close(self) -> None:
        """Shut down the replacement pool, if one was made (never the pool given)."""
        if self._owned is not None:
            self._owned.shutdown(wait=False, cancel_futures=True)
            self._owned = None

    def run(
        self, problem: Problem, opts: LocalOptions, starts: Iterator[Start],
        total: int | None = None, timeout: float | None = None,
    ) -> Iterator[list[LocalRun]]:
        """Yield the runs of each finished task, until the starts are used up or ``timeout``
        seconds have passed (then tasks not yet started are cancelled; a task already running
        on a worker cannot be stopped and its runs are dropped)."""
        tasks = _PoolTasks(self, problem, opts, timeout)
        sizer = ChunkSizer(self.n_workers, self.target_task_seconds,
                           min_seconds=self.min_task_seconds, timeout=timeout)
        window = ChunkWindow(tasks, problem, starts, total, sizer,
                             tasks_per_slot=self.tasks_per_slot, retries=self.retries)
        # In-process tasks each limit BLAS to one thread and restore the limit they found;
        # holding the limit for the whole run keeps those restores from racing each other.
        with contextlib.nullcontext() if self.by_value else one_blas_thread():
            yield from window

    def evaluate(self, problem: Problem, points: np.ndarray, vectorized: bool,
                 timeout: float | None = None) -> np.ndarray:
        """The objective at each exploration point (minimized sign), on the workers.

        About two blocks per worker; blocks lost with a worker are evaluated again here,
        blocks not done within ``timeout`` seconds count as ``inf``.
        """
        points = np.asarray(points, dtype=float)
        if len(points) == 0:
            return np.empty(0)
        cost = self._evaluation_cost(problem)
        blocks = [b for b in np.array_split(points, cost.n_blocks(len(points), self.n_workers))
                  if len(b)]
        if self.by_value:
            payload = pickled(problem, None)
            token = payload_token(payload)
            sent = [self.submit(evaluate_chunk_task, token, payload, block, vectorized)
                    for block in blocks]
        else:
            sent = [self.submit(_evaluate_here, problem, block, vectorized) for block in blocks]
        futures = [future for future, _ in sent]
        _, not_done = cf.wait(futures, timeout=timeout)
        for future in not_done:
            future.cancel()
        values = []
        for (future, pool), block in zip(sent, blocks, strict=True):
            if future in not_done:
                values.append(np.full(len(block), np.inf))
            elif future.exception() is not None:  # its worker died: the values are wanted
                self.pool_broke(pool, future.exception())
                values.append(problem.minimized_many(block, vectorized))
            else:
                block_values, seconds = future.result()
                cost.observe(len(block), seconds)
                values.append(np.asarray(block_values, dtype=float))
        return np.concatenate(values)

    def _evaluation_cost(self, problem: Problem) -> EvaluationCost:
        """The measured cost of ``problem``'s evaluations (one problem remembered)."""
        if self._cost is None or self._cost[0] is not problem:
            self._cost = (problem, EvaluationCost())
        return self._cost[1]

    # -- the pool and its replacement

    def current_pool(self) -> cf.Executor:
        """The pool tasks go to now: the one given, or its replacement."""
        return self._owned if self._owned is not None else self.pool

    def pool_broke(self, pool: cf.Executor, exc: BaseException | None) -> None:
        """Replace ``pool`` if a dead worker broke it (once, however many tasks report it)."""
        if not isinstance(exc, cf.BrokenExecutor) or pool is not self.current_pool():
            return
        if self._replace is None:
            return  # the next submission says so, with what to do
        old = self._owned
        self._owned = self._replace()
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    def submit(self, fn: Callable[..., Any], *args: Any) -> tuple[cf.Future, cf.Executor]:
        """Send one task to the current pool; returns its future and the pool it went to.

        A pool found broken here (a worker died since the last task came back) is replaced
        first, when it can be.
        """
        for _ in range(2):  # the pool as it is, then its replacement
            pool = self.current_pool()
            try:
                return pool.submit(fn, *args), pool
            except cf.BrokenExecutor as exc:
                self.pool_broke(pool, exc)
                error: RuntimeError = exc
            except RuntimeError as exc:  # "cannot schedule new futures after shutdown"
                error = exc
                break
        raise ClusterError(
            f"the {type(pool).__name__} cannot take tasks ({type(error).__name__}: {error}); "
            "a worker process died or the pool was shut down, and the engine cannot start a "
            "new one: pass a pool that is running, or FuturesExecutor(pool, replace=make_pool) "
            "to replace a broken one"
        ) from error


class _PoolTasks:
    """One run's chunks as pool tasks (the :class:`~engine.parallel.window.ChunkTasks` of
    :class:`FuturesExecutor`)."""

    def __init__(self, executor: FuturesExecutor, problem: Problem, opts: LocalOptions,
                 timeout: float | None) -> None:
        self.executor = executor
        self.problem, self.opts = problem, opts
        if executor.by_value:
            self.payload = pickled(problem, opts)
            self.token = payload_token(self.payload)
        self.deadline = None if timeout is None else time.monotonic() + max(timeout, 0.01)
        self.done: queue.SimpleQueue[cf.Future] = queue.SimpleQueue()
        self.pools: dict[cf.Future, cf.Executor] = {}  # where each task in flight went

    def slots(self) -> int:
        return self.executor.n_workers

    def submit(self, chunk: list[Start]) -> cf.Future:
        if self.executor.by_value:
            indices, points = chunk_arrays(chunk)
            future, pool = self.executor.submit(run_chunk_task, self.token, self.payload,
                                                indices, points)
        else:
            future, pool = self.executor.submit(solve_chunk, self.problem, chunk, self.opts)
        self.pools[future] = pool
        future.add_done_callback(self.done.put)
        return future

    def submit_many(self, chunks: list[list[Start]]) -> list[cf.Future]:
        return [self.submit(chunk) for chunk in chunks]

    def next_done(self) -> cf.Future | None:
        if self.deadline is None:
            return self.done.get()
        left = self.deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            return self.done.get(timeout=left)
        except queue.Empty:
            return None

    def outcome(self, future: cf.Future) -> list[LocalRun] | Lost:
        pool = self.pools.pop(future)
        if future.cancelled():  # only someone else cancels mid-run: shutting the pool down
            return Lost("CancelledError: the task was cancelled (was the pool shut down?)")
        exc = future.exception()
        if exc is None:
            return unpacked(future.result())
        if isinstance(exc, cf.BrokenExecutor):
            self.executor.pool_broke(pool, exc)
            return Lost(f"{type(exc).__name__}: {exc}")
        raise ClusterError(
            f"a multistart task failed on a worker of the {type(pool).__name__} with "
            f"{type(exc).__name__}: {exc}. Objective errors are recorded per start, so this "
            "means the workers cannot run the engine's tasks: check that the worker processes "
            "can import the engine and the objective's module (give the objective as "
            "'path/to/file.py:function' to send it by value)"
        ) from exc

    def cancel(self, futures: list[cf.Future]) -> None:
        for future in futures:
            future.cancel()


def _evaluate_here(problem: Problem, points: np.ndarray,
                   vectorized: bool) -> tuple[np.ndarray, float]:
    """A block of points evaluated in a thread of this process, and the seconds it took."""
    began = time.perf_counter()
    values = problem.minimized_many(points, vectorized)
    return values, time.perf_counter() - began
