"""Solves in this process, one after the other (``client="serial"``, ``kind: serial``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.local.solve import solve_each
from engine.options import LocalOptions
from engine.parallel.base import Start
from engine.parallel.cluster_kind import ClusterKind, Started
from engine.problem import Problem
from engine.results.types import LocalRun
from engine.search.selection import evaluate_points


class SerialExecutor:
    """Solve every start in this process, one after the other.

    Examples
    --------
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

    def close(self) -> None:
        """Nothing to release."""

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

    def evaluate(self, problem: Problem, points: np.ndarray, vectorized: bool,
                 timeout: float | None = None) -> np.ndarray:
        """The objective at each row of ``points``, here (the driver watches the time)."""
        return evaluate_points(problem, np.asarray(points, dtype=float), vectorized)


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
