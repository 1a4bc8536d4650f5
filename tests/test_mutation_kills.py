"""Known answers that the mutation run (scripts/mutation) showed no other fast test held."""

from __future__ import annotations

import numpy as np

from engine.basins import BasinSet, cluster_points
from engine.options import DedupOptions


def default_set(lower=(0.0, 0.0), upper=(10.0, 10.0)) -> BasinSet:
    dedup = DedupOptions()
    return BasinSet(np.array(lower), np.array(upper), dedup.xtol, dedup.ftol)


def test_default_dedup_tolerances_are_the_documented_values():
    dedup = DedupOptions()
    assert dedup.xtol == 1e-4
    assert dedup.ftol == 1e-6


def test_default_merge_distance_is_a_fraction_of_each_bounds_width():
    # Widths 10 and 10: xtol 1e-4 is 1e-3 in x. 0.5e-4 of the width apart merge, 2e-4 do not.
    near, far = default_set(), default_set()
    for basin_set, step in ((near, 0.5e-4), (far, 2e-4)):
        basin_set.add(0, np.array([5.0, 5.0]), 1.0)
        basin_set.add(1, np.array([5.0 + 10 * step, 5.0]), 1.0)
        basin_set.add(2, np.array([5.0, 5.0 - 10 * step]), 1.0)
    assert [b.members for b in near.basins()] == [[0, 1, 2]]
    assert len(far.basins()) == 3


def test_merge_value_tolerance_is_relative_to_the_value():
    # ftol 1e-6 relative to max(1, |f|): near 1e6 values 1e-3 apart are one minimum...
    big = default_set()
    big.add(0, np.array([1.0, 1.0]), 1e6)
    big.add(1, np.array([1.0, 1.0]), 1e6 + 1e-3)
    assert [b.members for b in big.basins()] == [[0, 1]]
    # ...but 10 apart (1e-5 relative) are two; near 0 the bound is absolute 1e-6.
    apart = default_set()
    apart.add(0, np.array([1.0, 1.0]), 1e6)
    apart.add(1, np.array([1.0, 1.0]), 1e6 + 10.0)
    assert len(apart.basins()) == 2
    small = default_set()
    small.add(0, np.array([1.0, 1.0]), 0.0)
    small.add(1, np.array([1.0, 1.0]), 5e-7)
    small.add(2, np.array([1.0, 1.0]), 3e-6)
    assert [b.members for b in small.basins()] == [[0, 1], [2]]


def test_bulk_merge_value_tolerance_is_relative_too():
    pts = np.array([[2.0], [2.0], [2.0], [7.0]])
    vals = np.array([-1e6, -1e6 + 1e-3, -1e6 + 10.0, -1e6])
    basins = cluster_points(np.arange(4), pts, vals, np.array([0.0]), np.array([10.0]))
    assert [b.members for b in basins] == [[0, 1], [3], [2]]


def test_default_tolerances_of_basin_set_and_cluster_points():
    lower, upper = np.array([0.0]), np.array([1.0])
    for merged in (
        BasinSet(lower, upper),
        None,
    ):
        if merged is not None:
            merged.add(0, np.array([0.2]), 0.0)
            merged.add(1, np.array([0.7]), 0.0)      # 0.5 apart: xtol 1e-4 keeps them apart
            merged.add(2, np.array([0.2]), 0.5)      # same x, value 0.5 apart: ftol 1e-6
            assert len(merged.basins()) == 3
    pts = np.array([[0.2], [0.7], [0.2]])
    basins = cluster_points(np.arange(3), pts, np.array([0.0, 0.0, 0.5]), lower, upper)
    assert len(basins) == 3
    # ftol is passed through: 1e-4 apart merge with ftol=1e-3, not with the default.
    vals = np.array([0.0, 1e-4])
    two = np.array([[0.2], [0.2]])
    assert len(cluster_points(np.arange(2), two, vals, lower, upper, ftol=1e-3)) == 1
    assert len(cluster_points(np.arange(2), two, vals, lower, upper)) == 2


def test_value_tolerance_bound_is_inclusive_and_floored_at_one():
    at = default_set()
    at.add(0, np.array([1.0, 1.0]), 0.0)
    at.add(1, np.array([1.0, 1.0]), 1e-6)     # exactly ftol * max(1, |f|): one minimum
    at.add(2, np.array([1.0, 1.0]), -1.5e-6)  # 1.5e-6 from the first: another
    assert [b.members for b in at.basins()] == [[2], [0, 1]]


def test_minima_keep_their_point_value_and_float_coordinates():
    s = default_set()
    s.add(3, np.array([1, 2]), 4.0)           # integer coordinates
    s.add(5, np.array([1, 2]), 4.0 - 1e-7)    # a better representative, same minimum
    s.add(7, np.array([6.0, 6.0]), 9.0)
    (first, second) = s.basins()
    assert first.x.dtype == float and first.x.tolist() == [1.0, 2.0]
    assert first.f == 4.0 - 1e-7 and first.index == 5 and first.members == [3, 5]
    assert second.x.tolist() == [6.0, 6.0] and second.f == 9.0
    assert s.best().index == 5


def test_add_many_with_one_or_two_points_and_integer_points():
    one = default_set()
    one.add_many(np.array([4]), np.array([[1.0, 1.0]]), np.array([2.0]))
    assert [b.members for b in one.basins()] == [[4]]
    two = default_set()  # two points of one minimum in a fresh set
    two.add_many(np.array([0, 1]), np.array([[1.0, 1.0], [1.0, 1.0005]]), np.array([2.0, 2.0]))
    assert [b.members for b in two.basins()] == [[0, 1]]
    ints = default_set()  # the later point is better: it becomes the representative
    ints.add_many(np.array([0, 1]), np.array([[1, 1], [1, 1]]), np.array([2.0, 2.0 - 1e-7]))
    (basin,) = ints.basins()
    assert basin.index == 1 and basin.x.dtype == float


def test_add_many_group_with_a_joined_point_then_a_new_one():
    # First point founds a minimum that takes the second; the third is alone.
    s = default_set()
    s.add_many(np.arange(3), np.array([[1.0, 1.0], [1.0, 1.0001], [8.0, 8.0]]),
               np.array([0.0, 0.0, 0.0]))
    assert [b.members for b in s.basins()] == [[0, 1], [2]]


def test_add_many_matches_existing_minima_by_distance_too():
    s = default_set()
    s.add(0, np.array([1.0, 1.0]), 1.0)
    s.add_many(np.array([1, 2]), np.array([[1.0, 1.0], [9.0, 9.0]]), np.array([1.0, 1.0]))
    assert [b.members for b in s.basins()] == [[0, 1], [2]]
    lone = default_set()
    lone.add(0, np.array([1.0, 1.0]), 1.0)
    lone.add_many(np.array([1]), np.array([[9.0, 9.0]]), np.array([1.0]))
    assert [b.members for b in lone.basins()] == [[0], [1]]
