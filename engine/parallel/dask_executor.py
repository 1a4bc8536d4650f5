"""Solves as tasks on a ``distributed.Client``.

The executor keeps a window of tasks in flight (:class:`~engine.parallel.window.ChunkWindow`
over ``as_completed``), ships the problem to every worker once (one pickle, cached per worker
and scattered when large), and groups several starts per task, sized from measured solve
times, so cheap objectives are not swamped by the scheduler's per-task cost. With a
``start_timeout``, a start stuck inside one objective call (blocked in C code, where the
solve's own time limit cannot reach) gets its worker restarted and is recorded as timed out
(:mod:`engine.parallel.hangs`).

``distributed`` is imported where it is used: it takes about a second to import, and serial
and ``concurrent.futures`` runs never need it.
"""

from __future__ import annotations

import collections
import itertools
import math
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.exceptions import ClusterError
from engine.options import LocalOptions
from engine.parallel.base import Start
from engine.parallel.chunking import MIN_TASK_SECONDS, ChunkSizer
from engine.parallel.evaluation_cost import EvaluationCost
from engine.parallel.hangs import HangWatch
from engine.parallel.heap import HeapTrimmer
from engine.parallel.tasks import (
    evaluate_chunk_task,
    payload_token,
    pickled,
    run_chunk_task,
    unpacked,
)
from engine.parallel.window import ChunkWindow, Hung, Lost, chunk_arrays
from engine.problem import Problem
from engine.results.types import LocalRun


