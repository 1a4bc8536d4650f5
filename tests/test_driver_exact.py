"""The driver's exact contract: the result built from runs (messages, counts, the estimates,
the second merge and its budget, the best point seen, relabelling notes), the provenance of a
run, why a run ended, and what the executor, a display and a callback are given."""

from __future__ import annotations

import datetime as dt
import math
import platform
import socket
from dataclasses import replace
from importlib import metadata

import numpy as np
import pytest

import engine
from engine.api import resolve_spec
from engine.driver import build_result, run_multistart, versions
from engine.fitting.residuals import Residuals
from engine.local.solve import RELABELLED
from engine.options import DedupOptions, LocalOptions, SearchOptions, StartOptions, StopOptions
from engine.parallel.serial import SerialExecutor
from engine.problem import Problem
from engine.results.journal import Journal
from engine.results.store import RunStore
from engine.results.types import LocalRun, RunSpec
from engine.stop import estimated_coverage, estimated_n_minima

BUDGET_ERROR = "BudgetExhausted: max_evals reached after 5 evaluations"


def well(x) -> float:
    """Two minima, at -1 and 1, both 0, with a barrier of 1 at 0."""
    return float((x[0] ** 2 - 1.0) ** 2)


def valley(x) -> float:
    """A line of minima: every point with x0 = 0.5 is a minimum of value 0."""
    return float((x[0] - 0.5) ** 2)


def run(index: int, x, fun: float, nfev: int = 10, success: bool = True,
        error: str | None = None, message: str = "converged") -> LocalRun:
    x = np.atleast_1d(np.asarray(x, dtype=float))
    return LocalRun(index, x, x, fun, nfev, 3, success, message if success else "failed",
                    error=error)


def spec_of(problem: Problem, **groups) -> RunSpec:
    return RunSpec(lower=problem.lower, upper=problem.upper, maximize=problem.maximize,
                   **groups)


def well_runs() -> list[LocalRun]:
    """Six successes (two at -1, four at 1), one failure, one run the budget stopped."""
    return [run(0, -1.0, 0.0), run(1, 1.0, 0.0), run(2, 1.0, 0.0), run(3, -1.0, 0.0),
            run(4, 1.0, 0.0), run(5, 1.0, 0.0),
            run(6, 0.3, math.nan, success=False, error="ValueError: objective returned nan"),
            run(7, 0.2, 0.9, nfev=5, success=False, error=BUDGET_ERROR)]


# ------------------------------------------------------------------------- build_result


def test_a_result_counts_ranks_and_estimates_from_the_successful_runs():
    problem = Problem.create(well, [(-2.0, 2.0)])
    spec = spec_of(problem, local=LocalOptions(method="Powell"),
                   search=SearchOptions(strategy="mlsl"))
    runs = {r.index: r for r in well_runs()}
    res = build_result(problem, runs, spec, "n_starts", 2.5, {"given": "yes"}, n_explore=7,
                       n_skipped=3, portfolio={"mlsl": {"starts": 8}})
    assert res.message == ("found 2 distinct minima from 8 starts (1 failed, 1 stopped by the "
                           "budget); stopped by n_starts")
    assert [m.x.tolist() for m in res.minima] == [[-1.0], [1.0]]  # ties: the lower index first
    assert [m.starts for m in res.minima] == [(0, 3), (1, 2, 4, 5)]
    assert [m.n_hits for m in res.minima] == [2, 4]
    assert [m.note for m in res.minima] == [None, None]
    # Each minimum's start is that of its best run (ties: the first), its nfev its runs'.
    assert [m.x0.tolist() for m in res.minima] == [[-1.0], [1.0]]
    assert [m.nfev for m in res.minima] == [20, 40]
    assert res.x.tolist() == [-1.0] and res.fun == 0.0 and res.success is True
    assert res.nfev == 7 * 10 + 5 + 7 and res.n_explore == 7 and res.n_skipped == 3
    assert res.n_starts == 8 and res.n_failed == 1 and len(res.runs) == 8
    assert isinstance(res.runs, RunStore)
    assert res.wall_time == 2.5 and res.stop_reason == "n_starts" and res.maximize is False
    # Six successful solves found two minima: the Bayesian estimates of that count.
    assert res.estimated_n_minima == estimated_n_minima(6, 2) == 2 * 5 / 2
    assert res.coverage == estimated_coverage(6, 2) == pytest.approx(3 * 8 / 30)
    assert res.method == "Powell" and res.strategy == "mlsl" and res.spec is spec
    assert res.portfolio == {"mlsl": {"starts": 8}}
    # The barrier at 0 was seen on the segment's five interior points: still two minima.
    assert res.provenance == {"given": "yes", "merge": {"evaluations": 5, "minima_before": 2,
                                                        "minima_after": 2}}


