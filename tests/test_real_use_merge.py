"""The second merge of minima, as a user meets it (issue 15).

A loosely converged solver leaves one minimum as several "distinct" ones, and a flat direction
(a zero amplitude freeing a centre) as a line of them. Minima whose values agree and between
which the objective shows no barrier are one minimum; a flat direction is reported once, with
a note. Equal-valued minima with barriers between them stay apart.
"""

from __future__ import annotations

import numpy as np
import pytest
from functions import PROBLEMS

import engine

HIMMELBLAU = PROBLEMS["himmelblau"]
SIX_HUMP = PROBLEMS["six_hump_camel"]


def matched(found, known, atol):
    """For each known point, how many found points lie within ``atol`` of it (max norm)."""
    return [sum(np.max(np.abs(np.asarray(x) - np.asarray(k))) <= atol for x in found)
            for k in known]


def bowl_past_the_bound(x):
    """Minimum on the bound x0 = -2 at f = 0.52672: trust-constr's interior point method
    stops its runs 1e-8 to 1e-3 above it, spread further than the first merge's tolerances."""
    return 0.52672 + float((x[0] + 3.0) ** 2 + x[1] ** 2) - 1.0


def test_trust_constr_loose_ends_of_one_minimum_are_one_minimum():
    res = engine.minimize(bowl_past_the_bound, [(-2, 2)] * 2, method="trust-constr",
                          n_starts=16, seed=0, client="serial")
    assert res.n_failed == 0
    funs = sorted(r.fun for r in res.runs)
    assert funs[-1] - funs[0] > 1e-6  # the runs do not agree to ftol: the first merge splits
    assert res.provenance["merge"]["minima_before"] > 1
    assert len(res.minima) == 1, [(m.x, m.fun) for m in res.minima]
    best = res.minima[0]
    assert best.n_hits == 16 and best.starts == tuple(range(16))
    assert best.fun == pytest.approx(0.52672, abs=1e-6) and best.fun == funs[0]
    np.testing.assert_allclose(best.x, [-2.0, 0.0], atol=1e-4)
    assert best.note is None  # a cluster round one point, not a flat direction
    assert res.nfev == sum(r.nfev for r in res.runs)  # the merge's evaluations are not in it
    assert res.provenance["merge"]["evaluations"] > 0


def gaussian_fit(params):
    """Least squares of one Gaussian ``a * exp(-((t - c) / 0.1)^2)`` against zero data: the
    best amplitude is 0, and then every centre ``c`` fits equally (a line of minima)."""
    a, c = params
    t = np.linspace(0.0, 1.0, 20)
    return float(np.sum((a * np.exp(-(((t - c) / 0.1) ** 2))) ** 2))


def test_a_zero_amplitude_freeing_a_centre_is_one_degenerate_minimum():
    res = engine.minimize(gaussian_fit, [(-1, 1), (0, 1)], n_starts=32, seed=0,
                          client="serial")
    assert res.provenance["merge"]["minima_before"] > 10  # the line, point by point
    assert len(res.minima) == 1, [(m.x, m.fun) for m in res.minima]
    best = res.minima[0]
    assert best.n_hits == sum(r.success for r in res.runs)
    assert abs(best.x[0]) < 1e-6 and best.fun < 1e-12
    assert best.note is not None and "degenerate" in best.note and "flat" in best.note
    # the note survives result.json, and an older file without it still loads
    back = engine.MultistartResult.from_dict(res.to_dict())
    assert back.minima[0].note == best.note
    data = res.to_dict()
    del data["minima"][0]["note"]
    assert engine.MultistartResult.from_dict(data).minima[0].note is None


def test_a_valley_and_a_separate_minimum_of_equal_value_stay_two():
    # a flat valley along x1 at x0 = -1 and an isolated minimum at (1, 0.5), both at f = 0
    def fun(x):
        return float(min(x[0] + 1.0, 0.0) ** 2 + max(x[0] + 1.0, 0.0) ** 2
                     * ((x[0] - 1.0) ** 2 + (x[1] - 0.5) ** 2))

    res = engine.minimize(fun, [(-2, 2), (-1, 1)], n_starts=40, seed=1, client="serial")
    assert len(res.minima) == 2, [(m.x, m.fun, m.note) for m in res.minima]
    notes = {m.x[0].round(3): m.note for m in res.minima}
    assert notes[-1.0] is not None and notes[1.0] is None


@pytest.mark.parametrize(("problem", "n_minima"), [(HIMMELBLAU, 4), (SIX_HUMP, 6)],
                         ids=["himmelblau", "six_hump_camel"])
def test_equal_valued_minima_with_barriers_between_them_stay_apart(problem, n_minima):
    # starts next to each known minimum, so that each is found and only the merge is tested
    known = [x for x, _ in problem.local_minima] or list(problem.global_minima)
    starts = [np.asarray(x) + 0.01 for x in known]
    res = engine.minimize(problem.fun, problem.bounds, sampler=starts, client="serial")
    assert res.provenance["merge"]["minima_before"] == n_minima
    assert len(res.minima) == n_minima, [(m.x, m.fun) for m in res.minima]
    assert matched([m.x for m in res.minima], known, 1e-3) == [1] * n_minima
    assert all(m.note is None for m in res.minima)
    assert res.provenance["merge"]["evaluations"] > 0  # the equal values were checked


def test_no_segment_evaluations_under_constraints_or_a_spent_budget():
    cons = [{"type": "ineq", "fun": lambda x: 4.0 - x[0] ** 2 - x[1] ** 2}]
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=16, seed=0,
                          constraints=cons, client="serial")
    assert res.provenance["merge"]["evaluations"] == 0
    calls = []

    def counted(x):
        calls.append(1)
        return HIMMELBLAU.fun(x)

    res = engine.minimize(counted, HIMMELBLAU.bounds, max_evals=400, seed=3, client="serial")
    assert len(calls) == res.nfev <= 400