class DaskExecutor:
    """Run starts as tasks on a ``distributed.Client``.

    Parameters
    ----------
    client : distributed.Client
        A connected client. The executor does not close it.
    tasks_per_slot : int
        Tasks kept in flight per worker thread: one running, the rest queued so a worker
        never waits for the driver.
    target_task_seconds : float
        Wall time a chunked task should take (see :class:`ChunkSizer`).
    min_task_seconds : float
        Wall time below which tasks are not cut, even at the end of the run.
    scatter_above : int
        Pickled problems larger than this many bytes are scattered to the workers once
        instead of travelling inside each task.
    retries : int
        A task whose workers keep dying is given up on by Dask after
        ``distributed.scheduler.allowed-failures`` re-runs; its starts are then tried again one
        at a time, alone on the cluster. ``retries`` is how many more lone attempts a start
        gets after its first lone attempt also killed its workers; then it is recorded as a
        failed run and the run goes on.

    Examples
    --------
    >>> from distributed import Client
    >>> from engine.problem import Problem
    >>> with Client(n_workers=1, processes=False, dashboard_address=None) as client:
    ...     p = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    ...     opts = LocalOptions(method="L-BFGS-B")
    ...     batches = DaskExecutor(client).run(p, opts, iter([(0, np.array([0.5]))]))
    ...     [round(float(r.x[0]), 6) for batch in batches for r in batch]
    [0.0]
    """

    kind = "dask"

    def __init__(self, client: Any, tasks_per_slot: int = 2, target_task_seconds: float = 1.0,
                 scatter_above: int = 1_000_000, retries: int = 0,
                 min_task_seconds: float = MIN_TASK_SECONDS):
        self.client = client
        self.retries = retries
        self.scatter_above = scatter_above
        self.tasks_per_slot = tasks_per_slot
        self.target_task_seconds = target_task_seconds
        self.min_task_seconds = min_task_seconds
        self._sample_cache: tuple[Problem, str, bytes, EvaluationCost] | None = None
        self._slots_read = (-math.inf, 1)

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def n_threads(self) -> int:
        return int(sum(self.client.nthreads().values()))

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "dask",
            "scheduler": self.client.scheduler.address,
            "n_workers": self.n_workers,
            "n_threads": self.n_threads(),
            "dashboard": _dashboard_link(self.client),
        }

    def close(self) -> None:
        """Nothing to release: the client belongs to whoever made it."""

    def run(
        self, problem: Problem, opts: LocalOptions, starts: Iterator[Start],
        total: int | None = None, timeout: float | None = None,
    ) -> Iterator[list[LocalRun]]:
        """Yield the runs of each finished task, until the starts are used up or ``timeout``
        seconds have passed (then the tasks still in flight are cancelled: a run's
        ``max_time`` holds even when no task finishes, e.g. when every worker is gone)."""
        tasks = _DaskTasks(self.client, problem, opts, self.scatter_above, timeout)
        sizer = ChunkSizer(max(1, self.n_threads()), self.target_task_seconds,
                           min_seconds=self.min_task_seconds, timeout=timeout)
        try:
            yield from ChunkWindow(tasks, problem, starts, total, sizer,
                                   tasks_per_slot=self.tasks_per_slot, retries=self.retries)
        finally:
            tasks.release()

    def evaluate(self, problem: Problem, points: np.ndarray, vectorized: bool,
                 timeout: float | None = None) -> np.ndarray:
        """The objective at each point (minimized sign): an exploration sample, the
        segments the second merge checks.

        The points go out in blocks, so the objective runs where the local solves run (an
        objective may need what only the workers have, or crash its process) and the sample
        is evaluated in parallel: at most two blocks per worker thread, each worth a round
        trip to the scheduler once the cost of a point has been measured
        (:mod:`engine.parallel.evaluation_cost`). Blocks lost with their workers are evaluated
        again in this process rather than losing the sample; blocks not done within
        ``timeout`` seconds are cancelled and count as ``inf`` (the run's ``max_time`` is
        then over).
        """
        from distributed import wait

        points = np.asarray(points, dtype=float)
        if len(points) == 0:
            return np.empty(0)
        token, payload, cost = self._sample_payload(problem)
        now = time.monotonic()
        if now - self._slots_read[0] > 2.0:  # a round trip to the scheduler: not every call
            self._slots_read = (now, max(1, self.n_threads()))
        slots = self._slots_read[1]
        blocks = [b for b in np.array_split(points, cost.n_blocks(len(points), slots))
                  if len(b)]
        prefix = f"multistart-sample-{token[:8]}-{uuid.uuid4().hex[:8]}"
        futures = [self.client.submit(evaluate_chunk_task, token, payload, block, vectorized,
                                      pure=False, key=f"{prefix}-{i}")
                   for i, block in enumerate(blocks)]
        try:
            wait(futures, timeout=timeout)
        except TimeoutError:
            self.client.cancel([f for f in futures if not f.done()], force=True)
        values = []
        for future, block in zip(futures, blocks, strict=True):
            if future.cancelled() or not future.done():
                values.append(np.full(len(block), np.inf))
                continue
            try:
                block_values, seconds = future.result()
            except Exception:  # its workers died: the values are still wanted
                values.append(problem.minimized_many(block, vectorized))
                continue
            cost.observe(len(block), seconds)
            values.append(np.asarray(block_values, dtype=float))
        return np.concatenate(values)

    def _sample_payload(self, problem: Problem) -> tuple[str, bytes, EvaluationCost]:
        """The pickled problem for evaluation tasks and its measured cost, made once per
        problem."""
        if self._sample_cache is not None and self._sample_cache[0] is problem:
            return self._sample_cache[1:]
        payload = pickled(problem, None)
        self._sample_cache = (problem, payload_token(payload), payload, EvaluationCost())
        return self._sample_cache[1:]


# A start_timeout this long (or longer) is no limit worth watching for.
_LONGEST_WATCH = 1e7


