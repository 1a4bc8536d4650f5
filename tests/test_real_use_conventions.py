"""What scipy and MATLAB users expect of a result, its files and the callback (issue 15)."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest
from scipy.optimize import OptimizeResult

import engine
from engine.results.outputs import write_result_dir


def himmelblau(x: np.ndarray) -> float:
    return float((x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2)


BOUNDS = [(-5.0, 5.0), (-5.0, 5.0)]


@pytest.fixture(scope="module")
def result() -> engine.MultistartResult:
    return engine.minimize(himmelblau, BOUNDS, n_starts=16, seed=1)


def test_solutions_are_x_j_and_starts_x0_j_in_csv_and_frames(result, tmp_path):
    written = write_result_dir(result, tmp_path)
    with written["runs.csv"].open() as handle:
        header = next(csv.reader(handle))
    assert [c for c in header if c.startswith("x")] == ["x_0", "x_1", "x0_0", "x0_1"]
    with written["minima.csv"].open() as handle:
        header = next(csv.reader(handle))
    assert [c for c in header if c.startswith("x")] == ["x_0", "x_1"]
    runs = result.to_frame("runs")
    first = result.runs[0]
    assert runs.loc[0, "x0_0"] == first.x0[0] and runs.loc[0, "x_1"] == first.x[1]
    assert "x0" not in runs.columns and "x1" not in runs.columns
    minima = result.to_frame("minima")
    assert minima.loc[0, "x_0"] == result.minima[0].x[0]


def test_result_reads_like_scipy_optimize_result(result):
    assert result["x"] is result.x and result["fun"] == result.fun
    assert result.status == 0 and result.success is True and isinstance(result.message, str)
    assert set(result.keys()) >= {"x", "fun", "success", "status", "message", "nfev", "nit"}
    assert dict(result)["nfev"] == result.nfev and "x" in result
    with pytest.raises(KeyError):
        result["minimum"]
    best = result.lowest_optimization_result
    assert isinstance(best, OptimizeResult)
    assert best.fun == min(r.fun for r in result.runs if r.success) and best.success
    assert {"x", "fun", "nfev", "nit", "success", "message"} <= set(best)
    assert best.fun == result.minima[0].fun


def test_status_says_why_no_minimum_was_found():
    def broken(x: np.ndarray) -> float:
        raise ValueError("no model")

    failed = engine.minimize(broken, BOUNDS, n_starts=3, seed=0)
    assert not failed.success and failed.status == 2
    assert failed.lowest_optimization_result is None
    cut = engine.minimize(himmelblau, BOUNDS, n_starts=8, seed=0, max_evals=3)
    assert not cut.minima and cut.status == 1 and cut.stop_reason == "max_evals"


def test_each_minimum_carries_its_start_nfev_and_exitflag(result, tmp_path):
    runs = {r.index: r for r in result.runs}
    for m in result.minima:
        members = [runs[i] for i in m.starts]
        best = min(members, key=lambda r: r.fun)
        assert np.array_equal(m.x0, best.x0) and m.fun == best.fun
        assert m.nfev == sum(r.nfev for r in members) and m.exitflag == 1
    back = engine.MultistartResult.load(result.save(tmp_path))
    assert [(m.x0.tolist(), m.nfev, m.exitflag) for m in back.minima] == [
        (m.x0.tolist(), m.nfev, m.exitflag) for m in result.minima]
    old = result.to_dict(include_runs=False)  # as written before minima carried them
    for m in old["minima"]:
        del m["x0"], m["nfev"], m["exitflag"]
    loaded = engine.MultistartResult.from_dict(old)
    assert loaded.minima[0].x0 is None and loaded.minima[0].nfev is None
    assert loaded.minima[0].exitflag == 1 and loaded.minima[0].n_hits == result.minima[0].n_hits


def test_maximized_minimum_starts_from_its_highest_run():
    res = engine.minimize(lambda x: -himmelblau(x), BOUNDS, n_starts=12, seed=2,
                          maximize=True)
    runs = {r.index: r for r in res.runs}
    for m in res.minima:
        assert np.array_equal(m.x0, max((runs[i] for i in m.starts), key=lambda r: r.fun).x0)


def test_callback_minima_carry_their_starts():
    seen = []
    engine.minimize(himmelblau, BOUNDS, n_starts=6, seed=0,
                    callback=lambda state: seen.append(state.minima))
    assert seen[-1] and all(m.x0 is not None and m.nfev > 0 for m in seen[-1])


def _counts_callback(seen: list[tuple[int, int, int, float]]):
    def callback(state) -> None:
        seen.append((state.n_done, state.nfev, state.n_failed, state.best_fun))

    return callback


def test_cluster_callback_sees_each_run_with_its_own_counts(dask_client):
    seen: list[tuple[int, int, int, float]] = []
    res = engine.minimize(himmelblau, BOUNDS, n_starts=48, seed=4, client=dask_client,
                          callback=_counts_callback(seen))
    done = [s[0] for s in seen]
    assert done == list(range(done[0], done[0] + len(done))) and done[0] == 1
    assert done[-1] == res.n_starts == len(seen)
    nfevs = [s[1] for s in seen]
    assert all(a < b for a, b in itertools.pairwise(nfevs))
    assert nfevs[-1] == res.nfev
    best = [s[3] for s in seen if not np.isnan(s[3])]  # NaN before the first success
    assert all(b <= a for a, b in itertools.pairwise(best)) and best[-1] == res.fun


class Enough(RuntimeError):
    pass


def _raises_after(n: int):
    calls = []

    def callback(state) -> None:
        calls.append(state.n_done)
        if len(calls) == n:
            raise Enough(f"stop after {n} runs")

    return callback


@pytest.mark.parametrize("on_cluster", [False, True], ids=["serial", "cluster"])
def test_a_callback_that_raises_ends_the_run_with_the_results_so_far(on_cluster, request):
    client = request.getfixturevalue("dask_client") if on_cluster else None
    res = engine.minimize(himmelblau, BOUNDS, n_starts=40, seed=5, client=client,
                          callback=_raises_after(5))
    assert res.stop_reason == "callback" and type(res.stop_reason) is str
    assert "Enough: stop after 5 runs" in res.message
    assert 5 <= res.n_starts < 40 and res.minima and res.success and res.status == 0
    back = engine.MultistartResult.from_dict(res.to_dict())
    assert back.message == res.message and back.stop_reason == "callback"
