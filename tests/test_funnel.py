"""The portfolio's funnel (a quadratic fitted to the lowest points), basin hopping and sweeps."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from functions import griewank

import engine
from engine.options import DedupOptions, LocalOptions, SearchOptions, StartOptions, StopOptions
from engine.parallel.serial import SerialExecutor
from engine.problem import Problem
from engine.search.arms import hopping_steps, sweep_steps
from engine.search.funnel import fewest_points, valley_bottom
from engine.search.rounds import StartIndices
from engine.session import Session, StartPlan


def test_the_bottom_of_a_rippled_bowl_is_found_through_the_ripples():
    # Rastrigin's shape in the unit box: a bowl at c with ripples as deep as the bowl is
    # high a tenth of the way out; the lowest sample point is far from c.
    rng = np.random.default_rng(0)
    c = np.array([0.3, 0.62, 0.45, 0.7, 0.21])
    units = rng.random((300, 5))
    values = (100 * (units - c) ** 2 - np.cos(2 * np.pi * 10 * (units - c))).sum(axis=1)
    bottom = valley_bottom(units, values, keep=300)
    assert np.max(np.abs(bottom - c)) < 0.05
    assert np.max(np.abs(units[np.argmin(values)] - c)) > 0.05


def test_a_bowl_with_a_curvature_per_axis_is_fitted_as_such():
    # Curvatures 1 and 30: the round model (one curvature) cannot fit it; leave-one-out error
    # picks the separable one, whose minimizer is exact.
    rng = np.random.default_rng(1)
    c = np.array([0.2, 0.8])
    units = rng.random((30, 2))
    values = (np.array([1.0, 30.0]) * (units - c) ** 2).sum(axis=1) + 5.0
    np.testing.assert_allclose(valley_bottom(units, values, keep=30), c, atol=1e-9)


def test_with_too_few_points_for_a_curvature_per_axis_the_round_model_is_used():
    rng = np.random.default_rng(2)
    c = np.array([0.35, 0.55])
    units = rng.random((fewest_points(2), 2))  # 5 points: one more than the round model's 4
    values = ((units - c) ** 2).sum(axis=1)
    np.testing.assert_allclose(valley_bottom(units, values, keep=2), c, atol=1e-9)


def test_an_axis_along_which_the_fit_is_not_convex_keeps_the_lowest_points_coordinate():
    rng = np.random.default_rng(3)
    units = rng.random((40, 2))
    values = (units[:, 0] - 0.3) ** 2 - 2.0 * (units[:, 1] - 0.5) ** 2
    lowest = units[np.argmin(values)]
    bottom = valley_bottom(units, values, keep=40)
    assert bottom[0] == pytest.approx(0.3, abs=1e-9)
    assert bottom[1] == lowest[1]


def test_non_finite_values_are_left_out_of_the_fit():
    rng = np.random.default_rng(4)
    c = np.array([0.6, 0.4])
    units = rng.random((30, 2))
    values = ((units - c) ** 2).sum(axis=1)
    values[:5] = [np.nan, np.inf, np.nan, np.inf, np.nan]
    np.testing.assert_allclose(valley_bottom(units, values, keep=30), c, atol=1e-9)


def test_without_a_finite_value_there_is_no_model_and_the_run_goes_on():
    assert valley_bottom(np.random.default_rng(0).random((9, 2)), np.full(9, np.nan), 9) is None
    res = engine.minimize(lambda x: float("nan"), [(-1.0, 1.0)] * 2, max_evals=500, seed=0,
                          client="serial")
    assert res.strategy == "portfolio" and res.nfev <= 500
    assert res.n_failed > 0 and not res.minima
    assert res.portfolio["funnel"]["ended"] == "no finite value to model"


def test_an_objective_failing_on_half_the_box_leaves_the_minimum_in_the_other_half():
    def half(x):
        if x[0] > 0.1:
            raise ValueError("no value here")
        return float((x[0] + 0.5) ** 2 + x[1] ** 2)

    res = engine.minimize(half, [(-1.0, 1.0)] * 2, max_evals=800, seed=0, client="serial")
    assert res.fun == pytest.approx(0.0, abs=1e-8)
    np.testing.assert_allclose(res.x, [-0.5, 0.0], atol=1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_shifted_griewank_10d_is_solved_in_a_thousand_evaluations(seed):
    # Griewank's minimum (0 at the origin) moved off the centre of the box by a fifth of each
    # width: at this budget a sample and its descents land in ripples around it; the funnel's
    # model of where the ripples are lowest goes to it.
    box = [(-600.0 + 240.0, 600.0 + 240.0)] * 10
    res = engine.minimize(griewank, box, max_evals=1000, seed=seed, client="serial",
                          search={"strategy": "portfolio"})
    assert res.nfev <= 1000
    assert res.fun == pytest.approx(0.0, abs=1e-4)
    np.testing.assert_allclose(res.x, np.zeros(10), atol=1e-2)
    assert res.portfolio["funnel"]["steps"] >= 1
    assert res.portfolio["funnel"]["improvements"] >= 1


def test_basin_hopping_walks_down_a_staircase_of_basins():
    # A parabola with ripples: minima about every unit of x, each lower toward 0. A descent
    # from x = 9 stops in the first ripple; hops from the best minimum walk down to 0.
    def staircase(x):
        return float(0.05 * x[0] ** 2 + np.sin(3.0 * x[0]) ** 2)

    problem = Problem.create(staircase, [(-10.0, 10.0)])
    session = Session(problem, DedupOptions(), StopOptions(max_evals=3000),
                      executor=SerialExecutor())
    plan = StartPlan(problem, StartOptions(n_starts=200, seed=0))
    local = LocalOptions(method="L-BFGS-B")
    session.solve_within([(0, np.array([9.0]))], local, 0.0)
    first = session.best
    assert first > 1.0
    steps = hopping_steps(session, plan, local, StartIndices(1, 200), reserve=0.0)
    for _ in range(60):
        next(steps)
    assert session.best < 1e-10
    assert session.nfev <= 3000


def test_coordinate_sweeps_solve_a_separable_deceptive_landscape_a_coordinate_at_a_time():
    # Schwefel's function in 4-D: the best valley of each coordinate is at 420.97, next to the
    # box's edge and far from the second best; a descent from the centre ends far above it.
    def schwefel(x):
        return float(418.9829 * len(x) - np.sum(x * np.sin(np.sqrt(np.abs(x)))))

    problem = Problem.create(schwefel, [(-500.0, 500.0)] * 4)
    session = Session(problem, DedupOptions(), StopOptions(max_evals=5000),
                      executor=SerialExecutor())
    plan = StartPlan(problem, StartOptions(n_starts=100, seed=0))
    local = LocalOptions(method="L-BFGS-B")
    session.solve_within([(0, np.zeros(4))], local, 0.0)
    assert session.best > 100.0
    steps = sweep_steps(session, plan, local, StartIndices(1, 100), 0.0, SearchOptions())
    for _ in range(3):
        next(steps)
    assert session.best == pytest.approx(0.0, abs=1e-3)
    assert session.nfev <= 5000


def test_a_descent_going_back_to_a_known_minimum_ends_there_as_a_hit_of_it():
    from engine.local.known import KnownMinima
    from engine.local.solve import solve_one

    problem = Problem.create(lambda x: float((x[0] - 1.0) ** 2 + 10 * (x[1] + 0.5) ** 2),
                             [(-4.0, 4.0), (-4.0, 4.0)])
    minimum = np.array([[1.0, -0.5]])
    known = KnownMinima(minimum, problem.to_unit(minimum), np.array([0.0]), 0.02)
    local = LocalOptions(method="L-BFGS-B")
    full = solve_one(problem, np.array([-3.5, 3.0]), 0, local)
    joined = solve_one(problem, np.array([-3.5, 3.0]), 1, replace(local, known_minima=known))
    assert joined.success and "joined a known minimum" in joined.message
    np.testing.assert_array_equal(joined.x, minimum[0])
    assert joined.fun == 0.0 and joined.nfev < full.nfev
    # A solve from the minimum itself (a polish) runs to its end.
    polish = solve_one(problem, np.array([1.001, -0.499]), 2, replace(local, known_minima=known))
    assert "joined" not in polish.message and polish.fun < 1e-10


def test_the_portfolio_counts_descents_that_joined_a_minimum_as_its_hits():
    res = engine.minimize(griewank, [(-600.0, 600.0)] * 2, max_evals=3000, seed=1,
                          client="serial")
    joined = [run for run in res.runs if run.success and "joined" in run.message]
    assert joined, "no descent joined a known minimum"
    for run in joined:
        owner = min(res.minima, key=lambda m: np.max(np.abs(m.x - run.x)))
        np.testing.assert_array_equal(owner.x, run.x)
    assert sum(m.n_hits for m in res.minima) == sum(run.success for run in res.runs)


def test_beyond_small_budgets_every_descent_runs_to_its_end():
    from engine.search.portfolio import JOIN_BUDGET

    res = engine.minimize(griewank, [(-600.0, 600.0)] * 2, max_evals=JOIN_BUDGET + 2000,
                          seed=1, client="serial")
    assert not [run for run in res.runs if "joined" in run.message]
    assert sum(m.n_hits for m in res.minima) == sum(run.success for run in res.runs)


def test_the_funnel_keeps_the_lowest_points_only_up_to_its_limit():
    from engine.search.funnel import LowestPoints

    rng = np.random.default_rng(5)
    seen = LowestPoints(3, limit=100)
    values = rng.random(1000)
    units = rng.random((1000, 3))
    for block in range(10):
        seen.add(units[100 * block:100 * (block + 1)], values[100 * block:100 * (block + 1)])
    assert len(seen.values) == 100
    np.testing.assert_array_equal(np.sort(seen.values), np.sort(values)[:100])
    for u, v in zip(seen.units, seen.values, strict=True):
        np.testing.assert_array_equal(u, units[values == v][0])
