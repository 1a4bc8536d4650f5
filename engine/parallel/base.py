"""The :class:`Executor` protocol: what the driver needs from a place where solves run.

The engine ships three: :class:`~engine.parallel.serial.SerialExecutor` (this process),
:class:`~engine.parallel.dask_executor.DaskExecutor` (a ``distributed.Client``) and
:class:`~engine.parallel.futures.FuturesExecutor` (any ``concurrent.futures.Executor``). Any
object with these members can be passed as ``client=`` and is used as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine.options import LocalOptions
from engine.problem import Problem
from engine.results.types import LocalRun

#: One start of a run: its index (user ``x0`` points first) and its point.
Start = tuple[int, np.ndarray]


@runtime_checkable
class Executor(Protocol):
    """Runs local solves and objective evaluations for the driver.

    Attributes
    ----------
    kind : str
        ``"serial"``, ``"dask"``, ``"futures"``, ...; recorded in the result's provenance.
        The driver shares a run's evaluation budget start by start only with ``"serial"``.

    Examples
    --------
    >>> from engine.parallel.serial import SerialExecutor
    >>> isinstance(SerialExecutor(), Executor)
    True
    """

    kind: str

    def run(self, problem: Problem, opts: LocalOptions, starts: Iterator[Start],
            total: int | None = None, timeout: float | None = None,
            ) -> Iterator[list[LocalRun]]:
        """Solve ``starts``, yielding the runs of each finished task as it finishes.

        ``total`` is how many starts the iterator will give, when known (chunks shrink near
        the end). After ``timeout`` seconds the generator ends quietly, work still in flight
        abandoned. The caller may stop consuming at any time; closing the generator cancels
        what is still queued. A start whose objective raises fails alone (its run says why);
        a start whose worker died is re-run, or recorded as a failed run once it has killed
        every worker it was tried on. A start stuck inside one objective call that
        ``opts.start_timeout`` cannot interrupt (blocked in C code) must not hold the run: the
        Dask executor restarts its worker and records it as timed out; the serial executor
        stops waiting for it at ``timeout``.
        """
        ...

    def evaluate(self, problem: Problem, points: np.ndarray, vectorized: bool,
                 timeout: float | None = None) -> np.ndarray:
        """The objective at each row of ``points`` (minimized sign); ``inf`` where it failed
        or was not done within ``timeout`` seconds."""
        ...

    def describe(self) -> dict[str, Any]:
        """What ran the solves, for the result's provenance: at least ``kind`` and
        ``n_workers``."""
        ...

    def close(self) -> None:
        """Release what the executor itself made (never a client or pool it was given)."""
        ...
