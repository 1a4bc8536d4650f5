"""Solution quality of the engine against scipy's global optimizers at equal evaluation budgets.

Every contender minimizes the same standard test problem (``tests/functions.py``) through the
same counting wrapper, which hands the objective 1-D points only, counts every call (finite
differences and polishing included) and cuts the contender off by raising a private
exception the moment it asks for evaluation ``budget + 1``; the best value seen before the cut
is kept. No contender can use more than the budget. Contenders:

``engine``
    ``engine.minimize(fun, bounds, max_evals=budget, seed=seed, client="serial")``, its default
    (the portfolio of searches: ``strategy="auto"`` with only ``max_evals``).
``engine-mlsl``, ``engine-tiktak``
    the engine with one search, ``search={"strategy": "mlsl"}`` (the default before the
    portfolio) or ``"tiktak"``: single contenders the portfolio has to beat.
``differential_evolution``
    ``popsize=15`` (default), ``maxiter = budget // (15 d) - 1`` so the generations fill the
    budget; the default L-BFGS-B polish runs on whatever is left (and is cut at the budget).
``dual_annealing``
    ``maxfun=budget``, ``maxiter`` raised so that ``maxfun`` is what stops it.
``shgo``
    scipy's default simplicial sampling with ``iters=None`` and ``options={"maxfev": budget}``,
    the documented way to let shgo refine until a budget is spent. shgo's own bookkeeping grows
    faster than linearly with the sample, so it is the contender most often stopped by the
    per-case wall-clock limit (``--max-seconds``; such rows have ``stop == "time"``).
``direct``
    ``maxfun=budget`` and ``maxiter`` raised so that ``maxfun`` is what stops it.
``basinhopping``
    from one uniform random start; L-BFGS-B with the bounds as local minimizer; ``stepsize``
    one tenth of the mean box width (scipy then adapts it); ``niter`` unlimited, the budget cut
    ends it.
``multistart``
    :func:`scipy.optimize.minimize` (L-BFGS-B, finite differences) from uniform random starts
    until the budget is spent.

Metrics per (problem, seed, budget, method): ``success`` (best value within
``1e-4 * max(1, |f*|)`` of the known minimum f*), ``evals_to_success`` (the call that first met
it), ``n_minima`` (distinct minima the method itself reports: ``len(res.minima)`` for the
engine, ``len(res.xl)`` for shgo, distinct converged end points for multistart under the
engine's default merge rule; 1 for methods that return a single point; empty when the run was
cut before it could report), ``n_global_found`` (listed global minimizers within ``1e-3`` of a
reported point), wall seconds. Results: ``<out>/quality.csv`` (one row per case) and
``<out>/quality.json`` (aggregates and rows).

The summary gives the rates of the original problems and of their ``--shifted`` variants
apart, each with its virtual best: per problem, the best rate of any contender but the
engine's default (which runs several of them).

``--minima-check`` runs the engine's default on Himmelblau (4 minima), six-hump camel (6) and
2-D Shubert (18 global minima) and reports whether every known minimum was found and whether
any was reported twice (two reported minima within ``1e-3`` of the same known minimizer);
results in ``<out>/quality.minima.{csv,json}``.

Usage: scripts/bench-quality [--budgets 1e3,1e4,1e5] [--seeds 5] [--methods engine,direct]
       [--problems shubert,hartmann6] [--suite default|all] [--jobs N] [--out bench-results]
       [--reuse bench-results/quality/quality.csv]  (scipy's rows from an earlier campaign)
       scripts/bench-quality --minima-check [--budgets 1e4] [--seeds 5]
"""

from __future__ import annotations

import os

# Set before numpy loads: contenders run in single-threaded worker processes (--jobs), and
# BLAS threads would only oversubscribe the cores.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

import argparse
import concurrent.futures
import csv
import dataclasses
import json
import math
import multiprocessing
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from scipy import optimize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from functions import PROBLEMS, TestProblem, get  # noqa: E402

METHODS = ("engine", "engine-mlsl", "engine-tiktak", "differential_evolution", "dual_annealing",
           "shgo", "direct", "basinhopping", "multistart")
