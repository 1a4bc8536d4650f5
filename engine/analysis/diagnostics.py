"""Why runs failed or stalled, and what to change: :func:`diagnose`.

A :class:`Diagnosis` is a list of :class:`Finding` objects, each saying what was seen (with
the numbers) and what to do about it. From the result alone it reports failure causes
(iteration and evaluation limits, line-search breakdowns, NaN/inf, exceptions by type,
time-outs, points outside the bounds; Nelder-Mead outcomes as ``fmin``'s ``warnflag``), badly
scaled bounds and signs of flat regions. Given the objective it also checks flat regions by
evaluating between minima, re-solves the best minima with a tight tolerance, and, given the
gradient, compares it with finite differences.

Examples
--------
>>> import engine
>>> from engine.analysis.diagnostics import diagnose
>>> f = lambda x: float((x[0] ** 2 - 1) ** 2 + (x[1] - 500) ** 2 / 1e6)
>>> res = engine.minimize(f, [(-2, 2), (0, 5000)], n_starts=16, seed=0, client="serial")
>>> [d.kind for d in diagnose(res).findings]
['badly_scaled']
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import approx_fprime, check_grad

from engine.analysis.fit import fit_finding, residual_problem
from engine.analysis.settings import RunSettings
from engine.fitting.residuals import Residuals
from engine.local.methods import LEAST_SQUARES_METHODS
from engine.local.setup import SolveSetup, uses_scaling
from engine.local.solve import NOT_STATIONARY, solve_one
from engine.options import LocalOptions
from engine.problem import Problem
from engine.results.types import LocalRun, Minimum, MultistartResult

Severity = Literal["info", "warning"]

#: Bound widths further apart than this factor are reported as badly scaled.
SCALE_RATIO = 1e3
#: A run solved in the unit box is warned to try its user units when at least this share of
# its local runs reported convergence at points that were not stationary.
SCALING_HURT_SHARE = 0.05
#: Share of successful runs ending at minima no other run reached that suggests a flat region.
UNREPEATED_SHARE = 0.2
#: Relative gradient error (analytic vs finite differences) above which ``jac`` is flagged.
GRAD_RTOL = 1e-3
#: Tolerance of the re-solves made by the tolerance and flat-region checks.
TIGHT_TOL = 1e-12

# Option names of each method's evaluation limit (the iteration limit is 'maxiter' for all).
_EVAL_OPTION = {"L-BFGS-B": "maxfun", "TNC": "maxfun", "Nelder-Mead": "maxfev",
                "Powell": "maxfev", "COBYQA": "maxfev", "COBYLA": "maxiter",
                "trust-constr": "maxiter"}
# Options that set a stopping tolerance; left out when re-solving with a tight ``tol``.
_TOL_OPTIONS = frozenset({"ftol", "gtol", "xtol", "xatol", "fatol", "xrtol", "tol",
                          "barrier_tol", "final_tr_radius", "rhoend", "accuracy", "eta"})

_EVALS = re.compile(r"function evaluations|F,G EVALUATIONS|MAXFUN|maxfev", re.IGNORECASE)
_ITERS = re.compile(r"iteration", re.IGNORECASE)
_LINE_SEARCH = re.compile(r"ABNORMAL|LNSRCH|line ?search|precision loss|directional derivative",
                          re.IGNORECASE)
_NONFINITE = re.compile(r"returned (nan|inf|-inf)\b|not finite", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One thing :func:`diagnose` noticed.

    Attributes
    ----------
    kind : str
        What kind of finding: ``max_iterations``, ``max_evaluations``, ``line_search``,
        ``nonfinite``, ``exception``, ``timeout``, ``outside_bounds``, ``not_stationary``,
        ``other_failure``,
        ``warnflag`` (Nelder-Mead), ``badly_scaled``, ``flat_region``, ``gradient_check``,
        ``tolerance``, ``coverage``, ``fit`` (a least-squares fit: rank, condition number,
        unidentifiable parameters and standard errors at the best point).
    severity : {'info', 'warning'}
        ``warning`` when results are likely wrong or incomplete because of it.
    message : str
        What was seen, with the numbers.
    fix : str
        What to do about it (empty when nothing needs doing).
    data : dict
        The numbers behind the message (JSON-safe), e.g. ``{"count": 12}``.
    """

    kind: str
    severity: Severity
    message: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"kind": self.kind, "severity": self.severity, "message": self.message,
                "fix": self.fix, "data": _jsonable(self.data)}


