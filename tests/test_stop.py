"""Stop rules: each rule on its own, the reasons the engine can give, and the rules in a run."""

from __future__ import annotations

import time
import typing

import numpy as np
import pytest
from functions import PROBLEMS, get

import engine
from engine.api import resolve_spec
from engine.driver import run_multistart
from engine.options import DedupOptions, SearchOptions, StartOptions, StopOptions
from engine.parallel.serial import SerialExecutor
from engine.problem import Problem
from engine.results.types import LocalRun
from engine.session import Session
from engine.stop import (
    RULES,
    Bayes,
    Callback,
    MaxDiscoveries,
    MaxEvals,
    MaxEvalsWithoutImprovement,
    MaxTime,
    StopReason,
    StopRun,
    Target,
    better_than,
    rules_from,
    worth_polishing,
)

HIMMELBLAU = get("himmelblau")


def session(stop: StopOptions, maximize: bool = False, **kwargs) -> Session:
    problem = Problem.create(HIMMELBLAU.fun, HIMMELBLAU.bounds, maximize=maximize)
    return Session(problem, DedupOptions(), stop, executor=None, **kwargs)


def converged(index: int, fun: float, nfev: int = 10, x=(3.0, 2.0)) -> LocalRun:
    x = np.array(x, dtype=float)
    return LocalRun(index, x, x, fun, nfev, 2, True, "ok")


def test_stop_reason_lists_every_reason_the_engine_gives():
    reasons = set(typing.get_args(StopReason))
    assert {cls.reason for cls in RULES} <= reasons
    assert reasons == {"n_starts", "max_evals", "max_time", "target", "max_discoveries", "bayes",
                       "callback", "explored", "interrupted", "terminated",
                       "max_evals_without_improvement"}


def test_rules_are_built_from_the_options_in_the_order_they_are_asked():
    assert rules_from(StopOptions()) == ()
    rules = rules_from(StopOptions(max_evals=10, max_time=5.0, target=0.0, max_discoveries=2,
                                   bayes=True, max_evals_without_improvement=7), print)
    assert [type(r) for r in rules] == [Target, MaxDiscoveries, MaxEvals, MaxTime,
                                        MaxEvalsWithoutImprovement, Bayes, Callback]
    assert [r.at for r in rules] == ["run", "run", "budget", "budget", "budget", "round",
                                     "report"]


def test_polishing_follows_the_reason():
    assert all(map(worth_polishing, ["n_starts", "explored", "max_evals", "bayes",
                                     "max_discoveries", "max_evals_without_improvement"]))
    assert not any(map(worth_polishing, ["max_time", "target", "callback", "interrupted"]))


@pytest.mark.parametrize("maximize", [False, True])
def test_target_rule_compares_in_the_users_sign(maximize):
    s = session(StopOptions(target=5.0), maximize=maximize)
    # Runs hold the user's sign: maximizing, 6 reaches a target of 5 and 4 falls short.
    short, reached = (converged(0, 4.0), converged(1, 6.0)) if maximize else (
        converged(0, 6.0), converged(1, 4.0))
    s.record_many([short])
    s.check_run(short)  # not there yet: the run goes on
    s.record_many([reached])
    with pytest.raises(StopRun) as stop:
        s.check_run(reached)
    assert stop.value.reason == "target"
    failed = LocalRun(2, reached.x0, reached.x, reached.fun, 3, 1, False, "failed")
    s.check_run(failed)  # only a converged run can meet the target


@pytest.mark.parametrize("kwargs", [dict(n_starts=300), dict(max_evals=5000, seed=1)])
def test_maximizing_with_a_target_stops_only_once_a_run_reached_it(kwargs):
    problem = PROBLEMS["shubert"]
    target = 186.7
    res = engine.minimize(lambda x: -problem.fun(x), problem.bounds, maximize=True,
                          target=target, client="serial", **{"seed": 1, **kwargs})
    assert res.stop_reason == "target"
    assert res.fun >= target
    assert res.runs[0].fun < target and res.n_starts > 1  # the first start fell short
    assert res.runs[-1].success and res.runs[-1].fun >= target
    assert all(r.fun < target for r in list(res.runs)[:-1] if r.success)


