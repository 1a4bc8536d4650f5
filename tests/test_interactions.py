"""The features users combine, crossed: known answers where two features meet.

Every :func:`scipy.optimize.minimize` method x the four ways of giving a gradient (none, a
callable, ``jac=True``, ``jac="2-point"``) x maximize off/on x unit-box scaling on/off x the
strategies ``all``/``mlsl``/``tiktak`` x serial or a real 2-worker local cluster. The full
product (1440 runs) is too slow for CI, so the rows cover every PAIR of values at least once
(a greedy pairwise design, fixed by its seed). Each row runs Himmelblau (four minima, f = 0,
all inside the box), maximizing its negative when maximize is on, and asserts the known
answer: the best value 0 at one of the four known points, and no start failed for a reason
the user did not cause. A method that cannot take the gradient as given must be refused
before any work, naming ``jac``.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from functions import himmelblau, himmelblau_jac

import engine
from engine.local.methods import METHODS
from engine.results.types import stopped_by_budget

KNOWN = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186],
                  [3.584428, -1.848126]])
BOUNDS = [(-5.0, 5.0), (-5.0, 5.0)]

FACTORS = {
    "method": [m for m, info in METHODS.items() if not info.least_squares],
    "jac": ["none", "callable", "true", "2-point"],
    "maximize": [False, True],
    "scale": [False, True],
    "strategy": ["all", "mlsl", "tiktak"],
    "client": ["serial", "cluster"],
}


def himmelblau_hess(x: np.ndarray) -> np.ndarray:
    """Hessian of Himmelblau's function."""
    a = x[0] ** 2 + x[1] - 11.0
    b = x[0] + x[1] ** 2 - 7.0
    return np.array([[12.0 * x[0] ** 2 + 4.0 * x[1] - 42.0, 4.0 * (x[0] + x[1])],
                     [4.0 * (x[0] + x[1]), 4.0 * x[0] + 12.0 * x[1] ** 2 - 26.0]]) + 0.0 * a * b


def pairwise_rows(factors: dict[str, list], seed: int = 7) -> list[dict]:
    """Rows covering every pair of values of every two factors at least once (greedy)."""
    names = list(factors)
    uncovered = {(i, a, j, b) for i, j in itertools.combinations(range(len(names)), 2)
                 for a in range(len(factors[names[i]])) for b in range(len(factors[names[j]]))}
    rng = random.Random(seed)
    rows = []
    while uncovered:
        best, best_gain = None, -1
        for _ in range(60):
            cand = [rng.randrange(len(factors[n])) for n in names]
            i, a, j, b = rng.choice(sorted(uncovered))
            cand[i], cand[j] = a, b
            gain = sum((p, cand[p], q, cand[q]) in uncovered
                       for p, q in itertools.combinations(range(len(names)), 2))
            if gain > best_gain:
                best, best_gain = cand, gain
        uncovered -= {(p, best[p], q, best[q])
                      for p, q in itertools.combinations(range(len(names)), 2)}
        rows.append({n: factors[n][k] for n, k in zip(names, best, strict=True)})
    return rows


ROWS = pairwise_rows(FACTORS)


def _objective(jac_kind: str, maximize: bool):
    sign = -1.0 if maximize else 1.0

    def fun(x):
        return sign * himmelblau(x)

    def grad(x):
        return sign * himmelblau_jac(x)

    def hess(x):
        return sign * himmelblau_hess(x)

    def fun_and_grad(x):
        return fun(x), grad(x)

    jac = {"none": None, "callable": grad, "true": True, "2-point": "2-point"}[jac_kind]
    return (fun_and_grad if jac_kind == "true" else fun), jac, hess


def _refused_up_front(method: str, jac_kind: str) -> bool:
    info = METHODS[method]
    return info.needs_jac and jac_kind in ("none", "2-point")


def _row_id(row: dict) -> str:
    return "-".join(str(v) for v in row.values())


