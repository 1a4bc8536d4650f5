"""Input a user gets wrong is refused before any work, with the key, the value and the fix.

Each case used to fail every start (or end with "0 minima from 0 starts" and no error); now
it is one error raised before a single start is solved (issue 15, "Refused up front").
"""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.exceptions import EngineError


class Counted:
    """A 2-D quadratic that counts its calls: a refused run may cost at most one probe."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: np.ndarray, *args: object) -> float:
        self.calls += 1
        return float((x[0] - 1) ** 2 + (x[1] + 1) ** 2)


def refused(needles: list[str], fun: Counted | None = None, **kwargs: object) -> str:
    """Run ``minimize`` expecting an EngineError that holds every needle, before any solve."""
    fun = fun or Counted()
    kwargs.setdefault("bounds", [(-5, 5), (-5, 5)])
    with pytest.raises(EngineError) as info:
        engine.minimize(fun, client="serial", n_starts=4, seed=0, **kwargs)
    message = str(info.value)
    for needle in needles:
        assert needle in message
    assert fun.calls <= 1  # at most the one evaluation that checks the bounds' dimension
    return message


# -- 1. solver options


def test_unknown_solver_option_names_it_and_the_allowed_ones():
    message = refused(["options['maxiterr']", "method='L-BFGS-B'", "did you mean 'maxiter'",
                       "gtol"], options={"maxiterr": 5})
    assert "it takes" in message


def test_unknown_option_is_checked_against_the_method_auto_picks():
    refused(["options['xatol']", "method='L-BFGS-B'"], options={"xatol": 1e-6})
    # the same option is fine for Nelder-Mead, which auto picks for a noisy 2-D objective
    res = engine.minimize(Counted(), [(-5, 5)] * 2, client="serial", n_starts=2, seed=0,
                          options={"xatol": 1e-6}, local={"noisy": True})
    assert res.method == "Nelder-Mead" and res.minima


@pytest.mark.parametrize(("options", "needles"), [
    ({"maxiter": "100"}, ["options['maxiter']='100'", "not an integer", "{'maxiter': 100}"]),
    ({"maxiter": 1.5}, ["options['maxiter']=1.5", "not an integer"]),
    ({"gtol": "1e-8"}, ["options['gtol']='1e-8'", "not a number", "{'gtol': 1e-08}"]),
    ({"maxls": True}, ["options['maxls']=True", "not an integer"]),
])
def test_wrongly_typed_solver_option_is_refused(options, needles):
    refused(needles, options=options)


def test_options_every_method_accepts_and_engine_owned_ones_still_work():
    res = engine.minimize(Counted(), [(-5, 5)] * 2, client="serial", n_starts=2, seed=0,
                          options={"disp": False, "maxiter": np.int64(200), "gtol": 1e-9})
    assert res.minima
    simplex = [[0, 0], [1, 0], [0, 1]]
    res = engine.minimize(Counted(), [(-5, 5)] * 2, client="serial", n_starts=2, seed=0,
                          method="Nelder-Mead",
                          options={"initial_simplex": simplex, "xatol": 1e-8, "fatol": 1e-10})
    assert res.minima and np.allclose(res.x, [1, -1], atol=1e-3)


def test_option_of_another_method_is_refused_for_trust_constr():
    refused(["options['return_all']", "method='trust-constr'"], method="trust-constr",
            options={"return_all": True})


# -- 2. args


def test_scalar_args_are_wrapped_like_scipy():
    def shifted(x, a):
        return float((x[0] - a) ** 2)

    res = engine.minimize(shifted, [(-5, 5)], args=1.0, client="serial", n_starts=2, seed=0)
    assert np.allclose(res.x, [1.0], atol=1e-5)


# -- 3. constraints


@pytest.mark.parametrize(("constraints", "needles"), [
    ({"type": "ineqq", "fun": lambda x: x[0]},
     ["constraints[0]", "'ineqq'", "'eq', 'ineq'", "LinearConstraint"]),
    ([{"type": "eq", "fun": lambda x: x[0]}, {"type": "ineq"}],
     ["constraints[1]", "fun=None", "not a callable", "NonlinearConstraint"]),
    ([{"type": "ineq", "fun": lambda x: x[0], "jacobian": None}],
     ["constraints[0]", "unknown keys ['jacobian']", "jac"]),
    ([lambda x: x[0]], ["constraints[0]", "is not a constraint"]),
])
def test_malformed_constraint_is_refused_before_any_work(constraints, needles):
    refused(needles, constraints=constraints)


def test_constraint_objects_and_dicts_are_accepted():
    from scipy.optimize import LinearConstraint

    res = engine.minimize(Counted(), [(-5, 5)] * 2, client="serial", n_starts=2, seed=0,
                          constraints=[{"type": "ineq", "fun": lambda x: x[0] - 2},
                                       LinearConstraint([[0, 1]], -np.inf, -2)])
    assert np.allclose(res.x, [2, -2], atol=1e-4)


# -- 4. bounds of the wrong dimension


def test_one_bare_pair_for_a_2d_objective_is_refused_before_any_work():
    fun = Counted()
    message = refused(["bounds has 1 pair", "indexes x[1]", "one (low, high) pair per variable"],
                      fun=fun, bounds=(-5, 5))
    assert fun.calls == 1 and "IndexError" not in message.split(";")[-1]


def test_one_bare_pair_with_a_gradient_of_another_length_is_refused():
    def fun(x):
        return float(np.sum(x**2))

    with pytest.raises(EngineError, match=r"bounds has 1 pair but the gradient has shape \(2,\)"):
        engine.minimize(fun, (-5, 5), jac=lambda x: np.zeros(2), client="serial", n_starts=2)


def test_one_bare_pair_for_a_1d_objective_still_runs():
    res = engine.minimize(lambda x: float((x[0] - 1) ** 2), (-5, 5), client="serial",
                          n_starts=2, seed=0)
    assert np.allclose(res.x, [1.0], atol=1e-5)


def test_scalar_scipy_bounds_are_refused_naming_the_fix():
    from scipy.optimize import Bounds

    refused(["bounds=Bounds(-3, 3) gives 1 variable", "indexes x[1]",
             "Bounds([-3] * n, [3] * n)", "(low, high) pairs"], bounds=Bounds(-3, 3))


# -- 5. vectorized output of the wrong shape


def test_vectorized_output_of_shape_n_by_1_is_refused():
    calls = []

    def column(x):
        calls.append(np.shape(x))
        return np.sum(x**2, axis=0, keepdims=True).T if np.ndim(x) == 2 else float(x @ x)

    with pytest.raises(EngineError, match=r"returned shape \(2, 1\).*expected \(2,\)"):
        engine.minimize(column, [(-5, 5)] * 2, client="serial", n_starts=2, max_evals=200,
                        search={"vectorized": True})
    assert calls == [(2, 2)]


def test_vectorized_output_of_shape_n_runs():
    res = engine.minimize(lambda x: np.sum((x - 1) ** 2, axis=0), [(-5, 5)] * 2,
                          client="serial", max_evals=400, seed=0, search={"vectorized": True})
    assert np.allclose(res.x, [1, 1], atol=1e-4)


# -- 7. a budget too small for one solve


def test_max_evals_below_one_solve_says_so_before_work():
    fun = Counted()
    with pytest.raises(EngineError) as info:
        engine.minimize(lambda x: fun(x[:2]) + float(x[2:] @ x[2:]), [(-5, 5)] * 5,
                        client="serial", max_evals=2)
    assert "max_evals=2 cannot pay for one local solve of a 5-variable problem" in str(
        info.value)
    assert "at least 6 evaluations" in str(info.value) and "raise it" in str(info.value)
    assert fun.calls == 0


@pytest.mark.parametrize("limits", [{"max_time": 9223372037.0}, {"max_time": 1e300},
                                    {"start_timeout": 9223372037.0}])
def test_a_time_limit_longer_than_the_clock_holds_is_no_limit(limits):
    # 2**63 ns is 292 years: waiting that long overflowed the clock (a bare OverflowError).
    res = engine.minimize(lambda x: float(x @ x), [(-3.0, 3.0), (-1.0, 2.0)], n_starts=4,
                          seed=5, client="serial", **limits)
    assert res.stop_reason == "n_starts" and res.n_starts == 4 and res.fun < 1e-10


def test_starts_cut_off_by_max_evals_are_stopped_by_budget_not_failures():
    res = engine.minimize(lambda x: float((x[0] ** 2 - 1) ** 2 + x[1] ** 2), [(-2, 2), (-2, 2)],
                          x0=[1.9, -1.9], n_starts=0, max_evals=8, client="serial")
    stopped = [r for r in res.runs if r.message.startswith("stopped by budget")]
    assert res.stop_reason == "max_evals" and stopped, res.message
    assert all(not r.success and r.error.startswith("BudgetExhausted") for r in stopped)
    assert res.n_failed == 0 and res.failures() == {}
    assert f"{len(stopped)} stopped by the budget" in res.message
    assert res.runs.n_stopped == len(stopped)