@dataclass(frozen=True)
class Diagnosis:
    """The findings of :func:`diagnose`, warnings first.

    Attributes
    ----------
    findings : tuple of Finding
        Everything noticed; empty when nothing looked wrong.
    method : str
        The local method of the run.
    n_runs, n_failed : int
        Local runs in the result and how many failed.
    """

    findings: tuple[Finding, ...]
    method: str = ""
    n_runs: int = 0
    n_failed: int = 0

    @property
    def warnings(self) -> list[Finding]:
        """The findings of severity ``warning``."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def kinds(self) -> list[str]:
        """The kinds of all findings, in order."""
        return [f.kind for f in self.findings]

    def find(self, kind: str) -> list[Finding]:
        """The findings of one ``kind``."""
        return [f for f in self.findings if f.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (``json.dumps`` works on it directly)."""
        return {"method": self.method, "n_runs": self.n_runs, "n_failed": self.n_failed,
                "findings": [f.to_dict() for f in self.findings]}

    def __str__(self) -> str:
        n_warn = len(self.warnings)
        head = (f"Diagnosis of {self.n_runs} runs ({self.method or 'unknown method'}, "
                f"{self.n_failed} failed): {n_warn} warning{'s' * (n_warn != 1)}, "
                f"{len(self.findings) - n_warn} note{'s' * (len(self.findings) - n_warn != 1)}")
        if not self.findings:
            return head + "\nnothing looks wrong"
        lines = [head]
        for f in self.findings:
            lines.append(f"[{f.severity}] {f.kind}: {f.message}")
            if f.fix:
                lines.append(f"    fix: {f.fix}")
        return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def _fmt(x: Sequence[float] | np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in np.asarray(x, dtype=float).ravel()) + "]"


def _pct(k: int, n: int) -> str:
    return f"{k} of {n} runs ({100.0 * k / max(n, 1):.0f}%)"


class _Box:
    """The run's bounds and the unit-box scaling used to compare points."""

    def __init__(self, result: MultistartResult) -> None:
        bounds = RunSettings.of(result).bounds
        dim = len(result.runs[0].x0) if result.runs else (
            len(result.x) if result.x is not None else 0)
        if bounds is not None:
            arr = np.asarray(bounds, dtype=float).reshape(-1, 2)
            self.lower, self.upper = arr[:, 0], arr[:, 1]
            self.known = True
        else:
            self.lower, self.upper = np.zeros(dim), np.ones(dim)
            self.known = False
        width = self.upper - self.lower
        self.width = np.where(width > 0, width, 1.0)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Largest per-coordinate distance in unit-box coordinates (as dedup measures)."""
        return float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float)) / self.width))


# ------------------------------------------------------------------ failures


def _failure_cause(run: LocalRun) -> tuple[str, str]:
    """``(kind, group)`` of a failed run; ``group`` splits exceptions by type."""
    if run.error:
        etype = run.error.split(":", 1)[0].strip()
        if etype == "TimeoutError":
            return "timeout", ""
        if _NONFINITE.search(run.error):
            return "nonfinite", ""
        return "exception", etype
    if not run.in_bounds:
        return "outside_bounds", ""
    if run.message.startswith(NOT_STATIONARY):
        return "not_stationary", ""
    if _EVALS.search(run.message):
        return "max_evaluations", ""
    if _ITERS.search(run.message):
        return "max_iterations", ""
    if _LINE_SEARCH.search(run.message):
        return "line_search", ""
    return "other_failure", ""


def _said(runs: Sequence[LocalRun]) -> tuple[str, dict[str, int]]:
    """The solver messages of ``runs`` with counts, most common first, and as text."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.message] = counts.get(run.message, 0) + 1
    ordered = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    shown = [f"{m!r}" + (f" ({k})" if len(ordered) > 1 else "")
             for m, k in list(ordered.items())[:3]]
    more = f" and {len(ordered) - 3} other messages" if len(ordered) > 3 else ""
    return ", ".join(shown) + more, ordered


