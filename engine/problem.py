"""The optimization problem: objective, bounds, derivatives, constraints, sign.

A :class:`Problem` is built once in the driver, validated, and sent to every worker once.
It knows nothing about how it is solved.

It is also the one place where the user's objective is called outside scipy's own calls:
:meth:`Problem.evaluate` (one point), :meth:`Problem.evaluate_many` (a sample, optionally in
one vectorized call), :meth:`Problem.gradient` and :meth:`Problem.hessian`. Each checks what
came back and raises :class:`ObjectiveError`, whose message is the reason, when it is not
usable: NaN or inf, ``None``, a bool, a complex number, text, an array of more than one
value, a gradient of the wrong shape, or not ``(f, gradient)`` when ``jac=True``.

Signs: the ``evaluate*``, ``gradient`` and ``hessian`` methods return what the user's function
says. The engine minimizes ``sign * f`` (``sign`` is -1 when maximizing); the ``minimized*``
methods return that, and they are the only place the sign is applied to an evaluation.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import (
    Bounds,
    HessianUpdateStrategy,
    LinearConstraint,
    NonlinearConstraint,
)

from engine.exceptions import ProblemError
from engine.symmetry import Symmetry, canonical, parse_symmetries

#: Slack, as a fraction of each bound's width, within which a point still counts as inside
#: the box (solvers step onto a bound up to rounding).
CONTAINS_RTOL = 1e-8

BoundsLike = Bounds | Sequence[Sequence[float]]


def normalize_bounds(bounds: Any, name: str = "bounds") -> tuple[np.ndarray, np.ndarray]:
    """Turn ``bounds`` into two float arrays ``(lower, upper)``, checking every pair.

    Parameters
    ----------
    bounds : sequence of (low, high) pairs or scipy.optimize.Bounds
        Finite box bounds, one pair per variable, with ``low < high``.
    name : str
        The argument or key name used in error messages.

    Returns
    -------
    lower, upper : numpy.ndarray
        1-D float arrays of equal length.

    Raises
    ------
    ProblemError
        When the bounds are missing, ragged, non-numeric, infinite, NaN, or reversed.

    Examples
    --------
    >>> lo, hi = normalize_bounds([(-5, 5), (0, 1)])
    >>> lo.tolist(), hi.tolist()
    ([-5.0, 0.0], [5.0, 1.0])
    """
    if isinstance(bounds, Bounds):
        try:
            lower = np.atleast_1d(np.asarray(bounds.lb, dtype=float))
            upper = np.atleast_1d(np.asarray(bounds.ub, dtype=float))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ProblemError(
                f"{name}: Bounds(lb={bounds.lb!r}, ub={bounds.ub!r}) holds values that are not "
                f"numbers ({exc}); give one numeric lower and upper value per variable"
            ) from None
        if lower.ndim != 1 or upper.ndim != 1:
            raise ProblemError(
                f"{name}: Bounds.lb and Bounds.ub must be 1-D (one value per variable), got "
                f"shapes {lower.shape} and {upper.shape}; flatten them"
            )
        if lower.shape != upper.shape:
            raise ProblemError(
                f"{name}: Bounds.lb has shape {lower.shape} but Bounds.ub has {upper.shape}; "
                "give one lower and one upper value per variable"
            )
        pairs = np.column_stack([lower, upper]) if lower.size else np.empty((0, 2))
    else:
        if bounds is None:
            raise ProblemError(
                f"{name} is required: give a sequence of (low, high) pairs, one per variable, "
                "e.g. bounds=[(-5, 5), (-5, 5)]"
            )
        try:
            pairs = np.asarray(bounds, dtype=float)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ProblemError(
                f"{name}={bounds!r} is not a sequence of numeric (low, high) pairs ({exc}); "
                "write it as e.g. [(-5, 5), (-5, 5)]"
            ) from None
        if pairs.size == 0:
            raise ProblemError(f"{name} is empty; give at least one (low, high) pair")
        if pairs.ndim == 1 and pairs.size == 2:
            pairs = pairs.reshape(1, 2)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ProblemError(
                f"{name}={bounds!r} has shape {pairs.shape}; expected (n_variables, 2): "
                "one (low, high) pair per variable, e.g. [(-5, 5), (-5, 5)]"
            )
    if pairs.shape[0] == 0:
        raise ProblemError(f"{name} is empty; give at least one (low, high) pair")
    problems = []
    for i, (low, high) in enumerate(pairs):
        if not (math.isfinite(low) and math.isfinite(high)):
            problems.append(
                f"{name}[{i}]=({low}, {high}) is not finite; a multistart samples the whole box, "
                "so every bound must be a finite number (replace inf by a realistic range)"
            )
        elif low < high and not math.isfinite(float(high) - float(low)):
            # Starts are drawn as lower + u * (upper - lower): the width must be a float too.
            problems.append(
                f"{name}[{i}]=({low}, {high}) is wider than the largest float "
                f"({float(high) - float(low)}); rescale the variable so that high - low is finite"
            )
        elif not low < high:
            problems.append(
                f"{name}[{i}]=({low}, {high}) has low >= high; each pair must satisfy low < high "
                "(swap them, or fix the variable outside the problem instead)"
            )
    if problems:
        raise ProblemError("; ".join(problems))
    return pairs[:, 0].copy(), pairs[:, 1].copy()


class ObjectiveError(ProblemError):
    """The objective gave no usable value at a point; the message says what it gave.

    Raised by :meth:`Problem.evaluate` and its siblings for what the function *returned*
    (NaN, inf, None, bool, complex, text, an array, a bad gradient); an exception the function
    itself raises passes through unchanged, with its own traceback. A local solve records it
    as ``"ValueError: <message>"`` (ObjectiveError is a ValueError), the form failed runs have
    always been stored in.

    Examples
    --------
    >>> p = Problem.create(lambda x: None, [(0, 1)])
    >>> try:
    ...     p.evaluate(np.array([0.5]))
    ... except ObjectiveError as exc:
    ...     print(exc)
    objective returned None, not a scalar
    """


def _check_callable(value: Any, name: str, extra: tuple[Any, ...] = ()) -> None:
    if value is None or callable(value):
        return
    # Compare by type as well as value: an array or 1 must not pass for True or '2-point'.
    if any(type(value) is type(e) and value == e for e in extra):
        return
    allowed = "a callable" + "".join(f" or {e!r}" for e in extra) + " or None"
    raise ProblemError(f"{name}={value!r} is not allowed; use {allowed}")


def _check_constraint(constraint: Any, name: str) -> None:
    """Refuse a constraint scipy would refuse in every solve (an unknown type, no ``fun``)."""
    if isinstance(constraint, (LinearConstraint, NonlinearConstraint)):
        return
    fix = ("give {'type': 'eq' or 'ineq', 'fun': callable} or a LinearConstraint or "
           "NonlinearConstraint")
    if not isinstance(constraint, dict):
        raise ProblemError(f"{name}={constraint!r} is not a constraint; {fix}")
    kind = constraint.get("type")
    if kind not in ("eq", "ineq"):
        raise ProblemError(f"{name} has type {kind!r}; allowed types: 'eq', 'ineq' ({fix})")
    if not callable(constraint.get("fun")):
        raise ProblemError(f"{name} has fun={constraint.get('fun')!r}, not a callable; {fix}")
    unknown = sorted(set(constraint) - {"type", "fun", "jac", "args"})
    if unknown:
        raise ProblemError(f"{name} has unknown keys {unknown}; allowed: type, fun, jac, args")


@dataclass(frozen=True)
class Problem:
    """A bounded minimization (or maximization) problem.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``, as for :func:`scipy.optimize.minimize`. With ``jac=True``
        it returns ``(f, gradient)``.
    lower, upper : numpy.ndarray
        Finite box bounds (see :func:`normalize_bounds`).
    args : tuple
        Extra positional arguments passed to ``fun``, ``jac`` and ``hess``.
    jac, hess : callable, bool, str or None
        Passed to the local solver with the meaning they have in scipy.
    constraints : tuple
        scipy constraint dicts or ``LinearConstraint``/``NonlinearConstraint`` objects.
    maximize : bool
        When true the engine minimizes ``-fun`` and reports values with the original sign.
    symmetries : tuple
        Groups of parameters that may be permuted without changing ``fun``
        (:mod:`engine.symmetry`): converged points are reported in canonical order.

    Examples
    --------
    >>> import numpy as np
    >>> p = Problem.create(lambda x: float(np.sum(x**2)), [(-1, 1), (-2, 2)])
    >>> p.dim, p.width.tolist()
    (2, [2.0, 4.0])
    """

    fun: Callable[..., Any]
    lower: np.ndarray
    upper: np.ndarray
    args: tuple[Any, ...] = ()
    jac: Any = None
    hess: Any = None
    constraints: tuple[Any, ...] = ()
    maximize: bool = False
    name: str = field(default="")
    symmetries: tuple[Symmetry, ...] = ()

    @classmethod
    def create(
        cls,
        fun: Callable[..., Any],
        bounds: BoundsLike,
        *,
        args: Sequence[Any] | Any = (),
        jac: Any = None,
        hess: Any = None,
        constraints: Any = (),
        maximize: bool = False,
        symmetries: Any = None,
    ) -> Problem:
        """Validate user input and build a :class:`Problem`.

        Raises
        ------
        ProblemError
            When ``fun`` is not callable, the bounds are invalid, or ``jac``/``hess`` have a
            type scipy would not accept.
        """
        if not callable(fun):
            raise ProblemError(
                f"fun={fun!r} is not callable; pass a function f(x, *args) -> float"
            )
        lower, upper = normalize_bounds(bounds)
        # One bare pair, (-5, 5), or Bounds(-3, 3) (scipy stores scalars as 1-element arrays)
        # makes a 1-D problem: often meant as "this range for every variable". An objective
        # that reads x[1] would then fail every start.
        if isinstance(bounds, Bounds):
            one_range = (f"bounds=Bounds({lower[0]:g}, {upper[0]:g}) gives 1 variable",
                         f"write Bounds([{lower[0]:g}] * n, [{upper[0]:g}] * n) or a list of "
                         "(low, high) pairs, one per variable")
        elif np.ndim(bounds) == 1:
            one_range = ("bounds has 1 pair",
                         "give one (low, high) pair per variable, e.g. bounds=[(-5, 5)] * n")
        if not isinstance(args, tuple):
            args = tuple(args) if isinstance(args, list) else (args,)
        _check_callable(jac, "jac", (True, False, "2-point", "3-point", "cs"))
        # HessianUpdateStrategy instances (BFGS(), SR1()) are allowed as in scipy.
        if hess is not None and not callable(hess) and not isinstance(
                hess, (str, HessianUpdateStrategy)):
            raise ProblemError(
                f"hess={hess!r} is not allowed; use a callable, '2-point', '3-point', 'cs', "
                "a scipy.optimize.HessianUpdateStrategy (e.g. BFGS()) or None"
            )
        if isinstance(constraints, np.ndarray):
            raise ProblemError(
                f"constraints={constraints!r} is an array; give a scipy constraint (dict, "
                "LinearConstraint or NonlinearConstraint) or a list of them"
            )
        if isinstance(constraints, dict) or not isinstance(constraints, (list, tuple)):
            constraints = (constraints,) if constraints else ()
        for i, constraint in enumerate(constraints):
            _check_constraint(constraint, f"constraints[{i}]")
        if not isinstance(maximize, (bool, np.bool_)):
            raise ProblemError(
                f"maximize={maximize!r} is not allowed; use True (find maxima) or False "
                "(find minima)"
            )
        problem = cls(
            fun=fun,
            lower=lower,
            upper=upper,
            args=args,
            jac=False if jac is False else jac,
            hess=hess,
            constraints=tuple(constraints),
            maximize=bool(maximize),
            name=getattr(fun, "__qualname__", type(fun).__name__),
            symmetries=parse_symmetries(symmetries, lower, upper),
        )
        if lower.size == 1 and (isinstance(bounds, Bounds) or np.ndim(bounds) == 1):
            problem.check_dimension(*one_range)
        return problem

    def check_dimension(self, given: str, fix: str) -> None:
        """Call the objective once at the box centre; refuse bounds of too few variables.

        The one evaluation is not counted in any run's ``nfev``: it happens before the run.
        Only an ``IndexError`` or a gradient of another length is judged here; any other
        failure is the objective's own and is recorded per start as usual.

        Parameters
        ----------
        given, fix : str
            How the bounds were written, and how to write them, for the message.

        Raises
        ------
        ProblemError
            When ``fun`` indexes past the variables the bounds give, or its gradient has
            another length.
        """
        centre = (self.lower + self.upper) / 2
        try:
            grad = self.value_and_gradient(centre)[1] if self.jac is True or callable(
                self.jac) else None
            if grad is None:
                self.fun(centre, *self.args)
        except IndexError as exc:
            found = re.search(r"index (\d+)", str(exc))
            where = f"x[{found.group(1)}]" if found else f"past x[{self.dim - 1}]"
            raise ProblemError(f"{given} but the objective indexes {where} ({exc}); "
                               f"{fix}") from None
        except ObjectiveError as exc:
            if str(exc).startswith("gradient has shape"):
                raise ProblemError(f"{given} but the {exc}; {fix}") from None
        except Exception:  # the objective's own failure: each start records it
            return

    @property
    def dim(self) -> int:
        """Number of variables."""
        return int(self.lower.size)

    @property
    def width(self) -> np.ndarray:
        """Width of the box in each variable (``upper - lower``)."""
        return self.upper - self.lower

    @property
    def sign(self) -> float:
        """``-1.0`` when maximizing (the engine minimizes ``sign * fun``), else ``1.0``."""
        return -1.0 if self.maximize else 1.0

    def canonical(self, x: np.ndarray) -> tuple[np.ndarray, bool]:
        """``x`` in canonical order of its interchangeable groups, and whether it moved."""
        return canonical(x, self.symmetries)

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Map points from the user's box to the unit box ``[0, 1]^d``."""
        return (np.asarray(x, dtype=float) - self.lower) / self.width

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map points from the unit box to the user's box."""
        return self.lower + np.asarray(u, dtype=float) * self.width

    def inside(self, points: np.ndarray, rtol: float = CONTAINS_RTOL) -> np.ndarray:
        """Whether each point (the last axis holds its coordinates) lies in the box, allowing
        ``rtol`` of each width as slack."""
        points = np.asarray(points, dtype=float)
        slack = rtol * (self.upper - self.lower)
        return ((points >= self.lower - slack) & (points <= self.upper + slack)).all(axis=-1)

    def contains(self, x: np.ndarray, rtol: float = CONTAINS_RTOL) -> bool:
        """True when ``x`` lies in the box, allowing ``rtol`` of each width as slack."""
        return bool(self.inside(x, rtol))

    # -- evaluation: the user's sign

    def evaluate(self, x: np.ndarray) -> float:
        """``fun(x, *args)`` as a finite float, in the user's sign.

        With ``jac=True`` the value part of ``(f, gradient)``. ``x`` is passed to ``fun`` as
        given (no copy: a solver's own array costs nothing), so give a 1-D float array.

        Raises
        ------
        ObjectiveError
            When ``fun`` returns anything but one finite real number (see the module notes).
            An exception raised by ``fun`` itself passes through unchanged.

        Examples
        --------
        >>> p = Problem.create(lambda x, a: float(x[0] - a), [(-1, 1)], args=(2.0,))
        >>> p.evaluate(np.array([0.5]))
        -1.5
        >>> Problem.create(lambda x: 1 + 2j, [(-1, 1)]).evaluate(np.zeros(1))
        Traceback (most recent call last):
        ...
        engine.problem.ObjectiveError: objective returned complex (1+2j), not real
        """
        raw = self.fun(x, *self.args)
        if self.jac is True:
            raw = _pair(raw)[0]
        # float and numpy.float64 (a float subclass) at once, without a call: this runs once
        # per evaluation, where one more call is measurable against an objective that costs
        # a microsecond. Everything else, and nan or inf, goes through _real_value.
        if isinstance(raw, float):
            value = float(raw)
            if value - value == 0.0:  # false for nan and +-inf
                return value
        return _real_value(raw, x)

    def evaluate_many(self, points: np.ndarray, vectorized: bool = False) -> np.ndarray:
        """The objective at each row of ``points``, in the user's sign; never raises.

        Parameters
        ----------
        points : numpy.ndarray
            Shape ``(n, d)``, user coordinates.
        vectorized : bool
            Call ``fun`` once with the transposed ``(d, n)`` array and expect ``n`` values
            (the convention of :func:`scipy.optimize.differential_evolution`); the points are
            evaluated one by one if that call fails or returns anything else.

        Returns
        -------
        numpy.ndarray
            ``n`` values; NaN where :meth:`evaluate` would raise, or ``fun`` raised.

        Examples
        --------
        >>> p = Problem.create(lambda x: 1.0 / float(x[0]), [(-1, 1)])
        >>> p.evaluate_many(np.array([[0.5], [0.0]])).tolist()
        [2.0, nan]
        """
        points = np.asarray(points, dtype=float)
        values = self._vectorized(points) if vectorized and len(points) else None
        if values is None:
            values = np.array([self._value_or_nan(np.array(x)) for x in points], dtype=float)
        return values

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """The gradient at ``x`` in the user's sign: ``jac(x, *args)``, or the gradient part
        of ``fun(x, *args)`` when ``jac=True``.

        Raises
        ------
        ObjectiveError
            When the gradient has another shape than ``x`` or is not finite.
        ProblemError
            When the problem has no gradient function.

        Examples
        --------
        >>> p = Problem.create(lambda x: float(x @ x), [(-1, 1)] * 2, jac=lambda x: 2 * x)
        >>> p.gradient(np.array([1.0, -0.5])).tolist()
        [2.0, -1.0]
        """
        if self.jac is True:
            return _checked_gradient(_pair(self.fun(x, *self.args))[1], x)
        if callable(self.jac):
            return _checked_gradient(self.jac(x, *self.args), x)
        raise ProblemError(f"jac={self.jac!r} is not a gradient function; pass a callable "
                           "(or jac=True when fun returns (f, gradient))")

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(f, gradient)`` at ``x`` in the user's sign, from one call of ``fun`` when
        ``jac=True``.

        Examples
        --------
        >>> p = Problem.create(lambda x: (float(x @ x), 2 * x), [(-1, 1)] * 2, jac=True)
        >>> f, g = p.value_and_gradient(np.array([1.0, 0.0]))
        >>> f, g.tolist()
        (1.0, [2.0, 0.0])
        """
        if self.jac is True:
            raw = self.fun(x, *self.args)
            # The checks of _pair and evaluate's fast path, inlined: once per evaluation too.
            value, grad = raw if type(raw) is tuple and len(raw) == 2 else _pair(raw)
            if isinstance(value, float) and value - value == 0.0:
                return float(value), _checked_gradient(grad, x)
            return _real_value(value, x), _checked_gradient(grad, x)
        return self.evaluate(x), self.gradient(x)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """``hess(x, *args)`` as a finite ``(d, d)`` float array, in the user's sign.

        Examples
        --------
        >>> p = Problem.create(lambda x: float(x @ x), [(-1, 1)], hess=lambda x: 2 * np.eye(1))
        >>> p.hessian(np.zeros(1)).tolist()
        [[2.0]]
        """
        if not callable(self.hess):
            raise ProblemError(f"hess={self.hess!r} is not a Hessian function; pass a callable")
        return _checked_hessian(self.hess(x, *self.args), x)

    # -- evaluation: the minimized sign (the only place the sign is applied)

    def minimized(self, x: np.ndarray) -> float:
        """``sign * f(x)``: the value the engine minimizes (``-f`` when maximizing).

        Examples
        --------
        >>> p = Problem.create(lambda x: float(x[0]), [(-1, 1)], maximize=True)
        >>> p.evaluate(np.array([0.25])), p.minimized(np.array([0.25]))
        (0.25, -0.25)
        """
        value = self.evaluate(x)
        return -value if self.maximize else value

    def minimized_many(self, points: np.ndarray, vectorized: bool = False) -> np.ndarray:
        """:meth:`evaluate_many` in the minimized sign, ``+inf`` where there is no value (so a
        failed point is never the best).

        Examples
        --------
        >>> p = Problem.create(lambda x: 1.0 / float(x[0]), [(-1, 1)], maximize=True)
        >>> p.minimized_many(np.array([[0.5], [0.0]])).tolist()
        [-2.0, inf]
        """
        values = self.evaluate_many(points, vectorized)
        if self.maximize:
            values = -values
        values[np.isnan(values)] = np.inf
        return values

    def minimized_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`value_and_gradient` in the minimized sign (both negated when maximizing).

        Examples
        --------
        >>> p = Problem.create(lambda x: (float(x[0]), np.ones(1)), [(-1, 1)], jac=True,
        ...                    maximize=True)
        >>> f, g = p.minimized_and_gradient(np.array([0.5]))
        >>> f, g.tolist()
        (-0.5, [-1.0])
        """
        value, grad = self.value_and_gradient(x)
        return (-value, -grad) if self.maximize else (value, grad)

    def minimized_gradient(self, x: np.ndarray) -> np.ndarray:
        """:meth:`gradient` in the minimized sign."""
        grad = self.gradient(x)
        return -grad if self.maximize else grad

    def minimized_hessian(self, x: np.ndarray) -> np.ndarray:
        """:meth:`hessian` in the minimized sign."""
        hessian = self.hessian(x)
        return -hessian if self.maximize else hessian

    def vectorized_problem(self) -> str | None:
        """Why ``fun`` does not give ``n`` values for ``n`` points, or None when it does.

        One vectorized call on two copies of the box centre, before the run (not counted in
        any ``nfev``). A call that raises is not judged: :meth:`evaluate_many` then falls back
        to one call per point. An array of the wrong shape (``(n, 1)``) is refused, since it
        silently turns every sample into one call per point.
        """
        centre = (self.lower + self.upper) / 2
        try:
            raw = self.fun(np.column_stack([centre, centre]), *self.args)
            if self.jac is True and isinstance(raw, (tuple, list)) and len(raw) == 2:
                raw = raw[0]
            shape = np.shape(raw)
        except (Exception, SystemExit):  # falls back to one call per point, as documented
            return None
        if shape == (2,) or np.size(raw) != 2:
            return None
        return (f"search.vectorized=True but the objective returned shape {shape} for 2 points "
                "(a (d, 2) array); expected (2,): return one value per column, e.g. "
                "np.sum(x**2, axis=0), or flatten the result with .ravel()")

    def _vectorized(self, points: np.ndarray) -> np.ndarray | None:
        """All values from one call of ``fun`` on the ``(d, n)`` array, or None when that
        call fails or does not give ``n`` real numbers (then each point is tried alone)."""
        try:
            raw = self.fun(points.T.copy(), *self.args)
            if self.jac is True and isinstance(raw, (tuple, list)) and len(raw) == 2:
                raw = raw[0]
            values = np.asarray(raw)
        except (Exception, SystemExit):  # a vectorized call that fails: one call per point
            return None
        if values.shape != (len(points),) or values.dtype.kind not in "iuf":
            return None
        values = values.astype(float)  # a copy: the caller may change it
        values[~np.isfinite(values)] = np.nan
        return values

    def _value_or_nan(self, x: np.ndarray) -> float:
        try:
            return self.evaluate(x)
        except (Exception, SystemExit):  # the objective failed: this point is unusable, no more
            return math.nan