def test_a_maximization_reports_maxima_in_the_users_sign():
    problem = Problem.create(lambda x: 3.0 - well(x), [(-2.0, 2.0)], maximize=True)
    runs = [run(0, 1.0, 3.0), run(1, -1.0, 3.0), run(2, 0.0, 2.0), run(3, 1.0, 3.0),
            run(4, 1.0, 3.0)]
    res = build_result(problem, RunStore.from_runs(runs), spec_of(problem), "n_starts", 1.0, {})
    assert res.message == ("found 3 distinct maxima from 5 starts (0 failed); stopped by "
                           "n_starts")
    # Best first in the user's sense: the highest, ties by start index; the saddle last.
    assert [m.x.tolist() for m in res.minima] == [[1.0], [-1.0], [0.0]]
    assert [m.fun for m in res.minima] == [3.0, 3.0, 2.0]
    assert res.fun == 3.0 and res.maximize is True
    assert res.n_explore == 0 and res.n_skipped == 0 and res.nfev == 50


def test_no_success_says_how_many_failed_and_were_stopped():
    problem = Problem.create(well, [(-2.0, 2.0)])
    failed = [run(0, 0.5, math.nan, success=False, error="ValueError: nan"),
              run(1, 0.5, 0.4, success=False, error=BUDGET_ERROR)]
    res = build_result(problem, {r.index: r for r in failed}, spec_of(problem), "max_evals",
                       1.0, {"given": 1})
    assert res.message == "no local solve succeeded (1 of 2 failed, 1 stopped by the budget)"
    assert res.x is None and math.isnan(res.fun) and res.success is False
    assert res.minima == () and res.provenance == {"given": 1}
    assert res.estimated_n_minima == math.inf and res.coverage == 0.0
    only_failed = build_result(problem, {0: failed[0]}, spec_of(problem), "n_starts", 1.0, {})
    assert only_failed.message == "no local solve succeeded (1 of 1 failed)"


def test_the_best_point_seen_replaces_a_worse_minimum_and_says_so():
    problem = Problem.create(well, [(-2.0, 2.0)])
    spec = spec_of(problem, search=SearchOptions(polish=False))
    runs = {0: run(0, 1.0, 0.5)}  # a solve that stopped on a slope, say
    res = build_result(problem, runs, spec, "max_evals", 1.0, {}, best_seen=([1], -0.25),
                       note="the budget ran out")
    assert res.x.dtype == np.float64 and res.x.tolist() == [1.0] and res.fun == -0.25
    assert res.message == (
        "found 1 distinct minima from 1 starts (0 failed); stopped by max_evals; x is the "
        "best point evaluated (fun=-0.25), which no local solve had descended from when the "
        "run stopped: give a larger budget to refine it; the budget ran out")
    assert [m.fun for m in res.minima] == [0.5]  # the minima stay what the solves found
    # Within ftol of the minimum it is no better: the minimum stays the answer.
    close = build_result(problem, runs, spec, "max_evals", 1.0, {},
                         best_seen=(np.array([0.9]), 0.5 - 1e-7))
    assert close.x.tolist() == [1.0] and close.fun == 0.5 and "best point" not in close.message
    # Nothing converged: the best point seen is the answer.
    none = build_result(problem, {0: run(0, 1.0, 0.5, success=False, error="ValueError: x")},
                        spec, "n_starts", 1.0, {}, best_seen=(np.array([0.5]), 0.6))
    assert none.x.tolist() == [0.5] and none.fun == 0.6 and none.success is False