class _DaskTasks:
    """One run's chunks as Dask tasks (the :class:`~engine.parallel.window.ChunkTasks` of
    :class:`DaskExecutor`)."""

    def __init__(self, client: Any, problem: Problem, opts: LocalOptions, scatter_above: int,
                 timeout: float | None) -> None:
        from distributed import as_completed

        self.client = client
        self.payload = pickled(problem, opts)
        self.token = payload_token(self.payload)
        # Task keys are unique to this run: a key used again while Dask still remembers it
        # (a failed task that is being resubmitted) would give back the old, failed task.
        self.key_prefix = f"multistart-{self.token[:8]}-{uuid.uuid4().hex[:8]}"
        self.serial = itertools.count()
        # A small problem travels inside each task (workers unpickle it once and cache it by
        # token); a large one is scattered once. Scattered data dies with the workers holding
        # it, so it is sent again when lost.
        self.payload_future: Any = None
        if len(self.payload) > scatter_above:
            self.payload_future = client.scatter(self.payload, broadcast=True, hash=False)
        # Results are fetched from the workers by the client's event loop as tasks finish,
        # several at once; fetching each in this thread when it is taken would cost one
        # round trip to a worker per task, one after the other (measured: at most about 115
        # tasks a second, which starves a cluster of hundreds of slots).
        self.completed = as_completed(with_results=True, raise_errors=False,
                                      timeout=None if timeout is None else max(timeout, 0.01))
        self.results: dict[Any, Any] = {}  # future -> what its task returned (or raised)
        self.trimmer = HeapTrimmer()  # see engine.parallel.heap: results' buffers, freed
        self.deadline = None if timeout is None else time.monotonic() + max(timeout, 0.01)
        # With a start_timeout, a start stuck inside one call costs its worker a restart
        # instead of holding it until the call returns (see engine.parallel.hangs).
        self.watch = None
        if opts.start_timeout is not None and opts.start_timeout < _LONGEST_WATCH:
            self.watch = HangWatch(client, opts.start_timeout)
        # future -> (when it was submitted, its number of starts), while watched
        self.sent: dict[Any, tuple[float, int]] = {}
        self.verdicts: dict[Any, Hung | Lost] = {}  # futures given up on by the watch
        self.given_up: collections.deque[Any] = collections.deque()  # not yet settled

    def slots(self) -> int:
        return int(sum(self.client.nthreads().values()))

    def _current_payload(self) -> Any:
        if self.payload_future is None:
            return self.payload
        if self.payload_future.status != "finished":
            self.payload_future = self.client.scatter(self.payload, broadcast=True, hash=False)
        return self.payload_future

    def submit(self, chunk: list[Start]) -> Any:
        indices, points = chunk_arrays(chunk)
        key = f"{self.key_prefix}-{next(self.serial)}"
        future = self.client.submit(
            run_chunk_task, self.token, self._current_payload(), indices, points,
            None if self.watch is None else key, pure=False, key=key,
        )
        self.completed.add(future)
        if self.watch is not None:
            self.sent[future] = (time.monotonic(), len(chunk))
        return future

    def submit_many(self, chunks: list[list[Start]]) -> list[Any]:
        if len(chunks) == 1:
            return [self.submit(chunks[0])]
        arrays = [chunk_arrays(chunk) for chunk in chunks]
        keys = [f"{self.key_prefix}-{next(self.serial)}" for _ in chunks]
        n = len(chunks)
        futures = self.client.map(
            run_chunk_task, [self.token] * n, [self._current_payload()] * n,
            [indices for indices, _ in arrays], [points for _, points in arrays],
            [None if self.watch is None else key for key in keys], key=keys, pure=False,
        )
        self.completed.update(futures)
        if self.watch is not None:
            now = time.monotonic()
            for future, chunk in zip(futures, chunks, strict=True):
                self.sent[future] = (now, len(chunk))
        return futures

    def next_done(self) -> Any | None:
        if self.watch is None:
            try:
                return self._take()
            except (StopIteration, TimeoutError):
                return None
        return self._next_watched()

    def _take(self) -> Any:
        """The next finished future from ``completed``; its result kept for :meth:`outcome`."""
        future, result = next(self.completed)
        self.results[future] = result
        self.trimmer.maybe_trim()
        return future

    def _next_watched(self) -> Any | None:
        """:meth:`next_done` while watching for stuck starts. A task given up on by the watch
        comes back at once, its outcome the verdict; its cancellation, later, is skipped."""
        while True:
            if self.given_up:
                return self.given_up.popleft()
            if self.completed.has_ready():
                future = self._take()
                if self.sent.pop(future, None) is None:
                    self.results.pop(future, None)
                    continue  # given up on by the watch: settled already
                return future
            if self.completed.is_empty():
                return None
            if self.deadline is not None and time.monotonic() > self.deadline:
                return None
            verdicts = self.watch.check(self.sent)
            if verdicts:
                # Cancelled before their workers restart: Dask would otherwise run these
                # tasks again elsewhere, and hang there too.
                self.client.cancel([future for future, _ in verdicts], force=True)
                for future, verdict in verdicts:
                    del self.sent[future]
                    self.verdicts[future] = verdict
                    self.given_up.append(future)
                continue
            _wait_for_one(self.completed, 0.2)

    def outcome(self, future: Any) -> list[LocalRun] | Lost | Hung:
        """The task's runs; :class:`Lost` when it died with its workers, :class:`Hung` when
        one of its starts was stuck inside a call (its worker is being restarted).

        Raises
        ------
        ClusterError
            When the task raised on the worker. Local solves never raise, so the worker could
            not run the engine's task at all (the problem cannot be unpickled there, a
            package is missing): every task would fail the same way.
        """
        from distributed import KilledWorker

        result = self.results.pop(future, None)
        if future in self.verdicts:
            return self.verdicts.pop(future)
        if future.status == "finished" and not isinstance(result, BaseException):
            try:
                return unpacked(result if result is not None else future.result())
            except Exception:  # its result was lost with its worker and recomputing failed
                return Lost(_death_reason(future))
        if future.status != "error":  # "cancelled" or "lost": its input died with a worker
            return Lost(_death_reason(future))
        exc = future.exception()
        if isinstance(exc, KilledWorker):
            # Dask re-ran it elsewhere as often as it allows and gave up.
            return Lost(_death_reason(future))
        raise ClusterError(
            f"a multistart task failed on a Dask worker with {type(exc).__name__}: {exc}. "
            "Objective errors are recorded per start, so this means the workers cannot run the "
            "engine's tasks: check that the workers have the same Python packages as this "
            "process and can import the objective's module (give the objective as "
            "'path/to/file.py:function' to send it by value)"
        ) from exc

    def cancel(self, futures: list[Any]) -> None:
        self.client.cancel(futures, force=True)

    def release(self) -> None:
        """Drop the scattered problem, if any."""
        if self.payload_future is not None:
            self.client.cancel([self.payload_future], force=True)


def _wait_for_one(completed: Any, seconds: float) -> None:
    """Wait up to ``seconds`` for ``completed`` (an ``as_completed``) to have a future ready.

    ``as_completed`` wakes its own ``__next__`` through this condition; a version without it
    gets a short sleep instead.
    """
    condition = getattr(completed, "thread_condition", None)
    if condition is None:
        time.sleep(min(seconds, 0.01))
        return
    with condition:
        if not completed.has_ready():
            condition.wait(timeout=seconds)


def _death_reason(future: Any) -> str:
    """Why a task was lost, as its starts' failed runs will say."""
    if future.status == "error":
        exc = future.exception()
        return f"{type(exc).__name__}: {exc}"
    return f"KilledWorker: task {future.status} (its input was lost with its workers)"


def _dashboard_link(client: Any) -> str | None:
    """The scheduler's dashboard address; None when it serves none.

    A client connected by address (``kind: address``, ``mpi``) looks the dashboard up in the
    scheduler's services, and raises KeyError when there is none (``dashboard: false``).
    """
    try:
        return client.dashboard_link or None
    except Exception:
        return None
