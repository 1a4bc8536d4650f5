"""Problem.evaluate and its siblings: every kind of return value, args, jac=True and the sign."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from engine.exceptions import ProblemError
from engine.problem import ObjectiveError, Problem

BOX = [(-1.0, 1.0), (-1.0, 1.0)]
X = np.array([0.5, -0.5])


def returning(value):
    """A problem whose objective returns ``value`` wherever it is called."""
    return Problem.create(lambda x: value, BOX)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (2.5, 2.5),
        (np.float64(-1.25), -1.25),
        (np.float32(0.5), 0.5),
        (3, 3.0),
        (np.int64(-4), -4.0),
        (np.array([7.0]), 7.0),  # one value in an array, as scipy accepts
        (np.array([[7.0]]), 7.0),
        (Fraction(1, 4), 0.25),
    ],
)
def test_a_real_number_comes_back_as_a_float(raw, expected):
    value = returning(raw).evaluate(X)
    assert value == expected and type(value) is float


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (float("nan"), "objective returned nan at x=[0.5, -0.5]"),
        (float("inf"), "objective returned inf at x=[0.5, -0.5]"),
        (-np.inf, "objective returned -inf at x=[0.5, -0.5]"),
        (None, "objective returned None, not a scalar"),
        (True, "objective returned bool, not a number"),
        (np.bool_(False), "objective returned bool, not a number"),
        (np.array([True]), "objective returned bool, not a number"),
        (1 + 2j, "objective returned complex (1+2j), not real"),
        (np.complex128(3.0), "objective returned complex (3+0j), not real"),
        ("abc", "objective returned text 'abc', not a scalar"),
        (b"1.5", "objective returned text b'1.5', not a scalar"),
        (np.array(["1.5"]), "objective returned text '1.5' in ndarray of shape (1,), not a "
                            "scalar"),
        (np.ones((3, 1)), "objective returned ndarray of shape (3, 1), not a scalar"),
        ([1.0, 2.0, 3.0], "objective returned list of shape (3,), not a scalar"),
        ({"f": 1.0}, "objective returned dict, not a scalar"),
        ((1.0, np.ones(2)), "objective returned tuple of shape (2,), not a scalar (it looks "
                            "like (f, gradient): pass jac=True)"),
    ],
)
def test_an_unusable_value_raises_objective_error_saying_what_came_back(raw, message):
    with pytest.raises(ObjectiveError) as info:
        returning(raw).evaluate(X)
    assert str(info.value) == message
    # One type to catch, under the engine's root and the built-in a Python user expects.
    assert isinstance(info.value, ProblemError) and isinstance(info.value, ValueError)


def test_an_exception_of_the_objective_passes_through_unchanged():
    problem = Problem.create(lambda x: 1 / 0, BOX)
    with pytest.raises(ZeroDivisionError):
        problem.evaluate(X)


def test_args_are_passed_after_x_to_fun_jac_and_hess():
    seen = []

    def fun(x, a, b):
        seen.append(("fun", a, b))
        return float(a * x[0] + b)

    def jac(x, a, b):
        seen.append(("jac", a, b))
        return np.array([a, 0.0])

    def hess(x, a, b):
        seen.append(("hess", a, b))
        return np.zeros((2, 2))

    problem = Problem.create(fun, BOX, args=(2.0, 10.0), jac=jac, hess=hess)
    assert problem.evaluate(X) == 11.0
    assert problem.gradient(X).tolist() == [2.0, 0.0]
    assert problem.hessian(X).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert seen == [("fun", 2.0, 10.0), ("jac", 2.0, 10.0), ("hess", 2.0, 10.0)]


def value_and_gradient(x):
    return float(x @ x), 2 * x


def test_jac_true_evaluate_takes_the_value_and_the_gradient_comes_from_the_same_call():
    calls = []

    def fun(x):
        calls.append(1)
        return value_and_gradient(x)

    problem = Problem.create(fun, BOX, jac=True)
    assert problem.evaluate(X) == 0.5
    f, g = problem.value_and_gradient(X)
    assert (f, g.tolist()) == (0.5, [1.0, -1.0])
    assert problem.gradient(X).tolist() == [1.0, -1.0]
    assert len(calls) == 3  # one call each, the pair split by the problem


def test_jac_true_without_a_pair_is_refused_with_what_came_back():
    problem = Problem.create(lambda x: 1.0, BOX, jac=True)
    with pytest.raises(ObjectiveError, match=r"^jac=True but fun did not return \(f, gradient\):"
                                             r" it returned float$"):
        problem.evaluate(X)
    nan_value = Problem.create(lambda x: (float("nan"), 2 * x), BOX, jac=True)
    with pytest.raises(ObjectiveError, match="objective returned nan"):
        nan_value.value_and_gradient(X)


@pytest.mark.parametrize(
    ("gradient", "message"),
    [
        (np.zeros(3), "gradient has shape (3,), expected (2,)"),
        (np.zeros((2, 1)), "gradient has shape (2, 1), expected (2,)"),
        (np.array([np.nan, 0.0]), "gradient is not finite at x=[0.5, -0.5]"),
        (np.array([1j, 0.0]), "gradient holds complex128 values, not real numbers"),
        (None, "gradient is NoneType, not an array of numbers"),
        ([1.0, "a"], "gradient holds <U32 values, not real numbers"),
    ],
)
def test_a_bad_gradient_is_refused_from_jac_and_from_jac_true(gradient, message):
    separate = Problem.create(lambda x: 0.0, BOX, jac=lambda x: gradient)
    paired = Problem.create(lambda x: (0.0, gradient), BOX, jac=True)
    for problem in (separate, paired):
        with pytest.raises(ObjectiveError) as info:
            problem.value_and_gradient(X)
        assert str(info.value) == message


def test_a_hessian_of_the_wrong_shape_is_refused():
    problem = Problem.create(lambda x: 0.0, BOX, hess=lambda x: np.eye(3))
    with pytest.raises(ObjectiveError, match=r"hessian has shape \(3, 3\), expected \(2, 2\)"):
        problem.hessian(X)
    with pytest.raises(ProblemError, match="not a gradient function"):
        Problem.create(lambda x: 0.0, BOX).gradient(X)


def test_maximize_evaluate_keeps_the_users_sign_and_minimized_negates_once():
    problem = Problem.create(value_and_gradient, BOX, jac=True, maximize=True)
    assert problem.evaluate(X) == 0.5
    assert problem.gradient(X).tolist() == [1.0, -1.0]
    assert problem.minimized(X) == -0.5
    f, g = problem.minimized_and_gradient(X)
    assert (f, g.tolist()) == (-0.5, [-1.0, 1.0])
    assert problem.minimized_gradient(X).tolist() == [-1.0, 1.0]
    hessian = Problem.create(lambda x: 0.0, BOX, hess=lambda x: np.eye(2), maximize=True)
    assert hessian.minimized_hessian(X).tolist() == [[-1.0, -0.0], [-0.0, -1.0]]
    minimizing = Problem.create(value_and_gradient, BOX, jac=True)
    assert minimizing.minimized(X) == minimizing.evaluate(X) == 0.5


def test_evaluate_many_gives_nan_where_there_is_no_value_and_minimized_many_inf():
    def fun(x):
        if x[0] > 0.5:
            raise RuntimeError("boom")
        return None if x[0] < -0.5 else float(x[0])

    points = np.array([[0.25, 0.0], [0.9, 0.0], [-0.9, 0.0]])
    minimizing = Problem.create(fun, BOX)
    assert np.array_equal(minimizing.evaluate_many(points), [0.25, np.nan, np.nan],
                          equal_nan=True)
    assert minimizing.minimized_many(points).tolist() == [0.25, np.inf, np.inf]
    maximizing = Problem.create(fun, BOX, maximize=True)
    assert maximizing.minimized_many(points).tolist() == [-0.25, np.inf, np.inf]
    assert minimizing.evaluate_many(np.zeros((0, 2))).shape == (0,)


def test_evaluate_many_vectorized_is_one_call_and_refuses_values_it_cannot_use():
    calls = []

    def vec(x):
        calls.append(np.shape(x))
        return x[0] ** 2 + x[1]

    points = np.array([[1.0, 0.5], [-1.0, 0.0], [0.0, 0.0]])
    assert Problem.create(vec, BOX).evaluate_many(points, vectorized=True).tolist() == [
        1.5, 1.0, 0.0]
    assert calls == [(2, 3)]
    # The value part of (f, gradient), vectorized too.
    pair = Problem.create(lambda x: (x[0] + x[1], None), BOX, jac=True)
    assert pair.evaluate_many(points, vectorized=True).tolist() == [1.5, -1.0, 0.0]
    # Complex values: the vectorized answer is dropped and each point refused on its own.
    complex_values = Problem.create(lambda x: x[0] + 1j, BOX)
    assert np.isnan(complex_values.evaluate_many(points, vectorized=True)).all()
    # A non-finite entry is no value, the others stand.
    holes = Problem.create(lambda x: np.where(x[0] > 0, np.inf, x[1]), BOX)
    assert np.array_equal(holes.evaluate_many(points, vectorized=True), [np.nan, 0.0, 0.0],
                          equal_nan=True)
