"""A window of chunked tasks in flight, shared by the executors that use worker processes.

The window keeps a few tasks per worker slot in flight (one running, the rest queued so a
worker never waits for the driver), sizes each task from measured solve times
(:class:`~engine.parallel.chunking.ChunkSizer`), yields the runs of each task as it
finishes, and handles tasks lost with their workers: their starts are tried again one at a
time (:class:`Quarantine`), and a start that kills every worker it is tried on becomes a
failed run. A task reported :class:`Hung` (a start stuck inside one objective call, see
:mod:`engine.parallel.hangs`) has that start recorded as timed out and its other starts sent
again. What differs between Dask and ``concurrent.futures`` (how a task is sent, how
its end is awaited, how a loss shows) is behind :class:`ChunkTasks`.
"""

from __future__ import annotations

import collections
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from engine.parallel.base import Start
from engine.parallel.chunking import ChunkSizer
from engine.problem import Problem
from engine.results.types import LocalRun

#: Seconds between two reads of the number of worker slots (each read may be a round trip
#: to a scheduler; adaptive clusters change it while a run goes on).
SLOTS_REREAD_SECONDS = 2.0


@dataclass(frozen=True)
class Lost:
    """A task that did not come back: its workers died, or its input was lost with them."""

    reason: str


@dataclass(frozen=True)
class Hung:
    """A task given up on because one of its starts was stuck inside one objective call.

    ``position`` is that start's place in the task's chunk; it is recorded as timed out with
    ``reason`` and never tried again; the other starts of the chunk are solved again.
    """

    position: int
    reason: str


class ChunkTasks(Protocol):
    """How one run's chunks of starts reach the workers and come back."""

    def slots(self) -> int:
        """Worker threads able to run a task now."""
        ...

    def submit(self, chunk: list[Start]) -> Any:
        """Send a chunk of starts; returns its future."""
        ...

    def submit_many(self, chunks: list[list[Start]]) -> list[Any]:
        """Send several chunks at once (to a scheduler: one message, not one per chunk);
        their futures, in order."""
        ...

    def next_done(self) -> Any | None:
        """The next finished future; None once the run's timeout has passed."""
        ...

    def outcome(self, future: Any) -> list[LocalRun] | Lost | Hung:
        """The runs of a finished future, :class:`Lost` or :class:`Hung`; raises
        :class:`~engine.exceptions.ClusterError` when the workers cannot run tasks at all."""
        ...

    def cancel(self, futures: list[Any]) -> None:
        """Give up on futures still in flight (the run is over)."""
        ...