def _failure_findings(result: MultistartResult, method: str) -> list[Finding]:
    groups: dict[tuple[str, str], list[LocalRun]] = {}
    for run in result.runs:
        if not run.success:
            groups.setdefault(_failure_cause(run), []).append(run)
    n = len(result.runs)
    settings = RunSettings.of(result)
    options = settings.options
    findings = []
    for (kind, group), runs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        count = len(runs)
        said, messages = _said(runs)
        data: dict[str, Any] = {"count": count, "share": count / max(n, 1),
                                "messages": messages}
        first = runs[0]
        if kind == "max_iterations":
            used = max(r.nit for r in runs)
            data["max_nit"] = used
            message = (f"{_pct(count, n)} stopped at the iteration limit ({used} iterations at "
                       f"most): {said}")
            current = options.get("maxiter")
            fix = (f"raise the limit: options={{'maxiter': {10 * int(current or used or 100)}}}"
                   f" (now {current if current is not None else 'the scipy default'}); if runs "
                   "still crawl, rescale the variables or pass an analytic jac")
        elif kind == "max_evaluations":
            used = max(r.nfev for r in runs)
            data["max_nfev"] = used
            key = _EVAL_OPTION.get(method, "maxiter")
            current = options.get(key)
            message = (f"{_pct(count, n)} stopped at the evaluation limit ({used} evaluations "
                       f"at most): {said}")
            fix = (f"raise the limit: options={{{key!r}: {10 * int(current or used or 100)}}} "
                   f"(now {current if current is not None else 'the scipy default'})")
        elif kind == "line_search":
            message = f"{_pct(count, n)} ended with a failed line search: {said}"
            fix = ("the gradient is inaccurate or the function is noisy or not smooth: pass an "
                   "analytic jac (and check it with diagnose(result, fun, jac=...)), rescale "
                   "the variables, loosen tol, or use a derivative-free method "
                   "('Nelder-Mead', 'Powell')")
        elif kind == "nonfinite":
            data["example"] = first.error
            message = (f"{_pct(count, n)} failed because the objective or its gradient was "
                       f"NaN or infinite, e.g. {first.error!r}")
            fix = ("make the objective finite everywhere inside the bounds (guard log, sqrt, "
                   "division, exp overflow) or narrow the bounds to where it is defined")
        elif kind == "exception":
            data["type"] = group
            data["example"] = first.error
            message = f"{_pct(count, n)} raised {group}: first at start {first.index}: " \
                      f"{first.error!r}"
            fix = (f"fix the objective: call it at result.runs[{first.index}].x0 = "
                   f"{_fmt(first.x0)} to reproduce the {group}")
        elif kind == "timeout":
            data["max_time"] = max(r.time for r in runs)
            message = (f"{_pct(count, n)} ran past start_timeout (up to "
                       f"{data['max_time']:.3g} s each)")
            fix = "raise start_timeout, or make one objective call cheaper"
        elif kind == "outside_bounds":
            message = (f"{_pct(count, n)} converged outside the bounds ({method} does not "
                       "keep iterates inside them)")
            fix = ("use a method that honours bounds ('L-BFGS-B', 'TNC', 'SLSQP', 'Powell', "
                   "'Nelder-Mead', 'trust-constr'), or widen the bounds if the minimum lies "
                   "beyond them")
        elif kind == "not_stationary":
            message = (f"{_pct(count, n)} reported convergence where a point 0.1% of the box "
                       f"away was clearly lower: {said}")
            fix = ("the solver stopped short in the coordinates it worked in: pass "
                   "local={'scale': False} (YAML local.scale: false) to solve in your units"
                   if settings.scaled else
                   "rescale the variables, tighten tol, or use another method")
        else:
            message = f"{_pct(count, n)} did not succeed: {said}"
            fix = "see scipy.optimize.minimize's documentation of this method's messages"
        findings.append(Finding(kind, "warning", message, fix, data))
    return findings


def _nelder_mead_settings(result: MultistartResult, dim: int) -> dict[str, Any]:
    """The stopping settings the runs used, as ``scipy.optimize.minimize`` resolves them."""
    run = RunSettings.of(result)
    options, tol = run.options, run.tol
    settings: dict[str, Any] = {}
    for key in ("xatol", "fatol"):
        # minimize(method='Nelder-Mead', tol=t) sets both absolute tolerances to t.
        settings[key] = options.get(key, tol if tol is not None else 1e-4)
    # Both limits default to 200 * n when neither is given; when one is given the other is
    # unlimited (None here), as scipy's _minimize_neldermead resolves them.
    given_iter, given_fev = options.get("maxiter"), options.get("maxfev")
    if given_iter is None and given_fev is None:
        given_iter = given_fev = 200 * max(dim, 1)
    settings["maxiter"] = given_iter
    settings["maxfev"] = given_fev
    settings["initial_simplex"] = "initial_simplex" in options
    settings["scaled"] = run.scaled
    return settings


