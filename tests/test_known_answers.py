"""Known-answer tests of ``engine.minimize`` at its default settings.

Each test changes only the options it names and checks the answer known from the problem's
definition (``tests/functions.py``) or from analysis, with a tolerance that a wrong answer
cannot meet:

* gradients given as ``jac=True`` (``fun`` returns ``(f, gradient)``) and as a callable, in
  this process and on a two-worker cluster, with ``n_starts`` and with only ``max_evals``;
* maximization with a gradient: the known maxima, reported with the user's sign;
* ``target``: the run stops at the first start as good as the target, not before, and runs
  every start when the target cannot be reached;
* constraints: SLSQP (the default with constraints) reaches the analytic constrained minimum;
* ``restarts``: the default single restart leaves a saddle that the solver stopped on;
* box width: a convex bowl has one minimum, found to the merge tolerance, in narrow and wide
  boxes alike;
* merging at the default ``xtol``/``ftol``: where two minima become one, and that an objective
  shifted by 1e6 keeps its minima.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from functions import PROBLEMS, himmelblau, himmelblau_jac
from scipy.optimize import LinearConstraint, NonlinearConstraint

import engine

HIMMELBLAU = PROBLEMS["himmelblau"]
SIX_HUMP = PROBLEMS["six_hump_camel"]
MAX_1D = PROBLEMS["multimodal_1d_max"]
# six-hump camel's worst local minimum (f = 2.104): a start there is poor for any target
WORST_SHC_X, WORST_SHC_F = max(SIX_HUMP.local_minima, key=lambda xf: xf[1])


def himmelblau_with_gradient(x):
    """Himmelblau as ``jac=True`` expects it: ``(f, gradient)``."""
    return himmelblau(x), himmelblau_jac(x)


def matched(found, known, atol):
    """For each known point, how many found points lie within ``atol`` of it (max norm)."""
    found = [np.asarray(x, dtype=float) for x in found]
    return [sum(np.max(np.abs(x - np.asarray(k))) <= atol for x in found) for k in known]


def failures(res, budget_cuts_allowed=False):
    """The failed runs, as ``(index, error or message)``; with ``budget_cuts_allowed`` a run
    that only ended because ``max_evals`` was spent is not counted."""
    out = []
    for run in res.runs:
        if run.success:
            continue
        text = run.error or run.message
        if budget_cuts_allowed and (run.error or "").startswith("BudgetExhausted"):
            continue
        out.append((run.index, text))
    return out


def assert_all_four_himmelblau_minima(res):
    assert len(res.minima) == 4, [(m.x, m.fun) for m in res.minima]
    assert matched([m.x for m in res.minima], HIMMELBLAU.global_minima, 1e-5) == [1, 1, 1, 1]
    assert all(abs(m.fun) <= 1e-9 for m in res.minima), [m.fun for m in res.minima]
    assert abs(res.fun) <= 1e-10


# ================================================================ gradients


GRADIENT_FORMS = {
    # fun returns the value only, the gradient is a separate callable (works today)
    "callable": (himmelblau, himmelblau_jac),
    # fun returns (f, gradient): scipy's jac=True convention
    "jac=True": (himmelblau_with_gradient, True),
}


@pytest.mark.parametrize("form", list(GRADIENT_FORMS))
def test_gradient_serial_n_starts_finds_all_four_himmelblau_minima(form):
    fun, jac = GRADIENT_FORMS[form]
    res = engine.minimize(fun, HIMMELBLAU.bounds, n_starts=32, seed=0, jac=jac, client="serial")
    assert res.strategy == "all" and res.method == "L-BFGS-B"
    assert failures(res) == []
    assert res.n_failed == 0 and res.n_starts == 32 and res.stop_reason == "n_starts"
    assert_all_four_himmelblau_minima(res)


@pytest.mark.parametrize("form", list(GRADIENT_FORMS))
def test_gradient_serial_max_evals_only_finds_all_four_himmelblau_minima(form):
    fun, jac = GRADIENT_FORMS[form]
    res = engine.minimize(fun, HIMMELBLAU.bounds, max_evals=2000, seed=0, jac=jac,
                          client="serial")
    # The only runs allowed to fail are those the evaluation budget cut short.
    assert failures(res, budget_cuts_allowed=True) == []
    assert res.strategy == "portfolio"
    assert res.stop_reason == "max_evals" and res.nfev <= 2000
    assert_all_four_himmelblau_minima(res)


@pytest.mark.parametrize("form", list(GRADIENT_FORMS))
def test_gradient_on_a_two_worker_cluster_n_starts(form, dask_client):
    fun, jac = GRADIENT_FORMS[form]
    res = engine.minimize(fun, HIMMELBLAU.bounds, n_starts=32, seed=0, jac=jac,
                          client=dask_client)
    assert res.provenance["cluster"]["n_workers"] == 2
    assert failures(res) == []
    assert res.n_failed == 0 and res.n_starts == 32 and res.stop_reason == "n_starts"
    assert_all_four_himmelblau_minima(res)


@pytest.mark.parametrize("form", list(GRADIENT_FORMS))
def test_gradient_on_a_two_worker_cluster_max_evals_only(form, dask_client):
    fun, jac = GRADIENT_FORMS[form]
    res = engine.minimize(fun, HIMMELBLAU.bounds, max_evals=2000, seed=0, jac=jac,
                          client=dask_client)
    assert failures(res, budget_cuts_allowed=True) == []
    assert res.strategy == "portfolio" and res.stop_reason == "max_evals"
    assert_all_four_himmelblau_minima(res)


# ================================================================ maximize with a gradient


def max_1d_gradient(x):
    """Gradient of the function maximized in the 1-D tests (``-`` that of its min form)."""
    return -MAX_1D.jac(x)


MAX_1D_FORMS = {
    "callable": (lambda x: -MAX_1D.fun(x), max_1d_gradient),
    "jac=True": (lambda x: (-MAX_1D.fun(x), max_1d_gradient(x)), True),
}


@pytest.mark.parametrize("form", list(MAX_1D_FORMS))
def test_maximize_with_gradient_finds_the_known_maxima_in_one_dimension(form):
    fun, jac = MAX_1D_FORMS[form]
    res = engine.minimize(fun, MAX_1D.bounds, n_starts=32, seed=0, jac=jac, maximize=True,
                          client="serial")
    assert failures(res) == []
    assert res.maximize and res.n_failed == 0
    # maxima of cos(2x) exp(-0.1 x^2) on [-4, 7]: the minima of its negation, sign flipped
    known = sorted(((x, -f) for x, f in MAX_1D.local_minima), key=lambda xf: -xf[1])
    assert len(res.minima) == len(known) == 4
    assert matched([m.x for m in res.minima], [x for x, _ in known], 1e-6) == [1, 1, 1, 1]
    for m in res.minima:
        (value,) = [v for x, v in known if abs(m.x[0] - x[0]) <= 1e-6]
        assert m.fun == pytest.approx(value, abs=1e-10)
    assert [m.fun for m in res.minima] == sorted((m.fun for m in res.minima), reverse=True)
    assert res.fun == pytest.approx(1.0, abs=1e-12) and res.fun == res.minima[0].fun
    assert abs(res.x[0]) <= 1e-6


def neg_six_hump(x):
    return -SIX_HUMP.fun(x)


def neg_six_hump_jac(x):
    return -SIX_HUMP.jac(x)


SIX_HUMP_MAX_FORMS = {
    "callable": (neg_six_hump, neg_six_hump_jac),
    "jac=True": (lambda x: (neg_six_hump(x), neg_six_hump_jac(x)), True),
}


@pytest.mark.parametrize("form", list(SIX_HUMP_MAX_FORMS))
def test_maximize_with_gradient_finds_the_six_maxima_of_negated_six_hump_camel(form):
    fun, jac = SIX_HUMP_MAX_FORMS[form]
    res = engine.minimize(fun, SIX_HUMP.bounds, seed=0, jac=jac, maximize=True,
                          client="serial")
    assert failures(res) == []
    assert res.n_starts == 128 and res.n_failed == 0
    known = sorted(((x, -f) for x, f in SIX_HUMP.local_minima), key=lambda xf: -xf[1])
    assert len(res.minima) == 6
    assert matched([m.x for m in res.minima], [x for x, _ in known], 1e-5) == [1] * 6
    for m, (_, value) in zip(res.minima, known, strict=True):
        assert m.fun == pytest.approx(value, abs=1e-9)  # ranked best first, user's sign
    assert res.fun == pytest.approx(-SIX_HUMP.f_min, abs=1e-10)
    assert res.fun == max(r.fun for r in res.runs if r.success)


# ================================================================ target


def test_target_stops_minimization_at_the_first_start_that_reaches_it():
    res = engine.minimize(SIX_HUMP.fun, SIX_HUMP.bounds, target=-1.0, seed=0, client="serial")
    assert res.stop_reason == "target"
    assert res.fun <= -1.0
    assert res.fun == pytest.approx(SIX_HUMP.f_min, abs=1e-9)
    assert res.n_starts < 128


def test_target_minimization_goes_on_past_a_first_start_that_misses_it():
    # The first start sits on the worst local minimum (f = 2.104), far above the target.
    res = engine.minimize(SIX_HUMP.fun, SIX_HUMP.bounds, target=-1.0, x0=WORST_SHC_X, seed=0,
                          client="serial")
    assert res.runs[0].fun == pytest.approx(WORST_SHC_F, abs=1e-9)
    assert res.stop_reason == "target" and res.n_starts > 1
    # Serially, the run stops at the first start that reaches the target, and no earlier.
    assert [r.fun <= -1.0 for r in res.runs] == [False] * (res.n_starts - 1) + [True]
    assert res.fun <= -1.0


def test_target_maximization_stops_once_a_value_at_least_the_target_is_found():
    # Maximize -six_hump_camel: maxima 1.0316 (x2), 0.2155 (x2), -2.1043 (x2). The first start
    # is the worst maximum, -2.104, which does not reach the target 1.0.
    res = engine.minimize(neg_six_hump, SIX_HUMP.bounds, target=1.0, x0=WORST_SHC_X,
                          maximize=True, seed=0, client="serial")
    assert res.runs[0].success and res.runs[0].fun == pytest.approx(-WORST_SHC_F, abs=1e-9)
    assert res.stop_reason == "target"
    assert res.n_starts > 1, "stopped after a first start that did not reach the target"
    assert [r.fun >= 1.0 for r in res.runs] == [False] * (res.n_starts - 1) + [True]
    assert res.fun >= 1.0
    assert res.fun == pytest.approx(-SIX_HUMP.f_min, abs=1e-9)


def test_target_maximization_that_cannot_be_reached_runs_every_start():
    res = engine.minimize(neg_six_hump, SIX_HUMP.bounds, target=2.0, n_starts=16,
                          maximize=True, seed=0, client="serial")
    assert res.stop_reason == "n_starts" and res.n_starts == 16
    assert res.fun == pytest.approx(-SIX_HUMP.f_min, abs=1e-9)
    assert res.fun < 2.0


def test_target_minimization_that_cannot_be_reached_runs_every_start():
    res = engine.minimize(SIX_HUMP.fun, SIX_HUMP.bounds, target=-2.0, n_starts=16, seed=0,
                          client="serial")
    assert res.stop_reason == "n_starts" and res.n_starts == 16
    assert res.fun == pytest.approx(SIX_HUMP.f_min, abs=1e-9)


# ================================================================ constraints


def shifted_bowl(x):
    return float((x[0] - 2.0) ** 2 + (x[1] - 1.0) ** 2)


@pytest.mark.parametrize("form", ["dict", "LinearConstraint"])
def test_slsqp_reaches_the_projection_onto_a_half_plane(form):
    # min (x-2)^2 + (y-1)^2 s.t. x + y <= 1: the projection of (2, 1) onto x + y = 1 is
    # (1, 0), at value 2.
    constraint = ({"type": "ineq", "fun": lambda x: 1.0 - x[0] - x[1]} if form == "dict"
                  else LinearConstraint([[1.0, 1.0]], -np.inf, 1.0))
    res = engine.minimize(shifted_bowl, [(-3.0, 3.0), (-3.0, 3.0)], constraints=constraint,
                          n_starts=16, seed=0, client="serial")
    assert res.method == "SLSQP"
    assert res.n_failed == 0 and len(res.minima) == 1
    np.testing.assert_allclose(res.x, [1.0, 0.0], atol=1e-6, rtol=0)
    assert res.fun == pytest.approx(2.0, abs=1e-8)
    assert res.x[0] + res.x[1] <= 1.0 + 1e-8


@pytest.mark.parametrize("maximize", [False, True])
def test_slsqp_reaches_the_point_of_the_unit_disk_furthest_along_a_direction(maximize):
    # min (max) x + y on the disk x^2 + y^2 <= 1: at -(+) (1, 1)/sqrt(2), value -(+)sqrt(2).
    sign = 1.0 if maximize else -1.0
    res = engine.minimize(lambda x: float(x[0] + x[1]), [(-2.0, 2.0), (-2.0, 2.0)],
                          constraints=NonlinearConstraint(lambda x: x[0] ** 2 + x[1] ** 2,
                                                          -np.inf, 1.0),
                          maximize=maximize, n_starts=16, seed=0, client="serial")
    assert res.method == "SLSQP" and res.n_failed == 0 and len(res.minima) == 1
    np.testing.assert_allclose(res.x, sign * np.array([1.0, 1.0]) / math.sqrt(2.0), atol=1e-3,
                               rtol=0)
    assert res.fun == pytest.approx(sign * math.sqrt(2.0), abs=1e-6)
    assert res.x @ res.x <= 1.0 + 1e-5


# ================================================================ restarts
#
# Rosenbrock does not show what a restart is for: L-BFGS-B at its default tolerances reaches
# (1, 1) to 1e-4 from every one of 100 random starts in [-5, 10]^2 (and [-5, 10]^3) without
# one, and with a looser options={"ftol": 1e-5 or 1e-6} the single restart stops short as
# well (the same starts miss (1, 1) with and without it). The
# restart exists for solves that stop where the gradient vanishes without a minimum (see
# engine.local.solve._lowest_neighbour): a saddle, as below.


def double_well(x):
    return float((x[0] ** 2 - 1.0) ** 2)


def banana_saddle(x):
    """Rosenbrock-like valley y = x^2 with a saddle at (0, 0) (f = 1) between the minima
    (-1, 1) and (1, 1) (f = 0)."""
    return float((x[0] ** 2 - 1.0) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2)


def banana_saddle_jac(x):
    return np.array([4.0 * x[0] * (x[0] ** 2 - 1.0) - 400.0 * x[0] * (x[1] - x[0] ** 2),
                     200.0 * (x[1] - x[0] ** 2)])


@pytest.mark.parametrize(("fun", "jac", "bounds", "x0", "minima"), [
    (double_well, None, [(-2.0, 2.0)], [0.0], [[-1.0], [1.0]]),
    (banana_saddle, None, [(-2.0, 2.0), (-1.0, 3.0)], [0.0, 0.0], [[-1.0, 1.0], [1.0, 1.0]]),
    (banana_saddle, banana_saddle_jac, [(-2.0, 2.0), (-1.0, 3.0)], [0.0, 0.0],
     [[-1.0, 1.0], [1.0, 1.0]]),
], ids=["double-well", "banana", "banana-jac"])
def test_default_restart_leaves_a_saddle_that_restarts_0_stays_on(fun, jac, bounds, x0, minima):
    stuck = engine.minimize(fun, bounds, x0=x0, n_starts=0, jac=jac, client="serial",
                            local={"restarts": 0})
    assert stuck.runs[0].success  # the solver reports convergence on the saddle...
    np.testing.assert_allclose(stuck.x, x0, atol=1e-6, rtol=0)
    assert stuck.fun == pytest.approx(1.0, abs=1e-9)  # ...which is no minimum

    res = engine.minimize(fun, bounds, x0=x0, n_starts=0, jac=jac, client="serial")
    assert res.n_failed == 0
    assert matched([res.x], minima, 1e-4).count(1) == 1, res.x
    assert res.fun <= 1e-8


# ================================================================ box width


def bowl(lower, width):
    """A convex quadratic on the box ``[lower, lower + width]^d``: one minimum, at 30% of
    each side, value 0; the same function of the unit-box coordinates for every width."""

    def fun(x):
        u = (np.asarray(x, dtype=float) - lower) / width
        return float(np.sum((u - 0.3) ** 2))

    return fun


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("width", [1e-3, 1e-2, 1.0, 100.0, 1e3])
def test_convex_bowl_has_one_minimum_in_a_box_of_any_width(width, dim):
    lower = -0.5 * width
    res = engine.minimize(bowl(lower, width), [(lower, lower + width)] * dim, n_starts=32,
                          seed=0, client="serial")
    assert failures(res) == []
    assert len(res.minima) == 1, [(m.x, m.fun, m.n_hits) for m in res.minima]
    assert res.minima[0].n_hits == 32
    # within the merge tolerance (1e-4 of the width) of the minimizer
    np.testing.assert_allclose((res.x - lower) / width, 0.3, atol=1e-4, rtol=0)
    assert res.fun <= 1e-8


# ================================================================ merging at default tolerances


def flat_wells(a, b, raise_b=0.0, offset=0.0, half_width=1e-5):
    """1-D objective with two flat-bottomed minima: ``offset`` within ``half_width`` of ``a``,
    ``offset + raise_b`` within ``half_width`` of ``b``, and at least ``offset + 10``
    everywhere else. A solve started on a flat bottom stays exactly where it started (the
    finite-difference gradient there is 0, and the restart's neighbour probe, 0.1% of the box
    away, lands higher), so the converged points, and what the merge sees, are the starts."""

    def fun(x):
        t = float(x[0])
        if abs(t - a) <= half_width:
            return offset
        if abs(t - b) <= half_width:
            return offset + raise_b
        return offset + 10.0 + min(abs(t - a), abs(t - b))

    return fun


@pytest.mark.parametrize("width", [1.0, 10.0])
@pytest.mark.parametrize(("separation", "raise_b", "offset", "n_minima"), [
    (0.5e-4, 0.0, 0.0, 1),     # within xtol (1e-4 of the width): one minimum
    (2e-4, 0.0, 0.0, 2),       # twice xtol apart: two
    (0.5e-4, 1e-3, 1e6, 1),    # values near 1e6 differing by 1e-3 agree to 1e-6 relative
    (0.5e-4, 2.0, 1e6, 2),     # ... differing by 2 (> 1e-6 * 1e6) do not
    (0.5e-4, 1e-3, 0.0, 2),    # values near 0 differing by 1e-3: ftol is absolute there
], ids=["close", "apart", "1e6-agree", "1e6-differ", "0-differ"])
def test_default_tolerances_merge_exactly_where_documented(width, separation, raise_b, offset,
                                                           n_minima):
    lower = -0.3 * width  # not at 0, so that a tolerance measured from 0 would show
    a = lower + 0.4 * width
    b = a + separation * width
    fun = flat_wells(a, b, raise_b, offset, half_width=1e-5 * width)
    res = engine.minimize(fun, [(lower, lower + width)], sampler=[[a], [b]], client="serial")
    assert res.n_failed == 0 and res.n_starts == 2
    # each start stayed on its own minimum, so only the merge is under test
    np.testing.assert_allclose([r.x[0] for r in res.runs], [a, b], atol=1e-12 * width, rtol=0)
    assert [r.fun for r in res.runs] == [offset, offset + raise_b]
    assert len(res.minima) == n_minima, [(m.x, m.fun) for m in res.minima]
    best = res.minima[0]
    assert best.x[0] == pytest.approx(a, abs=1e-12 * width) and best.fun == offset
    if n_minima == 1:
        assert best.n_hits == 2 and best.starts == (0, 1)
    else:
        assert res.minima[1].x[0] == pytest.approx(b, abs=1e-12 * width)
        assert res.minima[1].fun == offset + raise_b


def test_himmelblau_offset_by_1e6_still_has_exactly_four_minima():
    # The merge tolerance on values is relative (1e-6 * max(1, |f|)), so shifting an objective
    # by a constant changes nothing: the same four minima, at the same points.
    res = engine.minimize(lambda x: himmelblau(x) + 1e6, HIMMELBLAU.bounds, n_starts=64,
                          seed=0, client="serial")
    assert res.n_failed == 0
    assert len(res.minima) == 4, [(m.x, m.fun - 1e6, m.n_hits) for m in res.minima]
    # at the engine's resolution: within xtol (1e-4 of the width 10) of each minimizer
    assert matched([m.x for m in res.minima], HIMMELBLAU.global_minima, 1e-3) == [1, 1, 1, 1]
    assert all(m.fun - 1e6 <= 1e-6 for m in res.minima)