class Quarantine:
    """Starts whose task died with its workers, re-run one at a time until cleared.

    A task whose worker died is lost with every start in it, and a worker that dies takes
    down the tasks queued beside it; which start killed it is not known. So each start of
    such a task is tried again alone, with nothing else of the run in flight: a start that
    still kills its workers is given up on after ``retries`` more lone attempts; the others
    finish normally.

    Examples
    --------
    >>> q = Quarantine(retries=1)
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


def timed_out_run(problem: Problem, start: Start, error: str) -> LocalRun:
    """The failed run of a start given up on while stuck inside one objective call.

    Examples
    --------
    >>> p = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    >>> run = timed_out_run(p, (5, np.array([0.5])), "TimeoutError: stuck")
    >>> run.success, run.message
    (False, 'timed out: TimeoutError: stuck')
    """
    index, x0 = start
    return LocalRun(index=index, x0=x0, x=x0, fun=float("nan"), nfev=0, nit=0, success=False,
                    message=f"timed out: {error}", error=error,
                    in_bounds=problem.contains(x0))


def lost_run(problem: Problem, start: Start, error: str) -> LocalRun:
    """The failed run of a start that killed every worker it was tried on.

    Examples
    --------
    >>> p = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    >>> run = lost_run(p, (5, np.array([0.5])), "KilledWorker: gone")
    >>> run.success, run.nfev, run.error
    (False, 0, 'KilledWorker: gone')
    """
    index, x0 = start
    return LocalRun(
        index=index, x0=x0, x=x0, fun=float("nan"), nfev=0, nit=0, success=False,
        message=f"failed: the worker solving this start died every time it was tried "
                f"({error})",
        error=error, in_bounds=problem.contains(x0),
    )


class ChunkWindow:
    """One run's starts, sent in chunks through ``tasks``; iterate for the finished runs.

    Parameters
    ----------
    tasks : ChunkTasks
        Sends chunks and reports their ends (made per run by the executor).
    problem : Problem
        For the failed runs of starts given up on.
    starts : iterator of (int, numpy.ndarray)
        Consumed as the window has room, never ahead of it.
    total : int, optional
        How many starts ``starts`` holds, when known.
    sizer : ChunkSizer
        Sizes the chunks; its ``n_slots`` follows ``tasks.slots()``.
    tasks_per_slot : int
        Tasks kept in flight per worker slot once chunks can be sized.
    retries : int
        More lone attempts for a start whose lone attempt killed its workers (see
        :class:`Quarantine`).

    Examples
    --------
    >>> from engine.parallel.futures import FuturesExecutor
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from engine.options import LocalOptions
    >>> p = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    >>> opts = LocalOptions(method="L-BFGS-B")
    >>> with ThreadPoolExecutor(2) as pool:
    ...     runs = [r for batch in FuturesExecutor(pool).run(
    ...         p, opts, iter([(0, np.array([0.5])), (1, np.array([-0.5]))]))
    ...         for r in batch]
    >>> sorted(r.index for r in runs)
    [0, 1]
    """

    def __init__(self, tasks: ChunkTasks, problem: Problem, starts: Iterator[Start],
                 total: int | None, sizer: ChunkSizer, tasks_per_slot: int = 2,
                 retries: int = 0) -> None:
        self.tasks = tasks
        self.problem = problem
        self.starts = starts
        self.remaining = total
        self.sizer = sizer
        self.tasks_per_slot = tasks_per_slot
        self.quarantine = Quarantine(retries)
        self.in_flight: dict[Any, tuple[list[Start], bool]] = {}  # future -> (starts, alone)
        self.more = True  # starts may remain in the iterator

    def __iter__(self) -> Iterator[list[LocalRun]]:
        slots_read = time.monotonic()
        try:
            # One single-start task per slot measures the cost of a start; the queue behind
            # each running task is filled once chunks can be sized (on a big cluster, a queue
            # of single-start tasks would cost the scheduler more than the starts).
            self._refill(self.sizer.n_slots)
            while self.in_flight:
                future = self.tasks.next_done()
                if future is None:
                    return  # the timeout: what is in flight is cancelled below
                runs = self._settle(future)
                if time.monotonic() - slots_read > SLOTS_REREAD_SECONDS:
                    self.sizer.n_slots, slots_read = max(1, self.tasks.slots()), time.monotonic()
                if self.more or self.quarantine:
                    self._refill(self.tasks_per_slot * self.sizer.n_slots)
                if runs:
                    yield runs
        finally:
            if self.in_flight:
                self.tasks.cancel(list(self.in_flight))

    def _settle(self, future: Any) -> list[LocalRun]:
        """The runs of a finished task; for a lost task, those of starts given up on."""
        chunk, alone = self.in_flight.pop(future)
        outcome = self.tasks.outcome(future)
        if isinstance(outcome, Lost):
            gave_up = self.quarantine.add(chunk, outcome.reason, alone)
            return [lost_run(self.problem, start, reason) for start, reason in gave_up]
        if isinstance(outcome, Hung):
            # The stuck start is not tried again (it would hang the next worker too); the
            # others of its chunk, finished or not, were lost with the task.
            rest = chunk[:outcome.position] + chunk[outcome.position + 1:]
            if rest:
                self._submit(rest)
            return [timed_out_run(self.problem, chunk[outcome.position], outcome.reason)]
        self.sizer.observe(len(outcome), sum(r.time for r in outcome))
        return outcome

    def _submit(self, chunk: list[Start], alone: bool = False) -> None:
        self.in_flight[self.tasks.submit(chunk)] = (chunk, alone)

    def _refill(self, window: int) -> None:
        """Top the window up to ``window`` tasks (one lone task while starts are suspect)."""
        if self.quarantine:
            # Suspects run one at a time with nothing else of this run in flight, so a
            # worker that dies now was killed by that start and by no other.
            if not self.in_flight:
                self._submit([self.quarantine.next()], alone=True)
            return
        chunks: list[list[Start]] = []
        while self.more and len(self.in_flight) + len(chunks) < window:
            chunk = list(itertools.islice(self.starts, self.sizer.next_size(self.remaining)))
            if not chunk:
                self.more = False
                break
            if self.remaining is not None:
                self.remaining -= len(chunk)
            chunks.append(chunk)
        # Sent together: the first wave fills every slot of a big cluster at once (measured
        # on 256 slots: 1.5 s to start 256 tasks sent one by one).
        if chunks:
            for future, chunk in zip(self.tasks.submit_many(chunks), chunks, strict=True):
                self.in_flight[future] = (chunk, False)


def chunk_arrays(chunk: list[Start]) -> tuple[np.ndarray, np.ndarray]:
    """A chunk as ``(indices, points)`` arrays, the form tasks take it in.

    Examples
    --------
    >>> indices, points = chunk_arrays([(2, np.zeros(2)), (5, np.ones(2))])
    >>> indices.tolist(), points.shape
    ([2, 5], (2, 2))
    """
    indices = np.array([index for index, _ in chunk], dtype=np.int64)
    points = np.array([x0 for _, x0 in chunk], dtype=float)
    return indices, points
