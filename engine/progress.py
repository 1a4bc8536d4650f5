"""Progress while a run goes on: the state a callback sees, and the displays of ``progress=``.

:func:`make_progress` picks the display: a live bar drawn with ``rich`` in a terminal or a
notebook, one plain line every few seconds otherwise (batch logs, pipes, CI), where a redrawn
bar would fill the log with control codes. Both show starts done of planned, the best value,
the distinct minima, failures, evaluations, elapsed time and the estimated time left.

The driver calls the display as ``display(state)`` after each finished start and once more
as ``display(state, final=True)`` at the end.
"""

from __future__ import annotations

import atexit
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from engine.results.types import LocalRun, Minimum

#: Seconds between two plain progress lines when the output is not a terminal.
LINE_INTERVAL = 10.0


@dataclass(frozen=True)
class RunState:
    """What a callback sees after each finished start.

    Attributes
    ----------
    run : LocalRun
        The run that just finished.
    n_done, n_total : int
        Starts finished up to and including ``run`` (this session and resumed) and starts
        planned. The runs of one cluster task arrive together; each is shown in turn with
        its own counts, so ``n_done`` goes up by one per call.
    n_failed, nfev : int
        Failed runs and evaluations up to and including ``run``.
    n_minima : int
        Distinct minima so far, counted once the task of ``run`` was merged (provisional: the
        final merge, done in value order, can only be equal or smaller).
    best_fun : float
        Best value up to and including ``run``, with the user's sign (NaN before the first
        success).
    elapsed : float
        Seconds since the run started.
    minima : tuple of Minimum
        The distinct minima so far, best first (provisional, like ``n_minima``); built when
        first read (a callback that never reads it costs nothing per start), so read it
        inside the callback: a state kept and read later shows the minima of that later
        time. Empty for progress displays.
    """

    run: LocalRun
    n_done: int
    n_total: int
    n_failed: int
    nfev: int
    n_minima: int
    best_fun: float
    elapsed: float
    minima_source: Callable[[], tuple[Minimum, ...]] | None = field(
        default=None, repr=False, compare=False)

    @property
    def minima(self) -> tuple[Minimum, ...]:
        if self.minima_source is None:
            return ()
        if "_minima" not in self.__dict__:
            object.__setattr__(self, "_minima", self.minima_source())
        return self.__dict__["_minima"]


class _Rate:
    """Time left, from the starts finished in this session (resumed ones cost nothing)."""

    def __init__(self) -> None:
        self.first_done: int | None = None

    def eta(self, state: RunState) -> float | None:
        """Seconds left at the current pace, or None while unknown (or past the plan)."""
        if self.first_done is None:
            # The first state reports one finished start; the ones before it were resumed.
            self.first_done = state.n_done - 1
        solved = state.n_done - self.first_done
        left = state.n_total - state.n_done
        if solved <= 0 or left <= 0 or state.elapsed <= 0:
            return None
        return state.elapsed / solved * left


def _clock(seconds: float | None) -> str:
    """``h:mm:ss`` (or ``-:--:--`` when unknown), as rich's time columns print it."""
    if seconds is None or not math.isfinite(seconds):
        return "-:--:--"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _best(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.10g}"


class LinePrinter:
    """One plain line of :class:`RunState` every ``interval`` seconds, and one at the end.

    For output that is not a terminal: a batch job's log gets a line it can grep, not a
    redrawn bar. The first finished start is always printed, so the log shows the run began.

    Examples
    --------
    >>> import io, numpy as np
    >>> from engine.results.types import LocalRun
    >>> run = LocalRun(0, np.zeros(1), np.zeros(1), 0.5, 10, 3, True, "ok")
    >>> out = io.StringIO()
    >>> LinePrinter(out)(RunState(run, 1, 4, 0, 10, 1, 0.5, 2.0))
    >>> out.getvalue().split(",")[0]
    '[multistart] 1/4 starts'
    """

    def __init__(self, stream: IO[str] | None = None, interval: float = LINE_INTERVAL) -> None:
        self.stream = stream
        self.interval = interval
        #: The last word of the final line; the command line sets it to "interrupted" or
        #: "terminated" when a signal stops the run (then it is not "done").
        self.ending = "done"
        self._last: float | None = None
        self._rate = _Rate()

    def __call__(self, state: RunState, final: bool = False) -> None:
        eta = self._rate.eta(state)
        now = time.monotonic()
        if not final and self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        tail = self.ending if final else f"eta {_clock(eta)}"
        print(
            f"[multistart] {state.n_done}/{state.n_total} starts, best {_best(state.best_fun)}, "
            f"{state.n_minima} minima, {state.n_failed} failed, {state.nfev} evals, "
            f"elapsed {_clock(state.elapsed)}, {tail}",
            file=self.stream or sys.stderr, flush=True,
        )


# Terminals at least this wide get the long labels; narrower ones the short layout.
WIDE_TERMINAL = 125


