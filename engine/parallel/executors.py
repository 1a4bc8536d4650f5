"""Where local solves run: in this process, or as tasks on a Dask cluster.

An executor takes an iterator of ``(index, x0)`` starts and yields lists of finished
:class:`~engine.results.LocalRun` in the order they finish. The driver may stop consuming at
any time; closing the generator cancels whatever is still in flight.

The Dask executor keeps a fixed window of tasks in flight (``as_completed`` + ``add``), ships
the problem to every worker once (one pickle, scattered and cached per worker), and groups
several starts per task, sized from measured solve times, so cheap objectives are not swamped
by the scheduler's per-task cost.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import math
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.exceptions import ClusterError
from engine.local.solve import one_blas_thread, solve_chunk, solve_each
from engine.options import LocalOptions
from engine.parallel.chunking import MIN_TASK_SECONDS, ChunkSizer
from engine.problem import Problem
from engine.results.types import LocalRun, RunBatch
from engine.search.selection import evaluate_points

Start = tuple[int, np.ndarray]


class SerialExecutor:
    """Solve every start in this process, one after the other.

    Examples
    --------
    >>> import numpy as np
    >>> from engine.problem import Problem
    >>> p = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    >>> batches = SerialExecutor().run(p, LocalOptions(), iter([(0, np.array([0.5]))]))
    >>> [round(float(r.x[0]), 6) for batch in batches for r in batch]
    [0.0]
    """

    kind = "serial"

    @property
    def n_workers(self) -> int:
        return 1

    def describe(self) -> dict[str, Any]:
        return {"kind": "serial", "n_workers": 1, "n_threads": 1}

    def run(
        self, problem: Problem, opts: LocalOptions, starts: Iterator[Start],
        total: int | None = None, timeout: float | None = None,
    ) -> Iterator[list[LocalRun]]:
        # ``timeout`` is checked by the driver between starts (one start is not interrupted
        # here: that is ``start_timeout``'s job).
        runs = solve_each(problem, starts, opts)
        try:
            for run in runs:
                yield [run]
        finally:
            runs.close()  # ends the BLAS thread limit now, not when collected


# ------------------------------------------------------------------ worker side

_PROBLEM_CACHE: dict[str, tuple[Problem, LocalOptions]] = {}
_CACHE_LOCK = threading.Lock()


def _load_payload(token: str, payload: bytes) -> tuple[Problem, LocalOptions]:
    """Unpickle the problem once per worker process (tasks share it through the cache)."""
    with _CACHE_LOCK:
        cached = _PROBLEM_CACHE.get(token)
        if cached is None:
            import cloudpickle

            cached = cloudpickle.loads(payload)
            if len(_PROBLEM_CACHE) >= 4:  # a worker serving many runs keeps only recent ones
                _PROBLEM_CACHE.pop(next(iter(_PROBLEM_CACHE)))
            _PROBLEM_CACHE[token] = cached
    return cached


def run_chunk_task(token: str, payload: bytes, indices: np.ndarray,
                   points: np.ndarray) -> RunBatch | list[LocalRun]:
    """The Dask task: solve a chunk of starts on a worker; the runs go back in columns.

    The starts come as two arrays, not a list of ``(index, x0)`` pairs: Dask inspects every
    element of a list argument and sends every array in it as a frame of its own.
    """
    problem, opts = _load_payload(token, payload)
    return RunBatch.pack(solve_chunk(problem, list(zip(indices.tolist(), points, strict=True)),
                                     opts))


def evaluate_chunk_task(token: str, payload: bytes, points: np.ndarray,
                        vectorized: bool) -> np.ndarray:
    """The Dask task: the objective at a block of exploration sample points."""
    problem, _ = _load_payload(token, payload)
    with one_blas_thread():
        return evaluate_points(problem, points, vectorized)


# ------------------------------------------------------------------ Dask


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
    """

    kind = "dask"

    def __init__(self, client: Any, tasks_per_slot: int = 2, target_task_seconds: float = 0.2,
                 scatter_above: int = 1_000_000, retries: int = 0,
                 min_task_seconds: float = MIN_TASK_SECONDS):
        self.client = client
        self.retries = retries
        self.scatter_above = scatter_above
        self.tasks_per_slot = tasks_per_slot
        self.target_task_seconds = target_task_seconds
        self.min_task_seconds = min_task_seconds
        self._sample_cache: tuple[Problem, str, bytes] | None = None
        self._slots_read = (-math.inf, 1)

    @property
    def n_workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def evaluate(self, problem: Problem, points: np.ndarray, vectorized: bool,
                 timeout: float | None = None) -> np.ndarray:
        """The objective at each exploration point (minimized sign), on the workers.

        The points go out in about two blocks per worker thread, so the objective runs
        where the local solves run (an objective may need what only the workers have)
        and the sample is evaluated in parallel. Blocks lost with their workers are
        evaluated again in this process rather than losing the sample; blocks not done
        within ``timeout`` seconds are cancelled and count as ``inf`` (the run's
        ``max_time`` is then over).
        """
        from distributed import wait

        points = np.asarray(points, dtype=float)
        if len(points) == 0:
            return np.empty(0)
        token, payload = self._sample_payload(problem)
        now = time.monotonic()
        if now - self._slots_read[0] > 2.0:  # a round trip to the scheduler: not every call
            self._slots_read = (now, max(1, self.n_threads()))
        slots = self._slots_read[1]
        blocks = [b for b in np.array_split(points, min(len(points), 2 * slots)) if len(b)]
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
                values.append(np.asarray(future.result(), dtype=float))
            except Exception:  # its workers died: the values are still wanted
                values.append(evaluate_points(problem, block, vectorized))
        return np.concatenate(values)

    def _sample_payload(self, problem: Problem) -> tuple[str, bytes]:
        """The pickled problem for sample tasks, made once per problem."""
        if self._sample_cache is not None and self._sample_cache[0] is problem:
            return self._sample_cache[1], self._sample_cache[2]
        payload = _pickled(problem, None)
        token = hashlib.sha256(payload).hexdigest()
        self._sample_cache = (problem, token, payload)
        return token, payload

    def n_threads(self) -> int:
        return int(sum(self.client.nthreads().values()))

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "dask",
            "scheduler": self.client.scheduler.address,
            "n_workers": self.n_workers,
            "n_threads": self.n_threads(),
            "dashboard": getattr(self.client, "dashboard_link", None),
        }

    def run(
        self, problem: Problem, opts: LocalOptions, starts: Iterator[Start],
        total: int | None = None, timeout: float | None = None,
    ) -> Iterator[list[LocalRun]]:
        """Yield the runs of each finished task, until the starts are used up or ``timeout``
        seconds have passed (then the tasks still in flight are cancelled: a run's
        ``max_time`` holds even when no task finishes, e.g. when every worker is gone)."""
        from distributed import as_completed

        payload = _pickled(problem, opts)
        token = hashlib.sha256(payload).hexdigest()
        # Task keys are unique to this call: a key used again while Dask still remembers it
        # (a failed task that is being resubmitted) would give back the old, failed task.
        key_prefix = f"multistart-{token[:8]}-{uuid.uuid4().hex[:8]}"
        serial = itertools.count()
        # A small problem travels inside each task (workers unpickle it once and cache it by
        # token); a large one is scattered once. Scattered data dies with the workers holding
        # it, so it is sent again when lost.
        payload_future = None
        if len(payload) > self.scatter_above:
            payload_future = self.client.scatter(payload, broadcast=True, hash=False)

        def current_payload() -> Any:
            nonlocal payload_future
            if payload_future is None:
                return payload
            if payload_future.status != "finished":
                payload_future = self.client.scatter(payload, broadcast=True, hash=False)
            return payload_future

        slots = max(1, self.n_threads())
        sizer = ChunkSizer(slots, self.target_task_seconds, min_seconds=self.min_task_seconds)
        remaining = total
        in_flight: dict[Any, tuple[list[Start], bool]] = {}  # future -> (starts, alone)
        completed = as_completed(timeout=None if timeout is None else max(timeout, 0.01))
        quarantine = _Quarantine(self.retries)

        def submit(chunk: list[Start], alone: bool = False) -> None:
            indices = np.array([index for index, _ in chunk], dtype=np.int64)
            points = np.array([x0 for _, x0 in chunk], dtype=float)
            future = self.client.submit(
                run_chunk_task, token, current_payload(), indices, points, pure=False,
                key=f"{key_prefix}-{next(serial)}",
            )
            in_flight[future] = (chunk, alone)
            completed.add(future)

        def refill(window: int) -> bool:
            """Top the window up; False once the starts are used up."""
            nonlocal remaining
            if quarantine:
                # Suspects run one at a time with nothing else of this run in flight, so a
                # worker that dies now was killed by that start and by no other.
                if not in_flight:
                    submit([quarantine.next()], alone=True)
                return True
            while len(in_flight) < window:
                chunk = list(itertools.islice(starts, sizer.next_size(remaining)))
                if not chunk:
                    return False
                if remaining is not None:
                    remaining -= len(chunk)
                submit(chunk)
            return True

        slots_checked = time.monotonic()
        try:
            # One single-start task per slot measures the cost of a start; the queue behind
            # each running task is filled once chunks can be sized (on a big cluster, a queue
            # of single-start tasks would cost the scheduler more than the starts).
            more = refill(slots)
            for future in _until_timeout(completed):
                chunk, alone = in_flight.pop(future)
                runs = self._finished_runs(future)
                if runs is None:
                    # The task died with its workers: Dask re-ran it elsewhere as often as it
                    # allows and gave up (or its input was lost with the workers). Which of
                    # its starts killed them is not known, so each is tried again alone.
                    error = self._death_reason(future)
                    gave_up = quarantine.add(chunk, error, alone)
                    runs = [_lost_run(problem, start, reason) for start, reason in gave_up]
                else:
                    sizer.observe(len(runs), sum(r.time for r in runs))
                # Refill the window; the number of slots changes on adaptive clusters, so it is
                # re-read now and then (each read is a round trip to the scheduler).
                if time.monotonic() - slots_checked > 2.0:
                    slots, slots_checked = max(1, self.n_threads()), time.monotonic()
                    sizer.n_slots = slots
                if more or quarantine:
                    more = refill(self.tasks_per_slot * slots) and more
                if runs:
                    yield runs
        finally:
            if in_flight:
                self.client.cancel(list(in_flight), force=True)
            if payload_future is not None:
                self.client.cancel([payload_future], force=True)

    @staticmethod
    def _finished_runs(future: Any) -> list[LocalRun] | None:
        """The task's runs, or None when it was lost with its workers.

        Raises
        ------
        ClusterError
            When the task raised on the worker. Local solves never raise, so the worker could
            not run the engine's task at all (the problem cannot be unpickled there, a
            package is missing): every task would fail the same way.
        """
        from distributed import KilledWorker

        if future.status == "finished":
            try:
                result = future.result()
            except Exception:  # its result was lost with its worker and recomputing failed
                return None
            return result.unpack() if isinstance(result, RunBatch) else result
        if future.status != "error":  # "cancelled" or "lost": its input died with a worker
            return None
        exc = future.exception()
        if isinstance(exc, KilledWorker):
            return None
        raise ClusterError(
            f"a multistart task failed on a Dask worker with {type(exc).__name__}: {exc}. "
            "Objective errors are recorded per start, so this means the workers cannot run the "
            "engine's tasks: check that the workers have the same Python packages as this "
            "process and can import the objective's module (give the objective as "
            "'path/to/file.py:function' to send it by value)"
        ) from exc

    @staticmethod
    def _death_reason(future: Any) -> str:
        if future.status == "error":
            exc = future.exception()
            return f"{type(exc).__name__}: {exc}"
        return f"KilledWorker: task {future.status} (its input was lost with its workers)"


