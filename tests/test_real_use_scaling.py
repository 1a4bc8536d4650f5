"""Issue 15: automatic unit-box scaling on a convex problem where a narrow bound only cuts a
steep axis short, ``1000 (x0 - 1)^2 + (x1 - 1)^2`` over ``[0, 0.002] x [-1000, 1000]``.

In the unit box the curvature along x1 is a billion times that along x0 (a thousand times in
the user's units): SLSQP "converged" at its starts, COBYLA stopped short everywhere and
L-BFGS-B took four times the evaluations. The one minimum is on x0's bound, at (0.002, 1).
"""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.analysis.diagnostics import diagnose
from engine.local.setup import SolveSetup, unit_box_is_better_conditioned, uses_scaling
from engine.local.solve import NOT_STATIONARY, solve_one
from engine.options import LocalOptions
from engine.problem import Problem

BOUNDS = [(0.0, 0.002), (-1000.0, 1000.0)]
MINIMUM = np.array([0.002, 1.0])


def steep(x: np.ndarray) -> float:
    return float(1000 * (x[0] - 1) ** 2 + (x[1] - 1) ** 2)


def run(method: str, scale: bool | None = None, **kwargs) -> engine.MultistartResult:
    return engine.minimize(steep, BOUNDS, seed=0, client="serial",
                           local={"method": method, "scale": scale}, **kwargs)


@pytest.mark.parametrize("method", ["SLSQP", "COBYLA"])
def test_defaults_find_the_one_minimum_on_the_bound_without_spurious_successes(method):
    res = run(method)
    assert len(res.minima) == 1
    assert np.allclose(res.minima[0].x, MINIMUM, atol=1e-3)
    assert res.fun == pytest.approx(steep(MINIMUM), rel=1e-9)
    spurious = [r for r in res.runs if r.success and r.fun > steep(MINIMUM) * (1 + 1e-6)]
    assert spurious == []


def test_l_bfgs_b_default_costs_no_more_than_the_better_coordinates():
    default = run("L-BFGS-B")
    best = min(run("L-BFGS-B", scale=s).nfev for s in (True, False))
    assert len(default.minima) == 1
    assert default.nfev <= 1.5 * best


def test_forced_unit_box_successes_are_verified_stationary_in_user_units():
    res = run("SLSQP", scale=True)
    # Every success is the minimum; the starts SLSQP "converged" at are failures that say so.
    assert len(res.minima) == 1 and np.allclose(res.minima[0].x, MINIMUM, atol=1e-3)
    assert all(r.fun <= steep(MINIMUM) * (1 + 1e-6) for r in res.runs if r.success)
    stuck = [r for r in res.runs if r.message.startswith(NOT_STATIONARY)]
    assert stuck and all(not r.success for r in stuck)


def test_diagnose_suggests_user_units_when_the_unit_box_hurt():
    res = run("SLSQP", scale=True)
    findings = diagnose(res)
    scaling = findings.find("badly_scaled")
    assert len(scaling) == 1 and scaling[0].severity == "warning"
    assert "local={'scale': False}" in scaling[0].fix
    stuck = findings.find("not_stationary")
    assert len(stuck) == 1 and "local={'scale': False}" in stuck[0].fix
    # Solved in the user's units (the default here), nothing is stuck.
    assert diagnose(run("SLSQP")).find("not_stationary") == []


def test_measured_conditioning_picks_the_coordinates():
    # The bounds follow each variable's scale: the unit box evens the curvature out.
    matched = Problem.create(lambda x: float((x[0] - 5e-4) ** 2 * 1e6 + (x[1] - 3) ** 2),
                             [(0, 1e-3), (0, 10)])
    assert unit_box_is_better_conditioned(matched)
    assert uses_scaling(matched, LocalOptions())
    # The narrow bound only cuts a steep axis short: the unit box would make it worse.
    problem = Problem.create(steep, BOUNDS)
    assert not unit_box_is_better_conditioned(problem)
    assert not SolveSetup.of(problem, LocalOptions("L-BFGS-B")).scaled
    assert SolveSetup.of(problem, LocalOptions("L-BFGS-B", scale=True)).scaled
    # Equal widths: the measurement is not needed (a wide box is scaled for gradient methods).
    bowl = Problem.create(lambda x: float(x @ x), [(-500, 500)] * 2)
    assert uses_scaling(bowl, LocalOptions("L-BFGS-B"))
    assert not uses_scaling(bowl, LocalOptions("Nelder-Mead"))


def test_a_true_minimum_passes_the_stationarity_check():
    problem = Problem.create(steep, BOUNDS)
    done = solve_one(problem, np.array([0.001, 500.0]), 0, LocalOptions("L-BFGS-B"))
    assert done.success and np.allclose(done.x, MINIMUM, atol=1e-3)
    assert not done.message.startswith(NOT_STATIONARY)