# Standard problems in 2 to 10 dimensions: smooth and rugged, one and many global minima,
# minima in the centre, near the edge and on it, separable and not.
DEFAULT_SUITE = (
    "himmelblau", "six_hump_camel", "branin", "goldstein_price", "beale", "easom", "eggholder",
    "holder_table", "cross_in_tray", "drop_wave", "shubert", "schaffer2", "schaffer4", "levy13",
    "hartmann3", "shekel5", "shekel7", "shekel10", "colville", "perm0_4d",
    "rastrigin_5d", "ackley_5d", "levy_5d", "michalewicz_5d", "styblinski_tang_5d", "schwefel_5d",
    "hartmann6", "trid_6d", "powell_8d",
    "rastrigin_10d", "ackley_10d", "griewank_10d", "levy_10d", "michalewicz_10d",
    "styblinski_tang_10d", "rosenbrock_10d", "dixon_price_10d",
)
MINIMA_CHECK = ("himmelblau", "six_hump_camel", "shubert")
#: ``--shifted``: a problem whose global minimizer is the centre of its box also runs with the
#: box moved by this fraction of each width toward higher values (the minimizer then lies at
#: 30% of each width), so that a method which starts at the centre gains nothing.
SHIFT = 0.2


def shifted(p: TestProblem) -> TestProblem | None:
    """``p`` with its box shifted by :data:`SHIFT` of each width, or None when no global
    minimizer of ``p`` is the centre of its box."""
    centre = (p.lower + p.upper) / 2
    width = p.upper - p.lower
    if not any(np.all(np.abs(np.asarray(m, dtype=float) - centre) <= 1e-9 * width)
               for m in p.global_minima):
        return None
    bounds = tuple((lo + SHIFT * w, hi + SHIFT * w)
                   for (lo, hi), w in zip(p.bounds, width, strict=True))
    return dataclasses.replace(p, name=f"{p.name}@shifted", bounds=bounds)


for _name in list(PROBLEMS):  # registered at import, so that --jobs workers know them too
    if (_moved := shifted(PROBLEMS[_name])) is not None:
        PROBLEMS[_moved.name] = _moved
#: Contenders other than these count towards the virtual best (the best per problem): the
#: default is the portfolio, which runs several of the others' searches.
NOT_IN_VIRTUAL_BEST = ("engine",)
SUCCESS_TOL = 1e-4
MATCH_TOL = 1e-3  # distance (user coordinates) at which a reported point is a known minimizer
# The engine's default merge rule, used to count distinct end points of the plain multistart.
MERGE_XTOL, MERGE_FTOL = 1e-4, 1e-6


class _BudgetSpent(BaseException):
    """Raised by the counting wrapper to stop a contender.

    A BaseException, so that no contender's ``except Exception`` (the engine isolates objective
    errors per local run) can swallow the cut and go on evaluating.
    """


def is_success(value: float, f_min: float) -> bool:
    """Whether ``value`` is within the success tolerance of the known minimum ``f_min``."""
    return abs(value - f_min) <= SUCCESS_TOL * max(1.0, abs(f_min))


class CountedObjective:
    """The objective every contender sees: counts calls, keeps the best, enforces the budget.

    Only 1-D points of the right length are accepted (a batch is refused with a TypeError
    and not counted), as in the engine's held-out evaluation.

    Examples
    --------
    >>> from functions import get
    >>> f = CountedObjective(get("sphere_2d"), budget=2, max_seconds=60.0)
    >>> f(np.array([0.5, 0.0])), f.nfev
    (0.25, 1)
    """

    def __init__(self, problem: TestProblem, budget: int, max_seconds: float) -> None:
        self.problem = problem
        self.budget = budget
        self.deadline = time.perf_counter() + max_seconds
        self.nfev = 0
        self.rejected = 0
        self.best = math.inf
        self.best_x: np.ndarray | None = None
        self.first_success: int | None = None
        self.stop = "returned"

    def __call__(self, x: Any, *args: Any) -> float:
        x = np.asarray(x, dtype=float)
        if x.shape != (self.problem.dim,):
            self.rejected += 1
            raise TypeError(f"objective takes one point of shape ({self.problem.dim},), "
                            f"got shape {x.shape}")
        if self.nfev >= self.budget:
            self.stop = "budget"
            raise _BudgetSpent
        if time.perf_counter() > self.deadline:
            self.stop = "time"
            raise _BudgetSpent
        self.nfev += 1
        value = float(self.problem.fun(x))
        if value < self.best:
            self.best, self.best_x = value, x.copy()
            if self.first_success is None and is_success(value, self.problem.f_min):
                self.first_success = self.nfev
        return value


