"""Strategies: the registry, what "auto" means, and each strategy behind the one protocol."""

from __future__ import annotations

import numpy as np
import pytest
from functions import PROBLEMS

import engine
from engine.api import resolve_spec
from engine.driver import run_multistart
from engine.exceptions import ConfigError
from engine.options import SearchOptions, StartOptions
from engine.parallel.serial import SerialExecutor
from engine.problem import Problem
from engine.search import (
    STRATEGIES,
    make_strategy,
    register,
    resolve_strategy,
    strategy_names,
)
from engine.search.rounds import ExplorationRounds

HIMMELBLAU = PROBLEMS["himmelblau"]


def test_every_strategy_is_registered_and_follows_the_protocol():
    assert set(strategy_names()) == {"all", "mlsl", "tiktak", "descents", "portfolio"}
    for name in strategy_names():  # what the option check accepts (engine.options)
        assert SearchOptions(strategy=name).strategy == name
    for name in strategy_names():
        strategy = make_strategy(name, SearchOptions())
        assert strategy.name == name
        assert isinstance(strategy.polishes, bool) and callable(strategy.run)
    assert issubclass(STRATEGIES["mlsl"], ExplorationRounds)
    assert issubclass(STRATEGIES["tiktak"], ExplorationRounds)


def test_an_unknown_strategy_names_the_allowed_ones():
    with pytest.raises(ConfigError, match="auto, all, descents, mlsl, tiktak"):
        make_strategy("nope", SearchOptions())


@pytest.mark.parametrize(("given", "n_starts", "points", "max_evals", "expected"), [
    ("auto", False, False, 1000, "portfolio"),
    ("auto", True, False, 1000, "all"),
    ("auto", False, True, 1000, "all"),
    ("auto", False, False, None, "all"),
    ("tiktak", True, True, None, "tiktak"),
])
def test_auto_is_resolved_in_one_place(given, n_starts, points, max_evals, expected):
    assert resolve_strategy(given, n_starts_given=n_starts, points_given=points,
                            max_evals=max_evals) == expected


def test_a_strategy_registered_elsewhere_is_run_by_the_driver():
    @register("centre-then-all")
    class CentreThenAll:
        polishes = False

        def __init__(self, search):
            self.search = search

        def run(self, session, plan, local):
            centre = (session.problem.lower + session.problem.upper) / 2
            session.solve([(plan.total, centre)], local)
            return "explored"

    try:
        problem = Problem.create(HIMMELBLAU.fun, HIMMELBLAU.bounds)
        spec = resolve_spec(problem, {"starts": StartOptions(n_starts=5, seed=0),
                                      "search": SearchOptions(strategy="centre-then-all")})
        res = run_multistart(problem, spec, SerialExecutor())
    finally:
        del STRATEGIES["centre-then-all"]
    assert res.strategy == "centre-then-all" and res.stop_reason == "explored"
    assert [r.index for r in res.runs] == [5]
    np.testing.assert_array_equal(res.runs[0].x0, [0.0, 0.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_descents_find_himmelblaus_four_minima_within_the_budget(seed):
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, max_evals=1500, seed=seed,
                          client="serial",
                          search={"strategy": "descents"})
    assert res.strategy == "descents" and res.stop_reason == "max_evals"
    assert res.nfev <= 1500 and res.n_explore == 0
    assert len(res.minima) == 4
    assert res.fun == pytest.approx(0.0, abs=1e-12)  # polished from the reserve
    found = sorted(np.round(m.x, 5).tolist() for m in res.minima)
    expected = sorted(np.round(np.array(HIMMELBLAU.global_minima, dtype=float), 5).tolist())
    np.testing.assert_allclose(found, expected, atol=1e-4)


def test_descents_without_a_budget_solve_every_start():
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=12, seed=0, client="serial",
                          search={"strategy": "descents"})
    assert res.stop_reason == "n_starts" and res.n_starts >= 12


def test_descents_keep_to_the_budget_on_a_cluster(dask_client):
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, max_evals=1500, seed=0,
                          client=dask_client,
                          search={"strategy": "descents"})
    assert res.stop_reason == "max_evals"
    assert res.nfev <= 1500  # each batch shares what is left: together they cannot overshoot
    assert len(res.minima) == 4


@pytest.mark.parametrize("max_evals", [300, 1500])
def test_all_starts_with_a_budget_keep_to_it_on_a_cluster(dask_client, max_evals):
    # Before: a stream of 2000 starts ran ahead of its results and spent 4958 evaluations
    # of a 300 budget (10716 of 1500).
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=2000, max_evals=max_evals,
                          seed=0, client=dask_client, search={"strategy": "all"})
    assert res.stop_reason == "max_evals" and res.strategy == "all"
    assert max_evals - 10 * 3 <= res.nfev <= max_evals
    assert len(res.minima) >= 3
