"""Progress displays: the live bar, the plain lines for logs, and which one progress=True picks."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from functions import get
from rich.console import Console

import engine
from engine.progress import LinePrinter, RichProgress, RunState, make_progress
from engine.results.types import LocalRun

HIMMELBLAU = get("himmelblau")


def state(n_done: int, n_total: int = 10, elapsed: float = 1.0, best: float = 0.25,
          failed: int = 1, nfev: int = 123, n_minima: int = 3) -> RunState:
    run = LocalRun(index=n_done - 1, x0=np.zeros(2), x=np.zeros(2), fun=best, nfev=7, nit=2,
                   success=True, message="ok")
    return RunState(run=run, n_done=n_done, n_total=n_total, n_failed=failed, nfev=nfev,
                    n_minima=n_minima, best_fun=best, elapsed=elapsed)


def plain(text: str) -> str:
    """Terminal output without colour and cursor control codes."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


# ------------------------------------------------------------------ plain lines


def test_line_printer_prints_the_first_state_then_one_line_per_interval_and_the_end():
    out = io.StringIO()
    printer = LinePrinter(out, interval=3600.0)
    printer(state(1, elapsed=0.5))
    printer(state(2, elapsed=1.0))  # within the interval: nothing
    printer(state(3, elapsed=1.5))
    printer(state(4, elapsed=2.0), final=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0] == ("[multistart] 1/10 starts, best 0.25, 3 minima, 1 failed, 123 evals, "
                        "elapsed 0:00:00, eta 0:00:04")  # 0.5 s per start, 9 left
    assert lines[1].startswith("[multistart] 4/10 starts") and lines[1].endswith("done")


def test_line_printer_prints_every_state_with_a_zero_interval():
    out = io.StringIO()
    printer = LinePrinter(out, interval=0.0)
    for n in range(1, 6):
        printer(state(n, elapsed=float(n)))
    assert len(out.getvalue().splitlines()) == 5


def test_time_left_counts_only_the_starts_solved_in_this_session():
    # 90 starts came from the journal; this session solved 10 in 20 s: 2 s each, 10 left.
    out = io.StringIO()
    printer = LinePrinter(out, interval=0.0)
    printer(state(91, n_total=110, elapsed=2.0))
    printer(state(100, n_total=110, elapsed=20.0))
    last = out.getvalue().splitlines()[-1]
    assert "100/110 starts" in last and last.endswith("eta 0:00:20")


def test_unknown_best_value_and_a_plan_already_done_show_dashes():
    out = io.StringIO()
    LinePrinter(out)(state(1, n_total=1, best=float("nan")))
    assert "best -," in out.getvalue() and "eta -:--:--" in out.getvalue()


# ------------------------------------------------------------------ live bar


def live(width: int = 200) -> tuple[RichProgress, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None)
    return RichProgress(console, refresh_per_second=50), out


def test_live_bar_shows_every_count_and_ends_full():
    bar, out = live()
    bar(state(4, n_total=8, elapsed=2.0))
    bar(state(8, n_total=8, elapsed=4.0, best=-1.5, failed=2, nfev=999, n_minima=6),
        final=True)
    last = plain(out.getvalue()).strip().splitlines()[-1]
    for text in ("multistart", "8/8 starts", "best -1.5", "6 minima", "2 failed",
                 "999 evals", "elapsed 0:00:04", "done"):
        assert text in last, (text, last)
    assert bar._progress is None  # stopped: the terminal is handed back


def test_live_bar_while_running_estimates_time_left():
    bar, out = live()
    bar(state(2, n_total=12, elapsed=3.0))  # 1 start solved here in 3 s: 10 left, 30 s
    bar._progress.refresh()
    text = plain(out.getvalue())
    assert "2/12 starts" in text and "eta 0:00:30" in text
    bar.close()
    bar.close()  # closing twice is harmless


