"""The portfolio strategy: eight searches on one budget and one set of minima."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from functions import himmelblau

import engine
from engine.results.types import MultistartResult
from engine.search.portfolio import (
    CORE,
    FULL_PORTFOLIO_EVALS,
    PRIOR,
    Arm,
    next_arm,
    target_shares,
)

BOX = [(-5.0, 5.0), (-5.0, 5.0)]
HIMMELBLAU_MINIMA = np.array([(3.0, 2.0), (-2.805118, 3.131313), (-3.779310, -3.283186),
                              (3.584428, -1.848127)])
SEARCHES = {"mlsl", "funnel", "hopping", "sweeps", "tiktak", "descents", "population",
            "partition"}


def portfolio(fun, bounds, search=None, **kwargs):
    return engine.minimize(fun, bounds, search={"strategy": "portfolio", **(search or {})},
                           **kwargs)


def test_himmelblau_four_minima_and_the_budget_split_is_reported():
    res = portfolio(himmelblau, BOX, max_evals=3000, seed=0, client="serial")
    assert res.strategy == "portfolio" and res.nfev <= 3000
    assert len(res.minima) == 4
    for known in HIMMELBLAU_MINIMA:
        assert min(np.max(np.abs(m.x - known)) for m in res.minima) < 1e-5
    assert set(res.portfolio) == SEARCHES
    split = sum(arm["evaluations"] for arm in res.portfolio.values())
    assert 0.8 * res.nfev <= split <= res.nfev  # the rest: the polish at the end
    for name in CORE:  # at a small budget, a try of the searches that reuse the others' work
        arm = res.portfolio[name]
        assert arm["steps"] >= 1 and arm["evaluations"] > 0, (name, arm)
    assert sum(arm["new_minima"] for arm in res.portfolio.values()) >= 4


def test_at_a_full_budget_every_search_has_a_fair_try():
    res = portfolio(himmelblau, BOX, max_evals=FULL_PORTFOLIO_EVALS, seed=0, client="serial")
    assert res.nfev <= FULL_PORTFOLIO_EVALS and len(res.minima) == 4
    for name, arm in res.portfolio.items():
        assert arm["steps"] >= 1 and arm["evaluations"] > 0, (name, arm)


def test_the_split_survives_result_json(tmp_path):
    res = portfolio(himmelblau, BOX, max_evals=1500, seed=1, client="serial")
    path = tmp_path / "result.json"
    path.write_text(json.dumps(res.to_dict()))
    assert MultistartResult.load(path).portfolio == res.portfolio


def test_same_seed_same_run_on_one_or_two_workers(dask_client):
    with ThreadPoolExecutor(1) as one:
        a = portfolio(himmelblau, BOX, max_evals=2000, seed=3, client=one)
    b = portfolio(himmelblau, BOX, max_evals=2000, seed=3, client=dask_client)
    assert a.portfolio == b.portfolio
    assert a.nfev == b.nfev and b.nfev <= 2000
    np.testing.assert_array_equal(np.array([m.x for m in a.minima]),
                                  np.array([m.x for m in b.minima]))


def test_shares_follow_the_prior_until_records_move_them():
    arms = [Arm(name, iter(())) for name in PRIOR]
    fresh = target_shares(arms)
    total = sum(PRIOR.values())
    assert fresh == pytest.approx({k: v / total for k, v in PRIOR.items()})  # the prior
    # Partition's steps all improve, MLSL's never: the budget moves, MLSL keeps a floor.
    for arm in arms:
        arm.steps = 10
    arms[list(PRIOR).index("partition")].reward = 10.0
    moved = target_shares(arms)
    assert moved["partition"] >= 1.9 * fresh["partition"]
    assert fresh["mlsl"] / 3 < moved["mlsl"] < fresh["mlsl"]
    assert sum(moved.values()) == pytest.approx(1.0)


def test_next_step_goes_to_the_search_furthest_below_its_share():
    arms = [Arm(name, iter(())) for name in PRIOR]
    for arm in arms:
        arm.evaluations = 100
    assert next_arm(arms).name == "mlsl"  # the largest prior share, equal spending
    arms[0].evaluations = 10_000
    assert next_arm(arms).name != "mlsl"
    for arm in arms[1:]:
        arm.done = "max_evals"
    assert next_arm(arms).name == "mlsl"  # a finished search is never chosen


def test_every_search_counts_against_max_evals_on_a_cluster(dask_client):
    res = portfolio(himmelblau, BOX, max_evals=800, seed=2, client=dask_client)
    assert res.stop_reason == "max_evals" and res.nfev <= 800
    assert len(res.minima) >= 3


def test_portfolio_with_a_gradient_and_maximize():
    def negated(x):
        value = himmelblau(x)
        a, b = x[0] ** 2 + x[1] - 11, x[0] + x[1] ** 2 - 7
        grad = np.array([4 * a * x[0] + 2 * b, 2 * a + 4 * b * x[1]])
        return -value, -grad

    res = portfolio(negated, BOX, jac=True, maximize=True, max_evals=3000, seed=0,
                    client="serial")
    assert res.fun == pytest.approx(0.0, abs=1e-8) and len(res.minima) == 4


def test_a_stopped_portfolio_resumes_from_its_journal_without_solving_starts_twice(tmp_path):
    journal = tmp_path / "runs.jsonl"

    def stop_at_12(state):
        return state.n_done >= 12

    first = portfolio(himmelblau, BOX, max_evals=3000, seed=4, client="serial",
                      journal=journal, callback=stop_at_12)
    assert first.stop_reason == "callback"
    done = {run.index for run in first.runs}
    resumed = portfolio(himmelblau, BOX, max_evals=3000, seed=4, client="serial",
                        journal=journal)
    assert done <= {run.index for run in resumed.runs}
    assert len(resumed.runs) == len({run.index for run in resumed.runs})
    assert resumed.nfev <= 3000 and len(resumed.minima) == 4


def test_the_default_with_only_a_budget_is_the_portfolio():
    res = engine.minimize(himmelblau, BOX, max_evals=1500, seed=0, client="serial")
    assert res.strategy == "portfolio" and set(res.portfolio) == SEARCHES
    assert res.nfev <= 1500 and len(res.minima) == 4


def test_a_global_phase_runs_first_in_the_portfolio_and_counts_against_the_budget(monkeypatch):
    import engine.search.rounds as rounds

    calls = []

    def spy(name, problem, budget, seed):
        x, used = real(name, problem, budget, seed)
        calls.append((name, budget, used))
        return x, used

    real = rounds.run_global_phase
    monkeypatch.setattr(rounds, "run_global_phase", spy)
    res = portfolio(himmelblau, BOX, max_evals=2000, seed=0, client="serial",
                    search={"global_phase": "differential_evolution"})
    # differential evolution gets global_fraction (0.2) of the budget, before any search
    assert [(name, budget) for name, budget, _ in calls] == [("differential_evolution", 400)]
    assert 0 < calls[0][2] <= 400 and res.n_explore >= calls[0][2]
    assert res.nfev <= 2000 and len(res.minima) == 4


def test_without_hops_the_portfolio_has_no_basin_hopping_nor_sweeps():
    res = portfolio(himmelblau, BOX, max_evals=1500, seed=0, client="serial",
                    search={"hops": False})
    assert set(res.portfolio) == SEARCHES - {"hopping", "sweeps"}
    assert len(res.minima) == 4


def test_the_users_points_are_solved_first():
    res = portfolio(himmelblau, BOX, max_evals=800, seed=0, client="serial", x0=[[1.0, 1.0]])
    first = res.runs.get(0)
    np.testing.assert_array_equal(first.x0, [1.0, 1.0])
    np.testing.assert_allclose(first.x, HIMMELBLAU_MINIMA[0], atol=1e-5)