@pytest.fixture(scope="module")
def cluster(dask_client):
    return dask_client


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_feature_pairs_find_the_known_minimum(row, request):
    method, jac_kind, maximize = row["method"], row["jac"], row["maximize"]
    fun, jac, hess = _objective(jac_kind, maximize)
    client = request.getfixturevalue("cluster") if row["client"] == "cluster" else "serial"
    kwargs = dict(method=method, jac=jac, maximize=maximize, seed=1, client=client,
                  local={"scale": row["scale"]}, search={"strategy": row["strategy"]},
                  hess=hess if METHODS[method].uses_hess else None)
    if row["strategy"] == "all":
        kwargs["n_starts"] = 24
    else:
        kwargs["max_evals"] = 4000
    if _refused_up_front(method, jac_kind):
        with pytest.raises(engine.ProblemError, match="jac"):
            engine.minimize(fun, BOUNDS, **kwargs)
        return
    res = engine.minimize(fun, BOUNDS, **kwargs)
    assert res.spec.method == method and res.spec.strategy == row["strategy"]
    # The best value is Himmelblau's 0 (in the user's sign), at one of its four minima.
    assert abs(res.fun) < 1e-6, res.summary()
    assert np.min(np.max(np.abs(KNOWN - res.x), axis=1)) < 1e-3, res.x
    for m in res.minima:
        assert m.fun * (-1 if maximize else 1) >= -1e-9  # no value beyond the optimum
    # Failures the user caused are allowed: an unbounded method leaving the box, a budget
    # that ran out in the middle of a descent, a method that needs a positive definite
    # Hessian (dogleg, scipy's documented limit) or breaks down on an indefinite one
    # (trust-krylov) used on a function that has saddles. Anything else is the engine's fault.
    allowed = ("stopped by budget", "converged outside the bounds")
    if method == "dogleg":
        allowed += ("non-psd Hessian",)
    if method == "trust-krylov":
        allowed += ("non-finite point",)
    for run in res.runs:
        if not run.success:
            assert any(a in run.message for a in allowed), (run.message, res.summary())
    assert res.n_failed < res.n_starts


# ----------------------------------------------------------------------- least squares

DECAY_T = np.linspace(0.0, 5.0, 40)
DECAY_Y = 2.0 * np.exp(-0.5 * DECAY_T) + 1.0 * np.exp(-3.0 * DECAY_T)
DECAY_BOUNDS = [(0.0, 5.0), (0.0, 10.0), (0.0, 5.0), (0.0, 10.0)]
DECAY_KNOWN = np.array([[1.0, 3.0, 2.0, 0.5], [2.0, 0.5, 1.0, 3.0]])

FIT_FACTORS = {
    "method": ["trf", "dogbox", "lm"],
    "jac": ["2-point", "3-point", "callable"],
    "loss": ["linear", "soft_l1"],
    "symmetries": [False, True],
    "strategy": ["all", "mlsl", "tiktak"],
    "client": ["serial", "cluster"],
}
FIT_ROWS = pairwise_rows(FIT_FACTORS)


def decay_residuals(p: np.ndarray) -> np.ndarray:
    return p[0] * np.exp(-p[1] * DECAY_T) + p[2] * np.exp(-p[3] * DECAY_T) - DECAY_Y


def decay_jacobian(p: np.ndarray) -> np.ndarray:
    t = DECAY_T
    return np.column_stack([np.exp(-p[1] * t), -p[0] * t * np.exp(-p[1] * t),
                            np.exp(-p[3] * t), -p[2] * t * np.exp(-p[3] * t)])


@pytest.mark.parametrize("row", FIT_ROWS, ids=_row_id)
def test_least_squares_feature_pairs_find_the_exact_fit(row, request):
    client = request.getfixturevalue("cluster") if row["client"] == "cluster" else "serial"
    lm = row["method"] == "lm"  # MINPACK: no bounds, only the linear loss
    kwargs = dict(method=row["method"], bounded=not lm, loss="linear" if lm else row["loss"],
                  jac=decay_jacobian if row["jac"] == "callable" else row["jac"],
                  symmetries=[[0, 1], [2, 3]] if row["symmetries"] else None, seed=2,
                  client=client, search={"strategy": row["strategy"]})
    if row["strategy"] == "all":
        kwargs["n_starts"] = 16
    else:
        kwargs["max_evals"] = 3000
    res = engine.least_squares(decay_residuals, DECAY_BOUNDS, **kwargs)
    assert res.spec.method == row["method"] and res.spec.strategy == row["strategy"]
    # The data are exact: the cost at the best fit is 0 (up to rounding) under either loss.
    assert res.fun < 1e-20, res.summary()
    assert np.min(np.max(np.abs(DECAY_KNOWN - res.x), axis=1)) < 1e-7, res.x
    exact = [m for m in res.minima if m.fun < 1e-20]
    if row["symmetries"]:
        assert len(exact) == 1
        np.testing.assert_allclose(exact[0].x, DECAY_KNOWN[0], atol=1e-7)
    else:
        assert 1 <= len(exact) <= 2
    for run in res.runs:
        # Only lm (unbounded) may fail, and only by leaving the box; the budget may stop any.
        assert (run.success or stopped_by_budget(run.error)
                or (lm and not run.in_bounds)), run.message