def _warnflag_finding(result: MultistartResult, box: _Box) -> Finding | None:
    """Nelder-Mead outcomes in ``scipy.optimize.fmin`` terms: ``warnflag`` 0 (converged), 1
    (maxfun reached) or 2 (maxiter reached), with ``iter`` and ``funcalls`` of the runs and the
    ``xtol``/``ftol`` (``xatol``/``fatol``) they used."""
    groups: dict[int, list[LocalRun]] = {0: [], 1: [], 2: []}
    for run in result.runs:
        if run.error:
            continue
        if _EVALS.search(run.message):
            groups[1].append(run)
        elif _ITERS.search(run.message):
            groups[2].append(run)
        elif run.success:
            groups[0].append(run)
    if not any(groups.values()):
        return None
    settings = _nelder_mead_settings(result, box.width.size)
    stats: dict[str, Any] = {}
    for flag, runs in groups.items():
        stats[f"warnflag_{flag}"] = len(runs)
        if runs:
            stats[f"iter_{flag}"] = [min(r.nit for r in runs), max(r.nit for r in runs)]
            stats[f"funcalls_{flag}"] = [min(r.nfev for r in runs), max(r.nfev for r in runs)]
    # A start whose simplex never left it: a first simplex (the user's initial_simplex, or
    # scipy's 5% of each coordinate) can be too small to see past noise or a flat region.
    stuck = [r.index for r in groups[0]
             if box.distance(r.x, r.x0) < 1e-3 and box.width.size > 0]
    data = {**stats, **settings, "stuck_at_start": stuck}

    def spread(flag: int) -> str:
        if not groups[flag]:
            return ""
        lo_it, hi_it = stats[f"iter_{flag}"]
        lo_fc, hi_fc = stats[f"funcalls_{flag}"]
        return (f" (iter {lo_it}" + (f"-{hi_it}" if hi_it != lo_it else "") +
                f", funcalls {lo_fc}" + (f"-{hi_fc}" if hi_fc != lo_fc else "") + ")")

    message = (f"Nelder-Mead as scipy.optimize.fmin reports it: warnflag 0 (converged) at "
               f"{len(groups[0])} runs{spread(0)}, warnflag 1 (maxfun reached) at "
               f"{len(groups[1])}{spread(1)}, warnflag 2 (maxiter reached) at "
               f"{len(groups[2])}{spread(2)}; used xtol (xatol)={settings['xatol']:g}, ftol "
               f"(fatol)={settings['fatol']:g}, maxiter={settings['maxiter'] or 'unlimited'}, "
               f"maxfev={settings['maxfev'] or 'unlimited'}")
    if settings["scaled"]:
        message += " (xatol in unit-box coordinates: the solves ran there)"
    fixes = []
    if groups[1] or groups[2]:
        fixes.append("raise options={'maxiter': ..., 'maxfev': ...} (both default to 200 * n); "
                     "a simplex that keeps hitting them in many variables may do better with "
                     "'Powell' or a gradient method")
    if stuck:
        data["stuck_at_start"] = stuck[:20]
        message += (f"; {len(stuck)} converged run(s) ended within 1e-3 of the box width of "
                    f"their start (e.g. start {stuck[0]}): the first simplex was too small to "
                    "see past noise or a flat region")
        fixes.append("start from a larger simplex: options={'initial_simplex': ...} (n + 1 "
                     "vertices), or a derivative-free method that takes larger first steps "
                     "('Powell')")
    severity: Severity = "warning" if fixes else "info"
    return Finding("warnflag", severity, message, "; ".join(fixes), data)


# ------------------------------------------------------------------ scaling and flatness


def _scaling_finding(box: _Box, scaled: Any, runs: Sequence[LocalRun] = (),
                     auto: bool = False) -> Finding | None:
    """Bound widths far apart. Harmless when the solves ran in unit-box coordinates
    (``scaled`` True in the result's spec), a warning when they ran in the user's units; a
    warning too when they ran in the unit box and at least :data:`SCALING_HURT_SHARE` of the
    runs reported convergence at points that were not stationary (issue 15: a narrow bound
    that only cuts a steep axis short makes the unit box worse conditioned). ``auto``: the run
    left the choice to the engine (local scale None), which kept the user's units because the
    unit box was measured worse conditioned (or there were constraints): a note."""
    stuck = sum(1 for run in runs if run.message.startswith(NOT_STATIONARY))
    hurt = bool(scaled) and stuck > 0 and stuck >= SCALING_HURT_SHARE * len(runs)
    if not box.known or box.width.size < 2:
        return None
    widths = box.upper - box.lower
    ratio = float(widths.max() / widths.min())
    if ratio <= SCALE_RATIO and not hurt:
        return None
    small, large = int(np.argmin(widths)), int(np.argmax(widths))
    message = (f"bound widths differ by a factor {ratio:.3g}: x{small} spans "
               f"{widths[small]:.3g}, x{large} spans {widths[large]:.3g}")
    data = {"widths": widths.tolist(), "ratio": ratio, "scaled": scaled,
            "not_stationary": stuck}
    if hurt:
        return Finding("badly_scaled", "warning",
                       message + f"; the local solves ran in unit-box coordinates, where "
                       f"{_pct(stuck, len(runs))} reported convergence at points that were "
                       "not stationary: the unit box made this problem worse conditioned",
                       "pass local={'scale': False} (YAML local.scale: false) so the solver "
                       "works in your units", data)
    if scaled:
        return Finding("badly_scaled", "info",
                       message + "; the local solves ran in unit-box coordinates (local scale on),"
                       " so steps, finite differences and tolerances were scaled already", "",
                       data)
    if auto and scaled is False:
        return Finding("badly_scaled", "info",
                       message + "; the local solves ran in your units: with local scale auto "
                       "the unit box is used only where it evens out the objective's curvature "
                       "across axes (measured at the box centre), and never with constraints",
                       "if runs fail or stop short, compare with local={'scale': True}", data)
    where = ("the local solves ran in your units (local scale off, or constraints, which are "
             "solved in the coordinates they are written in)" if scaled is False else
             "the local solver's steps, finite-difference gradients and tolerances act in "
             "your units")
    fix = ("pass local={'scale': True} (YAML local.scale: true) so the solver works in the "
           "unit box, or rescale yourself: "
           "optimize u in [0, 1] with x = low + u * (high - low) inside your "
           "function (and in any constraints), so every variable has a width near 1")
    return Finding("badly_scaled", "warning", f"{message}; {where}", fix, data)


