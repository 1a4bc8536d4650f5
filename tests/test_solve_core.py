"""The solve core: solve_one with gradients returned with the value, the sign of a maximization
in value and gradient, the per-evaluation callback, and what SolveSetup decides."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from functions import himmelblau, himmelblau_jac

from engine.local.objective import SolverObjective
from engine.local.setup import SolveSetup
from engine.local.solve import solve_each, solve_one
from engine.options import LocalOptions
from engine.problem import Problem

BOX = [(-5.0, 5.0), (-5.0, 5.0)]
# x1 ten times wider than x0 and more: solved in unit-box coordinates (the chain rule applies).
WIDE = [(-5.0, 5.0), (-60.0, 60.0)]
MINIMA = np.array([(3.0, 2.0), (-2.805118, 3.131313), (-3.779310, -3.283186),
                   (3.584428, -1.848127)])
STARTS = [(0.0, 0.0), (-4.0, 4.0), (-4.0, -4.0), (4.0, -4.0), (4.5, 4.5), (-1.0, -3.0)]


def at_a_minimum(x: np.ndarray) -> bool:
    return bool(np.min(np.max(np.abs(MINIMA - x), axis=1)) < 1e-5)


def himmelblau_pair(x: np.ndarray) -> tuple[float, np.ndarray]:
    return himmelblau(x), himmelblau_jac(x)


@pytest.mark.parametrize("method", ["L-BFGS-B", "TNC", "BFGS", "SLSQP"])
def test_jac_true_solves_himmelblau_from_every_start_with_default_settings(method):
    # The probe after a converged solve (restarts=1 by default) used to call the objective
    # as if it returned a scalar: every start failed with "tuple of shape (2,)".
    problem = Problem.create(himmelblau_pair, BOX, jac=True)
    opts = LocalOptions(method, tol=1e-10)
    assert opts.restarts >= 1
    runs = list(solve_each(problem, list(enumerate(np.array(STARTS))), opts))
    for run in runs:
        assert run.success and run.error is None, run.message
        assert at_a_minimum(run.x), run.x
        assert run.fun == pytest.approx(0.0, abs=1e-9)


def negated(gradient_sign: float, jac_true: bool) -> Problem:
    """-Himmelblau, to be maximized; its gradient times ``gradient_sign`` (1 is right)."""
    if jac_true:
        return Problem.create(lambda x: (-himmelblau(x), -gradient_sign * himmelblau_jac(x)),
                              WIDE, jac=True, maximize=True)
    return Problem.create(lambda x: -himmelblau(x), WIDE,
                          jac=lambda x: -gradient_sign * himmelblau_jac(x), maximize=True)


@pytest.mark.parametrize("jac_true", [True, False])
@pytest.mark.parametrize("scale", [True, False])
def test_maximize_with_a_gradient_flips_value_and_gradient_once(jac_true, scale):
    problem = negated(1.0, jac_true)
    for index, start in enumerate(STARTS):
        run = solve_one(problem, np.array(start), index, LocalOptions(scale=scale))
        assert run.success, run.message
        assert at_a_minimum(run.x), run.x
        assert run.fun == pytest.approx(0.0, abs=1e-9)  # the maximum, in the user's sign


@pytest.mark.parametrize("jac_true", [True, False])
def test_a_gradient_of_the_wrong_sign_does_not_reach_a_maximum(jac_true):
    # The control for the test above: had the engine flipped the gradient twice or not at
    # all, the solver would see this problem, and no start would end at a maximum.
    problem = negated(-1.0, jac_true)
    for index, start in enumerate(STARTS):
        run = solve_one(problem, np.array(start), index, LocalOptions())
        assert not (run.success and at_a_minimum(run.x)), (start, run.x, run.message)


def test_callback_sees_every_evaluation_in_user_coordinates_and_the_minimized_sign():
    problem = Problem.create(lambda x: -himmelblau(x), WIDE, maximize=True)
    seen: list[tuple[np.ndarray, float]] = []
    run = solve_one(problem, np.array([1.0, 10.0]), 0, LocalOptions(scale=True),
                    callback=lambda x, value: seen.append((np.array(x), value)))
    assert run.success and SolveSetup.of(problem, LocalOptions(scale=True)).scaled
    assert len(seen) == run.nfev
    points = np.array([x for x, _ in seen])
    assert np.array_equal(points[0], [1.0, 10.0])  # the start, not its unit-box image
    assert problem.inside(points).all() and np.abs(points[:, 1]).max() > 1.0
    for x, value in seen:
        assert value == pytest.approx(himmelblau(x))  # -f of a maximization
    # The run ends at a point the callback saw (the solver may have probed a point within
    # rounding of it lower, which it did not move to).
    assert any(abs(value + run.fun) <= 1e-11 for _, value in seen)
    assert min(value for _, value in seen) <= -run.fun


def test_a_failed_evaluation_reaches_no_callback_and_ends_the_run_with_the_reason():
    def breaks_late(x):
        return True if x[0] > 0.9 else float((x[0] - 2.0) ** 2)

    seen = []
    run = solve_one(Problem.create(breaks_late, [(-1, 3)]), np.array([0.0]), 0,
                    LocalOptions(), callback=lambda x, value: seen.append(value))
    assert not run.success
    assert run.error.startswith("ValueError: objective returned bool, not a number")
    assert len(seen) == run.nfev - 1  # every call but the failing one


def test_setup_without_the_gradient_never_calls_jac_and_without_bounds_gives_none():
    calls = []

    def jac(x):
        calls.append(1)
        return himmelblau_jac(x)

    problem = Problem.create(himmelblau, BOX, jac=jac)
    opts = LocalOptions()
    with_gradient = SolveSetup.of(problem, opts)
    assert with_gradient.gradient == "separate" and with_gradient.bounds is not None
    assert solve_one(problem, np.zeros(2), 0, opts, with_gradient).success and calls
    calls.clear()
    estimated = SolveSetup.of(problem, opts, gradient=False)
    assert estimated.gradient == ""
    assert solve_one(problem, np.zeros(2), 0, opts, estimated).success and not calls
    assert SolveSetup.of(problem, LocalOptions("Powell"), bounded=False).bounds is None
    assert SolveSetup.of(problem, LocalOptions("BFGS")).bounds is None


def test_nelder_mead_in_the_unit_box_starts_its_simplex_at_x0():
    problem = Problem.create(himmelblau, WIDE)
    setup = SolveSetup.of(problem, LocalOptions("Nelder-Mead", scale=True))
    objective = SolverObjective(problem, setup)
    kwargs = setup.arguments(objective, np.array([1.0, 10.0]))
    simplex = kwargs["options"]["initial_simplex"]
    assert setup.scaled and np.allclose(setup.to_user(simplex[0]), [1.0, 10.0])
    # 5% of each bound's width, in the unit box the same step along every axis.
    assert np.allclose(simplex[1:] - simplex[0], 0.05 * np.eye(2))
    assert kwargs["x0"] == pytest.approx(setup.to_solver(np.array([1.0, 10.0])))


def test_unknown_bounds_are_solved_unbounded_and_unscaled():
    problem = Problem.create(lambda x: float((x[0] - 7.0) ** 2), [(0, 1)])
    free = dataclasses.replace(problem, lower=np.array([-np.inf]), upper=np.array([np.inf]))
    setup = SolveSetup.of(free, LocalOptions("Nelder-Mead", scale=True))
    assert not setup.scaled and setup.bounds is None and not setup.finite
    run = solve_one(free, np.array([0.0]), 0, LocalOptions("Nelder-Mead", scale=True), setup)
    assert run.success and run.x[0] == pytest.approx(7.0, abs=1e-3)


# A start whose value dwarfs the minimum's: the shift (the first value, subtracted so that
# solvers judge changes relative to the minimum's scale) must not swallow the descent.
def _far_above(x):
    return float(np.exp(120.0 * x[0]) + (x[0] + 0.5) ** 2 + (x[1] - 0.25) ** 2)


@pytest.mark.parametrize("method", ["L-BFGS-B", "Nelder-Mead", "Powell", "TNC"])
def test_a_start_far_above_the_minimum_reports_the_value_where_it_ends(method):
    problem = Problem.create(_far_above, [(-1, 1), (-1, 1)])
    run = solve_one(problem, np.array([0.99, 0.9]), 0, LocalOptions(method=method))
    assert run.success, run.message
    # The reported value is the objective's at the reported point, and that is the minimum
    # (before the fix: fun=0.0, the start's 3e51 minus itself, at a point of value ~0.7).
    assert run.fun == pytest.approx(_far_above(run.x), rel=1e-12)
    np.testing.assert_allclose(run.x, [-0.5, 0.25], atol=1e-3)
