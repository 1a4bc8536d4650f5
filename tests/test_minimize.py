"""Known-answer tests of engine.minimize on problems whose minima are published."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from functions import get
from scipy.optimize import minimize_scalar

import engine
from engine.api import resolve_spec
from engine.driver import run_multistart
from engine.options import StartOptions
from engine.parallel.serial import SerialExecutor
from engine.problem import Problem


def _match(found: list[np.ndarray], known: list[np.ndarray], atol: float) -> list[int]:
    """For each known point, the index of the found point within atol (or -1)."""
    out = []
    for k in known:
        dist = [np.max(np.abs(np.asarray(f) - k)) for f in found]
        out.append(int(np.argmin(dist)) if dist and min(dist) <= atol else -1)
    return out


def test_himmelblau_64_sobol_starts_find_exactly_four_minima_on_cluster(dask_client):
    prob = get("himmelblau")
    res = engine.minimize(prob.fun, prob.bounds, n_starts=64, seed=3, client=dask_client)
    assert len(res.minima) == 4
    xs = [m.x for m in res.minima]
    matched = _match(xs, [np.array(p) for p in prob.global_minima], atol=1e-5)
    assert sorted(matched) == [0, 1, 2, 3], (matched, xs)
    assert all(abs(m.fun) < 1e-6 for m in res.minima)
    assert sum(m.n_hits for m in res.minima) == sum(r.success for r in res.runs)
    assert res.n_starts == 64 and res.stop_reason == "n_starts"
    assert res.nfev == sum(r.nfev for r in res.runs) > 64


def test_six_hump_camel_finds_all_six_minima_with_globals_first(dask_client):
    prob = get("six_hump_camel")
    res = engine.minimize(prob.fun, prob.bounds, n_starts=512, seed=0, client=dask_client)
    known = sorted(prob.local_minima, key=lambda xf: xf[1])
    assert len(known) == 6
    assert len(res.minima) == 6, res.summary()
    matched = _match([m.x for m in res.minima], [np.array(x) for x, _ in known], atol=1e-4)
    assert sorted(matched) == list(range(6)), matched
    assert res.minima[0].fun == pytest.approx(-1.0316284534898774, abs=1e-8)
    assert res.minima[1].fun == pytest.approx(-1.0316284534898774, abs=1e-8)
    assert res.minima[2].fun > -1.0
    assert [m.fun for m in res.minima] == sorted(m.fun for m in res.minima)


def test_branin_three_global_minima_rank_first():
    prob = get("branin")
    res = engine.minimize(prob.fun, prob.bounds, n_starts=64, seed=1, client="serial")
    assert len(res.minima) == 3, res.summary()
    matched = _match([m.x for m in res.minima], [np.array(x) for x in prob.global_minima], 1e-4)
    assert sorted(matched) == [0, 1, 2]
    for m in res.minima:
        assert m.fun == pytest.approx(0.397887357729738, abs=1e-8)


def _reference_maxima_1d(f, low, high):
    """Local maxima of f on [low, high] (end points included) by a dense grid and a refine."""
    grid = np.linspace(low, high, 20001)
    values = np.array([f(np.array([g])) for g in grid])
    peaks = [i for i in range(1, len(grid) - 1)
             if values[i] >= values[i - 1] and values[i] >= values[i + 1]]
    # An end point is a local maximum of the bounded problem when f falls away from it.
    out = [(grid[i], values[i]) for i in (0, len(grid) - 1)
           if values[i] > values[1 if i == 0 else len(grid) - 2]]
    for i in peaks:
        r = minimize_scalar(lambda t: -f(np.array([t])), bounds=(grid[i - 1], grid[i + 1]),
                            method="bounded", options={"xatol": 1e-12})
        out.append((r.x, -r.fun))
    return sorted(out, key=lambda p: -p[1])


def test_one_dimensional_maximize_reports_maxima_with_original_sign():
    def wavy(x):
        return math.sin(3.0 * x[0]) - 0.1 * x[0] ** 2

    reference = _reference_maxima_1d(wavy, -5.0, 5.0)
    res = engine.minimize(wavy, [(-5, 5)], n_starts=64, seed=2, maximize=True, client="serial")
    assert res.maximize
    assert len(res.minima) == len(reference)
    for found, (x_ref, f_ref) in zip(res.minima, reference, strict=True):
        assert found.x[0] == pytest.approx(x_ref, abs=1e-5)
        assert found.fun == pytest.approx(f_ref, abs=1e-9)
    assert res.fun == max(m.fun for m in res.minima)
    assert all(r.fun <= res.fun + 1e-12 for r in res.runs if r.success)


def _minima_signature(res):
    return [(m.x, m.fun, m.n_hits, m.starts) for m in res.minima]


def test_same_seed_same_minima_serial_and_two_worker_cluster(dask_client):
    prob = get("six_hump_camel")
    serial = engine.minimize(prob.fun, prob.bounds, n_starts=200, seed=11, client="serial")
    cluster = engine.minimize(prob.fun, prob.bounds, n_starts=200, seed=11, client=dask_client)
    assert len(serial.minima) == len(cluster.minima) == 6
    known = [np.array(x) for x, _ in prob.local_minima]
    assert sorted(_match([m.x for m in serial.minima], known, atol=1e-4)) == list(range(6))
    for (xa, fa, ha, sa), (xb, fb, hb, sb) in zip(
        _minima_signature(serial), _minima_signature(cluster), strict=True
    ):
        np.testing.assert_allclose(xa, xb, atol=1e-9, rtol=0)
        assert fa == pytest.approx(fb, abs=1e-12)
        assert (ha, sa) == (hb, sb)


class ShuffledExecutor(SerialExecutor):
    """Solves everything, then hands results back in a random order, in random batch sizes."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def run(self, problem, opts, starts, total=None, timeout=None):
        runs = [run for batch in super().run(problem, opts, starts) for run in batch]
        self.rng.shuffle(runs)
        while runs:
            k = self.rng.randint(1, 7)
            yield runs[:k]
            runs = runs[k:]