# ------------------------------------------------------------------ checks of returned values


def _pair(raw: Any) -> tuple[Any, Any]:
    """``(f, gradient)`` from what ``fun`` returned with ``jac=True``."""
    if isinstance(raw, (tuple, list)) and len(raw) == 2:
        return raw[0], raw[1]
    raise ObjectiveError(
        f"jac=True but fun did not return (f, gradient): it returned {_described(raw)}"
    )


def _real_value(raw: Any, x: Any) -> float:
    """``raw`` as a finite float, or :class:`ObjectiveError` saying what it is instead."""
    if raw is None:
        raise ObjectiveError("objective returned None, not a scalar")
    if isinstance(raw, (str, bytes)):  # numpy would parse "1.5"; scipy refuses text
        raise ObjectiveError(f"objective returned text {raw!r}, not a scalar")
    try:
        array = np.asarray(raw)
    except (TypeError, ValueError):  # ragged sequences
        array = np.asarray(raw, dtype=object)
    kind = array.dtype.kind
    if array.size != 1:
        hint = (" (it looks like (f, gradient): pass jac=True)"
                if isinstance(raw, (tuple, list)) and len(raw) == 2 else "")
        raise ObjectiveError(f"objective returned {_described(raw)}, not a scalar{hint}")
    if kind == "b":  # True would count as 1.0: almost surely a bug in the objective
        raise ObjectiveError("objective returned bool, not a number")
    if kind == "c":  # float() would drop the imaginary part with only a warning
        raise ObjectiveError(f"objective returned complex {array.reshape(()).item()!r}, "
                             "not real")
    if kind in "US":
        raise ObjectiveError(f"objective returned text {array.reshape(()).item()!r} in "
                             f"{_described(raw)}, not a scalar")
    try:
        # An object array holds e.g. a Fraction or a Decimal: float() of the object itself.
        value = float(array.reshape(()).item() if kind == "O" else array.reshape(()))
    except (TypeError, ValueError):
        raise ObjectiveError(f"objective returned {_described(raw)}, not a scalar") from None
    if not math.isfinite(value):
        point = np.asarray(x, dtype=float)
        if not np.isfinite(point).all():
            # The value is not the objective's fault: the solver broke down (an indefinite
            # Hessian in a trust-region method, say) and asked for it at a non-finite point.
            raise ObjectiveError(f"the solver asked for a value at a non-finite point "
                                 f"x={point.tolist()} (its own numerical breakdown)")
        raise ObjectiveError(f"objective returned {value} at x={point.tolist()}")
    return value