def test_the_best_point_seen_is_compared_in_the_users_sign_when_maximizing():
    problem = Problem.create(lambda x: -well(x), [(-2.0, 2.0)], maximize=True)
    runs = {0: run(0, 1.0, -0.5)}
    higher = build_result(problem, runs, spec_of(problem), "max_evals", 1.0, {},
                          best_seen=(np.array([0.9]), -0.1))
    assert higher.fun == -0.1 and higher.x.tolist() == [0.9]
    lower = build_result(problem, runs, spec_of(problem), "max_evals", 1.0, {},
                         best_seen=(np.array([0.9]), -0.9))
    assert lower.fun == -0.5 and lower.x.tolist() == [1.0]


def test_a_flat_direction_is_merged_into_one_minimum_with_a_note():
    calls = []

    def counted(x):
        calls.append(np.array(x))
        return valley(x)

    problem = Problem.create(counted, [(0.0, 1.0), (0.0, 2.0)])  # apart 0.6 of the box
    runs = {0: run(0, [0.5, 0.4], 0.0), 1: run(1, [0.5, 1.6], 0.0)}
    res = build_result(problem, runs, spec_of(problem), "n_starts", 1.0, {})
    assert len(res.minima) == 1 and res.minima[0].starts == (0, 1)
    assert res.minima[0].note == (
        "degenerate: a flat direction; 2 minima up to 0.6 of the box apart with equal values "
        "and no barrier between them, reported as one")
    assert res.provenance["merge"] == {"evaluations": 5, "minima_before": 2, "minima_after": 1}
    # Without an evaluate function the problem itself is evaluated, along the segment.
    ys = sorted(float(p[1]) for p in calls)
    assert ys == pytest.approx([0.4 + 1.2 * k / 6 for k in range(1, 6)])
    # With one, only it is.
    calls.clear()
    seen = []

    def evaluate(points):
        seen.append(np.array(points))
        return np.zeros(len(points))

    again = build_result(problem, runs, spec_of(problem), "n_starts", 1.0, {},
                         evaluate=evaluate)
    assert calls == [] and len(seen) == 1 and seen[0].shape == (5, 2)
    assert len(again.minima) == 1


def test_the_first_merge_uses_the_dedup_tolerances_in_the_unit_box():
    problem = Problem.create(lambda x: 0.0, [(10.0, 20.0)])
    # 0.05 apart is 0.005 of the box: one minimum under xtol 0.01, two under the default.
    runs = {0: run(0, 15.0, 0.0), 1: run(1, 15.05, 0.0), 2: run(2, 18.0, 0.0)}
    loose = spec_of(problem, dedup=DedupOptions(xtol=1e-2, segment_check=False))
    res = build_result(problem, runs, loose, "n_starts", 1.0, {})
    assert [m.starts for m in res.minima] == [(0, 1), (2,)]
    strict = spec_of(problem, dedup=DedupOptions(segment_check=False))
    assert len(build_result(problem, runs, strict, "n_starts", 1.0, {}).minima) == 3
    # Values 1e-3 apart at one point: one minimum under ftol 1e-2, two under the default.
    runs = {0: run(0, 15.0, 0.0), 1: run(1, 15.0, 1e-3)}
    loose = spec_of(problem, dedup=DedupOptions(ftol=1e-2, segment_check=False))
    assert len(build_result(problem, runs, loose, "n_starts", 1.0, {}).minima) == 1
    assert len(build_result(problem, runs, strict, "n_starts", 1.0, {}).minima) == 2


def barrier_problem_and_runs(n: int) -> tuple[Problem, dict[int, LocalRun]]:
    """``n`` minima of value 0 at 0, 1, ... n - 1, every pair of which is checked."""
    problem = Problem.create(lambda x: 0.0, [(0.0, float(n))])
    return problem, {i: run(i, float(i), 0.0, nfev=0) for i in range(n)}


def walls(points) -> np.ndarray:
    return np.ones(len(points))  # a barrier on every segment: nothing merges


def merge_spent(problem: Problem, runs: dict[int, LocalRun], spec: RunSpec, reason: str,
                n_explore: int = 0) -> int:
    res = build_result(problem, runs, spec, reason, 1.0, {}, evaluate=walls,
                       n_explore=n_explore)
    return res.provenance["merge"]["evaluations"]


