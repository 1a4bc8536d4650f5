"""The local solve's exact contract: what the solver objective counts, records, shifts and
scales; the neighbour probe, the precision-stop and stationarity checks with their thresholds;
the restarts; the fields of a finished and of a failed run; the least-squares solve as scipy
gives it; and BLAS limited to one thread around the solves."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest
from scipy.optimize import OptimizeResult, least_squares
from threadpoolctl import threadpool_info

from engine.fitting.residuals import Residuals
from engine.local.least_squares import LEAST_SQUARES_OPTIONS, solve_least_squares, solver_arguments
from engine.local.objective import MAX_RESHIFTS, RESHIFT_RATIO, Reshift, SolverObjective, StopSolve
from engine.local.setup import SolveSetup
from engine.local.solve import (
    NOT_STATIONARY,
    RELABELLED,
    STATIONARY_RTOL,
    _accept_precision_stop,
    _check_stationary,
    _lowest_neighbour,
    one_blas_thread,
    solve_chunk,
    solve_each,
    solve_one,
)
from engine.options import LocalOptions
from engine.problem import Problem

BOX = [(1.0, 11.0), (-4.0, 6.0)]  # widths 10; a lower bound that is not 0
ACCEPTED = " (accepted: no lower point 0.1% of the box away along any axis)"


def objective_of(fun, bounds=BOX, opts: LocalOptions | None = None, **kwargs) -> SolverObjective:
    problem = Problem.create(fun, bounds, **{k: v for k, v in kwargs.items()
                                             if k in ("jac", "hess", "args", "maximize")})
    opts = opts or LocalOptions(method="L-BFGS-B", scale=False)
    return SolverObjective(problem, SolveSetup.of(problem, opts),
                           **{k: v for k, v in kwargs.items()
                              if k in ("start_timeout", "max_nfev", "callback")})


def first(x) -> float:
    return float(x[0])


# ----------------------------------------------------------------- the solver objective


def test_the_first_value_is_the_shift_and_later_values_are_seen_relative_to_it():
    objective = objective_of(first)
    assert objective.fun(np.array([3.0, 0.0])) == 0.0 and objective.shift == 3.0
    assert objective.fun(np.array([2.5, 0.0])) == -0.5 and objective.shift == 3.0
    assert objective.nfev == 2 and objective.reshifts == 0
    objective.no_shift()  # a least-squares solve: the values themselves
    assert objective.shift == 0.0
    assert objective.fun(np.array([4.0, 0.0])) == 4.0
    assert objective.fun(np.array([5.0, 0.0])) == 5.0 and objective.shift == 0.0


def test_the_best_point_is_the_first_of_the_lowest_values_and_a_copy():
    objective = objective_of(lambda x: float((x[0] - 6.0) ** 2))
    z = np.array([5.0, 1.0])
    objective.fun(z)
    z[0] = 7.0  # the solver reuses its arrays: the best point must not follow
    objective.fun(z)  # the same value, later: not the best point
    assert objective.best_x.tolist() == [5.0, 1.0] and objective.best_f == 1.0
    objective.fun(np.array([6.5, 2.0]))
    assert objective.best_x.tolist() == [6.5, 2.0] and objective.best_f == 0.25


def test_a_shift_a_hundredfold_above_a_value_starts_the_solve_again():
    objective = objective_of(first, bounds=[(-1e9, 1e9)])
    objective.fun(np.array([200.0]))
    # Between solves (probing neighbours) the shift stays: a reshift would end no solve.
    assert objective.fun(np.array([0.5])) == 0.5 - 200.0 and objective.reshifts == 0
    objective.solving = True
    assert objective.fun(np.array([2.0])) == 2.0 - 200.0  # exactly RESHIFT_RATIO * 2: kept
    with pytest.raises(Reshift):
        objective.fun(np.array([1.9]))
    assert objective.reshifts == 1 and objective.shift == 200.0
    assert objective.fun(np.array([7.0])) == 0.0 and objective.shift == 7.0  # shifted anew
    # Below 1 in size the value counts as 1: a shift of 150 over 0.5 is too much.
    objective = objective_of(first, bounds=[(-1e9, 1e9)])
    objective.solving = True
    objective.fun(np.array([150.0]))
    with pytest.raises(Reshift):
        objective.fun(np.array([0.5]))
    assert RESHIFT_RATIO == 100.0


def test_a_start_far_above_a_zero_minimum_converges_as_tightly_as_scipy():
    # Rosenbrock in 10-D from a start where f is 1e5: seen relative to that start's value,
    # L-BFGS-B's relative test stopped at f = 5 (the values still fell by 1e-4 per step).
    fun = lambda x: float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2  # noqa: E731
                                 + (1.0 - x[:-1]) ** 2))
    problem = Problem.create(fun, [(-5.0, 10.0)] * 10)
    x0 = np.random.default_rng(0).uniform(-5.0, 10.0, 10)
    assert fun(x0) > 1e5
    run = solve_one(problem, x0, 0, LocalOptions(method="L-BFGS-B", restarts=0))
    assert run.success and run.fun < 1e-6 and run.x == pytest.approx(np.ones(10), abs=1e-2)


def test_after_the_last_reshift_the_solver_sees_the_values_unshifted():
    objective = objective_of(first, bounds=[(-1e12, 1e12)])
    objective.solving = True
    for k in range(1, MAX_RESHIFTS + 1):
        assert objective.fun(np.array([1e8])) == 0.0
        with pytest.raises(Reshift):
            objective.fun(np.array([1.0]))
        assert objective.reshifts == k
    assert objective.shift == 0.0
    assert objective.fun(np.array([1e8])) == 1e8 and objective.fun(np.array([1.0])) == 1.0
    assert objective.reshifts == MAX_RESHIFTS == 8


def test_the_evaluation_budget_ends_the_solve_on_the_call_past_it():
    objective = objective_of(first, max_nfev=3)
    for _ in range(3):
        objective.fun(np.array([2.0, 0.0]))
    with pytest.raises(StopSolve) as stop:
        objective.fun(np.array([2.0, 0.0]))
    assert str(stop.value) == "BudgetExhausted: max_evals reached after 3 evaluations"
    assert objective.nfev == 3
    # The same for the other evaluating calls.
    pair = objective_of(lambda x: (first(x), np.array([1.0, 0.0])), jac=True, max_nfev=1)
    pair.fun_and_grad(np.array([2.0, 0.0]))
    with pytest.raises(StopSolve, match="after 1 evaluations"):
        pair.fun_and_grad(np.array([2.0, 0.0]))


def test_the_time_limit_ends_the_solve_at_the_next_call():
    objective = objective_of(first, start_timeout=-1.0)  # already past
    with pytest.raises(StopSolve) as stop:
        objective.fun(np.array([2.0, 0.0]))
    assert str(stop.value) == "TimeoutError: start_timeout reached" and objective.nfev == 0
    roomy = objective_of(first, start_timeout=1e6)
    assert roomy.fun(np.array([2.0, 0.0])) == 0.0 and roomy.nfev == 1
    # The time limit is checked before the budget.
    both = objective_of(first, start_timeout=-1.0, max_nfev=0)
    with pytest.raises(StopSolve, match=r"^TimeoutError"):
        both.fun(np.array([2.0, 0.0]))


def test_each_evaluating_call_counts_records_and_reports_its_point():
    seen = []
    objective = objective_of(lambda x: (float(x @ x), 2 * x), jac=True,
                             callback=lambda x, v: seen.append((x.tolist(), v)))
    value, grad = objective.fun_and_grad(np.array([2.0, 1.0]))
    assert (value, grad.tolist()) == (0.0, [4.0, 2.0])
    value, grad = objective.fun_and_grad(np.array([1.0, 1.0]))
    assert (value, grad.tolist()) == (-3.0, [2.0, 2.0])
    assert objective.nfev == 2 and objective.best_x.tolist() == [1.0, 1.0]
    assert objective.best_f == 2.0 and seen == [([2.0, 1.0], 5.0), ([1.0, 1.0], 2.0)]


def test_derivatives_follow_the_chain_rule_into_the_unit_box():
    hess = np.array([[2.0, 1.0], [1.0, 4.0]])
    problem = Problem.create(lambda x: float(x @ hess @ x) / 2, BOX, jac=lambda x: hess @ x,
                             hess=lambda x: hess)
    setup = SolveSetup.of(problem, LocalOptions(method="trust-constr", scale=True))
    assert setup.scaled and setup.width.tolist() == [10.0, 10.0]
    objective = SolverObjective(problem, setup)
    z = np.array([0.25, 0.5])
    x = np.array([3.5, 1.0])  # lower + width * z
    np.testing.assert_array_equal(objective.jac(z), (hess @ x) * 10.0)
    np.testing.assert_array_equal(objective.hess(z), hess * 100.0)
    paired = Problem.create(lambda x: (float(x @ hess @ x) / 2, hess @ x), BOX, jac=True)
    objective = SolverObjective(paired, SolveSetup.of(paired, LocalOptions(scale=True)))
    np.testing.assert_array_equal(objective.fun_and_grad(z)[1], (hess @ x) * 10.0)
    # Unscaled, the user's derivatives as they are.
    plain = SolverObjective(problem, SolveSetup.of(problem, LocalOptions(
        method="trust-constr", scale=False)))
    np.testing.assert_array_equal(plain.jac(x), hess @ x)
    np.testing.assert_array_equal(plain.hess(x), hess)


def line_fit(scale: bool) -> tuple[Problem, SolverObjective]:
    """Residuals of the line ``a t + b`` against data ``c t + 1`` (``c`` an argument)."""
    t = np.array([0.0, 1.0, 2.0])

    def residuals(p, c):
        return p[0] * t + p[1] - (c * t + 1.0)

    def jacobian(p, c):
        return np.column_stack([t, np.ones_like(t)])

    problem = Problem.create(Residuals(residuals, jac=jacobian), BOX, args=(3.0,))
    setup = SolveSetup.of(problem, LocalOptions(method="trf", scale=scale))
    return problem, SolverObjective(problem, setup)


def test_residual_calls_count_and_record_the_cost_and_scale_the_jacobian():
    _problem, objective = line_fit(scale=True)
    objective.no_shift()
    z = np.array([0.25, 0.5])  # (3.5, 1.0): residuals 0.5 t
    np.testing.assert_array_equal(objective.residuals(z), [0.0, 0.5, 1.0])
    assert objective.nfev == 1 and objective.best_f == 0.5 * 1.25
    assert objective.best_x.tolist() == [3.5, 1.0]
    np.testing.assert_array_equal(objective.residual_jacobian(z),
                                  [[0.0, 10.0], [10.0, 10.0], [20.0, 10.0]])
    _, plain = line_fit(scale=False)
    np.testing.assert_array_equal(plain.residual_jacobian(np.array([3.5, 1.0])),
                                  [[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])


def test_non_finite_residuals_go_to_the_solver_but_are_not_recorded():
    seen = []
    problem = Problem.create(Residuals(lambda p: np.array([p[0], np.inf])), BOX)
    objective = SolverObjective(problem, SolveSetup.of(problem, LocalOptions(method="trf")),
                                callback=lambda x, v: seen.append(v))
    r = objective.residuals(np.array([2.0, 0.0]))
    assert r[0] == 2.0 and r[1] == np.inf
    assert objective.nfev == 1 and objective.best_x is None and seen == []


# ------------------------------------------------------------------ the neighbour probe


def probed(fun, z, bounds=BOX):
    objective = objective_of(fun, bounds=bounds)
    objective.no_shift()
    z = np.asarray(z, dtype=float)
    found, value = _lowest_neighbour(objective, z, fun(z))
    return objective, z, found, value


def test_the_probe_steps_a_thousandth_of_the_box_along_each_axis_either_way():
    # Lower along +x0 by 0.03 and along -x1 by 0.05: the lowest is the second.
    objective, _, found, value = probed(lambda x: float(-3 * x[0] + 5 * x[1]), [5.0, 2.0])
    assert objective.nfev == 4
    assert found.tolist() == [5.0, 2.0 - 0.01] and value == pytest.approx(-15.0 + 10.0 - 0.05)
    objective, _z, found, value = probed(lambda x: float(-5 * x[0] + 3 * x[1]), [5.0, 2.0])
    assert found.tolist() == [5.0 + 0.01, 2.0] and value == pytest.approx(-25.05 + 6.0)


def test_of_equally_low_neighbours_the_probe_keeps_the_first():
    _, _, found, _ = probed(lambda x: float(-((x[0] - 5.0) ** 2)), [5.0, 2.0])
    assert found.tolist() == [5.01, 2.0]


def test_the_probe_stays_in_the_box_and_skips_steps_it_cannot_take():
    # On the upper bound of x0 and the lower of x1: only the steps inward are taken.
    objective, z, found, value = probed(lambda x: float(-x[0] + x[1]), [11.0, -4.0])
    assert objective.nfev == 2 and found is z and value == -15.0
    # Both inward steps equally lower: the first axis's is kept.
    objective, z, found, value = probed(lambda x: float(x[0] - x[1]), [11.0, -4.0])
    assert objective.nfev == 2 and found.tolist() == [10.99, -4.0]
    objective, z, found, value = probed(lambda x: float(x[0] - x[1]), [1.0, 6.0])
    assert objective.nfev == 2 and found is z and value == -5.0


def test_a_neighbour_must_be_lower_by_more_than_rounding():
    # A drop of 1.5e-10 at 0 is more than 1e-10 * (1 + |f|): taken.
    _, z, found, value = probed(lambda x: float(-1.5e-8 * (x[0] - 5.0)), [5.0, 2.0])
    assert found.tolist() == [5.01, 2.0] and value == pytest.approx(-1.5e-10)
    # 0.5e-10 is not.
    _, z, found, value = probed(lambda x: float(-0.5e-8 * (x[0] - 5.0)), [5.0, 2.0])
    assert found is z and value == 0.0
    # Relative to 1 + |f|: at 1e6 a drop of 5e-5 is rounding (1e-10 * 1e6 = 1e-4).
    _, z, found, value = probed(lambda x: float(1e6 - 5e-3 * (x[0] - 5.0)), [5.0, 2.0])
    assert found is z and value == 1e6
    # A level objective: every neighbour equal, none lower.
    _, z, found, value = probed(lambda x: 2.0, [5.0, 2.0])
    assert found is z and value == 2.0


def test_without_finite_bounds_there_is_nothing_to_probe():
    problem = Problem.create(first, [(0.0, 1.0)])
    free = dataclasses.replace(problem, lower=np.array([-np.inf]), upper=np.array([np.inf]))
    objective = SolverObjective(free, SolveSetup.of(free, LocalOptions(method="BFGS")))
    z = np.array([1.0])
    found, value = _lowest_neighbour(objective, z, 1.0)
    assert found is z and value == 1.0 and objective.nfev == 0


# ------------------------------------------------------------- precision stops, stationarity


def stopped(x, fun, message, success=False) -> OptimizeResult:
    return OptimizeResult(x=np.asarray(x, dtype=float), fun=fun, success=success,
                          message=message)


@pytest.mark.parametrize("reason", ["ABNORMAL", "precision loss", "Linear search failed",
                                    "Positive directional derivative"])
def test_a_precision_stop_at_a_minimum_is_accepted(reason):
    bowl = lambda x: float((x[0] - 6.0) ** 2 + (x[1] - 1.0) ** 2)  # noqa: E731
    objective = objective_of(bowl)
    objective.no_shift()
    problem = objective.problem
    best = _accept_precision_stop(problem, objective,
                                  stopped([6.0, 1.0], 0.0, f"stop: {reason}"))
    assert best.success is True and best.message == f"stop: {reason}{ACCEPTED}"
    assert objective.nfev == 4
    # Beside the minimum a neighbour is lower: still a failure.
    best = _accept_precision_stop(problem, objective, stopped([6.5, 1.0], 0.25, reason))
    assert best.success is False and best.message == reason


def test_other_stops_are_left_as_they_are_without_probing():
    objective = objective_of(lambda x: float((x[0] - 6.0) ** 2))
    problem = objective.problem
    for best in (stopped([6.0, 1.0], 0.0, "ABNORMAL", success=True),
                 stopped([6.0, 1.0], math.nan, "ABNORMAL"),
                 stopped([6.0, 1.0], math.inf, "ABNORMAL"),
                 stopped([6.0, 1.0], 0.0, "Maximum number of iterations reached")):
        before = (best.success, best.message)
        assert _accept_precision_stop(problem, objective, best) is best
        assert (best.success, best.message) == before
    constrained = Problem.create(lambda x: float((x[0] - 6.0) ** 2), BOX,
                                 constraints={"type": "ineq", "fun": lambda x: 20.0 - x[0]})
    best = stopped([6.0, 1.0], 0.0, "ABNORMAL")
    assert _accept_precision_stop(constrained, objective, best).success is False
    assert objective.nfev == 0


def checked(drop: float | None, f: float, fun=first):
    objective = objective_of(fun)
    objective.no_shift()
    best = stopped([5.0, 2.0], f, "converged", success=True)
    _check_stationary(objective, best, drop)
    return best, objective


def test_a_success_with_a_neighbour_lower_by_more_than_a_millionth_fails():
    assert STATIONARY_RTOL == 1e-6
    best, _ = checked(1.0e-6, 0.0)  # exactly the threshold: stationary
    assert best.success is True and best.message == "converged"
    best, _ = checked(1.5e-6, 0.0)
    assert best.success is False
    assert best.message == (f"{NOT_STATIONARY}: a point 0.1% of the box away along an axis is "
                            "1.5e-06 lower (converged)")
    best, _ = checked(1.5e-6, 1.0)  # relative to 1 + |f|
    assert best.success is True
    best, _ = checked(1.5e-6, -1.0)
    assert best.success is True
    best, _ = checked(2.5e-6, 1.0)
    assert best.success is False


def test_a_drop_not_yet_known_is_probed():
    best, objective = checked(None, 5.0)  # f = x0 at (5, 2): the neighbour at 4.99 is lower
    assert objective.nfev == 4 and best.success is False
    assert best.message == (f"{NOT_STATIONARY}: a point 0.1% of the box away along an axis is "
                            "0.01 lower (converged)")
    best, objective = checked(None, 2.0, fun=lambda x: 2.0)
    assert objective.nfev == 4 and best.success is True


# ------------------------------------------------------------------------- solve_one


def test_a_finished_run_reports_the_value_as_evaluated_and_its_fields():
    # With the gradient given the solver evaluates only its iterates, so its end point is the
    # best point it evaluated (finite differences may find a lower point beside it).
    fun = lambda x: float(0.1 + (x[0] - 3.3) ** 2 + (x[1] - 0.7) ** 2)  # noqa: E731
    problem = Problem.create(fun, BOX, jac=lambda x: 2 * (x - [3.3, 0.7]))
    t0 = time.perf_counter()
    run = solve_one(problem, [9, 5], 7, LocalOptions(method="L-BFGS-B", scale=False,
                                                     restarts=0))
    wall = time.perf_counter() - t0
    # The solver saw f - f(x0): adding f(x0) back would not give the value there exactly.
    shift = fun(np.array([9.0, 5.0]))
    assert (fun(run.x) - shift) + shift != fun(run.x)
    assert run.success is True and run.error is None and run.index == 7
    assert run.x0.dtype == np.float64 and run.x0.tolist() == [9.0, 5.0]
    assert run.x == pytest.approx([3.3, 0.7], abs=1e-4)
    assert run.fun == fun(run.x)  # exactly the evaluated value
    assert run.in_bounds is True and 0.0 < run.time <= wall
    assert isinstance(run.nit, int) and run.nit >= 1


def test_restarts_add_their_iterations_and_evaluations():
    fun = lambda x: float((x[0] - 3.3) ** 2 + 10 * (x[1] - 0.7) ** 2)  # noqa: E731
    problem = Problem.create(fun, BOX)
    once = solve_one(problem, np.array([9.0, 5.0]), 0, LocalOptions(method="L-BFGS-B",
                                                                    scale=False, restarts=0))
    twice = solve_one(problem, np.array([9.0, 5.0]), 0, LocalOptions(method="L-BFGS-B",
                                                                     scale=False, restarts=1))
    assert once.success and twice.success
    assert twice.nit >= once.nit >= 2
    # The restart probes the 4 neighbours, then solves again from the end point.
    assert twice.nfev > once.nfev + 4
    # At a minimum the restart lowers nothing: no third solve however many are allowed.
    thrice = solve_one(problem, np.array([9.0, 5.0]), 0, LocalOptions(
        method="L-BFGS-B", scale=False, restarts=3))
    assert thrice.nfev == twice.nfev and thrice.nit == twice.nit


def test_a_method_without_an_iteration_count_reports_none():
    problem = Problem.create(lambda x: float((x[0] - 3.3) ** 2 + (x[1] - 0.7) ** 2), BOX)
    run = solve_one(problem, np.array([2.0, 1.0]), 0, LocalOptions(method="COBYLA",
                                                                   scale=False, restarts=2))
    assert run.success and run.nit == 0


def test_a_start_at_the_minimum_in_the_unit_box_stays_a_success():
    # The restart's probe finds every neighbour higher: the drop is not positive.
    fun = lambda x: float(10 * (x[0] - 6.0) ** 2 + 10 * (x[1] - 1.0) ** 2)  # noqa: E731
    problem = Problem.create(fun, BOX)
    run = solve_one(problem, np.array([6.0, 1.0]), 0, LocalOptions(method="L-BFGS-B",
                                                                   scale=True, restarts=1))
    assert run.success is True and run.x.tolist() == [6.0, 1.0] and run.fun == 0.0


def test_the_probe_before_a_restart_leaves_a_saddle():
    # L-BFGS-B from (0, 0) stops on the ridge x0 = 0 of the double well (zero gradient
    # across it); the probe steps off it and the restart descends to a well.
    fun = lambda x: float((x[0] ** 2 - 1.0) ** 2 + x[1] ** 2)  # noqa: E731
    problem = Problem.create(fun, [(-2.0, 2.0), (-2.0, 2.0)])
    stuck = solve_one(problem, np.array([0.0, 0.5]), 0, LocalOptions(method="L-BFGS-B",
                                                                      restarts=0))
    assert abs(stuck.x[0]) < 1e-6 and stuck.success
    run = solve_one(problem, np.array([0.0, 0.5]), 0, LocalOptions(method="L-BFGS-B",
                                                                   restarts=1))
    assert run.success and abs(abs(run.x[0]) - 1.0) < 1e-5 and run.fun < 1e-9


def test_a_start_at_a_huge_value_reaches_the_minimum_after_reshifting():
    fun = lambda x: float(1e50 * (x[0] > 10.5) + (x[0] - 3.0) ** 2 + x[1] ** 2)  # noqa: E731
    problem = Problem.create(fun, BOX)
    run = solve_one(problem, np.array([10.9, 1.0]), 0, LocalOptions(method="Nelder-Mead",
                                                                    scale=False))
    assert run.success and run.x == pytest.approx([3.0, 0.0], abs=1e-3)


def test_a_relabelled_end_point_is_put_in_canonical_order_and_said_so():
    fun = lambda x: float((x[0] - 0.2) ** 2 * (x[1] - 0.2) ** 2  # noqa: E731
                          + (x[0] + x[1] - 0.9) ** 2)
    problem = Problem.create(fun, [(0.0, 1.0), (0.0, 1.0)], symmetries=[[[0], [1]]])
    run = solve_one(problem, np.array([0.8, 0.1]), 0, LocalOptions(method="L-BFGS-B",
                                                                   restarts=0))
    assert run.success and run.x[0] <= run.x[1]
    assert run.message.endswith(f" {RELABELLED}")
    plain = solve_one(problem, np.array([0.1, 0.8]), 1, LocalOptions(method="L-BFGS-B",
                                                                     restarts=0))
    assert RELABELLED not in plain.message


def test_a_run_stopped_by_the_budget_keeps_its_best_point_in_the_users_sign():
    problem = Problem.create(lambda x: -float((x[0] - 6.0) ** 2 + x[1] ** 2), BOX,
                             maximize=True)
    run = solve_one(problem, np.array([2.0, 1.0]), 4, LocalOptions(method="Nelder-Mead",
                                                                   max_nfev=5))
    assert run.index == 4 and run.success is False and run.nfev == 5 and run.nit == 0
    assert run.error == "BudgetExhausted: max_evals reached after 5 evaluations"
    assert run.message == "stopped by budget: max_evals reached after 5 evaluations"
    assert run.fun == problem.fun(run.x) and run.fun > -17.0  # better than the start
    assert not np.array_equal(run.x, run.x0) and run.in_bounds is True


def test_a_run_that_fails_before_any_value_reports_its_start_and_nan():
    def boom(x):
        raise RuntimeError("no value: here")

    problem = Problem.create(boom, BOX)
    t0 = time.perf_counter()
    run = solve_one(problem, [2, 1], 3, LocalOptions(method="L-BFGS-B"))
    wall = time.perf_counter() - t0
    assert run.index == 3 and run.success is False and run.nfev == 1 and run.nit == 0
    assert run.x.tolist() == [2.0, 1.0] and run.x.dtype == np.float64 and math.isnan(run.fun)
    assert run.error == "RuntimeError: no value: here"
    assert run.message == "failed: RuntimeError: no value: here"
    assert run.in_bounds is True and 0.0 < run.time <= wall


def test_the_soft_time_limit_ends_a_solve_at_its_next_call():
    # A limit already past at the first call: the objective's own check ends the solve there
    # (no wall-clock race; the watchdog's later interrupt would say "inside one call").
    problem = Problem.create(lambda x: float((x[0] - 6.0) ** 2 + x[1] ** 2), BOX)
    run = solve_one(problem, np.array([2.0, 1.0]), 0, LocalOptions(method="L-BFGS-B",
                                                                   start_timeout=1e-9))
    assert run.error == "TimeoutError: start_timeout reached"
    assert run.message == "failed: TimeoutError: start_timeout reached"
    assert run.nfev == 0 and run.x.tolist() == [2.0, 1.0] and math.isnan(run.fun)


def test_solve_each_and_solve_chunk_give_a_run_per_start_in_order():
    problem = Problem.create(lambda x: float((x[0] - 6.0) ** 2 + (x[1] - 1.0) ** 2), BOX)
    starts = [(5, np.array([2.0, 1.0])), (9, np.array([10.0, -3.0]))]
    opts = LocalOptions(method="L-BFGS-B")
    for runs in (solve_chunk(problem, starts, opts), list(solve_each(problem, starts, opts))):
        assert [r.index for r in runs] == [5, 9]
        assert [r.x0.tolist() for r in runs] == [[2.0, 1.0], [10.0, -3.0]]
        for r in runs:
            assert r.success and r.x == pytest.approx([6.0, 1.0], abs=1e-5)


def test_blas_runs_one_thread_inside_the_solves_only():
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    if not blas:
        pytest.skip("no BLAS library found by threadpoolctl")
    with one_blas_thread():
        inside = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        others = [lib for lib in threadpool_info() if lib["user_api"] != "blas"]
    assert [lib["num_threads"] for lib in inside] == [1] * len(blas)
    outside = {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()}
    assert all(lib["num_threads"] == outside[lib["filepath"]] for lib in others)
    seen = []
    problem = Problem.create(lambda x: (seen.append(
        [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"])
        or float(x @ x)), BOX)
    list(solve_each(problem, [(0, np.array([2.0, 1.0]))], LocalOptions(method="L-BFGS-B")))
    assert seen and all(threads == [1] * len(blas) for threads in seen)


# ---------------------------------------------------------------------- least squares


def test_least_squares_keywords_come_from_the_options_and_tol():
    assert solver_arguments({"xtol": 1e-10, "maxiter": 5, "x_scale": "jac"}, 1e-6) == {
        "xtol": 1e-10, "x_scale": "jac", "ftol": 1e-6, "gtol": 1e-6}
    assert solver_arguments({"ftol": 1e-3}, None) == {"ftol": 1e-3}
    assert LEAST_SQUARES_OPTIONS == ("ftol", "xtol", "gtol", "x_scale", "diff_step",
                                     "tr_solver", "tr_options", "jac_sparsity", "max_nfev",
                                     "verbose")


def test_a_least_squares_solve_is_scipys_shaped_as_minimize_gives_it():
    _problem, objective = line_fit(scale=False)
    objective.no_shift()
    setup = objective.setup
    kwargs = setup.arguments(objective, np.array([1.0, 2.0]))
    got = solve_least_squares(kwargs, objective)
    _, again = line_fit(scale=False)
    want = least_squares(**setup.arguments(again, np.array([1.0, 2.0])))
    assert got.x.tolist() == want.x.tolist() and got.x.dtype == np.float64
    assert got.fun == float(want.cost) and got.success is True and got.status == want.status
    assert got.message == want.message and got.nit == want.njev
    assert got.optimality == float(want.optimality)
    np.testing.assert_array_equal(got.jac, want.jac)
    np.testing.assert_array_equal(got.active_mask, want.active_mask)
    assert got.x == pytest.approx([3.0, 1.0], abs=1e-8)
    # With a shift the cost is seen relative to it, as minimize's values are.
    objective.shift = 0.5
    assert solve_least_squares(dict(kwargs), objective).fun == float(want.cost) - 0.5


def test_a_fit_is_solved_unshifted_to_its_exact_cost():
    problem, _ = line_fit(scale=False)
    run = solve_one(problem, np.array([1.0, 2.0]), 0, LocalOptions(method="trf", restarts=0))
    assert run.success and run.x == pytest.approx([3.0, 1.0], abs=1e-8)
    assert run.fun == pytest.approx(0.0, abs=1e-20) and run.nit >= 1
    # A budget-stopped fit counts its residual calls.
    run = solve_one(problem, np.array([1.0, 2.0]), 0, LocalOptions(method="trf", max_nfev=1))
    assert run.nfev == 1 and run.message == (
        "stopped by budget: max_evals reached after 1 evaluations")


def test_a_failed_run_whose_best_point_left_the_box_says_so():
    # BFGS takes no bounds: towards the minimum at x0 = 20 it leaves the box [1, 11].
    problem = Problem.create(lambda x: float((x[0] - 20.0) ** 2 + x[1] ** 2), BOX)
    run = solve_one(problem, np.array([10.0, 1.0]), 0, LocalOptions(method="BFGS",
                                                                    scale=False, max_nfev=12))
    assert run.error.startswith("BudgetExhausted") and run.x[0] > 11.0
    assert run.in_bounds is False


def rosen(x) -> float:
    return float(100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2)


def rosen_jac(x) -> np.ndarray:
    return np.array([-400.0 * x[0] * (x[1] - x[0] ** 2) - 2.0 * (1.0 - x[0]),
                     200.0 * (x[1] - x[0] ** 2)])


def test_a_large_offset_is_shifted_away_so_the_solver_stops_at_the_minimum():
    # L-BFGS-B stops when f changes by 2.2e-9 of |f|: at 1e6 + rosen that is where rosen
    # still changes by 2e-3, far from (1, 1); relative to the start's value it is not.
    problem = Problem.create(lambda x: 1e6 + rosen(x), [(-2.0, 2.0), (-2.0, 2.0)],
                             jac=rosen_jac)
    run = solve_one(problem, np.array([-1.5, 1.5]), 0, LocalOptions(method="L-BFGS-B",
                                                                    scale=False, restarts=0))
    assert run.success and run.x == pytest.approx([1.0, 1.0], abs=1e-4)


def test_a_restart_that_reshifts_reports_the_value_at_its_point():
    # COBYLA from 8.8e5 reshifts twice, then the restart probes and solves again: the values
    # of the solves are compared and reported in the user's terms, never with another solve's
    # shift (this start reported f = -7716 for a sum of squares).
    def steep(x):
        return float(1000 * (x[0] - 1) ** 2 + (x[1] - 1) ** 2)

    problem = Problem.create(steep, [(0.0, 0.002), (-1000.0, 1000.0)])
    run = solve_one(problem, np.array([1.23385688e-03, -9.34219465e02]), 0,
                    LocalOptions(method="COBYLA"))
    assert run.success and run.x == pytest.approx([0.002, 1.0], abs=1e-3)
    assert run.fun == pytest.approx(steep(run.x), rel=1e-12)
    assert run.fun >= steep(np.array([0.002, 1.0]))  # the minimum, on the bound