def _pickled(problem: Problem, opts: LocalOptions | None) -> bytes:
    """``(problem, opts)`` pickled for the workers, or a ClusterError saying what to change."""
    import cloudpickle

    try:
        return cloudpickle.dumps((problem, opts))
    except Exception as exc:
        raise ClusterError(
            f"the problem cannot be sent to Dask workers: pickling failed with "
            f"{type(exc).__name__}: {exc}. Objectives and their arguments must be picklable "
            "(plain functions, lambdas and closures are; open files, locks and sockets are "
            "not); or run with client='serial'"
        ) from exc


def _until_timeout(completed: Any) -> Iterator[Any]:
    """The futures of ``completed`` as they finish, ending quietly at its timeout."""
    while True:
        try:
            yield next(completed)
        except StopIteration:
            return
        except TimeoutError:
            return


class _Quarantine:
    """Starts whose task died with its workers, re-run one at a time until cleared.

    Dask re-runs a task whose worker died on another worker, but it counts a death against
    every task that was on that worker, queued or running; when a start keeps killing
    workers (it runs out of memory, crashes the interpreter) the tasks beside it fail too.
    So each start of such a task is tried again alone: a start that still kills its workers
    with nothing else running is given up on after ``retries`` lone attempts; the others
    finish normally.

    Examples
    --------
    >>> import numpy as np
    >>> q = _Quarantine(retries=1)
    >>> q.add([(3, np.zeros(1)), (4, np.ones(1))], "KilledWorker: x", alone=False)
    []
    >>> q.next()[0], len(q)
    (3, 1)
    >>> q.add([(3, np.zeros(1))], "KilledWorker: x", alone=True)
    []
    >>> q.next()[0]
    3
    >>> [(index, reason) for (index, _), reason in q.add([(3, np.zeros(1))], "KilledWorker: x",
    ...                                                   alone=True)]
    [(3, 'KilledWorker: x (after 2 attempts alone)')]
    """

    def __init__(self, retries: int) -> None:
        self.retries = retries
        self.waiting: collections.deque[Start] = collections.deque()
        self.lone_failures: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.waiting)

    def add(self, chunk: list[Start], error: str, alone: bool) -> list[tuple[Start, str]]:
        """Queue the starts of a lost task; return those given up on, with the reason."""
        if not alone:
            self.waiting.extend(chunk)
            return []
        (start,) = chunk
        failures = self.lone_failures.get(start[0], 0) + 1
        if failures > self.retries:
            self.lone_failures.pop(start[0], None)
            return [(start, f"{error} (after {failures} attempts alone)")]
        self.lone_failures[start[0]] = failures
        self.waiting.appendleft(start)
        return []

    def next(self) -> Start:
        return self.waiting.popleft()


def _lost_run(problem: Problem, start: Start, error: str) -> LocalRun:
    """The failed run of a start that killed every worker it was tried on."""
    index, x0 = start
    return LocalRun(
        index=index, x0=x0, x=x0, fun=float("nan"), nfev=0, nit=0, success=False,
        message=f"failed: the worker solving this start died every time it was tried "
                f"({error})",
        error=error, in_bounds=problem.contains(x0),
    )