def test_the_second_merge_spends_at_most_its_budget():
    problem, runs = barrier_problem_and_runs(16)  # 120 pairs: 600 evaluations to check all
    spec = spec_of(problem)
    assert merge_spent(problem, runs, spec, "n_starts") == 500  # max(500, nfev // 10)
    assert merge_spent(problem, runs, spec, "n_starts", n_explore=5050) == 505
    assert merge_spent(problem, runs, spec, "n_starts", n_explore=9000) == 600
    # Never more than is left of max_evals.
    capped = spec_of(problem, stop=StopOptions(max_evals=5010))
    assert merge_spent(problem, runs, capped, "n_starts", n_explore=5000) == 10
    assert merge_spent(problem, runs, capped, "n_starts", n_explore=4985) == 25
    assert merge_spent(problem, runs, capped, "n_starts", n_explore=5006) == 0
    problem3, runs3 = barrier_problem_and_runs(3)
    assert merge_spent(problem3, runs3, spec_of(problem3), "n_starts") == 15
    assert merge_spent(problem3, runs3, spec_of(problem3), "bayes") == 15


@pytest.mark.parametrize("reason", ["max_evals", "max_time", "interrupted", "terminated"])
def test_no_second_merge_after_a_run_ran_out_or_was_stopped(reason):
    problem, runs = barrier_problem_and_runs(3)
    assert merge_spent(problem, runs, spec_of(problem), reason) == 0


def test_no_second_merge_when_off_when_spent_or_under_constraints():
    problem, runs = barrier_problem_and_runs(3)
    off = spec_of(problem, dedup=DedupOptions(segment_check=False))
    assert merge_spent(problem, runs, off, "n_starts") == 0
    spent = spec_of(problem, stop=StopOptions(max_evals=100))
    assert merge_spent(problem, runs, spent, "n_starts", n_explore=100) == 0
    constrained = Problem.create(lambda x: 0.0, [(0.0, 3.0)],
                                 constraints={"type": "ineq", "fun": lambda x: 3.0 - x[0]})
    assert merge_spent(constrained, runs, spec_of(constrained), "n_starts") == 0
    one, single = barrier_problem_and_runs(1)
    assert merge_spent(one, single, spec_of(one), "n_starts") == 0


def test_minima_reached_in_relabelled_copies_are_noted_with_the_count():
    problem = Problem.create(lambda x: float((x[0] - 0.2) ** 2 + (x[1] - 0.7) ** 2),
                             [(0.0, 1.0), (0.0, 1.0)], symmetries=[[[0], [1]]])
    relabelled = f"converged {RELABELLED}"
    runs = {0: run(0, [0.2, 0.7], 0.0, message=relabelled),
            1: run(1, [0.2, 0.7], 0.0),
            2: run(2, [0.2, 0.7], 0.0, message=relabelled),
            3: run(3, [0.6, 0.6], 0.5)}
    res = build_result(problem, runs, spec_of(problem), "n_starts", 1.0, {})
    assert [m.note for m in res.minima] == [
        "symmetric: 2 of its 3 runs ended in a relabelled copy (parameter groups [0] <-> "
        "[1]), reported once in canonical order", None]
    # A degenerate minimum's note comes first.
    flat = Problem.create(valley, [(0.0, 1.0), (0.0, 1.0)], symmetries=[[[0], [1]]])
    runs = {0: run(0, [0.5, 0.2], 0.0, message=relabelled), 1: run(1, [0.5, 0.8], 0.0)}
    note = build_result(flat, runs, spec_of(flat), "n_starts", 1.0, {}).minima[0].note
    assert note == (
        "degenerate: a flat direction; 2 minima up to 0.6 of the box apart with equal values "
        "and no barrier between them, reported as one; symmetric: 1 of its 2 runs ended in a "
        "relabelled copy (parameter groups [0] <-> [1]), reported once in canonical order")


def two_wells(x):
    """Symmetric under swapping x0 and x1: minima at (0.2, 0.7) and its copy (0.7, 0.2)."""
    return float(((x[0] - 0.2) ** 2 + (x[1] - 0.7) ** 2)
                 * ((x[0] - 0.7) ** 2 + (x[1] - 0.2) ** 2))