@pytest.mark.parametrize("shuffle_seed", [0, 1, 2])
def test_minima_do_not_depend_on_result_arrival_order(shuffle_seed):
    prob = get("six_hump_camel")
    problem = Problem.create(prob.fun, prob.bounds)
    spec = resolve_spec(problem, {"starts": StartOptions(n_starts=150, seed=5)})
    ordered = run_multistart(problem, spec, SerialExecutor())
    shuffled = run_multistart(problem, spec, ShuffledExecutor(shuffle_seed))
    assert [r.index for r in shuffled.runs] == list(range(150))
    for a, b in zip(_minima_signature(ordered), _minima_signature(shuffled), strict=True):
        np.testing.assert_allclose(a[0], b[0], atol=1e-9, rtol=0)
        assert a[1:] == b[1:]
    assert len(ordered.minima) == len(shuffled.minima)


def _fragile_himmelblau(x):
    """Himmelblau, but it raises in one corner and returns NaN in another."""
    if x[0] > 4.0 and x[1] > 4.0:
        raise ZeroDivisionError("simulated crash")
    if x[0] < -4.0 and x[1] > 4.0:
        return float("nan")
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


@pytest.mark.parametrize("client", ["serial", "cluster"])
def test_raising_and_nan_objective_is_counted_and_good_minima_still_found(client, dask_client):
    res = engine.minimize(_fragile_himmelblau, [(-5, 5), (-5, 5)], n_starts=128, seed=4,
                          client=dask_client if client == "cluster" else "serial")
    assert res.n_starts == 128
    assert res.n_failed == sum(not r.success for r in res.runs) > 0
    failures = res.failures()
    assert "ZeroDivisionError" in failures
    assert "ValueError" in failures  # NaN is reported as a ValueError naming the value
    nan_runs = [r for r in res.runs if r.error and "nan" in r.error]
    assert nan_runs and all(not r.success for r in nan_runs)
    crash = next(r for r in res.runs if r.error and r.error.startswith("ZeroDivisionError"))
    assert "simulated crash" in crash.message
    assert len(res.minima) == 4
    assert all(abs(m.fun) < 1e-6 for m in res.minima)


def test_lambda_and_closure_objectives_run_on_cluster(dask_client):
    shift = np.array([0.5, -0.25])

    def closure(x):
        return float(np.sum((x - shift) ** 2))

    res = engine.minimize(closure, [(-1, 1), (-1, 1)], n_starts=8, seed=0, client=dask_client)
    np.testing.assert_allclose(res.x, shift, atol=1e-6)
    res = engine.minimize(lambda x, a: float((x[0] - a) ** 2), [(-3, 3)], args=(1.5,),
                          n_starts=4, seed=0, client=dask_client)
    assert res.x[0] == pytest.approx(1.5, abs=1e-6)