def test_live_bar_accepts_a_plan_that_grows_past_its_total():
    bar, out = live()
    bar(state(12, n_total=10, elapsed=3.0))
    bar(state(13, n_total=10, elapsed=3.5), final=True)
    assert "13/10 starts" in plain(out.getvalue())


# ------------------------------------------------------------------ choosing a display


def test_make_progress_picks_plain_lines_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    display = make_progress(True, interval=7.0)
    assert isinstance(display, LinePrinter) and display.interval == 7.0


def test_make_progress_picks_the_live_bar_in_a_terminal(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats the output as a terminal
    monkeypatch.setenv("TERM", "xterm-256color")
    assert isinstance(make_progress(True), RichProgress)


def test_make_progress_passes_callables_through_and_switches_off():
    def mine(state, final=False):
        return None

    assert make_progress(mine) is mine
    assert make_progress(False) is None and make_progress(None) is None


# ------------------------------------------------------------------ with the engine


def test_minimize_with_progress_true_ends_with_the_final_counts(capsys):
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=16, seed=0,
                          client="serial", progress=True)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("[multistart]")]
    assert lines[0].startswith("[multistart] 1/16 starts")
    assert lines[-1].startswith(f"[multistart] 16/16 starts, best {res.fun:.10g}, "
                                f"{len(res.minima)} minima, {res.n_failed} failed, "
                                f"{res.nfev} evals")
    assert lines[-1].endswith("done")


def test_a_display_callable_sees_every_start_and_one_final_call():
    calls: list[tuple[int, bool]] = []

    def display(state: RunState, final: bool = False) -> None:
        calls.append((state.n_done, final))

    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=8, seed=0,
                          client="serial", progress=display)
    assert [n for n, final in calls if not final] == list(range(1, 9))
    assert calls[-1] == (res.n_starts, True) and sum(f for _, f in calls) == 1


def test_callback_sees_current_minima_and_stops_the_run_cleanly():
    seen: list[int] = []

    def stop_at_four_minima(state: RunState) -> bool:
        seen.append(len(state.minima))
        assert len(state.minima) == state.n_minima
        return state.n_minima >= 4

    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=64, seed=0,
                          client="serial", callback=stop_at_four_minima)
    assert res.stop_reason == "callback"
    assert len(res.minima) == 4 and res.n_starts == len(seen) < 64
    assert seen[-1] == 4 and max(seen[:-1]) < 4


@pytest.mark.parametrize("width", [60, 80, 100, 200])
def test_live_bar_renders_at_any_width(width):
    bar, out = live(width)
    bar(state(5, n_total=5), final=True)
    assert "5/5" in plain(out.getvalue())


@pytest.mark.parametrize("width", [80, 100, 125, 200])
def test_live_bar_fits_on_one_line_with_every_count_readable(width):
    bar, out = live(width)
    bar(state(1234, n_total=100_000, elapsed=3725.0, best=-1.0316284534, failed=17,
              nfev=9_876_543, n_minima=123))
    bar.close()
    lines = [line for line in plain(out.getvalue()).splitlines() if line.strip()]
    last = lines[-1]
    assert len(last) <= width
    for text in ("1234/100000", "-1.0316284", "123 min", "17 fail", "9876543 ev", "1:02:05",
                 "eta "):
        assert text in last, (text, last)


def test_a_run_stopped_by_a_signal_does_not_end_with_done():
    out = io.StringIO()
    printer = LinePrinter(out)
    printer.ending = "interrupted"  # what the command line sets when Ctrl-C stops the run
    printer(state(4, n_total=10), final=True)
    assert out.getvalue().rstrip().endswith("4/10 starts, best 0.25, 3 minima, 1 failed, "
                                            "123 evals, elapsed 0:00:01, interrupted")
    bar, out = live()
    bar.ending = "terminated"
    bar(state(3, n_total=8, elapsed=2.0))
    bar(state(4, n_total=8, elapsed=3.0), final=True)
    last = plain(out.getvalue()).strip().splitlines()[-1]
    assert "4/8 starts" in last and last.endswith("terminated") and "done" not in last