def test_a_big_run_ranks_its_online_minima_and_notes_relabelled_copies_as_in_memory(
        tmp_path, monkeypatch):
    """Runs held on disk are not clustered again at the end (their points are never read
    back); the minima, their starts and the note counting the runs that ended in a
    relabelled copy equal those of the same run held in memory."""
    pytest.importorskip("pyarrow", reason="runs held on disk need pyarrow (the runs extra)")
    import engine.results.segments as segments
    import engine.session as session_module
    from engine.results.runview import RunsOnDisk

    # Segments of 40 runs; past 60 runs the session holds them on disk.
    monkeypatch.setattr(segments, "ROWS_PER_SEGMENT", 40)
    monkeypatch.setattr(session_module, "RUNS_IN_MEMORY", 60)
    # Not half of the runs end in the relabelled copy (44 of 90): a count of the others differs
    kwargs = {"symmetries": [[[0], [1]]], "n_starts": 90, "seed": 3, "client": "serial"}
    bounds = [(0.0, 1.0), (0.0, 1.0)]
    in_memory = engine.minimize(two_wells, bounds, **kwargs)
    reads = []
    get = RunsOnDisk.get
    with monkeypatch.context() as patched:
        patched.setattr(RunsOnDisk, "successful", lambda self: pytest.fail(
            "the runs on disk were read back point by point"))
        patched.setattr(RunsOnDisk, "get", lambda self, index, default=None: reads.append(
            index) or get(self, index, default))
        on_disk = engine.minimize(two_wells, bounds, journal=tmp_path / "history", **kwargs)
    # The notes come from one pass over the messages, not a read of each run.
    assert len(reads) <= 2 * len(on_disk.minima)
    assert isinstance(on_disk.runs, RunsOnDisk) and isinstance(in_memory.runs, RunStore)
    assert [(tuple(m.x), m.fun, tuple(m.starts)) for m in on_disk.minima] == [
        (tuple(m.x), m.fun, tuple(m.starts)) for m in in_memory.minima]
    notes = [m.note for m in on_disk.minima]
    assert notes == [m.note for m in in_memory.minima]
    best = on_disk.minima[0]
    np.testing.assert_allclose(best.x, [0.2, 0.7], atol=1e-6)
    copies = sum(RELABELLED in on_disk.runs.get(i).message for i in best.starts)
    assert 0 < copies < best.n_hits and 2 * copies != best.n_hits
    assert notes[0].startswith(f"symmetric: {copies} of its {best.n_hits} runs ended in a "
                               "relabelled copy")


# ------------------------------------------------------------------------ run_multistart


class Recording(SerialExecutor):
    """Solves in this process (really) and records what it was asked."""

    def __init__(self) -> None:
        self.options: list[LocalOptions] = []
        self.evaluated: list[np.ndarray] = []
        self.vectorized: list[bool] = []

    def run(self, problem, opts, starts, total=None, timeout=None):
        self.options.append(opts)
        yield from super().run(problem, opts, starts, total, timeout)

    def evaluate(self, problem, points, vectorized, timeout=None):
        self.evaluated.append(np.array(points))
        self.vectorized.append(vectorized)
        return super().evaluate(problem, points, vectorized, timeout)


def test_versions_are_the_installed_ones_in_a_fixed_order():
    got = versions()
    assert list(got) == ["python", "multistart-engine", "numpy", "scipy", "dask",
                         "distributed"]
    assert got["python"] == platform.python_version()
    for dist in ("multistart-engine", "numpy", "scipy", "dask", "distributed"):
        assert got[dist] == metadata.version(dist)
    got["numpy"] = "changed"
    assert versions()["numpy"] == metadata.version("numpy")  # each call a fresh dict