def _problem(result: MultistartResult, fun: Callable[..., Any], jac: Any,
             args: tuple[Any, ...], constraints: Any, box: _Box) -> Problem:
    """The run's problem again, from the result and the objective given to :func:`diagnose`.

    Bounds the result does not hold are taken as unbounded (the problem is validated on a
    unit box first, then widened).
    """
    dim = box.lower.size
    bounds = np.column_stack([box.lower, box.upper]) if box.known else [(0.0, 1.0)] * dim
    if isinstance(fun, Residuals):  # a least-squares problem's own model
        return Problem.create(fun, bounds, args=args)
    if RunSettings.of(result).method in LEAST_SQUARES_METHODS:  # fun gives the residuals
        return Problem.create(residual_problem(fun, jac), bounds, args=args)
    problem = Problem.create(fun, bounds, args=args, jac=jac, constraints=constraints,
                             maximize=result.maximize)
    if not box.known:
        problem = dataclasses.replace(problem, lower=np.full(dim, -np.inf),
                                      upper=np.full(dim, np.inf))
    return problem


def _resolve(result: MultistartResult, problem: Problem, x: np.ndarray,
             use_jac: bool = True) -> LocalRun:
    """Solve again from ``x`` with the run's method and coordinates and a tight tolerance.

    The problem's gradient is used when ``use_jac``; otherwise the solver estimates it by
    finite differences. The run's ``x`` lies in the box and its ``fun`` is the value there.
    """
    run = RunSettings.of(result)
    method = run.method or "L-BFGS-B"
    options = {k: v for k, v in run.options.items() if k not in _TOL_OPTIONS}
    opts = LocalOptions(method=method, options=options, tol=TIGHT_TOL, restarts=0,
                        scale=run.scaled)
    if method == "Powell" and "direc" not in options and np.isfinite(problem.width).all():
        # Powell's first line searches span the whole box and can leave the minimum's
        # basin; short first directions (in the solver's coordinates) keep it where it starts.
        width = np.ones(problem.dim) if uses_scaling(problem, opts) else problem.width
        opts = dataclasses.replace(opts, options={**options, "direc": np.diag(1e-3 * width)})
    # Powell's line searches with bounds scan the whole feasible segment and can jump to
    # another minimum of equal value; without bounds they bracket from the start outward
    # (the end point is put back in the box below, for minima on a bound).
    setup = SolveSetup.of(problem, opts, bounded=False if method == "Powell" else None,
                          gradient=use_jac)
    run = solve_one(problem, np.asarray(x, dtype=float), 0, opts, setup)
    outside = (run.x < problem.lower) | (run.x > problem.upper)
    if run.error is None and outside.any():
        end = np.clip(run.x, problem.lower, problem.upper)
        run = dataclasses.replace(run, x=end, fun=problem.evaluate(end), in_bounds=True)
    return run


def _probe(
    result: MultistartResult,
    problem: Problem,
    x: np.ndarray,
    box: _Box,
    steps: Sequence[float],
) -> str:
    """How ``f`` behaves a little way from ``x`` along each coordinate: ``'slope'`` (lower
    somewhere by more than ftol), ``'flat'`` (equal to ftol everywhere) or ``'rise'``."""
    ftol = RunSettings.of(result).ftol
    f0 = problem.minimized(x)
    tau = ftol * max(1.0, abs(f0))
    changes = []
    for i in range(x.size):
        for step in steps:
            for direction in (1.0, -1.0):
                y = np.array(x, dtype=float)
                y[i] += direction * step * box.width[i]
                if box.known and not box.lower[i] <= y[i] <= box.upper[i]:
                    continue
                changes.append(problem.minimized(y) - f0)
    if any(c < -tau for c in changes):
        return "slope"
    if changes and all(abs(c) <= tau for c in changes):
        return "flat"
    return "rise"