def test_budget_and_time_rules_read_the_sessions_totals():
    s = session(StopOptions(max_evals=25))
    s.record_many([converged(0, 1.0, nfev=20)])
    s.check_limits()
    s.record_many([converged(1, 1.0, nfev=5)])
    with pytest.raises(StopRun, match="max_evals"):
        s.check_limits()
    timed = session(StopOptions(max_time=1e-9))
    time.sleep(1e-6)
    with pytest.raises(StopRun, match="max_time"):
        timed.check_limits()


def test_callback_sees_each_run_and_stops_only_on_true():
    seen = []

    def callback(state):
        seen.append(state.run.index)
        return 1 if state.run.index == 0 else state.run.index == 1  # truthy is not True

    s = session(StopOptions(), callback=callback)
    first, second = converged(0, 1.0), converged(1, 1.0)
    s.record_many([first])
    s.report(first)
    s.record_many([second])
    with pytest.raises(StopRun, match="callback"):
        s.report(second)
    assert seen == [0, 1]


class TestMaxEvalsWithoutImprovement:
    def test_counts_from_the_last_improvement_larger_than_ftol(self):
        s = session(StopOptions(max_evals_without_improvement=30))
        s.record_many([converged(0, 10.0, nfev=20)])
        s.check_limits()  # improved (from nothing) at nfev 20
        s.record_many([converged(1, 10.0 - 1e-9, nfev=20)])  # below ftol: no improvement
        s.check_limits()  # 20 evaluations since: go on
        s.record_many([converged(2, 4.0, nfev=20, x=(-2.8, 3.1))])  # improved at nfev 60
        s.check_limits()
        s.record_many([converged(3, 4.0, nfev=29, x=(-2.8, 3.1))])
        s.check_limits()  # 29 since
        s.record_many([converged(4, 4.0, nfev=1, x=(-2.8, 3.1))])
        with pytest.raises(StopRun) as stop:
            s.check_limits()
        assert stop.value.reason == "max_evals_without_improvement"

    def test_sample_points_count_as_evaluations_and_as_improvements(self):
        s = session(StopOptions(max_evals_without_improvement=50))
        units = np.full((60, 2), 0.5)  # (0, 0): value 170
        s.evaluate(units[:40], vectorized=False)
        s.check_limits()
        s.evaluate(np.array([[0.8, 0.7]]), vectorized=False)  # (3, 2): the minimum
        s.check_limits()
        s.evaluate(units[:49], vectorized=False)
        s.check_limits()  # 49 evaluations since the improvement
        s.evaluate(units[:1], vectorized=False)
        with pytest.raises(StopRun, match="max_evals_without_improvement"):
            s.check_limits()

    @pytest.mark.parametrize("strategy", ["all", "mlsl"])
    def test_a_run_stops_once_the_best_value_stalls(self, strategy):
        problem = Problem.create(HIMMELBLAU.fun, HIMMELBLAU.bounds)
        n = 400
        spec = resolve_spec(problem, {
            "starts": StartOptions(n_starts=10_000, seed=0),
            "stop": StopOptions(max_evals=50_000, max_evals_without_improvement=n),
            "search": SearchOptions(strategy=strategy)})
        res = run_multistart(problem, spec, SerialExecutor())
        assert res.stop_reason == "max_evals_without_improvement"
        assert res.fun == pytest.approx(0.0, abs=1e-10)
        assert res.nfev < 50_000
        if strategy == "all":
            # Replay the rule: asked after every run, it stops at the first run n
            # evaluations past the last improvement.
            best, since, total = float("inf"), 0, 0
            for k, run in enumerate(res.runs):
                total += run.nfev
                if better_than(run.fun, best, DedupOptions().ftol):
                    best, since = run.fun, total
                if total - since >= n:
                    assert k == len(res.runs) - 1
                    break
            else:
                pytest.fail("the rule should have stopped the run")