def test_a_run_records_where_when_and_with_what_it_ran():
    problem = Problem.create(well, [(-2.0, 2.0)])
    spec = resolve_spec(problem, {"starts": StartOptions(n_starts=6, seed=11),
                                  "search": SearchOptions(strategy="all")})
    executor = Recording()
    before = dt.datetime.now(dt.timezone.utc)
    res = run_multistart(problem, spec, executor, provenance={"config": "c.yaml"})
    after = dt.datetime.now(dt.timezone.utc)
    prov = res.provenance
    assert list(prov) == ["config", "seed", "n_starts_planned", "cluster", "versions", "host",
                          "started", "finished", "merge"]
    assert prov["config"] == "c.yaml" and prov["seed"] == spec.starts.seed == 11
    assert prov["n_starts_planned"] == 6
    assert prov["cluster"] == {"kind": "serial", "n_workers": 1, "n_threads": 1}
    assert prov["versions"] == versions() and prov["host"] == socket.gethostname()
    started = dt.datetime.fromisoformat(prov["started"])
    finished = dt.datetime.fromisoformat(prov["finished"])
    assert started.utcoffset() == dt.timedelta(0) == finished.utcoffset()
    assert before - dt.timedelta(seconds=1) <= started <= finished <= after
    assert sorted(round(float(m.x[0]), 6) for m in res.minima) == [-1.0, 1.0]
    assert res.stop_reason == "n_starts" and res.n_starts == 6
    assert 0 <= res.wall_time <= (after - before).total_seconds()
    assert res.portfolio is None  # only the portfolio strategy reports its split


def test_the_executor_is_told_the_unit_box_choice_and_runs_the_merge():
    problem = Problem.create(valley, [(0.0, 1.0), (0.0, 1.0)])
    for scaled in (True, False):
        spec = replace(resolve_spec(problem, {"starts": StartOptions(n_starts=4, seed=2),
                                              "search": SearchOptions(strategy="all")}),
                       scaled=scaled)
        executor = Recording()
        res = run_multistart(problem, spec, executor)
        assert [o.scale for o in executor.options] == [scaled]
        assert executor.options[0] == replace(spec.local, scale=scaled)
        # The valley's minima are one flat minimum: the merge evaluated through the executor.
        assert len(res.minima) == 1 and res.provenance["merge"]["minima_before"] == 4
        assert sum(len(p) for p in executor.evaluated) == res.provenance["merge"][
            "evaluations"] > 0
        assert executor.vectorized == [False] * len(executor.evaluated)
    vectorized = Problem.create(lambda x: (np.asarray(x)[0] - 0.5) ** 2,
                                [(0.0, 1.0), (0.0, 1.0)])
    spec = resolve_spec(vectorized, {"starts": StartOptions(n_starts=4, seed=2),
                                     "search": SearchOptions(strategy="all", vectorized=True)})
    executor = Recording()
    run_multistart(vectorized, spec, executor)
    assert executor.vectorized and set(executor.vectorized) == {True}


def test_a_display_sees_each_run_then_the_last_once_more_as_final():
    problem = Problem.create(well, [(-2.0, 2.0)])
    spec = resolve_spec(problem, {"starts": StartOptions(n_starts=3, seed=1),
                                  "search": SearchOptions(strategy="all")})
    shown = []
    res = run_multistart(problem, spec, SerialExecutor(), progress=lambda state, final=False:
                         shown.append((state.n_done, state.n_total, state.run.index, final)))
    assert shown == [(1, 3, 0, False), (2, 3, 1, False), (3, 3, 2, False), (3, 3, 2, True)]
    assert [r.index for r in res.runs] == [0, 1, 2]


def test_a_run_shows_no_progress_unless_asked(capfd):
    problem = Problem.create(well, [(-2.0, 2.0)])
    spec = resolve_spec(problem, {"starts": StartOptions(n_starts=3, seed=1),
                                  "search": SearchOptions(strategy="all")})
    run_multistart(problem, spec, SerialExecutor())
    assert capfd.readouterr() == ("", "")


def test_a_callback_that_raises_ends_the_run_with_its_error_in_the_message():
    problem = Problem.create(well, [(-2.0, 2.0)])
    spec = resolve_spec(problem, {"starts": StartOptions(n_starts=5, seed=1),
                                  "search": SearchOptions(strategy="all")})
    seen = []

    def callback(state):
        seen.append(state.n_done)
        if state.n_done == 2:
            raise RuntimeError("enough")

    res = run_multistart(problem, spec, SerialExecutor(), callback=callback)
    assert seen == [1, 2] and res.n_starts == 2 and res.stop_reason == "callback"
    assert res.message.endswith("; stopped by callback; the callback raised RuntimeError: "
                                "enough")


