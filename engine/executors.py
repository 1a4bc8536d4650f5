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

import hashlib
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.chunking import ChunkSizer
from engine.exceptions import ClusterError
from engine.local import LocalOptions, solve_chunk
from engine.problem import Problem
from engine.results import LocalRun

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
        total: int | None = None,
    ) -> Iterator[list[LocalRun]]:
        for start in starts:
            yield solve_chunk(problem, [start], opts)


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


def run_chunk_task(token: str, payload: bytes, chunk: list[Start]) -> list[LocalRun]:
    """The Dask task: solve a chunk of starts on a worker."""
    problem, opts = _load_payload(token, payload)
    return solve_chunk(problem, chunk, opts)


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
    scatter_above : int
        Pickled problems larger than this many bytes are scattered to the workers once
        instead of travelling inside each task.
    """

    kind = "dask"

    def __init__(self, client: Any, tasks_per_slot: int = 2, target_task_seconds: float = 0.2,
                 scatter_above: int = 1_000_000):
        self.client = client
        self.scatter_above = scatter_above
        self.tasks_per_slot = tasks_per_slot
        self.target_task_seconds = target_task_seconds

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
            "dashboard": getattr(self.client, "dashboard_link", None),
        }

    def run(
        self, problem: Problem, opts: LocalOptions, starts: Iterator[Start],
        total: int | None = None,
    ) -> Iterator[list[LocalRun]]:
        import cloudpickle
        from distributed import as_completed

        try:
            payload = cloudpickle.dumps((problem, opts))
        except Exception as exc:
            raise ClusterError(
                f"the problem cannot be sent to Dask workers: pickling failed with "
                f"{type(exc).__name__}: {exc}. Objectives and their arguments must be picklable "
                "(plain functions, lambdas and closures are; open files, locks and sockets are "
                "not); or run with client='serial'"
            ) from exc
        token = hashlib.sha256(payload).hexdigest()
        # A small problem travels inside each task (workers unpickle it once and cache it by
        # token); a large one is scattered once. Scattered data dies with the workers holding
        # it, so it is sent again when lost.
        payload_future = None
        if len(payload) > self.scatter_above:
            payload_future = self.client.scatter(payload, broadcast=True, hash=False)
        attempts: dict[int, int] = {}

        def current_payload() -> Any:
            nonlocal payload_future
            if payload_future is None:
                return payload
            if payload_future.status != "finished":
                payload_future = self.client.scatter(payload, broadcast=True, hash=False)
            return payload_future
        slots = max(1, self.n_threads())
        sizer = ChunkSizer(slots, self.target_task_seconds)
        remaining = total
        in_flight: dict[Any, list[Start]] = {}
        completed = as_completed()

        def submit(chunk: list[Start]) -> None:
            future = self.client.submit(
                run_chunk_task, token, current_payload(), chunk, pure=False,
                key=f"multistart-{token[:8]}-{chunk[0][0]}-{len(chunk)}-{len(in_flight)}",
            )
            in_flight[future] = chunk
            completed.add(future)

        def submit_one() -> bool:
            nonlocal remaining
            chunk = list(itertools.islice(starts, sizer.next_size(remaining)))
            if not chunk:
                return False
            if remaining is not None:
                remaining -= len(chunk)
            submit(chunk)
            return True

        slots_checked = time.monotonic()
        try:
            window = self.tasks_per_slot * slots
            exhausted = False
            while len(in_flight) < window and not exhausted:
                exhausted = not submit_one()
            for future in completed:
                chunk = in_flight.pop(future)
                if future.status != "finished" and self._retry(future, chunk, attempts):
                    # Dask already retried the task on other workers (a worker that died, ran
                    # out of memory or reached its walltime) and it failed every time, or its
                    # input was lost with the workers. Solve its starts one per task, so only
                    # a start that kills workers itself is given up on.
                    for start in chunk:
                        submit([start])
                    continue
                runs = self._collect(future, chunk, problem)
                sizer.observe(len(runs), sum(r.time for r in runs))
                # Refill the window; the number of slots changes on adaptive clusters, so it is
                # re-read now and then (each read is a round trip to the scheduler).
                if time.monotonic() - slots_checked > 2.0:
                    slots, slots_checked = max(1, self.n_threads()), time.monotonic()
                    sizer.n_slots = slots
                window = self.tasks_per_slot * slots
                while len(in_flight) < window and not exhausted:
                    exhausted = not submit_one()
                yield runs
        finally:
            if in_flight:
                self.client.cancel(list(in_flight), force=True)
            if payload_future is not None:
                self.client.cancel([payload_future], force=True)

    @staticmethod
    def _retry(future: Any, chunk: list[Start], attempts: dict[int, int]) -> bool:
        """Whether a failed task's starts are submitted again (one per task)."""
        if len(chunk) > 1:
            return True
        index = chunk[0][0]
        attempts[index] = attempts.get(index, 0) + 1
        # KilledWorker also hits tasks that merely waited on a worker that another start
        # killed, so a start gets one more task of its own before it is given up on; one only
        # caught in a lost dependency ("cancelled", "lost") gets a few.
        return attempts[index] <= (1 if future.status == "error" else 3)

    @staticmethod
    def _collect(future: Any, chunk: list[Start], problem: Problem) -> list[LocalRun]:
        """The chunk's runs, or one failed run per start when the task itself failed."""
        if future.status == "finished":
            return future.result()
        try:
            exc = future.exception()
        except Exception as inner:  # cancelled futures raise here
            exc = inner
        error = (f"{type(exc).__name__}: {exc}" if exc is not None
                 else f"KilledWorker: task {future.status} (its worker process died)")
        return [
            LocalRun(index=index, x0=x0, x=x0, fun=float("nan"), nfev=0, nit=0, success=False,
                     message=f"failed: the worker solving this start died every time it was "
                             f"tried ({error})", error=error,
                     in_bounds=problem.contains(x0))
            for index, x0 in chunk
        ]
