"""Exploration helpers and the Bayesian stopping estimates, checked against hand-worked cases."""

import itertools
import math

import numpy as np
import pytest

from engine.problem import Problem
from engine.search.selection import (
    Hopper,
    critical_distance,
    mlsl_select,
    tiktak_blend,
    tiktak_select,
)
from engine.stop import bayes_says_stop, estimated_coverage, estimated_n_minima


def test_critical_distance_matches_the_formula_and_shrinks_with_the_sample():
    n, d, sigma = 500, 3, 4.0
    expected = (math.gamma(1 + d / 2) * sigma * math.log(n) / n) ** (1 / d) / math.sqrt(math.pi)
    assert critical_distance(n, d, sigma) == pytest.approx(expected)
    radii = [critical_distance(n, 2) for n in (100, 1000, 10_000, 100_000)]
    assert all(a > b for a, b in itertools.pairwise(radii))


def test_mlsl_starts_once_per_valley_of_the_sample():
    # Two valleys (around 0.2 and 0.8) sampled densely: each yields exactly one start, its
    # lowest point, because every other point has a lower neighbour within the radius.
    units = np.linspace(0.0, 1.0, 101)[:, None]
    values = np.minimum((units[:, 0] - 0.2) ** 2, (units[:, 0] - 0.8) ** 2 + 0.01)
    sel = mlsl_select(units, values, np.zeros(101, bool), np.zeros((0, 1)), np.zeros(0),
                      radius=0.05, reduce_fraction=1.0)
    assert sorted(units[sel.rows, 0].round(6).tolist()) == [0.2, 0.8]
    assert values[sel.rows[0]] <= values[sel.rows[1]]  # best first


def test_mlsl_skips_points_in_the_basin_of_a_better_known_minimum_and_counts_them():
    units = np.array([[0.2], [0.8]])
    values = np.array([1.0, 2.0])
    known_x, known_f = np.array([[0.21]]), np.array([0.0])
    sel = mlsl_select(units, values, np.zeros(2, bool), known_x, known_f, radius=0.05,
                      reduce_fraction=1.0)
    assert sel.rows.tolist() == [1] and sel.n_skipped == 1
    # A known minimum that is worse than the sample point does not hide it.
    sel = mlsl_select(units, values, np.zeros(2, bool), known_x, np.array([5.0]), radius=0.05,
                      reduce_fraction=1.0)
    assert sel.rows.tolist() == [0, 1] and sel.n_skipped == 0


def test_mlsl_never_picks_a_used_point_or_one_with_no_finite_value():
    units = np.array([[0.1], [0.5], [0.9]])
    values = np.array([0.0, np.inf, 1.0])
    sel = mlsl_select(units, values, np.array([True, False, False]), np.zeros((0, 1)),
                      np.zeros(0), radius=0.01, reduce_fraction=1.0)
    assert sel.rows.tolist() == [2]


def test_tiktak_takes_the_best_fraction_and_pulls_later_starts_toward_the_best():
    values = np.arange(20, dtype=float)[::-1]
    assert tiktak_select(values, np.zeros(20, bool), 0.1).rows.tolist() == [19, 18]
    early = tiktak_blend(np.zeros(2), np.ones(2), 1, 100)
    late = tiktak_blend(np.zeros(2), np.ones(2), 90, 100)
    assert early[0] == pytest.approx(0.1) and late[0] == pytest.approx(math.sqrt(0.9))


def test_hopper_step_grows_when_stuck_and_shrinks_after_worse_minima():
    hopper = Hopper(step=0.1)
    hopper.update(same_basin=True, improved=False)
    assert hopper.step == pytest.approx(0.15)
    hopper.update(same_basin=False, improved=False)
    assert hopper.step == pytest.approx(0.12)
    hopper.update(same_basin=False, improved=True)
    assert hopper.step == pytest.approx(0.12)
    rng = np.random.default_rng(0)
    moved = hopper.propose(np.array([0.99, 0.5]), rng)
    assert np.all((moved >= 0) & (moved <= 1)) and np.max(np.abs(moved - [0.99, 0.5])) <= 0.12
    one = Hopper.propose_coordinate(np.array([0.3, 0.3, 0.3]), rng)
    assert np.sum(one != 0.3) == 1


def test_minimized_many_marks_failures_as_infinite_and_applies_the_sign():
    def fun(x):
        if x[0] > 0.5:
            raise RuntimeError("boom")
        return float("nan") if x[0] < -0.5 else float(x[0])

    values = Problem.create(fun, [(-1, 1)]).minimized_many(np.array([[0.25], [0.9], [-0.9]]))
    assert values.tolist() == [0.25, np.inf, np.inf]
    maxi = Problem.create(lambda x: float(x[0]), [(-1, 1)], maximize=True)
    assert maxi.minimized_many(np.array([[0.25]])).tolist() == [-0.25]


def test_minimized_many_takes_the_value_of_a_pair_and_refuses_bools_and_complex_values():
    def value_and_gradient(x):
        value = True if x[0] > 0.5 else 1j if x[0] < -0.5 else float(x[0])
        return value, np.ones(1)

    pair = Problem.create(value_and_gradient, [(-1, 1)], jac=True)
    values = pair.minimized_many(np.array([[0.25], [0.9], [-0.9]]))
    assert values.tolist() == [0.25, np.inf, np.inf]


def test_vectorized_evaluation_is_one_call_and_falls_back_when_the_shape_is_wrong():
    calls = []

    def vec(x):
        calls.append(np.shape(x))
        return x[0] ** 2 + x[1]

    points = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    problem = Problem.create(vec, [(-5, 5), (-5, 5)])
    assert problem.minimized_many(points, vectorized=True).tolist() == [3.0, 13.0, 0.0]
    assert calls == [(2, 3)]
    scalar_only = Problem.create(lambda x: float(np.sum(x ** 2)), [(-5, 5), (-5, 5)])
    assert scalar_only.minimized_many(points, vectorized=True).tolist() == [5.0, 25.0, 0.0]


def test_bayesian_estimates_follow_boender_rinnooy_kan():
    # w(n-1)/(n-w-2) and (n-w-1)(n+w)/(n(n-1)), worked by hand for n=30, w=3.
    assert estimated_n_minima(30, 3) == pytest.approx(3 * 29 / 25)
    assert estimated_coverage(30, 3) == pytest.approx(26 * 33 / (30 * 29))
    assert estimated_n_minima(4, 3) == math.inf  # too few solves to say anything
    assert bayes_says_stop(30, 3)  # 3.48 is within 0.5 of the 3 found
    assert bayes_says_stop(200, 4) and not bayes_says_stop(12, 4)