def test_ctrl_c_in_a_solve_ends_the_run_as_interrupted_with_the_runs_so_far():
    count = [0]

    def objective(x):
        count[0] += 1
        if count[0] == 200:
            raise KeyboardInterrupt
        return well(x)

    problem = Problem.create(objective, [(-2.0, 2.0)])
    spec = resolve_spec(problem, {"starts": StartOptions(n_starts=50, seed=1),
                                  "search": SearchOptions(strategy="all")})
    res = run_multistart(problem, spec, SerialExecutor())
    assert res.stop_reason == "interrupted" and 0 < res.n_starts < 50
    assert res.message.endswith("stopped by interrupted")
    assert "merge" not in res.provenance or res.provenance["merge"]["evaluations"] == 0


def polished_starts(problem: Problem, strategy: str, polish: bool, method: str | None = None,
                    **stop) -> list[int]:
    groups = {"starts": StartOptions(n_starts=4, seed=3),
              "search": SearchOptions(strategy=strategy, polish=polish),
              "stop": StopOptions(**stop)}
    if method is not None:
        groups["local"] = LocalOptions(method=method)
    spec = resolve_spec(problem, groups)
    res = run_multistart(problem, spec, SerialExecutor())
    return [r.index for r in res.runs if r.index >= 4]  # a polish solves after the starts


def test_polish_runs_for_polishing_strategies_and_fits_unless_turned_off():
    problem = Problem.create(well, [(-2.0, 2.0)])
    assert polished_starts(problem, "all", True) == []  # 'all' does not polish
    assert polished_starts(problem, "tiktak", True) == [4, 5]  # the two minima
    assert polished_starts(problem, "tiktak", False) == []
    # A fit is polished whatever the strategy.
    data_x = np.linspace(0.0, 1.0, 6)
    fit = Problem.create(Residuals(lambda p: p[0] * data_x + p[1] - (2.0 * data_x + 1.0)),
                         [(-5.0, 5.0), (-5.0, 5.0)])
    assert polished_starts(fit, "all", True, method="trf") == [4]
    assert polished_starts(fit, "all", False, method="trf") == []


def rosen(x) -> float:
    return float(100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2)


@pytest.mark.parametrize("maximize", [False, True])
def test_the_best_point_evaluated_is_the_answer_when_no_solve_converged(maximize):
    fun = (lambda x: -rosen(x)) if maximize else rosen
    problem = Problem.create(fun, [(-2.0, 2.0), (-2.0, 2.0)], maximize=maximize)
    spec = resolve_spec(problem, {"stop": StopOptions(max_evals=30)})
    res = run_multistart(problem, spec, SerialExecutor())
    assert res.minima == () and res.n_explore > 0 and res.stop_reason == "max_evals"
    assert res.nfev == res.runs.nfev + res.n_explore
    assert res.x is not None and res.fun == fun(res.x)  # the user's value, in their sign
    assert res.n_skipped == 0 or res.strategy == "mlsl"
    assert f"; x is the best point evaluated (fun={res.fun:.6g})" in res.message


def test_no_best_point_is_kept_under_constraints_or_with_noise():
    constrained = Problem.create(rosen, [(-2.0, 2.0), (-2.0, 2.0)],
                                 constraints={"type": "ineq", "fun": lambda x: 10.0 - x[0]})
    plain = Problem.create(rosen, [(-2.0, 2.0), (-2.0, 2.0)])
    for problem, local in ((constrained, LocalOptions()), (plain, LocalOptions(noisy=True))):
        spec = resolve_spec(problem, {"stop": StopOptions(max_evals=30), "local": local})
        res = run_multistart(problem, spec, SerialExecutor())
        assert res.minima == () and res.x is None and math.isnan(res.fun)
        assert "best point" not in res.message


def test_a_display_is_not_called_at_the_end_of_a_run_without_runs():
    problem = Problem.create(rosen, [(-2.0, 2.0), (-2.0, 2.0)])
    # MLSL: three evaluations pay for no sample and so for no start.
    spec = resolve_spec(problem, {"stop": StopOptions(max_evals=3),
                                  "search": SearchOptions(strategy="mlsl")})
    shown = []
    res = run_multistart(problem, spec, SerialExecutor(),
                         progress=lambda state, final=False: shown.append(final))
    assert len(res.runs) == 0 and shown == []