def _described(raw: Any) -> str:
    """``'ndarray of shape (3, 1)'``, ``'float'``: what a returned object is, for messages."""
    if isinstance(raw, (np.ndarray, tuple, list)):
        try:
            shape = np.asarray(raw, dtype=object).shape
        except (TypeError, ValueError):
            shape = (len(raw),)
        return f"{type(raw).__name__} of shape {shape}"
    return type(raw).__name__


def _checked_gradient(raw: Any, x: np.ndarray) -> np.ndarray:
    """``raw`` as a finite float array of the shape of ``x``."""
    if type(raw) is np.ndarray and raw.dtype == np.float64:
        grad = raw  # the common case, without a conversion
    else:
        grad = _float_array(raw, "gradient")
    shape = x.shape if type(x) is np.ndarray else np.shape(x)
    if grad.shape != shape:
        raise ObjectiveError(f"gradient has shape {grad.shape}, expected {shape}")
    if not np.isfinite(grad).all():
        raise ObjectiveError(f"gradient is not finite at x={np.asarray(x).tolist()}")
    return grad


def _checked_hessian(raw: Any, x: np.ndarray) -> np.ndarray:
    """``raw`` as a finite ``(d, d)`` float array."""
    hessian = _float_array(raw, "hessian")
    d = np.size(x)
    if hessian.shape != (d, d):
        raise ObjectiveError(f"hessian has shape {hessian.shape}, expected {(d, d)}")
    if not np.isfinite(hessian).all():
        raise ObjectiveError(f"hessian is not finite at x={np.asarray(x).tolist()}")
    return hessian


