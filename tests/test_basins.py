"""Distinct-minimum merging: tolerances, order independence, agreement with brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine.basins import Basin, BasinSet, cluster_points
from engine.merge import merge_minima
from engine.results.types import Minimum


def brute_force_leaders(indices, points, values, lower, upper, xtol, ftol):
    """The same rule written as a plain O(n*m) loop: the reference for the KD-tree version."""
    order = sorted(range(len(indices)), key=lambda k: (values[k], indices[k]))
    units = (points - lower) / (upper - lower)
    leaders: list[int] = []
    members: dict[int, list[int]] = {}
    for k in order:
        for leader in leaders:
            close_x = np.max(np.abs(units[k] - units[leader])) <= xtol
            close_f = abs(values[k] - values[leader]) <= ftol * max(
                1.0, abs(values[k]), abs(values[leader]))
            if close_x and close_f:
                members[leader].append(int(indices[k]))
                break
        else:
            leaders.append(k)
            members[k] = [int(indices[k])]
    return [sorted(members[leader]) for leader in leaders]


def noisy_cloud(rng, n_minima=40, per=25, dim=3, spread=1e-6):
    centres = rng.uniform(0, 10, size=(n_minima, dim))
    values = rng.normal(size=n_minima)
    pts, vals = [], []
    for c, v in zip(centres, values, strict=True):
        for _ in range(per):
            pts.append(c + rng.normal(scale=spread, size=dim))
            vals.append(v + rng.normal(scale=1e-9))
    order = rng.permutation(len(pts))
    return np.arange(len(pts)), np.array(pts)[order], np.array(vals)[order]


def test_kdtree_merging_equals_brute_force_reference():
    rng = np.random.default_rng(0)
    idx, pts, vals = noisy_cloud(rng)
    lower, upper = np.zeros(3), np.full(3, 10.0)
    fast = [b.members for b in cluster_points(idx, pts, vals, lower, upper, 1e-4, 1e-6)]
    slow = brute_force_leaders(idx, pts, vals, lower, upper, 1e-4, 1e-6)
    assert fast == slow
    assert len(fast) == 40 and all(len(m) == 25 for m in fast)


def test_result_does_not_depend_on_input_order():
    rng = np.random.default_rng(1)
    idx, pts, vals = noisy_cloud(rng, n_minima=10, per=8, dim=2, spread=3e-5)
    lower, upper = np.zeros(2), np.full(2, 10.0)
    reference = cluster_points(idx, pts, vals, lower, upper)
    for _ in range(5):
        perm = rng.permutation(len(idx))
        shuffled = cluster_points(idx[perm], pts[perm], vals[perm], lower, upper)
        assert [b.members for b in shuffled] == [b.members for b in reference]
        for a, b in zip(shuffled, reference, strict=True):
            np.testing.assert_array_equal(a.x, b.x)


def test_best_representative_and_rank_order():
    lower, upper = np.zeros(1), np.ones(1)
    pts = np.array([[0.5], [0.50000001], [0.2]])
    vals = np.array([1.0 + 1e-9, 1.0, -3.0])
    basins = cluster_points(np.array([0, 1, 2]), pts, vals, lower, upper)
    assert [b.members for b in basins] == [[2], [0, 1]]
    assert basins[1].index == 1 and basins[1].x[0] == 0.50000001


@pytest.mark.parametrize(("dx", "df", "same"), [
    (0.5e-4, 0.0, True),     # within xtol (fraction of the width)
    (2e-4, 0.0, False),      # beyond xtol
    (0.0, 5e-7, True),       # within ftol
    (0.0, 1e-5, False),      # same place, clearly different value
])
def test_tolerances_are_in_unit_box_coordinates(dx, df, same):
    lower, upper = np.array([0.0, -1000.0]), np.array([1.0, 1000.0])  # widths 1 and 2000
    bs = BasinSet(lower, upper, xtol=1e-4, ftol=1e-6)
    bs.add(0, np.array([0.5, 0.0]), 0.0)
    # Move dx of the width in the wide coordinate: 2000 * dx in absolute terms.
    bs.add(1, np.array([0.5, 2000 * dx]), df)
    assert (len(bs) == 1) is same


def test_many_minima_trigger_tree_rebuilds_and_stay_correct():
    grid = np.array(list(itertools.product(range(12), repeat=2)), dtype=float)  # 144 minima
    pts = np.vstack([grid, grid + 1e-7])
    vals = np.concatenate([np.zeros(144), np.zeros(144)])
    basins = cluster_points(np.arange(288), pts, vals, np.zeros(2), np.full(2, 11.0))
    assert len(basins) == 144
    assert all(len(b.members) == 2 for b in basins)


def test_vectorized_add_many_equals_one_by_one_add():
    rng = np.random.default_rng(3)
    idx, pts, vals = noisy_cloud(rng, n_minima=60, per=20, dim=4, spread=2e-5)
    lower, upper = np.zeros(4), np.full(4, 10.0)
    one = BasinSet(lower, upper)
    for i, p, v in zip(idx, pts, vals, strict=True):
        one.add(int(i), p, float(v))
    many = BasinSet(lower, upper)
    many.add_many(idx, pts, vals, block=37)  # blocks that cut through everything
    assert [b.members for b in one.basins()] == [b.members for b in many.basins()]
    assert [b.index for b in one.basins()] == [b.index for b in many.basins()]


@pytest.mark.parametrize("seed", range(4))
def test_crowded_points_equal_brute_force_and_one_by_one_add(seed):
    """Points packed closer than xtol, with values that only sometimes agree: every point has
    several candidate minima, made inside the same block, so the order rule decides."""
    rng = np.random.default_rng(seed)
    n, lower, upper = 600, np.zeros(2), np.ones(2)
    pts = rng.uniform(0, 3e-3, size=(n, 2))
    vals = rng.integers(0, 3, size=n) * 1e-3 + rng.normal(scale=1e-9, size=n)
    idx = np.arange(n)
    fast = [b.members for b in cluster_points(idx, pts, vals, lower, upper, 1e-3, 1e-6)]
    assert fast == brute_force_leaders(idx, pts, vals, lower, upper, 1e-3, 1e-6)
    assert 3 < len(fast) < n  # both merging and splitting happened
    one, many = BasinSet(lower, upper, 1e-3), BasinSet(lower, upper, 1e-3)
    for i, p, v in zip(idx, pts, vals, strict=True):
        one.add(int(i), p, float(v))
    many.add_many(idx, pts, vals, block=97)
    assert [b.members for b in one.basins()] == [b.members for b in many.basins()]


def test_all_distinct_minima_in_many_dimensions_stay_fast_and_distinct():
    rng = np.random.default_rng(5)
    pts = rng.uniform(0, 1, size=(20000, 20))  # every point its own minimum
    basins = cluster_points(np.arange(20000), pts, rng.normal(size=20000), np.zeros(20),
                            np.ones(20))
    assert len(basins) == 20000


@pytest.mark.parametrize("seed", range(3))
def test_batches_in_arrival_order_equal_one_by_one_add_across_many_trees(seed):
    """Results arriving a task at a time (batches of any size, mixed with single adds) give
    the same minima as adding each point alone, while the forest of trees grows, merges and
    leaves a tail: many minima, some crowded (several candidates), most joined by later
    points."""
    rng = np.random.default_rng(seed)
    lower, upper = np.zeros(3), np.ones(3)
    centres = rng.uniform(0, 1, size=(700, 3))
    crowd = rng.uniform(0.5, 0.5 + 2e-3, size=(150, 3))  # closer than xtol to each other
    picks = np.vstack([centres[rng.integers(0, 700, size=2500)], crowd])
    pts = picks + rng.normal(scale=1e-5, size=picks.shape)
    vals = np.round(pts.sum(axis=1), 2) + rng.normal(scale=1e-9, size=len(pts))
    order = rng.permutation(len(pts))
    pts, vals, idx = pts[order], vals[order], np.arange(len(pts))
    one, batched = BasinSet(lower, upper, 1e-3), BasinSet(lower, upper, 1e-3)
    for i, p, v in zip(idx, pts, vals, strict=True):
        one.add(int(i), p, float(v))
    first = 0
    while first < len(pts):
        size = int(rng.choice([1, 3, 40, 200, 900]))
        last = min(first + size, len(pts))
        if size == 1:
            batched.add(int(idx[first]), pts[first], float(vals[first]))
        else:
            batched.add_many(idx[first:last], pts[first:last], vals[first:last])
        first = last
    sizes = [tree.n for _, tree in batched._trees]  # consecutive ranges, each under half
    assert all(a > b for a, b in itertools.pairwise(sizes))
    assert sum(sizes) == batched._indexed > len(batched) - 64
    assert [b.members for b in one.basins()] == [b.members for b in batched.basins()]
    assert [b.index for b in one.basins()] == [b.index for b in batched.basins()]
    assert 500 < len(one) < len(pts)


class _CountingTree:
    """A cKDTree that counts its ball queries and the points they were asked about."""

    calls = 0
    points = 0

    def __init__(self, data):
        from scipy.spatial import cKDTree

        self._tree = cKDTree(data)
        self.n = self._tree.n

    def query_ball_point(self, x, **kwargs):
        _CountingTree.calls += 1
        _CountingTree.points += len(np.atleast_2d(x))
        return self._tree.query_ball_point(x, **kwargs)

    def query(self, *args, **kwargs):
        return self._tree.query(*args, **kwargs)


@pytest.fixture
def counting_tree(monkeypatch):
    import engine.basins

    monkeypatch.setattr(engine.basins, "cKDTree", _CountingTree)
    _CountingTree.calls = _CountingTree.points = 0
    return _CountingTree


def test_a_rugged_group_is_queried_in_batches_doubling_up_to_1024(counting_tree):
    """Every point its own minimum: founders' balls are fetched 1, 2, 4, ..., 1024 at a time,
    then 1024 at a time, so 5120 points take 15 queries (11 reach 2047 points, three of 1024
    reach 5119, one more), each point asked about once."""
    side = np.arange(80)
    grid = np.array(np.meshgrid(side, side[:64])).reshape(2, -1).T / 100.0  # 5120 points
    basins = cluster_points(np.arange(len(grid)), grid, np.arange(len(grid)) * 1e-3,
                            np.zeros(2), np.ones(2))
    assert len(basins) == 5120
    assert (counting_tree.calls, counting_tree.points) == (15, 5120)


def test_a_crowded_group_drops_back_to_one_query_when_a_fetch_is_wasted(counting_tree):
    """Four minima of 500 points each, taken best first: the first founder takes its 499
    companions in; the batch of two that follows fetches the next minimum's founder and a
    point it then takes in (wasted), so the batch drops back to one: 1 + 2 + 1 + 2 points
    asked about in four queries, whatever the size of the crowds."""
    rng = np.random.default_rng(3)
    centres = np.array([[0.2, 0.2], [0.8, 0.2], [0.2, 0.8], [0.8, 0.8]])
    pts = np.repeat(centres, 500, axis=0) + rng.uniform(-3e-5, 3e-5, size=(2000, 2))
    vals = np.repeat(np.arange(4.0), 500) + rng.uniform(0, 1e-9, size=2000)
    basins = cluster_points(np.arange(2000), pts, vals, np.zeros(2), np.ones(2))
    assert [len(b.members) for b in basins] == [500] * 4
    assert (counting_tree.calls, counting_tree.points) == (4, 6)


def test_minima_added_one_at_a_time_form_trees_of_64_times_powers_of_two():
    """The forest is a binary counter of 64-minimum leaves: 1000 distinct minima give trees
    of 512, 256, 128 and 64 over the first 960, and a tail of 40 not in any tree."""
    bs = BasinSet(np.zeros(1), np.ones(1))
    for i in range(1000):
        bs.add(i, np.array([i / 1000.0]), float(i))
    assert [tree.n for _, tree in bs._trees] == [512, 256, 128, 64]
    assert [first for first, _ in bs._trees] == [0, 512, 768, 896]
    assert bs._indexed == 960 and len(bs) == 1000


def test_a_point_exactly_xtol_away_joins_in_batches_as_alone():
    """'Within xtol' includes xtol itself, for the batch query as for a single add."""
    lower, upper = np.zeros(1), np.ones(1)
    pts, vals = np.array([[0.5], [0.75], [0.25]]), np.zeros(3)
    one, many = BasinSet(lower, upper, xtol=0.25), BasinSet(lower, upper, xtol=0.25)
    for i in range(3):
        one.add(i, pts[i], 0.0)
    many.add(0, pts[0], 0.0)
    many.add_many(np.array([1, 2]), pts[1:], vals[1:])
    assert [b.members for b in one.basins()] == [b.members for b in many.basins()] == [[0, 1, 2]]


def test_adding_no_points_changes_nothing():
    bs = BasinSet(np.zeros(2), np.ones(2))
    bs.add_many(np.array([], dtype=int), np.empty((0, 2)), np.empty(0))
    bs.add_many([], [], [])
    assert len(bs) == 0 and cluster_points(np.array([], dtype=int), np.empty((0, 2)),
                                           np.empty(0), np.zeros(2), np.ones(2)) == []


# The second merge (engine/merge.py): minima that no barrier separates are one.

LO, HI = np.zeros(2), np.ones(2)


def basin(x, f, index):
    return Basin(np.array(x, dtype=float), float(f), index, [index])


def test_second_merge_joins_a_flat_line_and_notes_it_degenerate():
    line = [basin([0.1 * k, 0.5], 0.0, k) for k in range(1, 9)]
    counted = []

    def flat(points):
        counted.append(len(points))
        return np.zeros(len(points))

    merged, spent = merge_minima(line[::-1], flat, LO, HI, 1e-4, 1e-6)
    assert len(merged) == 1 and merged[0].degenerate
    assert merged[0].basin.members == list(range(1, 9)) and merged[0].basin.index == 1
    assert merged[0].spread == pytest.approx(0.7) and spent == sum(counted) == 7 * 5


def test_second_merge_keeps_minima_apart_across_a_barrier_or_a_dip():
    pair = [basin([0.2, 0.5], 0.0, 0), basin([0.8, 0.5], 0.0, 1)]

    def bump(points):  # a ridge at x0 = 0.5 between the two
        return np.exp(-((points[:, 0] - 0.5) / 0.05) ** 2)

    def dip(points):  # a deeper well between them: each side has a barrier, unsampled
        return -np.exp(-((points[:, 0] - 0.5) / 0.2) ** 2)

    for values_at in (bump, dip):
        merged, spent = merge_minima(pair, values_at, LO, HI, 1e-4, 1e-6)
        assert [m.basin.members for m in merged] == [[0], [1]] and spent == 5


def test_second_merge_of_a_loose_cluster_keeps_the_best_point_and_no_note():
    def bowl(points):
        return np.sum((points - 0.5) ** 2, axis=1)

    cluster = [basin([0.5 + d, 0.5], d * d, k) for k, d in enumerate([3e-3, -2e-3, 1e-3])]
    merged, _ = merge_minima(cluster, bowl, LO, HI, 1e-4, 1e-6)
    assert len(merged) == 1 and merged[0].basin.index == 2 and merged[0].basin.f == 1e-6
    assert merged[0].basin.members == [0, 1, 2] and not merged[0].degenerate


def test_second_merge_spends_at_most_its_budget_and_compares_only_close_values():
    line = [basin([0.1 * k, 0.5], 0.0, k) for k in range(1, 9)]
    merged, spent = merge_minima(line, lambda p: np.zeros(len(p)), LO, HI, 1e-4, 1e-6,
                                 max_evals=12)
    assert spent == 10 and len(merged) == 6  # two checks made, the rest left distinct
    apart = [basin([0.2, 0.5], 0.0, 0), basin([0.8, 0.5], 0.5, 1)]
    merged, spent = merge_minima(apart, lambda p: np.zeros(len(p)), LO, HI, 1e-4, 1e-6)
    assert len(merged) == 2 and spent == 0


def test_minimum_note_round_trips_and_older_dicts_load():
    m = Minimum(x=np.array([1.0]), fun=0.0, n_hits=2, starts=(0, 1), note="degenerate: flat")
    assert Minimum.from_dict(m.to_dict()).note == "degenerate: flat"
    old = m.to_dict()
    del old["note"]
    assert Minimum.from_dict(old).note is None
