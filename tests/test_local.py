"""One local solve: every scipy method, and every way an objective can misbehave."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from scipy.optimize import NonlinearConstraint, rosen, rosen_der, rosen_hess

from engine.local.methods import METHODS
from engine.local.solve import solve_one
from engine.options import LocalOptions
from engine.problem import Problem

BOX = [(-2.0, 2.0), (-2.0, 2.0)]


def bowl(x):
    """A tilted quadratic bowl with its minimum at (1, -0.5), f = 0."""
    a, b = x[0] - 1.0, x[1] + 0.5
    return float(a**2 + 2.0 * b**2 + 0.5 * a * b)


def bowl_jac(x):
    a, b = x[0] - 1.0, x[1] + 0.5
    return np.array([2.0 * a + 0.5 * b, 4.0 * b + 0.5 * a])


def bowl_hess(x):
    return np.array([[2.0, 0.5], [0.5, 4.0]])


@pytest.mark.parametrize("method", [m for m, info in METHODS.items() if not info.least_squares])
def test_every_scipy_method_solves_a_bowl(method):
    info = METHODS[method]
    jac = bowl_jac if info.needs_jac or method in ("CG", "BFGS", "TNC", "SLSQP") else None
    hess = bowl_hess if info.needs_hess or method == "trust-constr" else None
    problem = Problem.create(bowl, BOX, jac=jac, hess=hess)
    run = solve_one(problem, np.array([-1.2, 1.0]), 7, LocalOptions(method, tol=1e-10))
    assert run.index == 7 and run.error is None
    assert run.success, run.message
    np.testing.assert_allclose(run.x, [1.0, -0.5], atol=1e-4)
    assert run.nfev > 0


def test_rosenbrock_with_exact_derivatives_newton_cg():
    problem = Problem.create(rosen, BOX, jac=rosen_der, hess=rosen_hess)
    run = solve_one(problem, np.array([-1.2, 1.0]), 0, LocalOptions("Newton-CG"))
    assert run.success
    np.testing.assert_allclose(run.x, [1.0, 1.0], atol=1e-5)


def test_unbounded_method_leaving_the_box_is_not_a_success():
    # The minimum of (x - 3)^2 lies outside [-1, 1]; BFGS cannot take bounds.
    problem = Problem.create(lambda x: float((x[0] - 3.0) ** 2), [(-1, 1)])
    run = solve_one(problem, np.array([0.0]), 0, LocalOptions("BFGS"))
    assert not run.in_bounds and not run.success
    assert "outside the bounds" in run.message
    bounded = solve_one(problem, np.array([0.0]), 0, LocalOptions("L-BFGS-B"))
    assert bounded.in_bounds and bounded.x[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("fun", "needle"),
    [
        (lambda x: 1 / 0, "ZeroDivisionError: division by zero"),
        (lambda x: float("nan"), "objective returned nan"),
        (lambda x: float("inf"), "objective returned inf"),
        (lambda x: None, "not a scalar"),
        (lambda x: np.array([1.0, 2.0]), "not a scalar"),
        (lambda x: "abc", "not a scalar"),
        (lambda x: True, "ValueError: objective returned bool, not a number"),
        (lambda x: 1.0 + 0.5j, "ValueError: objective returned complex (1+0.5j), not real"),
        (lambda x: np.ones((2, 1)), "objective returned ndarray of shape (2, 1), not a scalar"),
        (lambda x: sys.exit(3), "SystemExit: 3"),
    ],
)
def test_bad_objective_becomes_failed_run_with_reason(fun, needle):
    problem = Problem.create(fun, BOX)
    run = solve_one(problem, np.array([0.5, 0.5]), 3, LocalOptions())
    assert not run.success
    assert needle in run.error and needle in run.message
    np.testing.assert_array_equal(run.x0, [0.5, 0.5])


def test_nan_after_some_good_values_keeps_best_point_seen():
    def late_nan(x):
        return float("nan") if x[0] < 0.2 else float(np.sum(x**2))

    run = solve_one(Problem.create(late_nan, BOX), np.array([1.5, 1.5]), 0, LocalOptions())
    assert not run.success and run.nfev >= 1
    assert np.isfinite(run.fun) and run.fun <= 4.5


def test_wrong_shaped_gradient_is_reported():
    problem = Problem.create(rosen, BOX, jac=lambda x: np.zeros(3))
    run = solve_one(problem, np.array([0.0, 0.0]), 0, LocalOptions())
    assert not run.success and "gradient has shape (3,), expected (2,)" in run.error


def test_jac_true_with_wrong_return_is_reported():
    problem = Problem.create(rosen, BOX, jac=True)
    run = solve_one(problem, np.array([0.0, 0.0]), 0, LocalOptions())
    assert not run.success and "did not return (f, gradient)" in run.error


def test_start_timeout_ends_a_slow_solve():
    def slow(x):
        time.sleep(0.02)
        return float(np.sum(x**2))

    started = time.perf_counter()
    run = solve_one(Problem.create(slow, BOX), np.array([1.0, 1.0]), 0,
                    LocalOptions("Nelder-Mead", start_timeout=0.1))
    assert time.perf_counter() - started < 1.0
    assert not run.success and "TimeoutError" in run.error


def test_maximize_negates_internally_and_reports_original_sign():
    problem = Problem.create(lambda x: float(-((x[0] - 0.3) ** 2) + 2.0), [(-1, 1)],
                             maximize=True)
    run = solve_one(problem, np.array([-0.5]), 0, LocalOptions())
    assert run.success and run.x[0] == pytest.approx(0.3, abs=1e-6)
    assert run.fun == pytest.approx(2.0)


def test_args_jac_and_constraints_are_passed_through():
    def f(x, a):
        return float((x[0] - a) ** 2 + (x[1] - a) ** 2)

    def g(x, a):
        return np.array([2 * (x[0] - a), 2 * (x[1] - a)])

    circle = NonlinearConstraint(lambda x: x[0] ** 2 + x[1] ** 2, 0, 1)
    problem = Problem.create(f, BOX, args=(2.0,), jac=g, constraints=[circle])
    for method in ("SLSQP", "trust-constr", "COBYLA"):
        run = solve_one(problem, np.array([0.1, 0.0]), 0, LocalOptions(method))
        assert run.success, (method, run.message)
        np.testing.assert_allclose(run.x, [2**-0.5, 2**-0.5], atol=1e-3)


def test_restart_finishes_a_descent_stopped_short():
    # An objective scaled so small that L-BFGS-B's relative-reduction test stops it early.
    def tiny(x):
        return 1e-9 * float((x[0] - 1.0) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2)

    problem = Problem.create(tiny, BOX)
    once = solve_one(problem, np.array([-1.2, 1.0]), 0, LocalOptions(restarts=0))
    more = solve_one(problem, np.array([-1.2, 1.0]), 0, LocalOptions(restarts=3))
    assert more.fun <= once.fun
    assert more.nfev > once.nfev


def test_start_timeout_interrupts_an_objective_call_that_spins_forever():
    def spins(x):
        if x[0] > 1.5:
            while True:  # a hung objective: never returns
                pass
        return float(np.sum(x**2))

    started = time.perf_counter()
    run = solve_one(Problem.create(spins, BOX), np.array([1.8, 1.8]), 0,
                    LocalOptions(start_timeout=0.2))
    assert time.perf_counter() - started < 2.0
    assert not run.success and "start_timeout=0.2 s reached inside one call" in run.error
    # The thread is usable again afterwards: no pending interrupt leaks into the next solve.
    ok = solve_one(Problem.create(spins, BOX), np.array([-1.0, -1.0]), 1,
                   LocalOptions(start_timeout=5.0))
    assert ok.error is None


def test_call_blocked_in_c_ends_its_start_as_soon_as_the_call_returns():
    # An interrupt can only land between Python bytecodes: a call blocked in C (sleep, I/O,
    # a long native routine) is not cut, but the start ends as timed out when it returns,
    # without a second call.
    calls = []

    def blocks(x):
        calls.append(1)
        time.sleep(0.6)
        return float(np.sum(x**2))

    started = time.perf_counter()
    run = solve_one(Problem.create(blocks, BOX), np.array([1.0, 1.0]), 0,
                    LocalOptions(start_timeout=0.2))
    assert time.perf_counter() - started < 1.5
    assert len(calls) == 1
    assert not run.success and "start_timeout" in run.error
