"""The session's exact bookkeeping: start checks and the plan's order, minima in the user's
sign, counters, the budget each solve is given, sample evaluations, and the states a display
and a callback see."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.exceptions import ProblemError
from engine.options import DedupOptions, LocalOptions, StartOptions, StopOptions
from engine.problem import Problem
from engine.results.types import LocalRun
from engine.sampling import sample_unit
from engine.session import Session, StartPlan, as_minima, check_starts_inside
from engine.stop import StopRun

BOX = [(-1.0, 1.0), (0.0, 4.0)]


def bowl(x):
    return float((x[0] - 0.25) ** 2 + (x[1] - 1.0) ** 2)


def problem(maximize: bool = False) -> Problem:
    return Problem.create((lambda x: -bowl(x)) if maximize else bowl, BOX, maximize=maximize)


def done(index: int, x, fun: float, nfev: int = 10, success: bool = True,
         error: str | None = None) -> LocalRun:
    x = np.asarray(x, dtype=float)
    return LocalRun(index, x, x, fun, nfev, 2, success, "ok" if success else "failed",
                    error=error)


class Recorder:
    """An executor that solves nothing: each start ends where it began, at its value, having
    cost 10 evaluations; it records what each call was given."""

    def __init__(self, kind: str = "dask") -> None:
        self.kind = kind
        self.calls: list[tuple[list[int], LocalOptions, int | None]] = []
        self.evaluated: list[np.ndarray] = []

    def run(self, problem, local, starts, total=None, timeout=None):
        starts = list(starts)
        self.calls.append(([i for i, _ in starts], local, total))
        yield [done(i, x, problem.evaluate(x)) for i, x in starts]

    def evaluate(self, problem, points, vectorized, timeout=None):
        self.evaluated.append(np.array(points))
        return problem.minimized_many(points, vectorized)


# ----------------------------------------------------------------------- starts


def test_a_start_outside_the_bounds_is_named_with_its_place_and_the_count():
    with pytest.raises(ProblemError) as info:
        check_starts_inside(problem(), [[0.0, 1.0], [2.0, 1.0], [0.0, 5.0]], "x0")
    assert str(info.value) == (
        "x0[1]=[2.0, 1.0] lies outside the bounds (lower=[-1.0, 0.0], upper=[1.0, 4.0]); "
        "2 point(s) are outside: move them inside the box or widen the bounds")
    check_starts_inside(problem(), None, "x0")
    check_starts_inside(problem(), [1.0, 4.0], "x0")  # on the bound is inside (rtol 0)
    with pytest.raises(ProblemError, match=r"sampler\[0\]=\[1.0, 4.000000001\]"):
        check_starts_inside(problem(), [[1.0, 4.000000001]], "sampler")


def test_the_plan_puts_the_users_points_first_then_the_sampled_ones():
    x0 = np.array([[0.5, 2.0], [-0.5, 3.0]])
    plan = StartPlan(problem(), StartOptions(n_starts=3, seed=4, x0=x0))
    assert plan.total == 5 and plan.n_sampled == 3
    starts = list(plan)
    assert [i for i, _ in starts] == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(np.array([x for _, x in starts[:2]]), x0)
    unit = sample_unit("sobol", 3, 2, seed=4)
    np.testing.assert_allclose(np.array([x for _, x in starts[2:]]),
                               problem().from_unit(unit))
    one = StartPlan(problem(), StartOptions(n_starts=0, seed=1, x0=np.array([0.5, 2.0])))
    assert one.total == 1 and one.fixed.shape == (1, 2)
    with pytest.raises(ProblemError, match=r"x0\[0\]"):
        StartPlan(problem(), StartOptions(n_starts=1, x0=np.array([9.0, 2.0])))


def test_given_points_replace_the_sampler_and_are_checked():
    points = np.array([[0.0, 1.0], [0.5, 0.5]])
    plan = StartPlan(problem(), StartOptions(sampler=points, seed=0))
    assert plan.n_sampled == 0 and plan.total == 2
    np.testing.assert_array_equal(np.array([x for _, x in plan]), points)
    with pytest.raises(ProblemError, match=r"sampler\[1\]"):
        StartPlan(problem(), StartOptions(sampler=np.array([[0.0, 1.0], [3.0, 1.0]])))


def test_minima_carry_the_users_sign_hits_and_starts():
    session = Session(problem(maximize=True), DedupOptions(), StopOptions())
    session.record_many([done(0, [0.25, 1.0], -0.0, nfev=7), done(1, [0.25, 1.0], -0.0),
                         done(2, [0.9, 3.0], -4.4225)])
    minima = as_minima(session.online.basins(), -1.0)
    assert [(m.fun, m.n_hits, m.starts) for m in minima] == [(0.0, 2, (0, 1)),
                                                              (-4.4225, 1, (2,))]
    np.testing.assert_array_equal(minima[0].x, [0.25, 1.0])
    assert minima[0].x0 is None
    with_runs = as_minima(session.online.basins(), -1.0, session.runs)
    assert with_runs[0].nfev == 17 and with_runs[0].x0 is not None


# ----------------------------------------------------------------------- bookkeeping


def test_a_fresh_session_counts_nothing_and_knows_no_minimum():
    session = Session(problem(), DedupOptions(), StopOptions())
    assert (session.nfev, session.n_explore, session.n_failed, session.n_success) == (0, 0, 0, 0)
    assert session.n_planned == 0 and session.next_index() == 0
    assert session.remaining_evals() == math.inf and session.time_left() is None
    units, values = session.minima_units()
    assert units.shape == (0, 2) and values.shape == (0,)
    assert 0.0 <= session.elapsed() < 5.0


def test_counters_best_point_and_minima_after_runs():
    session = Session(problem(), DedupOptions(), StopOptions(max_evals=100, max_time=1e6))
    session.record_many([done(0, [0.25, 1.0], 0.0, nfev=12),
                         done(3, [1.0, 4.0], math.nan, nfev=5, success=False, error="E: x"),
                         done(4, [0.0, 2.0], 0.5, nfev=4, success=False,
                              error="BudgetExhausted: max_evals reached")])
    assert session.nfev == 21 and session.remaining_evals() == 79
    assert session.n_success == 1 and session.n_failed == 1  # the budget stop is no failure
    assert session.next_index() == 5
    assert 0 < session.time_left() <= 1e6
    units, values = session.minima_units()
    np.testing.assert_allclose(units, [[0.625, 0.25]])
    np.testing.assert_array_equal(values, [0.0])
    assert session.best_seen_f == 0.0
    session.saw(np.array([0.3, 1.0]), -1.0)
    assert session.best_seen_f == -1.0
    session.saw(np.array([0.3, 1.0]), math.nan)
    session.saw(np.array([0.3, 1.0]), 2.0)
    assert session.best_seen_f == -1.0
    np.testing.assert_array_equal(session.best_seen_x, [0.3, 1.0])
    untracked = Session(problem(), DedupOptions(), StopOptions(), track_best=False)
    untracked.saw(np.array([0.0, 1.0]), -5.0)
    assert untracked.best_seen_x is None


def test_sample_evaluations_are_counted_as_exploration_and_go_to_the_executor():
    executor = Recorder()
    session = Session(problem(maximize=True), DedupOptions(), StopOptions(), executor)
    values = session.evaluate(np.array([[0.5, 0.25], [0.625, 0.25]]), False)
    np.testing.assert_allclose(values, [0.0625, 0.0])  # minimized sign: -f
    np.testing.assert_allclose(executor.evaluated[0], [[0.0, 1.0], [0.25, 1.0]])
    assert session.nfev == 2 and session.n_explore == 2
    assert session.best_seen_f == 0.0
    np.testing.assert_array_equal(session.best_seen_x, [0.25, 1.0])
    alone = Session(problem(), DedupOptions(), StopOptions(), executor=None)
    np.testing.assert_allclose(alone.evaluate(np.array([[0.625, 0.25]]), False), [0.0])


# ----------------------------------------------------------------------- the budget


def test_on_a_cluster_a_batch_shares_what_is_left_of_the_budget():
    executor = Recorder("dask")
    session = Session(problem(), DedupOptions(), StopOptions(max_evals=100), executor)
    batch = [(i, np.array([0.0, 1.0 + i])) for i in range(4)]
    session.solve_within(batch, LocalOptions(), reserve=20.0)
    (_, local, _), = executor.calls
    assert local.max_nfev == 20  # (100 - 20) // 4
    runs = session.solve_within([(4, np.array([0.0, 2.0]))], LocalOptions(), reserve=0.0)
    assert executor.calls[1][1].max_nfev == 60 and [r.index for r in runs] == [4]
    unlimited = Session(problem(), DedupOptions(), StopOptions(), Recorder("dask"))
    unlimited.solve_within(batch, LocalOptions(), reserve=0.0)
    assert unlimited.executor.calls[0][1].max_nfev is None


def test_in_this_process_each_start_gets_exactly_what_is_left():
    executor = Recorder("serial")
    session = Session(problem(), DedupOptions(), StopOptions(max_evals=35), executor)
    batch = [(i, np.array([0.0, 1.0 + i])) for i in range(3)]
    runs = session.solve_within(batch, LocalOptions(), reserve=5.0)
    assert [call[1].max_nfev for call in executor.calls] == [30, 20, 10]
    assert [r.index for r in runs] == [0, 1, 2]
    with pytest.raises(StopRun, match="max_evals"):
        session.solve_within([(3, np.array([0.0, 3.0]))], LocalOptions(), reserve=5.0)


def test_resumed_starts_are_not_sent_again_and_the_last_asked_index_is_kept():
    executor = Recorder()
    session = Session(problem(), DedupOptions(), StopOptions(), executor)
    session.record_many([done(1, [0.0, 1.0], 0.0625)])
    runs = session.solve([(0, np.array([0.0, 2.0])), (1, np.array([0.0, 1.0])),
                          (2, np.array([0.0, 3.0]))], LocalOptions(), total=3)
    assert executor.calls[0][0] == [0, 2] and executor.calls[0][2] == 3
    assert [r.index for r in runs] == [0, 1, 2] and session.last_requested == 2


# ----------------------------------------------------------------------- what is shown


def test_a_display_and_a_callback_see_the_counts_run_by_run():
    seen = []

    def callback(state):
        seen.append((state.run.index, state.n_done, state.n_total, state.nfev,
                     state.n_failed, state.best_fun, state.n_minima))
        return state.n_done >= 3

    shown = []
    session = Session(problem(maximize=True), DedupOptions(), StopOptions(), Recorder(),
                      display=lambda state: shown.append(state.run.index), callback=callback,
                      n_planned=5)
    batch = [(0, np.array([0.25, 1.0])), (1, np.array([1.0, 1.0])),
             (2, np.array([0.25, 1.0])), (3, np.array([0.0, 0.0]))]
    with pytest.raises(StopRun, match="callback"):
        session.solve(batch, LocalOptions())
    assert shown == [0, 1, 2]
    # The counts count up run by run; the minima are the whole batch's (recorded at once).
    assert seen == [(0, 1, 5, 10, 0, -0.0, 3), (1, 2, 5, 20, 0, -0.0, 3),
                    (2, 3, 5, 30, 0, -0.0, 3)]


def test_a_callback_that_raises_ends_the_run_with_its_error_in_words():
    def callback(state):
        raise RuntimeError("boom")

    session = Session(problem(), DedupOptions(), StopOptions(), Recorder(), callback=callback)
    with pytest.raises(StopRun) as info:
        session.solve([(0, np.array([0.0, 1.0]))], LocalOptions())
    assert info.value.reason == "callback"
    assert info.value.note == "the callback raised RuntimeError: boom"


def test_a_callback_can_read_the_minima_so_far():
    minima = []

    def callback(state):
        minima.append([(m.n_hits, m.starts) for m in state.minima])

    session = Session(problem(), DedupOptions(), StopOptions(), Recorder(), callback=callback)
    session.solve([(0, np.array([0.25, 1.0]))], LocalOptions())
    session.solve([(1, np.array([0.25, 1.0])), (2, np.array([1.0, 3.0]))], LocalOptions())
    assert minima == [[(1, (0,))], [(2, (0, 1)), (1, (2,))], [(2, (0, 1)), (1, (2,))]]


class Mixed(Recorder):
    """Runs of a batch: a success, a failure, a budget stop, and a start sent twice."""

    def run(self, problem, local, starts, total=None, timeout=None):
        starts = list(starts)
        self.calls.append(([i for i, _ in starts], local, total))
        (i0, x0), (i1, x1), (i2, x2) = starts
        yield [done(i0, x0, math.nan, nfev=3, success=False, error="ValueError: nan"),
               done(i1, x1, 0.5, nfev=4), done(i1, x1, 0.5, nfev=4),
               done(i2, x2, 0.1, nfev=5, success=False,
                    error="BudgetExhausted: max_evals reached after 5 evaluations")]


def test_counts_of_a_batch_skip_repeats_and_count_only_real_failures():
    seen = []
    session = Session(problem(), DedupOptions(), StopOptions(), Mixed(),
                      display=lambda state: seen.append(
                          (state.run.index, state.n_done, state.nfev, state.n_failed,
                           state.best_fun, state.minima_source)))
    session.solve([(0, np.array([0.0, 1.0])), (1, np.array([0.5, 1.0])),
                   (2, np.array([0.5, 2.0]))], LocalOptions())
    # Start 1 came twice in the batch: shown, counted and journaled once.
    assert [s[:4] for s in seen] == [(0, 1, 3, 1), (1, 2, 7, 1), (2, 3, 12, 1)]
    assert math.isnan(seen[0][4]) and seen[1][4] == seen[2][4] == 0.5
    assert all(s[5] is None for s in seen)  # no callback: the minima are not merged per run


def test_sample_evaluations_pass_the_vectorized_flag_and_the_time_left():
    class Asked(Recorder):
        def evaluate(self, problem, points, vectorized, timeout=None):
            self.asked = (vectorized, timeout)
            return problem.minimized_many(points, vectorized)

    executor = Asked()
    session = Session(problem(), DedupOptions(), StopOptions(max_time=1e6), executor)
    session.evaluate(np.array([[0.5, 0.5]]), True)
    session.evaluate(np.array([[0.5, 0.5], [0.25, 0.25]]), True)
    assert executor.asked[0] is True and 0 < executor.asked[1] <= 1e6
    assert session.n_explore == 3 and session.nfev == 3

    class Counting(Problem):
        pass

    calls = []
    vectorized = Problem.create(lambda x: (calls.append(np.shape(x)), np.sum(x ** 2, axis=0))[1],
                                BOX)
    alone = Session(vectorized, DedupOptions(), StopOptions(), executor=None)
    alone.evaluate(np.array([[0.5, 0.5], [0.25, 0.25]]), True)
    assert calls[-1] == (2, 2)  # one call on the (d, n) block


def test_a_callback_gets_minima_with_their_best_start_and_evaluations():
    got = []
    session = Session(problem(), DedupOptions(), StopOptions(), Recorder(),
                      callback=lambda state: got.append(state.minima))
    session.solve([(0, np.array([0.25, 1.0]))], LocalOptions())
    (minimum,) = got[0]
    assert minimum.nfev == 10 and minimum.x0 is not None
