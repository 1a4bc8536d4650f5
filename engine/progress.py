"""Progress while a run goes on: a state object for callbacks and a plain line printer."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from engine.results import LocalRun, Minimum


@dataclass(frozen=True)
class RunState:
    """What a callback sees after each finished start.

    Attributes
    ----------
    run : LocalRun
        The run that just finished.
    n_done, n_total : int
        Starts finished so far (this session and resumed) and starts planned.
    n_failed, nfev, n_minima : int
        Failed runs, evaluations and distinct minima so far (the count is provisional: the
        final merge, done in value order, can only be equal or smaller).
    best_fun : float
        Best value so far with the user's sign (NaN before the first success).
    elapsed : float
        Seconds since the run started.
    minima : tuple of Minimum
        The distinct minima so far, best first (provisional, like ``n_minima``); filled only
        when a ``callback`` is given, else empty.
    """

    run: LocalRun
    n_done: int
    n_total: int
    n_failed: int
    nfev: int
    n_minima: int
    best_fun: float
    elapsed: float
    minima: tuple[Minimum, ...] = ()


class LinePrinter:
    """Prints one line of :class:`RunState` every ``interval`` seconds (and at the end)."""

    def __init__(self, stream: IO[str] | None = None, interval: float = 2.0) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self._last = 0.0

    def __call__(self, state: RunState, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < self.interval:
            return
        self._last = now
        eta = ""
        if 0 < state.n_done < state.n_total and not final:
            eta = f", eta {state.elapsed / state.n_done * (state.n_total - state.n_done):.0f}s"
        print(
            f"[multistart] {state.n_done}/{state.n_total} starts, best {state.best_fun:.10g}, "
            f"{state.n_minima} minima, {state.n_failed} failed, {state.nfev} evals, "
            f"{state.elapsed:.1f}s{eta}",
            file=self.stream, flush=True,
        )


def make_progress(
    progress: bool | Callable[..., None] | None,
) -> Callable[..., None] | None:
    """The progress display for ``progress=``: ``True`` gives the default, a callable is used as
    given (called as ``display(state)`` and once more as ``display(state, final=True)``)."""
    if progress is True:
        return LinePrinter()
    return progress or None