def _float_array(raw: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(raw)
    except (TypeError, ValueError):
        raise ObjectiveError(f"{what} is {_described(raw)}, not an array of numbers") from None
    if array.dtype.kind == "O":  # None, or a sequence numpy could not make numbers of
        raise ObjectiveError(f"{what} is {_described(raw)}, not an array of numbers")
    if array.dtype.kind not in "iuf":
        raise ObjectiveError(f"{what} holds {array.dtype} values, not real numbers")
    return array.astype(float, copy=False)


def load_callable(spec: str, base_dir: str | Path | None = None, key: str = "objective") -> Any:
    """Import a callable named by ``"package.module:function"`` or ``"path/file.py:function"``.

    Only the named module or file is imported, nothing else a config holds: relative file
    paths are resolved against ``base_dir`` (the directory of the config file) only, or the
    current directory when there is no ``base_dir``; the file's folder is not put on
    ``sys.path`` (so it cannot shadow other modules); module names must be plain dotted names
    (no relative imports) and are looked up, like the imports the named file makes, with the
    current directory left off ``sys.path`` (``python -m`` and interactive sessions put it
    there), so a same-named file in the current or output folder is never imported by
    accident; and the attribute path may not pass through private or special names (``_x``,
    ``__class__``), so a spec cannot reach beyond what the module offers publicly.

    Parameters
    ----------
    spec : str
        ``"module:attr"`` or ``"file.py:attr"``; ``attr`` may be dotted (``"mod:Class.method"``).
    base_dir : str or Path, optional
        Directory that relative file paths are resolved against first.
    key : str
        Config key named in error messages.

    Raises
    ------
    ProblemError
        When the spec is malformed, the module or file cannot be imported, or the attribute
        is missing or not callable.

    Examples
    --------
    >>> load_callable("math:sqrt")(9.0)
    3.0
    """
    if not isinstance(spec, str) or spec.count(":") != 1 or spec.startswith(":") or spec.endswith(
        ":"
    ):
        raise ProblemError(
            f"{key}={spec!r} is not of the form 'package.module:function' or "
            "'path/to/file.py:function'; write e.g. 'examples/objectives.py:himmelblau'"
        )
    target, attr = spec.split(":")
    parts = attr.split(".")
    bad = [part for part in parts if not part.isidentifier() or part.startswith("_")]
    if bad:
        raise ProblemError(
            f"{key}={spec!r}: {bad[0]!r} is not allowed in the attribute path {attr!r}; name "
            "a public function (or Class.method) of the module, e.g. 'objectives.py:himmelblau'"
        )
    if target.endswith(".py") or "/" in target or "\\" in target:
        module = _import_file(target, base_dir, key)
    else:
        if not all(part.isidentifier() for part in target.split(".")):
            raise ProblemError(
                f"{key}={spec!r}: {target!r} is not a module name (dotted identifiers such as "
                "'package.module'; relative imports are not allowed); give an installed module "
                "or a file path such as 'objectives.py:function'"
            )
        try:
            with _CurrentDirOffPath():
                module = importlib.import_module(target)
        except ImportError as exc:
            raise ProblemError(
                f"{key}={spec!r}: module {target!r} cannot be imported ({exc}); install it, "
                "or give a file path such as 'objectives.py:function' (module names are not "
                "looked up in the current folder)"
            ) from None
        except Exception as exc:  # the module itself fails while importing
            raise ProblemError(
                f"{key}={spec!r}: importing module {target!r} failed with "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    obj: Any = module
    for part in parts:
        if not hasattr(obj, part):
            names = sorted(n for n in dir(module) if not n.startswith("_"))
            raise ProblemError(
                f"{key}={spec!r}: {target!r} has no attribute {attr!r}; "
                f"it defines: {', '.join(names[:20]) or 'nothing public'}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise ProblemError(f"{key}={spec!r} names {type(obj).__name__} object, not a callable")
    return obj


class _CurrentDirOffPath:
    """Leave the current directory (``''``, ``'.'`` or its path) off ``sys.path`` inside;
    put those entries back where they were afterwards (what the import added stays)."""

    def __enter__(self) -> None:
        import os

        cwd = os.path.realpath(os.getcwd())
        self.removed = [(i, p) for i, p in enumerate(sys.path)
                        if p in ("", ".") or os.path.realpath(p) == cwd]
        for i, _ in reversed(self.removed):
            del sys.path[i]

    def __exit__(self, *exc: object) -> None:
        for i, p in self.removed:
            sys.path.insert(i, p)


def _import_file(target: str, base_dir: str | Path | None, key: str) -> Any:
    # Relative to the config's folder only: falling back to the current directory would
    # import a same-named file from wherever the command runs (e.g. the output folder).
    candidates = [Path(base_dir) / target if base_dir is not None and not Path(
        target).is_absolute() else Path(target)]
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        tried = ", ".join(str(c) for c in candidates)
        raise ProblemError(f"{key}: file {target!r} not found (looked at {tried})")
    path = path.resolve()
    # A stable module name per file lets pickled functions refer to it on workers; the hash
    # of the full path keeps two files of the same name in different places apart.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    module_name = f"_objective_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec_obj = importlib.util.spec_from_file_location(module_name, path)
    if spec_obj is None or spec_obj.loader is None:
        raise ProblemError(f"{key}: {path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec_obj)
    sys.modules[module_name] = module
    try:
        with _CurrentDirOffPath():
            spec_obj.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise ProblemError(
            f"{key}: importing {path} failed with {type(exc).__name__}: {exc}"
        ) from exc
    # Workers cannot import this file by name, so functions from it travel by value.
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    return module