def test_resumed_runs_are_checked_against_the_stop_rules_first(tmp_path):
    path = tmp_path / "run.journal"
    problem = Problem.create(well, [(-2.0, 2.0)])
    groups = {"starts": StartOptions(n_starts=6, seed=3),
              "search": SearchOptions(strategy="all")}
    first = run_multistart(problem, resolve_spec(problem, groups), SerialExecutor(),
                           journal=Journal(path, "test"))
    assert first.stop_reason == "n_starts" and len(first.minima) == 2
    again = resolve_spec(problem, {**groups, "stop": StopOptions(max_discoveries=1)})
    executor = Recording()
    resumed = run_multistart(problem, again, executor, journal=Journal(path, "test"))
    assert resumed.stop_reason == "max_discoveries" and resumed.n_starts == 6
    assert executor.options == []  # nothing solved again
    # A rule that reads the run itself: a resumed run at the target meets it.
    target = resolve_spec(problem, {**groups, "stop": StopOptions(target=0.5)})
    reached = run_multistart(problem, target, Recording(), journal=Journal(path, "test"))
    assert reached.stop_reason == "target" and reached.n_starts == 6


def test_a_callback_error_during_the_polish_keeps_the_runs_reason():
    problem = Problem.create(well, [(-2.0, 2.0)])
    spec = resolve_spec(problem, {"starts": StartOptions(n_starts=4, seed=3),
                                  "search": SearchOptions(strategy="tiktak")})

    def fails_in_polish(state):
        if state.n_done > 4:
            raise RuntimeError("not now")

    res = run_multistart(problem, spec, SerialExecutor(), callback=fails_in_polish)
    assert res.stop_reason == "n_starts" and res.message.endswith("stopped by n_starts")

    def ctrl_c_in_polish(state):
        if state.n_done > 4:
            raise KeyboardInterrupt

    res = run_multistart(problem, spec, SerialExecutor(), callback=ctrl_c_in_polish)
    assert res.stop_reason == "interrupted"


def test_the_merge_evaluates_a_vectorized_objective_a_segment_at_a_time():
    shapes = []

    def vectorized_valley(x):
        x = np.asarray(x, dtype=float)
        shapes.append(x.shape)
        return (x[..., 0] - 0.5) ** 2

    problem = Problem.create(vectorized_valley, [(0.0, 1.0), (0.0, 1.0)])
    runs = {0: run(0, [0.5, 0.2], 0.0), 1: run(1, [0.5, 0.8], 0.0)}
    spec = spec_of(problem, search=SearchOptions(vectorized=True))
    res = build_result(problem, runs, spec, "n_starts", 1.0, {})
    # scipy's convention for a vectorized objective: one call with the points as columns.
    assert len(res.minima) == 1 and (2, 5) in shapes
    shapes.clear()
    build_result(problem, runs, spec_of(problem), "n_starts", 1.0, {})
    assert (2, 5) not in shapes and shapes.count((2,)) == 5


def test_the_portfolio_strategy_reports_its_split():
    problem = Problem.create(well, [(-2.0, 2.0)])
    spec = resolve_spec(problem, {"search": SearchOptions(strategy="portfolio"),
                                  "stop": StopOptions(max_evals=300)})
    res = run_multistart(problem, spec, SerialExecutor())
    assert isinstance(res.portfolio, dict) and res.portfolio
    assert res.strategy == "portfolio"


def test_the_sample_points_mlsl_skips_are_counted_in_the_result():
    # Himmelblau's four minima: in later rounds sample points below a known minimum's
    # neighbourhood are skipped.
    problem = Problem.create(lambda x: float((x[0] ** 2 + x[1] - 11) ** 2
                                             + (x[0] + x[1] ** 2 - 7) ** 2),
                             [(-5.0, 5.0), (-5.0, 5.0)])
    spec = resolve_spec(problem, {"starts": StartOptions(seed=1),
                                  "search": SearchOptions(strategy="mlsl"),
                                  "stop": StopOptions(max_evals=1000)})
    res = run_multistart(problem, spec, SerialExecutor())
    assert res.strategy == "mlsl" and res.n_skipped > 0
    assert res.n_explore >= res.n_starts + res.n_skipped