def _flat_findings(result: MultistartResult, problem: Problem | None,
                   box: _Box) -> list[Finding]:
    xtol = RunSettings.of(result).xtol
    ftol = RunSettings.of(result).ftol
    findings = _equal_minima_findings(result, problem, box, xtol, ftol)
    plateau_found = any(f.severity == "warning" for f in findings)
    n_ok = sum(r.success for r in result.runs)
    lonely = [m for m in result.minima if m.n_hits == 1]
    share = len(lonely) / max(n_ok, 1)
    if not (n_ok >= 5 and len(lonely) >= 3 and share > UNREPEATED_SHARE):
        return findings
    values = [m.fun for m in lonely]
    data: dict[str, Any] = {"evidence": "unrepeated_ends", "count": len(lonely),
                            "successful": n_ok, "share": share,
                            "f_range": [min(values), max(values)]}
    message = (f"{len(lonely)} of {n_ok} successful runs ({100 * share:.0f}%) ended at "
               f"points no other run reached (f from {min(values):.6g} to {max(values):.6g})")
    severity: Severity = "warning"
    fix = ("on a plateau gradient methods stop wherever the slope falls below their "
           "tolerance: tighten it (tol=1e-12, or options such as gtol/ftol), use "
           "'Nelder-Mead' or 'Powell', or reshape the objective (e.g. a log or a steeper "
           "transform) so the slope does not vanish; if the function truly has this many "
           "minima, use more starts")
    if problem is None:
        message += ": a flat region (plateau) or far more minima than starts"
        findings.insert(0, Finding("flat_region", severity, message, fix, data))
        return findings
    steps = (10 * xtol, 100 * xtol)
    outcome = {"slope": 0, "flat": 0, "rise": 0}
    for m in lonely[:10]:
        try:
            outcome[_probe(result, problem, np.asarray(m.x, float), box, steps)] += 1
        except Exception:  # the objective's own failures are reported elsewhere
            continue
    data.update({f"probe_{k}": v for k, v in outcome.items()})
    checked = sum(outcome.values())
    near = f"{steps[0]:g} and {steps[1]:g} of the box width away along each coordinate"
    if outcome["slope"]:
        message += (f"; at {outcome['slope']} of {checked} of them f still falls by more than "
                    f"ftol={ftol:g} at {near}: the solver stopped on a slope too shallow for "
                    "its tolerance (a plateau)")
    elif outcome["flat"]:
        if plateau_found:  # the equal-minima check already reports this region
            return findings
        message += (f"; around {outcome['flat']} of {checked} of them f stays within "
                    f"ftol={ftol:g} at {near}: they lie on a flat region")
        fix = ("the minimum is not unique there: report the region rather than one point, "
               "add a regularising term if one point is needed, or fix a redundant parameter")
    elif checked:
        if plateau_found:
            return findings
        severity = "info"
        message += (f"; f rises around all {checked} checked ({near}), so they are genuine "
                    "minima")
        fix = "the function has more minima than the starts found twice: use more starts"
    findings.insert(0, Finding("flat_region", severity, message, fix, data))
    return findings


def _equal_value_groups(minima: Sequence[Minimum], ftol: float) -> list[list[Minimum]]:
    """Minima whose values agree with the group's lowest to ``ftol * max(1, |f|)`` (dedup's
    f test)."""
    ordered = sorted((m for m in minima if math.isfinite(m.fun)), key=lambda m: m.fun)
    groups: list[list[Minimum]] = []
    for m in ordered:
        if groups and abs(m.fun - groups[-1][0].fun) <= ftol * max(1.0, abs(m.fun)):
            groups[-1].append(m)
        else:
            groups.append([m])
    return groups


def _equal_minima_findings(
    result: MultistartResult,
    problem: Problem | None,
    box: _Box,
    xtol: float,
    ftol: float,
) -> list[Finding]:
    """Distinct minima with the same value spread over the box: one plateau, or symmetric
    copies of one minimum? With ``fun``, the value between neighbours decides."""
    findings = []
    for group in _equal_value_groups(result.minima, ftol):
        if len(group) < (2 if problem is not None else 3):
            continue
        xs = np.array([m.x for m in group], dtype=float)
        spread = float(np.max((xs.max(axis=0) - xs.min(axis=0)) / box.width))
        if spread <= 10 * xtol:
            continue
        level = group[0].fun
        data: dict[str, Any] = {"evidence": "equal_minima", "count": len(group), "f": level,
                                "spread": spread}
        head = (f"{len(group)} distinct minima share the value f={level:.10g} (to ftol="
                f"{ftol:g}) while spread over {spread:.3g} of the box width")
        if problem is None:
            findings.append(Finding(
                "flat_region", "info",
                head + ": a flat region, or symmetric copies of one minimum",
                "pass fun= to diagnose: it evaluates f between the minima to tell which", data))
            continue
        flat = checked = 0
        for a in range(min(len(group), 20)):
            dist = [box.distance(xs[a], xs[b]) if b != a else np.inf for b in range(len(xs))]
            b = int(np.argmin(dist))
            try:
                mid = problem.evaluate(0.5 * (xs[a] + xs[b]))
            except Exception:
                continue
            checked += 1
            if abs(mid - level) <= ftol * max(1.0, abs(level)):
                flat += 1
        data.update({"midpoints_checked": checked, "midpoints_flat": flat})
        if checked and flat * 2 > checked:
            findings.append(Finding(
                "flat_region", "warning",
                head + f"; f midway between neighbours equals it too at {flat} of {checked} "
                "pairs: they lie on one flat region (plateau or valley floor)",
                "the minimum is not unique: report the region (e.g. the range of the minima's "
                "x), add a regularising term if one point is needed, or fix the redundant "
                "parameter", data))
    return findings