class RichProgress:
    """A live progress bar in a terminal or a notebook, drawn with ``rich``.

    Shows starts done of planned (bar and count), best value so far, distinct minima,
    failures, evaluations, elapsed time and time left; elapsed time keeps ticking between
    finished starts. Closed by the final call (it also closes itself when the program exits
    early, so the terminal's cursor comes back).

    Parameters
    ----------
    console : rich.console.Console, optional
        Where to draw; default a console on standard error.
    refresh_per_second : float
        Redraws per second.

    Examples
    --------
    >>> import io, numpy as np
    >>> from rich.console import Console
    >>> from engine.results.types import LocalRun
    >>> run = LocalRun(0, np.zeros(1), np.zeros(1), 0.5, 10, 3, True, "ok")
    >>> out = io.StringIO()
    >>> bar = RichProgress(Console(file=out, width=130, force_terminal=True))
    >>> bar(RunState(run, 4, 4, 0, 40, 1, 0.5, 2.0), final=True)
    >>> "4/4 starts" in out.getvalue()
    True
    """

    def __init__(self, console: Any = None, refresh_per_second: float = 4.0) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.refresh_per_second = refresh_per_second
        #: The word shown at the end instead of the time left (see :class:`LinePrinter`).
        self.ending = "done"
        self._ended = False
        self._progress: Any = None
        self._task: Any = None
        self._rate = _Rate()
        self._state: RunState | None = None
        self._stamp = time.monotonic()

    def _text(self, task: Any) -> str:
        """Counts, best value and times; short labels when the terminal is narrow."""
        state = self._state
        elapsed = 0.0 if state is None else state.elapsed
        if task.finished or self._ended:
            left = self.ending
        else:
            elapsed += time.monotonic() - self._stamp
            eta = task.fields.get("eta")
            if eta is not None:
                eta = max(0.0, eta - (time.monotonic() - self._stamp))
            left = f"eta {_clock(eta)}"
        f = task.fields
        if self.console.width >= WIDE_TERMINAL:
            return (f"{task.completed:.0f}/{f['planned']} starts  best {f['best']}  "
                    f"{f['minima']} minima  {f['failed']} failed  {f['nfev']} evals  "
                    f"elapsed {_clock(elapsed)}  {left}")
        return (f"{task.completed:.0f}/{f['planned']} best {f['best']} {f['minima']} min "
                f"{f['failed']} fail {f['nfev']} ev {_clock(elapsed)} {left}")

    def _columns(self) -> list[Any]:
        from rich.progress import BarColumn, ProgressColumn, TextColumn
        from rich.text import Text

        display = self
        bar = BarColumn(bar_width=24)
        label = "multistart" if self.console.width >= WIDE_TERMINAL else ""

        class Stats(ProgressColumn):
            """Everything but the bar, in one piece so the line never wraps: the bar gets
            what the text leaves of the terminal's width (none when too little)."""

            def render(self, task: Any) -> Text:
                text = display._text(task)
                room = display.console.width - len(text) - 2 - (len(label) + 1 if label else 0)
                bar.bar_width = min(24, room) if room >= 6 else 0
                return Text(text, style="progress.description", no_wrap=True,
                            overflow="ellipsis")

        return [TextColumn(f"[bold]{label}"), bar, Stats()] if label else [bar, Stats()]

    def _start(self, state: RunState) -> None:
        from rich.progress import Progress

        self._progress = Progress(*self._columns(), console=self.console,
                                  refresh_per_second=self.refresh_per_second)
        self._task = self._progress.add_task("multistart", total=None, **self._fields(state))
        self._progress.start()
        atexit.register(self.close)

    @staticmethod
    def _fields(state: RunState) -> dict[str, Any]:
        return {"planned": state.n_total, "best": _best(state.best_fun),
                "minima": state.n_minima, "failed": state.n_failed, "nfev": state.nfev}

    def __call__(self, state: RunState, final: bool = False) -> None:
        eta = self._rate.eta(state)
        self._state, self._stamp = state, time.monotonic()
        if self._progress is None:
            self._start(state)
        # A plan that grows (budget-driven runs) or is unknown shows a count without a bar.
        total = state.n_total if state.n_total >= state.n_done > 0 else None
        if final:
            total = state.n_done if total is None else total
            self._ended = True
        self._progress.update(self._task, completed=state.n_done, total=total, eta=eta,
                              **self._fields(state))
        if final:
            if self.ending == "done":  # an interrupted run's bar shows how far it got
                self._progress.update(self._task, total=state.n_done)  # the bar ends full
            self.close()

    def close(self) -> None:
        """Stop drawing (idempotent): the last picture stays on screen."""
        if self._progress is not None:
            self._progress.refresh()
            self._progress.stop()
            self._progress = None
            atexit.unregister(self.close)


def _can_draw_live(console: Any) -> bool:
    """A terminal that understands cursor moves, or a notebook that can show widgets."""
    if console.is_jupyter:
        import importlib.util

        return importlib.util.find_spec("ipywidgets") is not None
    return console.is_terminal and not console.is_dumb_terminal


def make_progress(
    progress: bool | Callable[..., None] | None,
    *,
    interval: float = LINE_INTERVAL,
) -> Callable[..., None] | None:
    """The progress display for ``progress=``.

    Parameters
    ----------
    progress : bool or callable
        ``True``: a live ``rich`` bar when standard error is a terminal or in a notebook
        (with ``ipywidgets``), else one plain line every ``interval`` seconds. ``False`` or
        None: no display. A callable is used as given: called as ``display(state)`` after
        each finished start and once more as ``display(state, final=True)``.
    interval : float
        Seconds between plain lines.

    Returns
    -------
    callable or None
        The display, or None for none.

    Examples
    --------
    >>> make_progress(False) is None
    True
    >>> type(make_progress(True)).__name__ in ("RichProgress", "LinePrinter")
    True
    """
    if progress is True:
        from rich.console import Console

        console = Console(stderr=True)
        if _can_draw_live(console):
            return RichProgress(console)
        return LinePrinter(interval=interval)
    return progress or None
