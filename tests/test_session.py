"""The session's bookkeeping: a task's runs recorded in one step equal one at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from functions import get

from engine.options import DedupOptions, StopOptions
from engine.problem import Problem
from engine.results.types import LocalRun
from engine.session import Session
from engine.stop import StopRun

HIMMELBLAU = get("himmelblau")


def session(stop: StopOptions | None = None, maximize: bool = False) -> Session:
    problem = Problem.create(HIMMELBLAU.fun, HIMMELBLAU.bounds, maximize=maximize)
    return Session(problem, DedupOptions(), stop or StopOptions(), executor=None)


def random_runs(rng: np.random.Generator, n: int) -> list[LocalRun]:
    """Converged, failed (NaN and finite) and out-of-bounds runs near Himmelblau's minima."""
    minima = np.array(HIMMELBLAU.global_minima)
    runs = []
    for i in range(n):
        x = minima[rng.integers(len(minima))] + rng.normal(scale=1e-7, size=2)
        kind = rng.choice(["ok", "ok", "ok", "nan", "failed", "outside"])
        fun = float(HIMMELBLAU.fun(x)) + rng.normal(scale=1e-12)
        if kind == "nan":
            runs.append(LocalRun(i, x, x, math.nan, 3, 0, False, "failed: NaN",
                                 error="ValueError: nan"))
        elif kind == "failed":
            y = rng.uniform(-5, 5, size=2)
            runs.append(LocalRun(i, y, y, float(HIMMELBLAU.fun(y)) - 1e-3, 9, 2, False,
                                 "ABNORMAL"))
        elif kind == "outside":
            y = np.array([9.0, 9.0])
            runs.append(LocalRun(i, x, y, -1e9, 9, 2, False, "converged outside",
                                 in_bounds=False))
        else:
            runs.append(LocalRun(i, x, x, fun, 20, 8, True, "CONVERGENCE"))
    return runs


@pytest.mark.parametrize("maximize", [False, True])
def test_a_tasks_runs_recorded_at_once_equal_one_at_a_time(maximize):
    rng = np.random.default_rng(7)
    runs = random_runs(rng, 300)
    if maximize:  # the store holds the user's sign; flip the values as a maximize run would
        runs = [LocalRun(r.index, r.x0, r.x, -r.fun, r.nfev, r.nit, r.success, r.message,
                         error=r.error, in_bounds=r.in_bounds) for r in runs]
    one, batched = session(maximize=maximize), session(maximize=maximize)
    for run in runs:
        one.record_many([run])
    first = 0
    while first < len(runs):
        size = int(rng.integers(1, 40))
        batched.record_many(runs[first:first + size] + runs[first:first + 1])  # a repeat
        first += size
    for attr in ("nfev", "n_failed", "n_success", "best", "best_seen_f"):
        assert getattr(one, attr) == getattr(batched, attr), attr
    np.testing.assert_array_equal(one.best_seen_x, batched.best_seen_x)
    assert len(batched.runs) == 300
    assert [b.members for b in one.online.basins()] == [
        b.members for b in batched.online.basins()]
    assert len(batched.online) == 4  # Himmelblau's four minima


def test_a_nan_first_in_a_batch_does_not_hide_the_best_point_seen():
    s = session()
    x = np.array([3.0, 2.0])
    s.record_many([
        LocalRun(0, x, x, math.nan, 3, 0, False, "failed: NaN", error="ValueError: nan"),
        LocalRun(1, x, x + 0.1, 0.5, 5, 1, False, "failed: budget", error="BudgetExhausted"),
    ])
    assert s.best_seen_f == 0.5 and s.best_seen_x.tolist() == [3.1, 2.1]


def test_a_target_met_by_a_later_run_of_the_batch_stops_the_run():
    s = session(StopOptions(target=1e-3))
    x = np.array([3.0, 2.0])
    runs = [LocalRun(0, x, x + 1, 5.0, 5, 1, True, "ok"), LocalRun(1, x, x, 0.0, 5, 1, True, "ok")]
    s.record_many(runs)
    with pytest.raises(StopRun) as stop:
        s.check_runs(runs)
    assert stop.value.reason == "target"
    s.check_runs([])  # nothing to check: no stop
    quiet = session(StopOptions(target=-1.0))
    quiet.record_many(runs)
    quiet.check_runs(runs)  # no run reaches -1: the loop goes on
