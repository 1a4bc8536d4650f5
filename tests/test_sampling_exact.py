"""The samplers' exact streams and contracts: each start comes from a documented child of the
seed, points stay strictly inside the unit box whatever a generator returns, and the lazy
paths stay lazy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import qmc

import engine.sampling as sampling
from engine.exceptions import ConfigError
from engine.sampling import (
    UnitStream,
    iter_unit_blocks,
    sample_unit,
    seed_sequence,
    start_rng,
)

EDGE = sampling._EDGE


def child(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@pytest.mark.parametrize("sampler", ["lhs", "lhs-cd"])
def test_latin_hypercubes_come_from_the_seeds_first_child(sampler):
    options = {"optimization": "random-cd"} if sampler == "lhs-cd" else {}
    expected = qmc.LatinHypercube(d=3, seed=child(7, 0), **options).random(16)
    np.testing.assert_array_equal(sample_unit(sampler, 16, 3, seed=7), expected)


def test_uniform_start_i_comes_from_its_own_child_of_the_seed():
    expected = np.array([child(7, 1, i).random(2) for i in range(5)])
    np.testing.assert_array_equal(sample_unit("uniform", 5, 2, seed=7), expected)
    root = seed_sequence(7)
    np.testing.assert_array_equal(start_rng(root, 3).random(2), child(7, 1, 3).random(2))


def test_exploration_stream_is_the_seeds_second_child():
    expected = qmc.Sobol(d=2, seed=child(5, 1)).random(8)
    np.testing.assert_array_equal(UnitStream("sobol", 2, seed=5).draw(8), expected)


class _Extremes:
    """A generator that returns the box's corners exactly (as a raw sequence may)."""

    def __init__(self, *args, **kwargs):
        pass

    def random(self, n):
        n, d = (n if isinstance(n, tuple) else (n, 2))
        return np.tile([0.0, 1.0], (n, d // 2 + 1))[:, :d]


def test_points_are_kept_strictly_inside_the_unit_box_whatever_the_generator_returns(
        monkeypatch):
    monkeypatch.setitem(sampling._GENERATORS, "corners",
                        lambda n, d, root: _Extremes().random((n, d)))
    points = sample_unit("corners", 3, 2, seed=0)
    np.testing.assert_array_equal(points, [[EDGE, 1 - EDGE]] * 3)
    monkeypatch.setattr(sampling.qmc, "Sobol", _Extremes)
    monkeypatch.setattr(sampling.qmc, "Halton", _Extremes)
    for name in ("sobol", "halton"):
        (block,) = list(iter_unit_blocks(name, 2, 2, seed=0))
        np.testing.assert_array_equal(block, [[EDGE, 1 - EDGE]] * 2)
        np.testing.assert_array_equal(UnitStream(name, 2, seed=0).draw(2),
                                      [[EDGE, 1 - EDGE]] * 2)
    class Corner:
        def random(self, d):
            return np.array([0.0, 1.0])[:d]

    monkeypatch.setattr(sampling, "start_rng", lambda root, index: Corner())
    (block,) = list(iter_unit_blocks("uniform", 2, 2, seed=0))
    np.testing.assert_array_equal(block, [[EDGE, 1 - EDGE]] * 2)


def test_a_uniform_stream_is_kept_inside_too(monkeypatch):
    stream = UnitStream("uniform", 2, seed=0)

    class Corners(np.random.Generator):
        def random(self, size=None, dtype=np.float64, out=None):
            return np.tile([0.0, 1.0], (size[0], 1))

    stream._engine = Corners(np.random.PCG64(0))
    np.testing.assert_array_equal(stream.draw(2), [[EDGE, 1 - EDGE]] * 2)


@pytest.mark.parametrize("sampler", ["sobol", "halton", "uniform"])
def test_the_lazy_samplers_never_build_the_whole_sequence(sampler):
    # 10**13 points would need 160 TB: the first block must come without building them.
    first = next(iter_unit_blocks(sampler, 10**13, 2, seed=1, block=4))
    np.testing.assert_array_equal(first, sample_unit(sampler, 4, 2, seed=1))


@pytest.mark.parametrize("sampler", ["sobol", "lhs", "uniform", "sobol-seq"])
def test_zero_and_one_points(sampler):
    assert sample_unit(sampler, 0, 3, seed=0).shape == (0, 3)
    assert sample_unit(sampler, 1, 3, seed=0).shape == (1, 3)
    stream = UnitStream(sampler, 3, seed=0)
    assert stream.draw(0).shape == (0, 3)
    assert stream.draw(1).shape == (1, 3)


@pytest.mark.parametrize(("seed", "message"), [
    (-1, "seed=-1 is negative; use a non-negative integer or None"),
    (True, "seed=True is not allowed; use a non-negative integer or None (fresh entropy)"),
    (2.5, "seed=2.5 is not allowed; use a non-negative integer or None (fresh entropy)"),
])
def test_bad_seeds_are_refused_with_the_rule(seed, message):
    with pytest.raises(ConfigError) as info:
        seed_sequence(seed)
    assert message in str(info.value)


def test_an_unknown_sampler_names_the_allowed_ones_and_the_array_form():
    with pytest.raises(ConfigError) as info:
        sample_unit("sobel", 4, 2)
    assert str(info.value).endswith(
        "sampler='sobel' is unknown; allowed: sobol, halton, lhs, lhs-cd, uniform, sobol-seq "
        "(or pass an array of start points)")