@dataclass
class Report:
    """What a contender returned: its points, its count of distinct minima and its best value."""

    points: list[np.ndarray] = field(default_factory=list)
    n_minima: int | None = None
    fun: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)


def _uniform(problem: TestProblem, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(problem.lower, problem.upper)


def distinct_points(points: Sequence[np.ndarray], values: Sequence[float],
                    problem: TestProblem) -> list[np.ndarray]:
    """Greedy merge, best first: a point joins a kept one within ``MERGE_XTOL`` in every
    unit-box coordinate whose value agrees to ``MERGE_FTOL * max(1, |f|)``."""
    from engine.basins import cluster_points

    # The same rule as a greedy pass, on a KD-tree: a plain multistart at 1e5 evaluations on
    # a rugged problem ends in thousands of places, too many to compare pairwise.
    basins = cluster_points(np.arange(len(points)), np.asarray(points, dtype=float),
                            np.asarray(values, dtype=float), problem.lower, problem.upper,
                            MERGE_XTOL, MERGE_FTOL)
    return [np.asarray(b.x) for b in basins]


def run_engine(fun: CountedObjective, p: TestProblem, budget: int, seed: int,
               ends: list) -> Report:
    import engine

    res = engine.minimize(fun, p.bounds, max_evals=budget, seed=seed, client="serial")
    extra = {"stop_reason": getattr(res, "stop_reason", None),
             "engine_nfev": getattr(res, "nfev", None),
             "estimated_n_minima": getattr(res, "estimated_n_minima", None),
             "portfolio": {k: v["evaluations"]
                           for k, v in (getattr(res, "portfolio", None) or {}).items()}}
    return Report([np.asarray(m.x) for m in res.minima], len(res.minima), float(res.fun), extra)


def _engine_with(strategy: str) -> Callable[..., Report]:
    """The engine with one search instead of its default portfolio."""

    def run(fun: CountedObjective, p: TestProblem, budget: int, seed: int,
            ends: list) -> Report:
        import engine

        res = engine.minimize(fun, p.bounds, max_evals=budget, seed=seed, client="serial",
                              search={"strategy": strategy})
        return Report([np.asarray(m.x) for m in res.minima], len(res.minima), float(res.fun),
                      {"stop_reason": res.stop_reason, "engine_nfev": res.nfev})

    return run


def run_differential_evolution(fun: CountedObjective, p: TestProblem, budget: int, seed: int,
                               ends: list) -> Report:
    popsize = 15
    maxiter = max(1, budget // (popsize * p.dim) - 1)
    res = optimize.differential_evolution(fun, p.bounds, popsize=popsize, maxiter=maxiter,
                                          seed=seed, polish=True)
    return Report([res.x], 1, float(res.fun))


def run_dual_annealing(fun: CountedObjective, p: TestProblem, budget: int, seed: int,
                       ends: list) -> Report:
    res = optimize.dual_annealing(fun, p.bounds, maxfun=budget, maxiter=budget, seed=seed)
    return Report([res.x], 1, float(res.fun))


def run_shgo(fun: CountedObjective, p: TestProblem, budget: int, seed: int,
             ends: list) -> Report:
    # shgo is deterministic: the seed changes nothing.
    res = optimize.shgo(fun, p.bounds, iters=None, options={"maxfev": budget})
    xl = np.atleast_2d(getattr(res, "xl", res.x))
    return Report(list(xl), len(xl), float(res.fun))


def run_direct(fun: CountedObjective, p: TestProblem, budget: int, seed: int,
               ends: list) -> Report:
    # DIRECT is deterministic: the seed changes nothing.
    res = optimize.direct(fun, p.bounds, maxfun=budget, maxiter=budget)
    return Report([res.x], 1, float(res.fun))


def run_basinhopping(fun: CountedObjective, p: TestProblem, budget: int, seed: int,
                     ends: list) -> Report:
    rng = np.random.default_rng(seed)
    step = 0.1 * float(np.mean(p.upper - p.lower))
    res = optimize.basinhopping(
        fun, _uniform(p, rng), niter=budget, stepsize=step, seed=rng,
        minimizer_kwargs={"method": "L-BFGS-B", "bounds": p.bounds},
    )
    return Report([res.x], 1, float(res.fun))


def run_multistart(fun: CountedObjective, p: TestProblem, budget: int, seed: int,
                   ends: list) -> Report:
    """Plain random multistart; converged end points go to ``ends`` as they come, so that a
    cut run still reports what it found."""
    rng = np.random.default_rng(seed)
    while True:  # ended by the budget cut
        res = optimize.minimize(fun, _uniform(p, rng), method="L-BFGS-B", bounds=p.bounds)
        if res.success:
            ends.append((np.asarray(res.x), float(res.fun)))


RUNNERS: dict[str, Callable[..., Report]] = {
    "engine": run_engine,
    "engine-mlsl": _engine_with("mlsl"),
    "engine-tiktak": _engine_with("tiktak"),
    "differential_evolution": run_differential_evolution,
    "dual_annealing": run_dual_annealing,
    "shgo": run_shgo,
    "direct": run_direct,
    "basinhopping": run_basinhopping,
    "multistart": run_multistart,
}


def _matches(points: Sequence[np.ndarray], known: Sequence[Sequence[float]]) -> list[int]:
    """For each known minimizer, how many reported points lie within ``MATCH_TOL`` of it."""
    if not points:
        return [0 for _ in known]
    pts = np.array(points, dtype=float)
    return [int(np.sum(np.linalg.norm(pts - np.asarray(k), axis=1) <= MATCH_TOL))
            for k in known]


def run_case(problem_name: str, method: str, budget: int, seed: int,
             max_seconds: float) -> dict[str, Any]:
    """One contender on one problem with one seed and budget: the row of the CSV."""
    p = PROBLEMS[problem_name]
    fun = CountedObjective(p, budget, max_seconds)
    ends: list[tuple[np.ndarray, float]] = []
    report: Report | None = None
    error = ""
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            report = RUNNERS[method](fun, p, budget, seed, ends)
        except _BudgetSpent:
            pass
        except Exception as exc:  # a contender's own failure is a result, not a crash
            error = f"{type(exc).__name__}: {exc}"[:300]
    wall = time.perf_counter() - t0
    if method == "multistart":
        xs = distinct_points([e[0] for e in ends], [e[1] for e in ends], p) if ends else []
        report = Report(xs, len(xs), min((e[1] for e in ends), default=math.nan))
    stop = "error" if error else fun.stop
    points = report.points if report is not None else []
    if not points and fun.best_x is not None:
        points = [fun.best_x]  # a cut run reports nothing; its best point is all there is
    found = _matches(points, p.global_minima)
    return {
        "problem": problem_name, "dim": p.dim, "method": method, "budget": budget, "seed": seed,
        "f_min": p.f_min, "best_f": fun.best, "error_f": fun.best - p.f_min,
        "success": fun.first_success is not None, "evals_to_success": fun.first_success,
        "nfev": fun.nfev, "stop": stop,
        "reported_f": report.fun if report is not None else math.nan,
        "n_minima": report.n_minima if report is not None else None,
        "n_global_found": sum(c > 0 for c in found), "n_global_known": len(p.global_minima),
        "wall_s": wall, "rejected_calls": fun.rejected, "message": error,
        **({"extra": report.extra} if report is not None and report.extra else {}),
    }


# ---------------------------------------------------------------------------------------------
# Aggregation and printing
# ---------------------------------------------------------------------------------------------


def _rate(rows: list[dict]) -> float:
    return float(np.mean([r["success"] for r in rows])) if rows else math.nan


def aggregate(rows: list[dict], methods: Sequence[str], budgets: Sequence[int],
              problems: Sequence[str]) -> dict[str, Any]:
    """Success rates overall and per problem, evaluations to success, minima and wall time."""
    by: dict[tuple, list[dict]] = {}
    for r in rows:
        by.setdefault((r["method"], r["budget"]), []).append(r)
        by.setdefault((r["method"], r["budget"], r["problem"]), []).append(r)
    overall: dict[str, dict[str, Any]] = {}
    per_problem: dict[str, dict[str, dict[str, float]]] = {}
    for b in budgets:
        overall[str(b)] = {}
        for m in methods:
            rs = by.get((m, b), [])
            ets = [r["evals_to_success"] for r in rs if r["success"]]
            nmin = [r["n_minima"] for r in rs if r["n_minima"] is not None]
            overall[str(b)][m] = {
                "cases": len(rs), "success_rate": _rate(rs),
                "problems_solved_every_seed": sum(
                    all(r["success"] for r in by.get((m, b, pn), [])) and bool(by.get((m, b, pn)))
                    for pn in problems),
                "median_evals_to_success": float(np.median(ets)) if ets else None,
                "mean_n_minima": float(np.mean(nmin)) if nmin else None,
                "median_wall_s": float(np.median([r["wall_s"] for r in rs])) if rs else None,
                "stopped_by_time": sum(r["stop"] == "time" for r in rs),
                "errors": sum(r["stop"] == "error" for r in rs),
            }
        for pn in problems:
            per_problem.setdefault(pn, {})[str(b)] = {
                m: _rate(by.get((m, b, pn), [])) for m in methods}
    losses = []
    if "engine" in methods and len(methods) > 1:
        for b in budgets:
            for pn in problems:
                rates = per_problem[pn][str(b)]
                best_other = max((rates[m] for m in methods if m != "engine"), default=math.nan)
                if rates["engine"] < best_other:
                    winners = [m for m in methods if m != "engine" and rates[m] == best_other]
                    losses.append({"budget": b, "problem": pn, "dim": PROBLEMS[pn].dim,
                                   "engine": rates["engine"], "best_other": best_other,
                                   "winners": winners})
    contenders = [m for m in methods if m not in NOT_IN_VIRTUAL_BEST]
    virtual = {str(b): float(np.mean([max(per_problem[pn][str(b)][m] for m in contenders)
                                      for pn in problems])) for b in budgets} if contenders else {}
    return {"overall": overall, "per_problem": per_problem, "engine_losses": losses,
            "virtual_best": virtual,
            "parts": by_part(per_problem, methods, contenders, budgets, problems)}


def by_part(per_problem: dict[str, dict[str, dict[str, float]]], methods: Sequence[str],
            contenders: Sequence[str], budgets: Sequence[int],
            problems: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Per part (``original`` problems, ``shifted`` variants) and budget: each method's mean
    rate over the part's problems and the part's virtual best (the mean over its problems of
    the best contender's rate)."""
    parts = {"original": [pn for pn in problems if "@" not in pn],
             "shifted": [pn for pn in problems if "@" in pn]}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for part, names in parts.items():
        if not names:
            continue
        out[part] = {}
        for b in budgets:
            rates = {m: float(np.mean([per_problem[pn][str(b)][m] for pn in names]))
                     for m in methods}
            if contenders:
                rates["virtual best"] = float(np.mean(
                    [max(per_problem[pn][str(b)][m] for m in contenders) for pn in names]))
            out[part][str(b)] = rates
    return out


def _fmt_rate(x: float) -> str:
    return "  -  " if math.isnan(x) else f"{100 * x:4.0f}%"


SHORT = {"engine": "engine", "engine-mlsl": "mlsl", "engine-tiktak": "tiktak",
         "differential_evolution": "DE",
         "dual_annealing": "dual_ann",
         "shgo": "shgo", "direct": "direct", "basinhopping": "basinhop",
         "multistart": "multistart"}


def print_tables(agg: dict[str, Any], methods: Sequence[str], budgets: Sequence[int],
                 problems: Sequence[str]) -> None:
    """Overall success rates, then per-problem rates, then where the engine loses."""
    ov = agg["overall"]
    print("\nSuccess rate (|f - f*| <= 1e-4 max(1, |f*|)), all problems and seeds")
    print(f"{'method':24s}" + "".join(f"{'budget ' + str(b):>16s}" for b in budgets))
    for m in methods:
        print(f"{m:24s}" + "".join(f"{_fmt_rate(ov[str(b)][m]['success_rate']):>16s}"
                                   for b in budgets))
    if agg.get("virtual_best"):
        print(f"{'virtual best':24s}" + "".join(
            f"{_fmt_rate(agg['virtual_best'][str(b)]):>16s}" for b in budgets)
            + "   (per problem, the best rate of any contender but the default)")
    if len(agg.get("parts", {})) > 1:
        print("\nSuccess rate by part: the original problems, and the shifted variants")
        print(f"{'method':24s}" + "".join(f"{part + ' ' + str(b):>16s}"
                                          for part in agg["parts"] for b in budgets))
        for m in [*methods, "virtual best"]:
            print(f"{m:24s}" + "".join(
                f"{_fmt_rate(agg['parts'][part][str(b)].get(m, math.nan)):>16s}"
                for part in agg["parts"] for b in budgets))
    print("\nProblems solved for every seed / median evaluations to success / median wall s")
    for m in methods:
        cells = []
        for b in budgets:
            o = ov[str(b)][m]
            ets = o["median_evals_to_success"]
            cells.append(f"{o['problems_solved_every_seed']:3d} / "
                         f"{'-' if ets is None else int(ets):>6} / "
                         f"{o['median_wall_s'] or 0:6.2f}")
        print(f"{m:24s}" + "".join(f"{c:>26s}" for c in cells))
    flags = [(m, b, ov[str(b)][m]) for b in budgets for m in methods]
    for m, b, o in flags:
        if o["stopped_by_time"] or o["errors"]:
            print(f"note: {m} at budget {b}: {o['stopped_by_time']} cases stopped by the wall "
                  f"clock limit, {o['errors']} raised")
    for b in budgets:
        print(f"\nSuccess rate per problem, budget {b}")
        print(f"{'problem':22s}{'d':>3s}" + "".join(f"{SHORT[m]:>11s}" for m in methods))
        for pn in problems:
            rates = agg["per_problem"][pn][str(b)]
            print(f"{pn:22.22s}{PROBLEMS[pn].dim:3d}"
                  + "".join(f"{_fmt_rate(rates[m]):>11s}" for m in methods))
    if agg["engine_losses"]:
        print("\nWhere the engine's default loses (lower success rate than the best contender)")
        for loss in agg["engine_losses"]:
            print(f"  budget {loss['budget']:>7d}  {loss['problem']:22s} d={loss['dim']:<3d}"
                  f" engine {_fmt_rate(loss['engine'])}  best {_fmt_rate(loss['best_other'])}"
                  f"  ({', '.join(loss['winners'])})")


def write_outputs(out: Path, stem: str, rows: list[dict], payload: dict[str, Any]) -> None:
    """``<stem>.csv`` with one row per case and ``<stem>.json`` with everything."""
    out.mkdir(parents=True, exist_ok=True)
    columns = [k for k in rows[0] if k != "extra"] if rows else []
    with open(out / f"{stem}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with open(out / f"{stem}.json", "w") as fh:
        json.dump(_finite({**payload, "rows": rows}), fh, indent=1, default=_json_default)
    print(f"\nwrote {out / (stem + '.csv')} and {out / (stem + '.json')}")


def _finite(value: Any) -> Any:
    """NaN and infinities become null: JSON has no spelling for them."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return None
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def provenance(args: argparse.Namespace) -> dict[str, Any]:
    """Who, what and where: enough to reproduce or to compare two campaigns."""
    try:
        import engine

        engine_version = getattr(engine, "__version__", "unknown")
    except Exception as exc:  # the report should still say why the engine rows failed
        engine_version = f"import failed: {exc}"
    try:  # the engine changes between campaigns: say which source produced the numbers
        commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {"argv": sys.argv[1:], "options": vars(args), "commit": commit,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "engine": engine_version,
            "machine": platform.node(), "cpus": os.cpu_count(),
            "success_tol": SUCCESS_TOL, "match_tol": MATCH_TOL}


# ---------------------------------------------------------------------------------------------
# Running many cases
# ---------------------------------------------------------------------------------------------


def run_cases(cases: list[tuple], jobs: int, max_seconds: float) -> list[dict]:
    """Run every case, in ``jobs`` single-threaded processes when ``jobs > 1``."""
    rows: list[dict] = []
    t0 = time.perf_counter()

    def done(row: dict) -> None:
        rows.append(row)
        mark = "ok " if row["success"] else "   "
        print(f"[{len(rows):4d}/{len(cases)} {time.perf_counter() - t0:7.1f}s] {mark}"
              f"{row['problem']:20s} {row['method']:22s} b={row['budget']:<7d} s={row['seed']}"
              f" err={row['error_f']:.2e} nfev={row['nfev']} {row['stop']}"
              f" {row['wall_s']:.1f}s", file=sys.stderr, flush=True)

    if jobs <= 1:
        for case in cases:
            done(run_case(*case, max_seconds))
    else:
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
            futures = [pool.submit(run_case, *case, max_seconds) for case in cases]
            for fut in concurrent.futures.as_completed(futures):
                done(fut.result())
    order = {case: i for i, case in enumerate(cases)}
    rows.sort(key=lambda r: order[(r["problem"], r["method"], r["budget"], r["seed"])])
    return rows


def minima_check(args: argparse.Namespace, budgets: list[int], seeds: list[int]) -> int:
    """Does the engine's default find every known minimum, each once?"""
    import engine

    rows = []
    for name in MINIMA_CHECK:
        p = PROBLEMS[name]
        known = [x for x, _ in p.local_minima] if p.local_minima else list(p.global_minima)
        for b in budgets:
            for s in seeds:
                fun = CountedObjective(p, b, args.max_seconds)
                t0 = time.perf_counter()
                error, points = "", []
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        res = engine.minimize(fun, p.bounds, max_evals=b, seed=s, client="serial")
                        points = [np.asarray(m.x) for m in res.minima]
                    except _BudgetSpent:
                        error = f"cut at the budget ({fun.stop})"
                    except Exception as exc:
                        error = f"{type(exc).__name__}: {exc}"[:300]
                counts = _matches(points, known)
                row = {"problem": name, "budget": b, "seed": s, "known": len(known),
                       "found": sum(c > 0 for c in counts),
                       "duplicated": sum(c > 1 for c in counts),
                       "reported": len(points), "nfev": fun.nfev,
                       "wall_s": time.perf_counter() - t0, "message": error}
                row["all_found_once"] = row["found"] == row["known"] and not row["duplicated"]
                rows.append(row)
                print(f"{name:16s} budget {b:>7d} seed {s}: found {row['found']:2d}/"
                      f"{row['known']:<2d} duplicated {row['duplicated']:2d} reported "
                      f"{row['reported']:4d} nfev {row['nfev']:7d} {row['wall_s']:6.1f}s "
                      f"{error}", flush=True)
    print("\nAll known minima found, none twice (seeds passing / seeds)")
    summary = {}
    for name in MINIMA_CHECK:
        for b in budgets:
            rs = [r for r in rows if r["problem"] == name and r["budget"] == b]
            ok = sum(r["all_found_once"] for r in rs)
            summary[f"{name}@{b}"] = {"passing": ok, "seeds": len(rs)}
            print(f"  {name:16s} budget {b:>7d}: {ok}/{len(rs)}")
    write_outputs(Path(args.out), "quality.minima", rows,
                  {"meta": provenance(args), "summary": summary})
    return 0


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(float(t)) for t in text.split(",") if t.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", default="1e3,1e4,1e5",
                    help="comma-separated evaluation budgets (default 1e3,1e4,1e5)")
    ap.add_argument("--seeds", default="5",
                    help="a count N (seeds 0..N-1) or a comma-separated list (default 5)")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help=f"comma-separated subset of {','.join(METHODS)} (default), "
                         "engine-mlsl or engine-tiktak (the engine with one search)")
    ap.add_argument("--suite", choices=("default", "all"), default="default",
                    help=f"'default' ({len(DEFAULT_SUITE)} problems) or 'all' "
                         "(every problem in 2 to 10 dimensions)")
    ap.add_argument("--problems", default="",
                    help="comma-separated problem names (overrides --suite); see --list")
    ap.add_argument("--jobs", type=int, default=1,
                    help="cases run in this many single-threaded processes (default 1)")
    ap.add_argument("--max-seconds", type=float, default=120.0,
                    help="wall-clock limit per case; the objective is cut after it (default 120)")
    ap.add_argument("--out", default=str(ROOT / "bench-results"),
                    help="directory for quality.csv and quality.json (default bench-results)")
    ap.add_argument("--minima-check", action="store_true",
                    help="check the engine finds each minimum of himmelblau, six_hump_camel "
                         "and shubert exactly once")
    ap.add_argument("--list", action="store_true", help="list the suite's problems and exit")
    ap.add_argument("--reuse", default="",
                    help="a quality.csv of an earlier campaign: the rows of the contenders not "
                         "in --methods are taken from it (scipy's methods need not run again "
                         "when only the engine changed; the scipy versions must match)")
    ap.add_argument("--shifted", action="store_true",
                    help=f"also run each problem whose minimizer is the box centre with its box "
                         f"shifted by {SHIFT} of each width")
    return ap.parse_args(argv)


#: The types of quality.csv's columns that are not text (empty: None), as run_case makes them.
_TYPES: dict[str, Callable[[str], Any]] = {
    **dict.fromkeys(("dim", "budget", "seed", "evals_to_success", "nfev", "n_minima",
                     "n_global_found", "n_global_known", "rejected_calls"), int),
    **dict.fromkeys(("f_min", "best_f", "error_f", "reported_f", "wall_s"), float)}


def reused_rows(path: Path, methods: Sequence[str], problems: Sequence[str],
                budgets: Sequence[int], seeds: Sequence[int]) -> list[dict]:
    """The rows of ``path`` (a quality.csv) for the contenders not in ``methods``, on these
    problems, budgets and seeds, typed as :func:`run_case` makes them.

    Raises ValueError when the file's campaign used another scipy than this one (its rows
    would not be what the methods do here) or lacks a case asked for.
    """
    meta_file = path.with_suffix(".json")
    if meta_file.exists():
        ran_with = json.loads(meta_file.read_text()).get("meta", {}).get("scipy")
        if ran_with not in (None, scipy.__version__):
            raise ValueError(f"its rows were made with scipy {ran_with}, this is "
                             f"{scipy.__version__}; run every method again instead")
    wanted = {(pn, b, s) for pn in problems for b in budgets for s in seeds}
    rows: list[dict] = []
    with open(path, newline="") as fh:
        for raw in csv.DictReader(fh):
            key = (raw["problem"], int(raw["budget"]), int(raw["seed"]))
            if raw["method"] in methods or key not in wanted:
                continue
            rows.append(raw | {name: (None if raw[name] == "" else kind(raw[name]))
                               for name, kind in _TYPES.items() if name in raw}
                        | {"success": raw["success"] == "True"})
    for method in {r["method"] for r in rows}:
        missing = wanted - {(r["problem"], r["budget"], r["seed"]) for r in rows
                            if r["method"] == method}
        if missing:
            raise ValueError(f"{method} lacks {len(missing)} of the cases asked for, e.g. "
                             f"{sorted(missing)[0]}; run it with --methods instead")
    return rows


def _fail(message: str) -> int:
    print(f"bench-quality: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    budgets = _ints(args.budgets)
    seeds = list(range(int(args.seeds))) if "," not in args.seeds else _ints(args.seeds)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in RUNNERS]
    if unknown:
        return _fail(f"--methods: unknown {unknown}; choose from {', '.join(RUNNERS)}")
    if not budgets or min(budgets) < 1:
        return _fail(f"--budgets={args.budgets!r}: give positive evaluation counts, e.g. 1e3,1e4")
    if not seeds:
        return _fail(f"--seeds={args.seeds!r}: give a count such as 5 or a list such as 0,3")
    if args.problems:
        try:
            problems = [get(n.strip()).name for n in args.problems.split(",") if n.strip()]
        except KeyError as exc:
            return _fail(f"--problems: {exc.args[0]}")
    elif args.suite == "all":
        problems = sorted((n for n, p in PROBLEMS.items() if 2 <= p.dim <= 10),
                          key=lambda n: (PROBLEMS[n].dim, n))
    else:
        problems = list(DEFAULT_SUITE)
    if args.shifted:
        problems += [f"{n}@shifted" for n in problems if f"{n}@shifted" in PROBLEMS]
    if args.list:
        for n in problems:
            p = PROBLEMS[n]
            print(f"{n:22s} d={p.dim:<3d} f*={p.f_min:.6g}  global minimizers "
                  f"{len(p.global_minima)}")
        return 0
    if args.minima_check:
        return minima_check(args, budgets, seeds)

    reused: list[dict] = []
    if args.reuse:
        try:
            reused = reused_rows(Path(args.reuse), methods, problems, budgets, seeds)
        except (OSError, ValueError) as exc:
            return _fail(f"--reuse={args.reuse!r}: {exc}")
    cases = [(pn, m, b, s) for b in budgets for pn in problems for m in methods for s in seeds]
    print(f"{len(cases)} cases: {len(problems)} problems x {len(methods)} methods x "
          f"{len(budgets)} budgets x {len(seeds)} seeds, {args.jobs} process(es)",
          file=sys.stderr)
    rows = run_cases(cases, args.jobs, args.max_seconds)
    if reused:
        methods = [*methods, *sorted({r["method"] for r in reused} - set(methods))]
        rows += reused
    agg = aggregate(rows, methods, budgets, problems)
    print_tables(agg, methods, budgets, problems)
    meta = provenance(args) | {"problems": problems, "methods": methods, "budgets": budgets,
                               "seeds": seeds, "reused": sorted({r["method"] for r in reused})}
    write_outputs(Path(args.out), "quality", rows, {"meta": meta, **agg})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
