"""Solves in this process, one after the other (``client="serial"``, ``kind: serial``).

With a ``max_time``, each solve runs in a helper thread that the run can walk away from: an
objective call blocked in C code (``time.sleep``, a subprocess, a compiled simulator) cannot
be interrupted, and would otherwise hold the run past its limit until it returns. A thread
given up on is a daemon; it is asked to stop at its next line of Python code, so it runs on
in the background only until the blocked call returns.
"""

from __future__ import annotations

import ctypes
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from engine.local.solve import solve_each
from engine.options import LocalOptions
from engine.parallel.base import Start
from engine.parallel.cluster_kind import ClusterKind, Started
from engine.problem import Problem
from engine.results.types import LocalRun


class SerialExecutor:
    """Solve every start in this process, one after the other.

    Given a ``timeout`` (the run's ``max_time``), :meth:`run` and :meth:`evaluate` call the
    objective in a helper thread and stop waiting for it when the time is up: the objective
    then runs outside the main thread (see the module's notes).

    Examples
    --------
    >>> from engine.problem import Problem
    >>> p = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    >>> opts = LocalOptions(method="L-BFGS-B")
    >>> batches = SerialExecutor().run(p, opts, iter([(0, np.array([0.5]))]))
    >>> [round(float(r.x[0]), 6) for batch in batches for r in batch]
    [0.0]
    """

    kind = "serial"

    @property
    def n_workers(self) -> int:
        return 1

    def describe(self) -> dict[str, Any]:
        return {"kind": "serial", "n_workers": 1, "n_threads": 1}

    def close(self) -> None:
        """Nothing to release."""

    def run(
        self, problem: Problem, opts: LocalOptions, starts: Iterator[Start],
        total: int | None = None, timeout: float | None = None,
    ) -> Iterator[list[LocalRun]]:
        # The driver checks its stop rules between starts; ``timeout`` bounds the wait for
        # one start too, even one stuck inside a call that start_timeout cannot end.
        if timeout is not None:
            yield from _solve_within(problem, opts, starts, timeout)
            return
        runs = solve_each(problem, starts, opts)
        try:
            for run in runs:
                yield [run]
        finally:
            runs.close()  # ends the BLAS thread limit now, not when collected

    def evaluate(self, problem: Problem, points: np.ndarray, vectorized: bool,
                 timeout: float | None = None) -> np.ndarray:
        """The objective at each row of ``points``, here; all ``inf`` when not done within
        ``timeout`` seconds (the run's ``max_time`` is then over)."""
        points = np.asarray(points, dtype=float)
        if timeout is None:
            return problem.minimized_many(points, vectorized)
        worker = _Helper(lambda feed: (problem.minimized_many(p, vectorized) for p in feed))
        try:
            values = worker.call(points, timeout)
        finally:
            worker.close()
        return np.full(len(points), np.inf) if values is None else values


def _solve_within(problem: Problem, opts: LocalOptions, starts: Iterator[Start],
                  timeout: float) -> Iterator[list[LocalRun]]:
    """Solve ``starts`` one at a time in a helper thread, for at most ``timeout`` seconds.

    The starts are taken from the iterator here, one after the other finished, as without a
    helper: the driver's stop rules still see every run before the next start begins.
    """
    deadline = time.monotonic() + timeout
    worker = _Helper(lambda feed: solve_each(problem, feed, opts))
    try:
        for start in starts:
            run = worker.call(start, deadline - time.monotonic())
            if run is None:
                return  # the time is up: the generator ends quietly, as the protocol says
            yield [run]
    finally:
        worker.close()


class _Abandoned(BaseException):
    """Raised in a helper thread the run gave up on, so that it stops at its next line of
    Python code (a BaseException, so that no ``except Exception`` in an objective keeps it)."""


class _Helper:
    """A daemon thread that turns items handed to it into results, one at a time.

    ``work(feed)`` is a generator over the items of ``feed``, run in the thread, that yields
    one result per item (:func:`~engine.local.solve.solve_each` sets up once for all starts).

    Examples
    --------
    >>> helper = _Helper(lambda feed: (2 * item for item in feed))
    >>> helper.call(21, timeout=5.0)
    42
    >>> helper.close()
    """

    def __init__(self, work: Callable[[Iterator[Any]], Iterator[Any]]) -> None:
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        self.busy = False
        self.thread = threading.Thread(target=self._serve, args=(work,), daemon=True,
                                       name="multistart-serial-solve")
        self.thread.start()

    def _feed(self) -> Iterator[Any]:
        while (item := self.inbox.get()) is not _CLOSE:
            yield item

    def _serve(self, work: Callable[[Iterator[Any]], Iterator[Any]]) -> None:
        try:
            for result in work(self._feed()):
                self.outbox.put((True, result))
        except _Abandoned:
            pass
        except BaseException as exc:  # handed to the caller, raised there
            self.outbox.put((False, exc))

    def call(self, item: Any, timeout: float) -> Any | None:
        """The result for ``item``; None when it took more than ``timeout`` seconds."""
        if timeout <= 0:
            return None
        self.inbox.put(item)
        self.busy = True
        try:
            ok, result = self.outbox.get(timeout=timeout)
        except queue.Empty:
            return None
        self.busy = False  # idle again (or ended, when the work raised)
        if not ok:
            raise result
        return result

    def close(self) -> None:
        """End the thread: at once when idle, else when its current call returns."""
        if self.busy:
            # Busy, the thread is alive until it reads _CLOSE, put after this: its id cannot
            # belong to another thread yet.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self.thread.ident), ctypes.py_object(_Abandoned))
        self.inbox.put(_CLOSE)


_CLOSE = object()  # what tells a helper thread to end


class SerialKind(ClusterKind):
    """``kind: serial``: no cluster; every start is solved in this process.

    Examples
    --------
    >>> target, closers = SerialKind().start({"kind": "serial"})
    >>> target.kind, closers
    ('serial', [])
    """

    name = "serial"
    keys = ()

    def start(self, body: dict[str, Any]) -> Started:
        return SerialExecutor(), []