# ------------------------------------------------------------------ checks that call fun


def _check_points(result: MultistartResult, n: int = 3) -> list[np.ndarray]:
    """The best ``n`` minima and the start each was first reached from."""
    runs = {r.index: r for r in result.runs}
    points = [np.asarray(m.x, dtype=float) for m in result.minima[:n]]
    for m in result.minima[:n]:
        if m.starts and m.starts[0] in runs:
            points.append(np.asarray(runs[m.starts[0]].x0, dtype=float))
    return points


def _gradient_finding(result: MultistartResult, problem: Problem) -> Finding | None:
    """``jac`` (or the gradient ``fun`` returns) against finite differences of ``fun``."""
    f, g = problem.evaluate, problem.gradient
    points = _check_points(result) or [np.asarray(r.x0, dtype=float) for r in result.runs[:3]]
    errors, scales, worst = [], [], None
    for x in points:
        step = np.sqrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                err = float(check_grad(f, g, x, epsilon=step))
                numeric = approx_fprime(x, f, step)
                analytic = g(x)
            except Exception as exc:
                return Finding("gradient_check", "warning",
                               f"jac could not be checked at {_fmt(x)}: "
                               f"{type(exc).__name__}: {exc}",
                               "jac(x, *args) must return an array of the shape of x")
        errors.append(err)
        scales.append(max(float(np.linalg.norm(numeric)), float(np.linalg.norm(analytic))))
        if worst is None or err > worst[0]:
            worst = (err, x, analytic, numeric)
    if worst is None:
        return None
    scale = max(max(scales), 1e-12)
    rel = max(errors) / scale
    _, x, analytic, numeric = worst
    data = {"relative_error": rel, "points": len(points), "x": x, "analytic": analytic,
            "numeric": numeric}
    seen = (f"at {len(points)} points (best minima and their starts), |jac - finite "
            f"differences| is at most {rel:.2g} of the gradient scale {scale:.3g}")
    if rel <= GRAD_RTOL:
        return Finding("gradient_check", "info", f"jac agrees with finite differences {seen}",
                       "", data)
    return Finding(
        "gradient_check", "warning",
        f"jac disagrees with finite differences {seen}; worst at x={_fmt(x)}: analytic "
        f"{_fmt(analytic)} vs numeric {_fmt(numeric)}",
        "fix jac (a sign, a factor or a missing term; compare component by component), or "
        "drop it to let the solver use finite differences", data)


def _tolerance_finding(result: MultistartResult, problem: Problem, box: _Box,
                       gradient_ok: bool) -> Finding | None:
    if not result.minima:
        return None
    xtol = RunSettings.of(result).xtol
    ftol = RunSettings.of(result).ftol
    rows = []
    for rank, m in enumerate(result.minima[:3], start=1):
        try:
            run = _resolve(result, problem, m.x, gradient_ok)
            error = run.error
        except Exception as exc:  # the objective failed at the end point put back in the box
            error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            return Finding("tolerance", "info", f"could not re-solve minimum {rank}: {error}",
                           "", {})
        x_new, f_new = run.x, run.fun
        dx = box.distance(x_new, m.x)
        df = abs(f_new - m.fun) / max(1.0, abs(m.fun))
        rows.append({"rank": rank, "dx": dx, "df": df, "x": x_new, "f": f_new})
    data = {"moves": rows, "xtol": xtol, "ftol": ftol}
    stated = _solver_x_tolerance(result, box)
    if stated is not None and stated[1] > xtol:
        name, unit = stated
        data["solver_xtol"] = unit
        return Finding(
            "tolerance", "warning",
            f"the solver stops once its steps are below {name} ({unit:.3g} of the box), "
            f"looser than the dedup xtol={xtol:g}: two runs into the same minimum can end "
            "farther apart than xtol and be counted as two minima",
            f"tighten the solver ({name} <= {xtol:g} of the box width) or loosen the dedup "
            f"xtol to at least {unit:.2g}", data)
    dx_max = max(r["dx"] for r in rows)
    df_max = max(r["df"] for r in rows)
    seen = (f"re-solving the best {len(rows)} minima with tol={TIGHT_TOL:g} moved them by up "
            f"to {dx_max:.3g} in x (unit box) and {df_max:.3g} in f (relative)")
    moved = [r["rank"] for r in rows if r["dx"] > xtol or r["df"] > ftol]
    if not moved:
        return Finding("tolerance", "info",
                       f"{seen}: within the dedup tolerances (xtol={xtol:g}, ftol={ftol:g})",
                       "", data)
    return Finding(
        "tolerance", "warning",
        f"{seen}: more than the dedup tolerances (xtol={xtol:g}, ftol={ftol:g}) for minima "
        f"{', '.join(map(str, moved))}, so the solver stopped before it converged that far "
        "and one minimum may be counted as several",
        "tighten the solve: tol=1e-10 (or gtol/ftol options), local={'restarts': 2}, or an "
        "analytic jac; or loosen dedup={'xtol': ..., 'ftol': ...} to the accuracy the solver "
        "reaches", data)


