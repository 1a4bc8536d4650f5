"""What every local solve of one problem with one set of options shares: :class:`SolveSetup`.

The solver may work in other coordinates than the user's: the unit box ``z = (x - lower) /
width`` when bound widths differ a lot (:func:`uses_scaling`). The setup holds that choice,
the bounds in the solver's coordinates, where Nelder-Mead's first simplex goes, and the
arguments of :func:`scipy.optimize.minimize` that are the same for every start. The sign of a
maximization is not here: the problem's ``minimized*`` methods apply it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import Bounds

from engine.fitting.residuals import residual_model
from engine.local.least_squares import solver_arguments
from engine.local.methods import METHODS, MethodInfo, choose_method, is_least_squares
from engine.options import LocalOptions
from engine.problem import Problem

if TYPE_CHECKING:
    from engine.local.objective import SolverObjective

# Bound widths differing by more than this factor are solved in unit-box coordinates.
BADLY_SCALED_RATIO = 10.0

# A method scipy knows but the table does not (none today): assume it takes bounds.
_UNLISTED = MethodInfo(bounds=True)

# The dtype every solver array has; dtypes of builtin types are singletons, so `is` works.
_FLOAT = np.dtype(float)


#: Boxes wider than this are solved in unit-box coordinates (see :func:`uses_scaling`).
WIDE_BOX = 20.0


def uses_scaling(problem: Problem, opts: LocalOptions) -> bool:
    """Whether the solve runs in unit-box coordinates.

    Not with constraints (the user wrote them in their own coordinates), nor with a Hessian
    given as a ``HessianUpdateStrategy``. ``opts.scale=None`` scales when the widest bound is
    more than :data:`BADLY_SCALED_RATIO` times the narrowest and the unit box is measured to
    be the better conditioned (:func:`unit_box_is_better_conditioned`), or, for a method that
    uses a
    gradient, wider than :data:`WIDE_BOX`: a solver's absolute gradient tolerance (L-BFGS-B's
    1e-5) stops a descent ``~1e-5 width^2 / f_range`` from the minimum in the user's units,
    which passes the merge tolerance (1e-4 of the width) for boxes wider than about 20 when
    ``f`` varies by about 1 over the box; in the unit box the stop is ``~1e-5 / f_range`` of
    the width, whatever it is.

    Examples
    --------
    >>> p = Problem.create(lambda x: 0.0, [(0, 1), (0, 1000)])
    >>> uses_scaling(p, LocalOptions()), uses_scaling(p, LocalOptions(scale=False))
    (True, False)
    >>> steep = Problem.create(lambda x: 1000 * (x[0] - 1) ** 2 + (x[1] - 1) ** 2,
    ...                        [(0, 0.002), (-1000, 1000)])
    >>> uses_scaling(steep, LocalOptions())  # the unit box would stretch x1 a millionfold
    False
    """
    if problem.constraints or not (
            problem.hess is None or callable(problem.hess) or isinstance(problem.hess, str)):
        return False
    if is_least_squares(opts.method):
        # Its tolerances are relative (to x and to the cost) and its trust region is
        # scaled by the Jacobian's columns (x_scale): only scaled on request.
        return bool(opts.scale)
    if opts.scale is None:
        widest = problem.width.max()
        if widest > BADLY_SCALED_RATIO * problem.width.min():
            # Per-axis scaling changes the problem's conditioning, for better when the bounds
            # follow each variable's scale and for worse when a narrow bound only cuts a
            # steep axis short (issue 15): measured, not assumed.
            return unit_box_is_better_conditioned(problem)
        # Derivative-free methods stop on absolute step and value tolerances, which in the
        # user's units are finer than the merge needs; only gradient tolerances misjudge a
        # wide box.
        uses_gradient = METHODS.get(opts.method, _UNLISTED).uses_jac
        return bool(uses_gradient and widest > WIDE_BOX)
    return bool(opts.scale)


#: Step of the conditioning probe, as a fraction of each bound's width.
CONDITIONING_STEP = 0.01

def unit_box_is_better_conditioned(problem: Problem) -> bool:
    """Whether the objective's curvature is more even across axes in the unit box.

    ``2 d + 1`` evaluations: the box centre and a step of :data:`CONDITIONING_STEP` of each
    width either way along each axis. The second difference ``c_i`` along axis ``i`` is the
    curvature in unit-box coordinates (times ``h^2``); in the user's it is ``c_i / width_i^2``.
    The unit box is chosen when its curvatures spread over fewer orders of magnitude (ties,
    flat or failed probes: the unit box, the rule for bounds a decade apart before measuring).
    On ``1000 (x0 - 1)^2 + (x1 - 1)^2`` over ``[0, 0.002] x [-1000, 1000]`` the curvatures
    spread 1e3 in the user's units and 1e9 in the unit box, where SLSQP and COBYLA stopped
    far from the minimum and L-BFGS-B took 4 times the evaluations.

    Examples
    --------
    >>> p = Problem.create(lambda x: float((x[0] - 5e-4) ** 2 * 1e6 + (x[1] - 3) ** 2),
    ...                    [(0, 1e-3), (0, 10)])
    >>> unit_box_is_better_conditioned(p)
    True

    A run measures once, when its options are resolved (:func:`engine.api.resolve_spec`), and
    sends the answer to the workers as ``scale=True``/``False``, so no chunk measures again.
    """
    width = problem.width
    if not np.isfinite(width).all() or problem.dim < 2:
        return True
    centre = problem.lower + width / 2
    steps = np.diag(CONDITIONING_STEP * width)
    points = np.vstack([centre, centre + steps, centre - steps])
    try:
        values = problem.minimized_many(points)
    except Exception:  # the solves will meet it and report it
        return True
    if not np.isfinite(values).all():
        return True
    dim = problem.dim
    curvature = np.abs(values[1:dim + 1] + values[dim + 1:] - 2 * values[0])
    if not (curvature > 0).all():
        return True

    def spread(c: np.ndarray) -> float:
        return float(np.log10(c.max()) - np.log10(c.min()))

    return spread(curvature) <= spread(curvature / width ** 2)


def box_simplex(x0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                fraction: float = 0.05) -> np.ndarray:
    """Nelder-Mead's first simplex: ``x0`` and one step of ``fraction`` of the box per axis.

    scipy's default steps 5% of each coordinate's value (0.00025 for a zero one), so a start
    near the origin gets a simplex too small to see past noise or a flat region and
    "converges" where it began; steps sized by the bounds mean the same everywhere. A step
    that would leave the box is taken the other way.

    Examples
    --------
    >>> box_simplex(np.array([0.0, 9.9]), np.zeros(2), 10 * np.ones(2))
    array([[0. , 9.9],
           [0.5, 9.9],
           [0. , 9.4]])
    """
    x0 = np.asarray(x0, dtype=float)
    step = fraction * (np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float))
    step = np.where(x0 + step > upper, -step, step)
    return np.vstack([x0, x0 + np.diag(step)])


def simplex_at(simplex: Any, x0: np.ndarray, lower: np.ndarray,
               upper: np.ndarray) -> np.ndarray:
    """The simplex ``simplex`` moved so that its first vertex is ``x0``, clipped to the box.

    Examples
    --------
    >>> simplex_at([[0, 0], [1, 0], [0, 1]], np.array([2.0, 2.0]), np.zeros(2), 2.5 * np.ones(2))
    array([[2. , 2. ],
           [2.5, 2. ],
           [2. , 2.5]])
    """
    shape = np.asarray(simplex, dtype=float)
    return np.clip(np.asarray(x0, dtype=float) + (shape - shape[0]), lower, upper)


@dataclass(frozen=True, eq=False)
class SolveSetup:
    """The coordinates, bounds and fixed scipy arguments of the solves of one problem.

    Built once per chunk of starts with :meth:`of` (per start it cost as much as a cheap solve).

    Attributes
    ----------
    method : str
        The scipy method.
    scaled : bool
        The solver works in unit-box coordinates ``z = (x - offset) / width``.
    clip : bool
        Points mapped back to the user's coordinates are clipped to the box: a bounded solver
        keeps ``z`` inside, but ``offset + width * z`` can round just past a bound.
    offset, width : numpy.ndarray
        The map between the coordinates (zeros and ones when not scaled).
    lower, upper : numpy.ndarray
        The box in the user's coordinates.
    solver_lower, solver_upper : numpy.ndarray
        The box in the solver's coordinates.
    bounds : scipy.optimize.Bounds or None
        What the solver is given as bounds (None for methods that take none).
    gradient : {'with_value', 'separate', 'residual_jac', ''}
        How the solver gets the gradient: from ``fun`` (``jac=True``), from ``jac``, from the
        residuals' Jacobian function (a least-squares method), or not from the problem
        (finite differences, or a scheme name such as ``'2-point'``).
    hessian : bool
        The solver calls the problem's Hessian function.
    fixed : dict
        Arguments of :func:`scipy.optimize.minimize` that every start shares.

    Examples
    --------
    >>> p = Problem.create(lambda x: float(x @ x), [(-1, 1), (0, 100)])
    >>> setup = SolveSetup.of(p, LocalOptions(scale=True))
    >>> setup.scaled, setup.to_solver(np.array([0.0, 50.0])).tolist()
    (True, [0.5, 0.5])
    """

    method: str
    scaled: bool
    clip: bool
    offset: np.ndarray
    width: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    solver_lower: np.ndarray
    solver_upper: np.ndarray
    bounds: Bounds | None
    gradient: str
    hessian: bool
    fixed: dict[str, Any]

    @classmethod
    def of(cls, problem: Problem, opts: LocalOptions, *, bounded: bool | None = None,
           gradient: bool = True) -> SolveSetup:
        """The setup of ``problem`` solved with ``opts``.

        Parameters
        ----------
        problem : Problem
            The problem; a box that is not finite (bounds unknown) is solved unscaled and
            unbounded.
        opts : LocalOptions
            Method, scipy ``options`` and ``tol``, and ``scale``.
        bounded : bool, optional
            Give the solver the bounds (default: when the method takes them). ``False`` lets
            Powell's line searches bracket outward from the start instead of scanning the
            whole box (the end point may then lie outside it).
        gradient : bool
            Give the solver the problem's gradient (``jac`` callable or ``jac=True``);
            ``False`` makes it estimate one by finite differences, for a gradient that is
            under suspicion.
        """
        if opts.method == "auto":  # resolved here only for a solve made outside a run
            opts = replace(opts, method=choose_method(problem, opts.noisy)[0])
        info = METHODS.get(opts.method, _UNLISTED)
        finite = bool(np.isfinite(problem.width).all())  # inf where a bound is not finite
        scaled = finite and uses_scaling(problem, opts)
        offset = problem.lower if scaled else np.zeros(problem.dim)
        width = problem.width if scaled else np.ones(problem.dim)
        solver_lower, solver_upper = (problem.lower - offset) / width, (
            problem.upper - offset) / width
        model = residual_model(problem)
        if bounded is None:
            bounded = info.bounds and (model is None or model.bounded)
        bounds = Bounds(solver_lower, solver_upper) if finite and bounded else None
        mode = ""
        if info.least_squares:
            mode = "residual_jac" if gradient and model and callable(model.jac) else ""
        elif gradient and problem.jac is True:
            mode = "with_value"
        elif gradient and callable(problem.jac):
            mode = "separate"
        return cls(method=opts.method, scaled=scaled, clip=scaled and bounds is not None,
                   offset=offset, width=width, lower=problem.lower, upper=problem.upper,
                   solver_lower=solver_lower, solver_upper=solver_upper, bounds=bounds,
                   gradient=mode, hessian=info.uses_hess and callable(problem.hess),
                   fixed=_fixed_arguments(problem, opts, info, bounds))

    @property
    def finite(self) -> bool:
        """Whether the box is finite (it is, unless the bounds are unknown)."""
        return bool(np.isfinite(self.solver_upper - self.solver_lower).all())

    def to_user(self, z: np.ndarray) -> np.ndarray:
        """A point in the solver's coordinates, in the user's (inside the box when clipped)."""
        if not self.scaled:
            # The user's function sees the solver's own array, as with scipy directly (every
            # call's few microseconds of wrapping count against objectives that cost less than
            # a millisecond).
            if type(z) is np.ndarray and z.dtype is _FLOAT:
                return z
            return np.asarray(z, dtype=float)
        x = self.offset + self.width * np.asarray(z, dtype=float)
        if self.clip:  # maximum/minimum in place: a third of np.clip's time on small arrays
            np.minimum(np.maximum(x, self.lower, out=x), self.upper, out=x)
        return x

    def to_solver(self, x: np.ndarray) -> np.ndarray:
        """A point (or simplex) in the user's coordinates, in the solver's (a new array)."""
        if not self.scaled:
            return np.array(x, dtype=float)
        return (np.asarray(x, dtype=float) - self.offset) / self.width

    def arguments(self, objective: SolverObjective, x0: np.ndarray,
                  z0: np.ndarray | None = None) -> dict[str, Any]:
        """Keyword arguments of :func:`scipy.optimize.minimize` for a solve from ``x0``.

        ``z0`` is the start in the solver's coordinates when the caller has it already (a
        restart from the solver's own end point); ``x0`` is then that point in the user's.
        """
        kwargs = dict(self.fixed)
        kwargs["x0"] = self.to_solver(x0) if z0 is None else z0
        if is_least_squares(self.method):
            kwargs["fun"] = objective.residuals
            if self.gradient == "residual_jac":
                kwargs["jac"] = objective.residual_jacobian
            return kwargs
        if self.gradient == "with_value":
            kwargs["fun"], kwargs["jac"] = objective.fun_and_grad, True
        else:
            kwargs["fun"] = objective.fun
            if self.gradient == "separate":
                kwargs["jac"] = objective.jac
        if self.hessian:
            kwargs["hess"] = objective.hess
        options = self.fixed.get("options")
        simplex = self._simplex(x0)
        if simplex is not None:
            kwargs["options"] = {**(options or {}), "initial_simplex": simplex}
        elif options:
            kwargs["options"] = dict(options)  # each solve its own: scipy may fill in defaults
        return kwargs

    def _simplex(self, x0: np.ndarray) -> np.ndarray | None:
        """Nelder-Mead's ``initial_simplex`` moved to start at ``x0``, in solver coordinates.

        scipy uses an ``initial_simplex`` as given and ignores ``x0``, so every start would
        begin at the same simplex; the shape of the user's simplex is kept and its first
        vertex put at this start (clipped to the bounds).
        """
        options = self.fixed.get("options") or {}
        if "initial_simplex" in options:
            moved = simplex_at(options["initial_simplex"], x0, self.lower, self.upper)
        elif self.method == "Nelder-Mead" and self.finite:
            moved = box_simplex(x0, self.lower, self.upper)
        else:
            return None
        return self.to_solver(moved)


def _fixed_arguments(problem: Problem, opts: LocalOptions, info: MethodInfo,
                     bounds: Bounds | None) -> dict[str, Any]:
    """The arguments of every solve that do not depend on the start or the objective wrapper.

    No ``args``: the problem passes its own to ``fun``, ``jac`` and ``hess``. A least-squares
    method gets :func:`scipy.optimize.least_squares`'s keywords instead (the loss from the
    problem's residual model, the tolerances from ``options`` and ``tol``).
    """
    model = residual_model(problem)
    if info.least_squares and model is not None:
        kwargs = {"method": opts.method, "loss": model.loss, "f_scale": model.f_scale,
                  **solver_arguments(opts.options or {}, opts.tol)}
        if isinstance(model.jac, str):
            kwargs["jac"] = model.jac
        if bounds is not None:
            kwargs["bounds"] = bounds
        return kwargs
    kwargs: dict[str, Any] = {"method": opts.method, "tol": opts.tol}
    if isinstance(problem.jac, str) and info.uses_jac:
        kwargs["jac"] = problem.jac  # a finite-difference scheme, e.g. '2-point'
    if info.uses_hess and problem.hess is not None and not callable(problem.hess):
        kwargs["hess"] = problem.hess  # a scheme name or a HessianUpdateStrategy
    if bounds is not None:
        kwargs["bounds"] = bounds
    if problem.constraints:
        kwargs["constraints"] = list(problem.constraints)
    if opts.options:
        kwargs["options"] = dict(opts.options)
    return kwargs
