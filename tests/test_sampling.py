"""Start generators: inside the bounds, reproducible, start i independent of n."""

from __future__ import annotations

import numpy as np
import pytest

from engine.exceptions import ConfigError
from engine.sampling import SAMPLERS, iter_unit_blocks, sample_starts, sample_unit

LOWER = np.array([-5.0, 0.0, 1e-3])
UPPER = np.array([5.0, 1e-3, 1e3])


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_stays_strictly_inside_and_is_reproducible(sampler):
    a = sample_starts(sampler, 257, LOWER, UPPER, seed=9)
    b = sample_starts(sampler, 257, LOWER, UPPER, seed=9)
    assert a.shape == (257, 3)
    assert np.all(a > LOWER) and np.all(a < UPPER)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a, axis=0)) == 257


@pytest.mark.parametrize("sampler", ["sobol", "halton", "uniform"])
def test_start_i_does_not_depend_on_number_of_starts(sampler):
    small = sample_unit(sampler, 10, 4, seed=1)
    large = sample_unit(sampler, 1000, 4, seed=1)
    np.testing.assert_array_equal(small, large[:10])


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_lazy_blocks_equal_one_draw(sampler):
    whole = sample_unit(sampler, 100, 3, seed=2)
    blocks = np.vstack(list(iter_unit_blocks(sampler, 100, 3, seed=2, block=16)))
    np.testing.assert_array_equal(whole, blocks)


@pytest.mark.parametrize("sampler", ["sobol", "halton", "lhs", "uniform"])
def test_different_seeds_give_different_points(sampler):
    assert not np.array_equal(sample_unit(sampler, 8, 2, seed=1), sample_unit(sampler, 8, 2, 2))


def test_sobol_is_space_filling_better_than_uniform():
    from scipy.stats import qmc

    sobol = qmc.discrepancy(sample_unit("sobol", 256, 2, seed=0))
    uniform = qmc.discrepancy(sample_unit("uniform", 256, 2, seed=0))
    assert sobol < uniform


def test_sobol_seq_over_40_dimensions_is_a_clear_error(capsys):
    with pytest.raises(ConfigError, match="at most 40 dimensions but the problem has 41"):
        sample_unit("sobol-seq", 4, 41)
    assert capsys.readouterr().out == ""
    assert sample_unit("sobol-seq", 4, 40).shape == (4, 40)


def test_unknown_sampler():
    with pytest.raises(ConfigError, match=f"allowed: {', '.join(SAMPLERS)}"):
        sample_unit("random", 4, 2)


def test_lhs_cd_keeps_one_point_per_stratum_and_is_more_even_than_plain_lhs():
    from scipy.stats import qmc

    n, d = 64, 3
    optimized = sample_unit("lhs-cd", n, d, seed=4)
    plain = sample_unit("lhs", n, d, seed=4)
    for axis in range(d):  # still a Latin hypercube: every stratum of every axis holds one
        assert sorted(np.floor(optimized[:, axis] * n).astype(int)) == list(range(n))
    assert qmc.discrepancy(optimized, method="CD") < qmc.discrepancy(plain, method="CD")


def test_lhs_cd_starts_find_the_four_minima_of_himmelblau():
    from functions import get

    import engine

    himmelblau = get("himmelblau")
    res = engine.minimize(himmelblau.fun, himmelblau.bounds, n_starts=48, sampler="lhs-cd",
                          seed=2, client="serial")
    assert res.spec.starts.sampler == "lhs-cd"
    assert len(res.minima) == len(himmelblau.global_minima) == 4
    for known in himmelblau.global_minima:
        assert min(np.max(np.abs(m.x - np.asarray(known))) for m in res.minima) < 1e-5
    assert max(m.fun for m in res.minima) < 1e-10