# Step tolerances of the solvers that stop on the size of a step (scipy's defaults).
# (Powell is not here: its xtol only ends each line search; it stops on ftol.)
_X_TOLERANCES = {"Nelder-Mead": ("xatol", 1e-4), "trust-constr": ("xtol", 1e-8),
                 "COBYLA": ("tol", 1e-4), "COBYQA": ("final_tr_radius", 1e-6)}


def _solver_x_tolerance(result: MultistartResult, box: _Box) -> tuple[str, float] | None:
    """The solver's step tolerance as ``(option name, fraction of the box)``, if it has one.

    The value is in the solver's coordinates: the unit box when the run was scaled, the
    user's units otherwise (then taken relative to the narrowest bound).
    """
    run = RunSettings.of(result)
    method = run.method
    if method not in _X_TOLERANCES or not box.known:
        return None
    name, default = _X_TOLERANCES[method]
    options, tol = run.options, run.tol
    value = options.get(name, default if tol is None else tol)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if not run.scaled:  # in the user's units
        value = value / float(np.min(box.width))
    return name, value


def _coverage_finding(result: MultistartResult) -> Finding | None:
    if len(result.minima) < 2 or result.minima[0].n_hits != 1:
        return None
    n_ok = sum(r.success for r in result.runs)
    return Finding(
        "coverage", "info",
        f"the best minimum was reached by 1 of {n_ok} successful runs: its basin is small, so "
        "a better one may have been missed",
        "run more starts (e.g. 4x) and see whether the best value changes",
        {"best_hits": 1, "successful": n_ok})


# ------------------------------------------------------------------ entry point


def diagnose(
    result: MultistartResult,
    fun: Callable[..., Any] | None = None,
    jac: Any = None,
    args: tuple[Any, ...] = (),
    *,
    constraints: Any = (),
) -> Diagnosis:
    """Explain why runs failed or stalled and what to change.

    Parameters
    ----------
    result : MultistartResult
        A finished (or loaded) run; its ``spec`` gives the bounds, method, options and the
        dedup tolerances.
    fun : callable, optional
        The objective ``fun(x, *args)`` (for a :func:`engine.least_squares` run, the
        residual function). Enables the checks that evaluate it: the value between equal
        minima (flat regions), re-solving with a tight tolerance, and for a fit its
        identifiability and standard errors.
    jac : callable or True, optional
        The gradient (``True`` when ``fun`` returns ``(f, g)``); with ``fun``, it is compared
        with finite differences at the best minima and their starts.
    args : tuple
        Extra arguments of ``fun`` and ``jac``.
    constraints : optional
        The run's constraints, used when re-solving (without them a constrained minimum
        would move).

    Returns
    -------
    Diagnosis
        Findings, warnings first; ``str()`` gives a readable report.

    Examples
    --------
    >>> import engine
    >>> f = lambda x: float((x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2)
    >>> res = engine.minimize(f, [(-5, 5), (-5, 5)], n_starts=16, seed=0, client="serial",
    ...                       method="Nelder-Mead", options={"maxiter": 5})
    >>> d = diagnose(res)
    >>> d.find("warnflag")[0].data["warnflag_2"]
    16
    >>> print(str(d).splitlines()[0])
    Diagnosis of 16 runs (Nelder-Mead, 16 failed): 2 warnings, 0 notes
    """
    method = RunSettings.of(result).method
    box = _Box(result)
    problem = None
    if fun is not None and box.lower.size:
        problem = _problem(result, fun, jac, tuple(args), constraints, box)
    findings: list[Finding] = _failure_findings(result, method)
    if method == "Nelder-Mead" and (wf := _warnflag_finding(result, box)) is not None:
        findings.append(wf)
    auto = result.spec is not None and result.spec.local.scale is None
    scaled = _scaling_finding(box, RunSettings.of(result).scaled, result.runs, auto)
    if scaled is not None:
        findings.append(scaled)
    gradient_ok = True
    if problem is not None and (problem.jac is True or callable(problem.jac)):
        grad = _gradient_finding(result, problem)
        if grad is not None:
            findings.append(grad)
            gradient_ok = grad.severity == "info"
    findings.extend(_flat_findings(result, problem, box))
    if problem is not None:
        tol = _tolerance_finding(result, problem, box, gradient_ok)
        if tol is not None:
            findings.append(tol)
    if problem is not None and (fit := fit_finding(result, problem, Finding)) is not None:
        findings.append(fit)
    if (coverage := _coverage_finding(result)) is not None:
        findings.append(coverage)
    findings.sort(key=lambda f: f.severity != "warning")  # stable: warnings first
    return Diagnosis(tuple(findings), method=method, n_runs=len(result.runs),
                     n_failed=result.n_failed)