def test_user_x0_points_run_first_and_starts_stay_inside_bounds():
    prob = get("himmelblau")
    res = engine.minimize(prob.fun, prob.bounds, x0=[[3.0, 2.0], [0.0, 0.0]], n_starts=30,
                          seed=1, client="serial")
    np.testing.assert_array_equal(res.runs[0].x0, [3.0, 2.0])
    np.testing.assert_array_equal(res.runs[1].x0, [0.0, 0.0])
    assert res.n_starts == 32
    x0s = np.array([r.x0 for r in res.runs[2:]])
    assert np.all(x0s > -5) and np.all(x0s < 5)


def test_target_stops_early_with_reason():
    prob = get("six_hump_camel")
    res = engine.minimize(prob.fun, prob.bounds, n_starts=500, seed=0, target=-1.03,
                          client="serial")
    assert res.stop_reason == "target"
    assert res.n_starts < 500
    assert res.fun <= -1.03


def test_max_evals_stops_and_is_not_overshot_by_more_than_one_run():
    prob = get("himmelblau")
    res = engine.minimize(prob.fun, prob.bounds, n_starts=500, seed=0, max_evals=1000,
                          client="serial")
    assert res.stop_reason == "max_evals"
    biggest = max(r.nfev for r in res.runs)
    assert 1000 <= res.nfev < 1000 + biggest


def test_max_time_and_callback_stop_the_run():
    prob = get("himmelblau")
    res = engine.minimize(prob.fun, prob.bounds, n_starts=10**6, seed=0, max_time=0.3,
                          client="serial")
    assert res.stop_reason == "max_time" and 0 < res.n_starts < 10**6
    seen = []
    res = engine.minimize(prob.fun, prob.bounds, n_starts=100, seed=0, client="serial",
                          callback=lambda s: seen.append(s.n_done) or s.n_done >= 7)
    assert res.stop_reason == "callback" and res.n_starts == 7 and seen == list(range(1, 8))


def test_only_max_evals_keeps_starting_until_budget_spent():
    prob = get("himmelblau")
    res = engine.minimize(prob.fun, prob.bounds, max_evals=20000, seed=0, client="serial")
    assert res.stop_reason == "max_evals"
    assert res.n_starts > 128  # went past the default number of starts


def test_result_serializes_to_json_and_frames(tmp_path):
    import json

    prob = get("himmelblau")
    res = engine.minimize(prob.fun, prob.bounds, n_starts=16, seed=0, client="serial")
    data = json.loads(json.dumps(res.to_dict()))
    assert data["n_minima"] == len(res.minima) and len(data["runs"]) == 16
    assert data["provenance"]["seed"] == 0
    assert data["provenance"]["versions"]["scipy"]
    frame = res.to_frame()
    assert list(frame["rank"]) == list(range(1, len(res.minima) + 1))
    assert len(res.to_frame("runs")) == 16
    saved = json.loads(res.save(tmp_path / "r.json").read_text())
    assert saved["minima"] == data["minima"] and saved["fun"] == res.fun


def test_saved_result_loads_back_equal(tmp_path):
    prob = get("six_hump_camel")
    res = engine.minimize(prob.fun, prob.bounds, n_starts=32, seed=4, client="serial")
    back = engine.MultistartResult.load(res.save(tmp_path / "r.json"))
    assert back.to_dict() == res.to_dict()


def test_local_client_runs_several_calls_on_one_tuned_cluster_and_closes_it():
    """engine.local_client: workers get the multistart settings, this process keeps its own
    Dask configuration, and closing the client stops the cluster it started."""
    import dask

    before = dask.config.get("distributed.admin.tick.interval")
    client = engine.local_client(n_workers=2, dashboard_address=None)
    try:
        assert dask.config.get("distributed.admin.tick.interval") == before
        profiling = client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
        assert len(profiling) == 2 and not any(profiling.values())
        prob = get("himmelblau")
        for seed in (0, 1):
            res = engine.minimize(prob.fun, prob.bounds, n_starts=64, seed=seed, client=client)
            assert len(res.minima) == 4 and all(abs(m.fun) < 1e-6 for m in res.minima)
        cluster = client.cluster
    finally:
        client.close()
    assert cluster.status.name == "closed"
