"""The tasks that run on worker processes, and the payload they unpickle the problem from.

Shared by every executor that sends work to other processes (Dask workers, process pools,
MPI ranks). This module imports no Dask, so a plain process pool's workers never load it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Iterator

import cloudpickle
import numpy as np

from engine.exceptions import ClusterError
from engine.local.solve import one_blas_thread, solve_chunk, solve_each
from engine.options import LocalOptions
from engine.problem import Problem
from engine.results.types import LocalRun, RunBatch

_PROBLEM_CACHE: dict[str, tuple[Problem, LocalOptions | None]] = {}
_CACHE_LOCK = threading.Lock()
# A worker serving many runs (a long-lived cluster, several minimize calls) keeps only the
# most recent problems.
_CACHE_SIZE = 4

# The start each watched chunk task is solving now: task key -> (position in the chunk, start
# index, time.monotonic() when it began). Read by :func:`running_starts` from the worker's
# event loop, which answers while the task's thread is blocked inside a call.
_RUNNING: dict[str, tuple[int, int, float]] = {}


def pickled(problem: Problem, opts: LocalOptions | None) -> bytes:
    """``(problem, opts)`` pickled for the workers, or a ClusterError saying what to change.

    Examples
    --------
    >>> p = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    >>> load_payload(payload_token(pickled(p, None)), pickled(p, None))[0].dim
    1
    """
    try:
        return cloudpickle.dumps((problem, opts))
    except Exception as exc:
        raise ClusterError(
            f"the problem cannot be sent to the workers: pickling failed with "
            f"{type(exc).__name__}: {exc}. Objectives and their arguments must be picklable "
            "(plain functions, lambdas and closures are; open files, locks and sockets are "
            "not); or run with client='serial'"
        ) from exc


def payload_token(payload: bytes) -> str:
    """The cache key of a payload on the workers: its SHA-256."""
    return hashlib.sha256(payload).hexdigest()


def load_payload(token: str, payload: bytes) -> tuple[Problem, LocalOptions | None]:
    """Unpickle the problem once per worker process (tasks share it through the cache)."""
    with _CACHE_LOCK:
        cached = _PROBLEM_CACHE.get(token)
        if cached is None:
            cached = cloudpickle.loads(payload)
            if len(_PROBLEM_CACHE) >= _CACHE_SIZE:
                _PROBLEM_CACHE.pop(next(iter(_PROBLEM_CACHE)))
            _PROBLEM_CACHE[token] = cached
    return cached


def run_chunk_task(token: str, payload: bytes, indices: np.ndarray, points: np.ndarray,
                   watch_key: str | None = None) -> RunBatch | list[LocalRun]:
    """Solve a chunk of starts on a worker; the runs go back in columns.

    The starts come as two arrays, not a list of ``(index, x0)`` pairs: Dask inspects every
    element of a list argument and sends every array in it as a frame of its own. With
    ``watch_key`` (the task's key), the start being solved and since when is kept where
    :func:`running_starts` reads it, so a start stuck inside one call can be found.

    Examples
    --------
    >>> p = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    >>> payload = pickled(p, LocalOptions(method="L-BFGS-B"))
    >>> batch = run_chunk_task(payload_token(payload), payload, np.array([7]),
    ...                        np.array([[0.5]]), watch_key="task-1")
    >>> [(r.index, round(float(r.x[0]), 6)) for r in batch.unpack()], running_starts()
    ([(7, 0.0)], {})
    """
    problem, opts = load_payload(token, payload)
    assert opts is not None, "a run's payload carries its local options"
    starts = list(zip(indices.tolist(), points, strict=True))
    if watch_key is None:
        return RunBatch.pack(solve_chunk(problem, starts, opts))
    try:
        return RunBatch.pack(list(solve_each(problem, _tracked(watch_key, starts), opts)))
    finally:
        _RUNNING.pop(watch_key, None)


def _tracked(key: str, starts: Iterable[tuple[int, np.ndarray]]
             ) -> Iterator[tuple[int, np.ndarray]]:
    """``starts``, noting each one's position and start time as the solver takes it."""
    for position, (index, x0) in enumerate(starts):
        _RUNNING[key] = (position, index, time.monotonic())
        yield index, x0


def running_starts() -> dict[str, tuple[int, int, float]]:
    """The watched tasks running in this process: key -> (position, start index, seconds
    the start has run). Times are measured here, so clocks of other hosts do not matter.

    Examples
    --------
    >>> running_starts()
    {}
    """
    now = time.monotonic()
    return {key: (position, index, now - began)
            for key, (position, index, began) in list(_RUNNING.items())}


def evaluate_chunk_task(token: str, payload: bytes, points: np.ndarray,
                        vectorized: bool) -> tuple[np.ndarray, float]:
    """The objective at a block of points, on a worker, and the seconds it took (the driver
    learns from them where later blocks are cheaper to evaluate,
    :mod:`engine.parallel.placement`).

    Examples
    --------
    >>> p = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    >>> payload = pickled(p, None)
    >>> values, seconds = evaluate_chunk_task(payload_token(payload), payload,
    ...                                       np.array([[0.5], [2.0]]), False)
    >>> values.tolist(), seconds >= 0
    ([0.25, 4.0], True)
    """
    problem, _ = load_payload(token, payload)
    began = time.perf_counter()
    with one_blas_thread():
        values = problem.minimized_many(points, vectorized)
    return values, time.perf_counter() - began


def unpacked(result: RunBatch | list[LocalRun]) -> list[LocalRun]:
    """The runs of a chunk task's result."""
    return result.unpack() if isinstance(result, RunBatch) else result
