"""Least-squares fitting quality: the engine's fitting mode against the other ways to fit.

Problems: the published nonlinear least-squares test problems of ``tests/fitting_problems.py``
(Moré, Garbow and Hillstrom 1981: Kowalik-Osborne and Bard (rational), Meyer (exponential,
parameters 1e-3 to 6e3 apart), Osborne 1 (two exponentials), Gaussian (a Gaussian peak), Box
3-D and Biggs EXP6 (exponentials, zero residual), Jennrich-Sampson, Freudenstein-Roth; Bard,
Kowalik-Osborne and Osborne 1 also from the published alternative start 10 x0), and a
synthetic spectrum of two Gaussian peaks on a baseline. Every problem's box comes
from one rule (``FitProblem.box``): each parameter from ``min(start, x*) - w`` to
``max(start, x*) + w`` with ``w = max(|start|, |x*|, 1)``.

The certified optimum ``f*`` of each problem is the published one refined by a tight solve
from the published optimum (``xtol = ftol = gtol = 1e-15``), checked to agree with the
published digits. A case succeeds when its best sum of squares ``S`` satisfies
``S - f* <= 1e-6 f*`` (``S <= 1e-12`` where ``f* = 0``).

Contenders, each given the same budget of residual evaluations through one counting wrapper
(every call counted, finite-difference ones included; the call past the budget ends the
contender, whose best value seen so far is kept):

``engine_least_squares``
    ``engine.least_squares(residuals, box, max_evals=budget, seed=seed, client="serial")``.
``engine_minimize``
    ``engine.minimize(sum_of_squares, box, max_evals=budget, ...)``: the scalar route.
``scipy_least_squares``
    ``scipy.optimize.least_squares`` from the published start, within the box (one local fit,
    as a user without a multistart would run it; the same for every seed).
``differential_evolution`` and ``dual_annealing``
    scipy's global optimizers on the sum of squares (DE: default population,
    ``maxiter = budget // (15 d)``; DA: ``maxfun = budget``).

Results: ``<out>/fitting.csv`` (one row per case), ``<out>/fitting.json`` (rates per
contender and budget, and per problem), ``<out>/summary.txt``.

Usage: scripts/bench-fitting [--budgets 1e3,1e4] [--seeds 5] [--out bench-results/fitting]
       [--problems meyer,bard] [--methods engine_least_squares,engine_minimize]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import differential_evolution, dual_annealing, least_squares

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from fitting_problems import PROBLEMS, FitProblem  # noqa: E402

import engine  # noqa: E402

RTOL = 1e-6
ZERO = 1e-12


class _BudgetSpent(BaseException):
    """Ends a contender at its budget; a BaseException so that no ``except Exception`` in a
    contender (the engine isolates objective errors per start) swallows it."""


class Counted:
    """Residuals that count their calls, keep the best sum of squares, stop at the budget."""

    def __init__(self, problem: FitProblem, budget: int) -> None:
        self.problem, self.budget = problem, budget
        self.nfev, self.best = 0, math.inf

    def residuals(self, x: np.ndarray) -> np.ndarray:
        if self.nfev >= self.budget:
            raise _BudgetSpent
        self.nfev += 1
        with np.errstate(all="ignore"):
            r = np.asarray(self.problem.residuals(np.asarray(x, dtype=float)), dtype=float)
            value = float(r @ r)
        if math.isfinite(value) and value < self.best:
            self.best = value
        return r

    def sum_of_squares(self, x: np.ndarray) -> float:
        r = self.residuals(x)
        with np.errstate(all="ignore"):
            value = float(r @ r)
        return value if math.isfinite(value) else 1e300


def certified(problem: FitProblem) -> float:
    """The published optimum refined by a tight solve from the published point."""
    with np.errstate(all="ignore"):
        fit = least_squares(problem.residuals, problem.x_star, xtol=1e-15, ftol=1e-15,
                            gtol=1e-15, x_scale="jac")
    value = 2 * float(fit.cost)
    if math.isnan(problem.f_star):  # synthetic: computed from the generating parameters
        return value
    if problem.f_star > 0:
        assert abs(value - problem.f_star) <= 10.0 ** (1 - problem.digits) * problem.f_star, (
            problem.name, value, problem.f_star)
    return min(value, problem.f_star) if problem.f_star == 0 else value


def succeeded(value: float, f_star: float) -> bool:
    if f_star <= 0:
        return value <= ZERO
    return value - f_star <= RTOL * f_star


def run_engine_least_squares(c: Counted, p: FitProblem, budget: int, seed: int) -> None:
    engine.least_squares(c.residuals, p.box(), max_evals=budget, seed=seed, client="serial")


def run_engine_minimize(c: Counted, p: FitProblem, budget: int, seed: int) -> None:
    engine.minimize(c.sum_of_squares, p.box(), max_evals=budget, seed=seed, client="serial")


def run_scipy_least_squares(c: Counted, p: FitProblem, budget: int, seed: int) -> None:
    low, high = np.array(p.box()).T
    least_squares(c.residuals, p.start, bounds=(low, high), max_nfev=budget)


def run_differential_evolution(c: Counted, p: FitProblem, budget: int, seed: int) -> None:
    d = len(p.start)
    differential_evolution(c.sum_of_squares, p.box(), seed=seed,
                           maxiter=max(1, budget // (15 * d) - 1))


def run_dual_annealing(c: Counted, p: FitProblem, budget: int, seed: int) -> None:
    dual_annealing(c.sum_of_squares, p.box(), seed=seed, maxfun=budget, maxiter=10 ** 7)


CONTENDERS = {
    "engine_least_squares": run_engine_least_squares,
    "engine_minimize": run_engine_minimize,
    "scipy_least_squares": run_scipy_least_squares,
    "differential_evolution": run_differential_evolution,
    "dual_annealing": run_dual_annealing,
}


def _successes(rows: list[dict], problem: str, budget: int, method: str) -> int:
    return sum(r["success"] for r in rows
               if r["problem"] == problem and r["budget"] == budget and r["method"] == method)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budgets", default="1e3,1e4")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default="bench-results/fitting")
    parser.add_argument("--problems", default="")
    parser.add_argument("--methods", default=",".join(CONTENDERS))
    args = parser.parse_args(argv)
    budgets = [int(float(b)) for b in args.budgets.split(",")]
    names = [m for m in args.methods.split(",") if m]
    unknown = [m for m in names if m not in CONTENDERS]
    if unknown:
        parser.error(f"--methods: unknown {unknown}; allowed: {', '.join(CONTENDERS)}")
    problems = [p for p in PROBLEMS if not args.problems or p.name in args.problems.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for problem in problems:
        f_star = certified(problem)
        for budget in budgets:
            for seed in range(args.seeds):
                for name in names:
                    counted = Counted(problem, budget)
                    started = time.perf_counter()
                    stop = "done"
                    with warnings.catch_warnings(), np.errstate(all="ignore"):
                        warnings.simplefilter("ignore")
                        try:
                            CONTENDERS[name](counted, problem, budget, seed)
                        except _BudgetSpent:
                            stop = "budget"
                    rows.append({
                        "problem": problem.name, "kind": problem.kind, "budget": budget,
                        "seed": seed, "method": name, "best": counted.best, "f_star": f_star,
                        "rel_gap": ((counted.best - f_star) / f_star if f_star > 0
                                    else counted.best),
                        "success": succeeded(counted.best, f_star), "nfev": counted.nfev,
                        "stop": stop, "seconds": round(time.perf_counter() - started, 3)})
            print(f"{problem.name} budget={budget}: " + ", ".join(
                f"{m}={_successes(rows, problem.name, budget, m)}/{args.seeds}"
                for m in names), flush=True)
    with (out / "fitting.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    rates = {f"{m}@{b}": float(np.mean([r["success"] for r in rows
                                         if r["method"] == m and r["budget"] == b]))
             for m in names for b in budgets}
    per_problem = {p.name: {f"{m}@{b}": float(np.mean([
        r["success"] for r in rows if r["problem"] == p.name and r["method"] == m
        and r["budget"] == b])) for m in names for b in budgets} for p in problems}
    (out / "fitting.json").write_text(json.dumps(
        {"rates": rates, "per_problem": per_problem, "seeds": args.seeds, "budgets": budgets,
         "rtol": RTOL, "rows": rows}, indent=1, default=float))
    lines = [f"success rate (sum of squares within {RTOL:g} relative of the certified optimum),"
             f" {len(problems)} problems x {args.seeds} seeds", ""]
    lines.append(f"{'method':<24}" + "".join(f"{f'budget {b:g}':>14}" for b in budgets))
    for m in names:
        lines.append(f"{m:<24}" + "".join(f"{rates[f'{m}@{b}']:>14.2f}" for b in budgets))
    lines += ["", "per problem, success rate by budget (columns in the order above):"]
    for p in problems:
        cells = [" ".join(f"{per_problem[p.name][f'{m}@{b}']:.1f}" for m in names)
                 for b in budgets]
        lines.append(f"  {p.name:<22} " + " | ".join(cells))
    text = "\n".join(lines)
    (out / "summary.txt").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
