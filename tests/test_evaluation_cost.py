"""How requests for objective values are cut into tasks (engine.parallel.evaluation_cost),
and the second merge with many minima.

A request goes to the workers in blocks of at least MIN_BLOCK_SECONDS of measured work, at
most two per worker slot: five points of a cheap objective are one task once a point has been
measured, and never evaluated in the driver (an objective may crash its process).
"""

from __future__ import annotations

import concurrent.futures as cf
import time

import numpy as np
import pytest

import engine
from engine.basins import Basin
from engine.merge import merge_minima
from engine.parallel.dask_executor import DaskExecutor
from engine.parallel.evaluation_cost import MIN_BLOCK_SECONDS, EvaluationCost
from engine.parallel.futures import FuturesExecutor
from engine.problem import Problem


def block_size(points: np.ndarray) -> np.ndarray:
    """Vectorized (points as columns): each point's value is the size of its block."""
    return np.full(points.shape[1], float(points.shape[1]))


def slow_block_size(points: np.ndarray) -> np.ndarray:
    time.sleep(0.02 * points.shape[1])  # 20 ms a point: 5 points are 10 blocks' worth
    return block_size(points)


def test_nothing_measured_means_two_blocks_a_slot_then_the_cost_decides():
    cost = EvaluationCost()
    assert cost.per_point is None
    assert cost.n_blocks(3, slots=4) == 3 and cost.n_blocks(100, slots=4) == 8
    cost.observe(n_points=2, seconds=0.05)  # a worker warming up: 25 ms a point
    cost.observe(n_points=10, seconds=10 * 1e-3)  # 1 ms a point
    assert cost.per_point == pytest.approx(1e-3)
    assert MIN_BLOCK_SECONDS == 0.01
    # 1000 points are 1 s of work: blocks of >= 10 ms, at most two per slot
    assert cost.n_blocks(1000, slots=4) == 8
    # 25 points are 25 ms: two blocks of at least 10 ms; 9 points are one
    assert cost.n_blocks(25, slots=4) == 2 and cost.n_blocks(9, slots=4) == 1


def _three_calls(executor, fun) -> list[list[float]]:
    problem = Problem.create(fun, [(0, 1)])
    points = np.array([[0.1], [0.2], [0.3], [0.4], [0.5]])
    return [executor.evaluate(problem, points, True).tolist() for _ in range(3)]


def test_dask_cheap_request_is_one_task_once_measured(dask_client):
    first, second, third = _three_calls(DaskExecutor(dask_client), block_size)
    assert first == [2.0, 2.0, 1.0, 1.0, 1.0]  # 2 workers: 4 blocks before any measure
    assert second == third == [5.0] * 5


def test_dask_expensive_request_stays_split_across_the_slots(dask_client):
    calls = _three_calls(DaskExecutor(dask_client), slow_block_size)
    assert calls == [[2.0, 2.0, 1.0, 1.0, 1.0]] * 3


def test_process_pool_cheap_request_is_one_task_once_measured():
    with cf.ProcessPoolExecutor(2) as pool:
        first, second, _ = _three_calls(FuturesExecutor(pool), block_size)
    assert first == [2.0, 2.0, 1.0, 1.0, 1.0] and second == [5.0] * 5


def test_himmelblau_on_a_cluster_keeps_its_four_minima_with_local_merge_checks(dask_client):
    def himmelblau(x):
        return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2

    res = engine.minimize(himmelblau, [(-5, 5), (-5, 5)], n_starts=64, seed=3,
                          client=dask_client)
    known = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186],
                      [3.584428, -1.848126]])
    assert len(res.minima) == 4
    for m in res.minima:
        assert np.min(np.max(np.abs(known - m.x), axis=1)) < 1e-5 and abs(m.fun) < 1e-10


def test_merge_compares_only_leaders_whose_values_can_agree():
    # Three far-apart points on a flat objective: -1e6 and -1e6 - 1e-3 agree (relative to
    # 1e6); -2e6 is a leader whose value cannot agree and is never compared.
    lower, upper = np.zeros(1), np.ones(1)
    basins = [Basin(np.array([0.1]), -2e6, 0, [0]), Basin(np.array([0.5]), -1e6 - 1e-3, 1, [1]),
              Basin(np.array([0.9]), -1e6, 2, [2])]
    merged, spent = merge_minima(basins, lambda p: np.full(len(p), -1e6), lower, upper,
                                 1e-4, 1e-6)
    assert [m.basin.members for m in merged] == [[0], [1, 2]] and spent == 5


def test_merge_of_thousands_of_distinct_minima_keeps_every_one():
    rng = np.random.default_rng(0)
    n, d = 3000, 20
    points, values = rng.uniform(size=(n, d)), rng.permutation(n) * 1e-3
    basins = [Basin(points[i], float(values[i]), i, [i]) for i in range(n)]
    merged, spent = merge_minima(basins, lambda p: np.zeros(len(p)), np.zeros(d), np.ones(d),
                                 1e-4, 1e-6)
    # Far apart, values agree only within 10 * ftol = 1e-5 (relative to max(1, |f|) <= 3):
    # values 1e-3 apart never do, so nothing is compared or joined.
    assert len(merged) == n and spent == 0
    assert [m.basin.index for m in merged] == np.argsort(values, kind="stable").tolist()
