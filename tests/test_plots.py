"""Pictures of a run: every plot writes a real PNG and SVG showing what it claims."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from functions import get, multimodal_1d_max_objective

import engine
from engine.analysis import plots

pytest.importorskip("matplotlib")
from matplotlib.colors import to_rgb
from matplotlib.image import imread

HIMMELBLAU = get("himmelblau")
CAMEL = get("six_hump_camel")


@pytest.fixture(scope="module")
def himmelblau_result() -> engine.MultistartResult:
    return engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=32, seed=0,
                           client="serial")


@pytest.fixture(scope="module")
def camel_result() -> engine.MultistartResult:
    return engine.minimize(CAMEL.fun, CAMEL.bounds, n_starts=128, seed=0, client="serial")


def assert_picture(paths: list[Path], *texts: str) -> np.ndarray:
    """A PNG with real content and an SVG containing ``texts``; returns the PNG pixels."""
    assert [p.suffix for p in paths] == [".png", ".svg"]
    png, svg = paths
    assert png.stat().st_size > 5000
    pixels = imread(png)
    assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 400
    assert float(pixels[..., :3].var()) > 0.005  # not a blank or single-colour canvas
    assert len(np.unique(pixels[..., :3].reshape(-1, 3), axis=0)) > 50
    text = svg.read_text()
    assert "<svg" in text
    for t in texts:
        assert t in text, t
    return pixels[..., :3]


def has_colour(pixels: np.ndarray, colour: str, atol: float = 0.02, least: int = 20) -> bool:
    """At least ``least`` pixels of exactly this colour (marker fills are not antialiased)."""
    close = np.all(np.abs(pixels - np.array(to_rgb(colour))) <= atol, axis=-1)
    return int(close.sum()) >= least


def test_landscape_2d_marks_each_himmelblau_minimum_in_its_rank_colour(himmelblau_result,
                                                                         tmp_path):
    paths = plots.plot_landscape_2d(himmelblau_result, HIMMELBLAU.fun, tmp_path / "land",
                                    resolution=60)
    assert len(himmelblau_result.minima) == 4
    pixels = assert_picture(paths, "Landscape", "4 distinct minima", "x0", "x1")
    for rank in range(4):
        assert has_colour(pixels, plots._PALETTE[rank]), rank
    assert not has_colour(pixels, plots._PALETTE[5])  # no fifth minimum drawn


def test_landscape_2d_of_six_hump_camel_shows_six_minima_and_their_labels(camel_result,
                                                                           tmp_path):
    assert len(camel_result.minima) == 6
    paths = plots.plot_landscape_2d(camel_result, CAMEL.fun, tmp_path / "camel.png",
                                    resolution=60)
    assert [p.name for p in paths] == ["camel.png", "camel.svg"]
    pixels = assert_picture(paths, "6 distinct minima", 'id="minimum-1"', 'id="minimum-6"')
    assert 'id="minimum-7"' not in paths[1].read_text()
    for rank in range(6):
        assert has_colour(pixels, plots._PALETTE[rank]), rank


def test_landscape_2d_of_a_3d_problem_is_a_section_through_the_best_minimum(tmp_path):
    prob = get("hartmann3")
    res = engine.minimize(prob.fun, prob.bounds, n_starts=16, seed=0, client="serial")
    paths = plots.plot_landscape_2d(res, prob.fun, tmp_path / "h3", dims=(0, 2), resolution=30)
    assert_picture(paths, "section through the best minimum", "x2")
    with pytest.raises(engine.EngineError, match="dims"):
        plots.plot_landscape_2d(res, prob.fun, tmp_path / "bad", dims=(1, 1))


def test_landscape_1d_of_a_maximization_numbers_the_maxima(tmp_path):
    prob = get("multimodal_1d_max")
    res = engine.minimize(multimodal_1d_max_objective, prob.bounds, n_starts=24, seed=0,
                          client="serial", maximize=True)
    assert res.fun == pytest.approx(-prob.f_min, abs=1e-8)
    paths = plots.plot_landscape_1d(res, multimodal_1d_max_objective, tmp_path / "l1")
    pixels = assert_picture(paths, "distinct maxima", "f(x)", 'id="maximum-1"')
    assert has_colour(pixels, plots._PALETTE[0])
    with pytest.raises(engine.EngineError, match="1-D"):
        plots.plot_landscape_1d(res, multimodal_1d_max_objective, tmp_path / "x",
                                bounds=[(0, 1), (0, 1)])


def test_basins_draws_one_bar_per_minimum_in_rank_colours(camel_result, tmp_path):
    paths = plots.plot_basins(camel_result, tmp_path / "basins")
    pixels = assert_picture(paths, "Hits per distinct minimum", "-1.032", "2.104")
    for rank in range(6):
        assert has_colour(pixels, plots._PALETTE[rank], least=200), rank
    assert not has_colour(pixels, plots._PALETTE[6], least=200)


def test_waterfall_and_convergence_write_labelled_pictures(camel_result, tmp_path):
    assert_picture(plots.plot_waterfall(camel_result, tmp_path / "w"), "Waterfall",
                   "final f")
    assert_picture(plots.plot_convergence(camel_result, tmp_path / "c"),
                   "objective evaluations so far", "wall time so far", "best so far",
                   "best minimum first reached")


def test_convergence_curves_follow_the_runs_in_start_order(camel_result):
    curves = plots.convergence_curves(camel_result)
    runs = camel_result.runs
    assert curves["nfev"][-1] == camel_result.nfev
    assert curves["nfev"][0] == runs[0].nfev
    assert curves["time"][-1] == pytest.approx(sum(r.time for r in runs))
    assert curves["wall"][-1] == pytest.approx(camel_result.wall_time)
    assert np.all(np.diff(curves["wall"]) >= 0)
    best = curves["best"]
    assert np.all(np.diff(best) <= 0)  # best-so-far never gets worse
    assert best[-1] == camel_result.fun
    assert best[0] == runs[0].fun
    first = next(i for i, r in enumerate(runs) if r.fun == camel_result.fun)
    assert best[first] == camel_result.fun and (first == 0 or best[first - 1] > best[first])


def test_trace_run_starts_at_x0_and_ends_at_the_minimum_the_run_reached(himmelblau_result):
    run = himmelblau_result.runs[3]
    path = plots.trace_run(himmelblau_result, HIMMELBLAU.fun, run.index)
    assert path.shape[1] == 2 and len(path) > 3  # the start, iterates, the end
    assert np.array_equal(path[0], run.x0)
    assert np.max(np.abs(path[-1] - run.x)) < 1e-4
    with pytest.raises(engine.EngineError, match="no run with start index 999"):
        plots.trace_run(himmelblau_result, HIMMELBLAU.fun, 999)


def test_trace_with_an_initial_simplex_repeats_each_runs_own_solve():
    # scipy ignores x0 when given initial_simplex; the engine moves the simplex to each start,
    # and the trace must do the same or every path would be the same path.
    simplex = [[-4.5, -4.5], [-4.0, -4.5], [-4.5, -4.0]]
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=8, seed=0,
                          client="serial", method="Nelder-Mead",
                          options={"initial_simplex": simplex})
    ends = set()
    for run in res.runs[:4]:
        path = plots.trace_run(res, HIMMELBLAU.fun, run.index)
        assert np.array_equal(path[0], run.x0)
        assert np.max(np.abs(path[-1] - run.x)) < 1e-3, (run.index, path[-1], run.x)
        ends.add(tuple(np.round(path[-1], 2)))
    assert len(ends) > 1


def test_trace_of_a_run_solved_in_the_unit_box_follows_the_same_coordinates():
    # Bounds 1000x apart: the engine solves in unit-box coordinates, and so must the trace.
    f = lambda x: float((x[0] - 0.3) ** 2 + ((x[1] - 400.0) / 1000.0) ** 2)  # noqa: E731
    res = engine.minimize(f, [(-1, 1), (-1000, 1000)], n_starts=4, seed=0, client="serial",
                          method="L-BFGS-B")
    for run in res.runs:
        path = plots.trace_run(res, f, run.index)
        assert np.array_equal(path[0], run.x0)
        assert path[-1] == pytest.approx(run.x, abs=1e-3)
        assert path[-1] == pytest.approx([0.3, 400.0], abs=1e-3)


def test_trace_accepts_a_gradient_returned_with_the_value(himmelblau_result):
    def value_and_gradient(x):
        a, b = x[0] ** 2 + x[1] - 11, x[0] + x[1] ** 2 - 7
        return a**2 + b**2, np.array([4 * a * x[0] + 2 * b, 2 * a + 4 * b * x[1]])

    run = himmelblau_result.runs[3]
    path = plots.trace_run(himmelblau_result, value_and_gradient, run.index, jac=True)
    assert np.max(np.abs(path[-1] - run.x)) < 1e-4


def test_traces_draw_the_chosen_starts_paths(himmelblau_result, tmp_path):
    paths = plots.plot_traces(himmelblau_result, HIMMELBLAU.fun, tmp_path / "t",
                              starts=[0, 5], resolution=40)
    assert_picture(paths, "Solver paths (L-BFGS-B", "start 0:", "start 5:")


def test_plot_all_chooses_plots_by_dimension_and_skips_those_needing_fun(himmelblau_result,
                                                                        tmp_path):
    written = plots.plot_all(himmelblau_result, HIMMELBLAU.fun, tmp_path / "all")
    assert set(written) == {"landscape", "basins", "waterfall", "convergence", "traces"}
    for paths in written.values():
        assert all(p.exists() and p.parent == tmp_path / "all" for p in paths)
    without_fun = plots.plot_all(himmelblau_result, None, tmp_path / "nofun")
    assert set(without_fun) == {"basins", "waterfall", "convergence"}


def test_plot_all_of_a_3d_problem_uses_the_chosen_coordinates_and_starts(tmp_path):
    prob = get("hartmann3")
    res = engine.minimize(prob.fun, prob.bounds, n_starts=8, seed=0, client="serial")
    written = plots.plot_all(res, prob.fun, tmp_path, dims=(1, 2), trace_starts=[2],
                             resolution=30)
    landscape = written["landscape"][1].read_text()
    assert ">x1<" in landscape and ">x2<" in landscape and ">x0<" not in landscape
    assert_picture(written["traces"], "start 2:")
    assert "start 0:" not in written["traces"][1].read_text()


def test_plots_work_on_a_result_read_back_from_json(himmelblau_result, tmp_path):
    saved = himmelblau_result.save(tmp_path / "result.json")
    loaded = engine.MultistartResult.load(saved)
    assert_picture(plots.plot_basins(loaded, tmp_path / "b"), "4 distinct minima")


def test_missing_matplotlib_names_the_extra_to_install(himmelblau_result, tmp_path,
                                                       monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'multistart-engine\[plots\]'"):
        plots.plot_basins(himmelblau_result, tmp_path / "b")


def test_missing_bounds_are_asked_for(himmelblau_result, tmp_path):
    import dataclasses

    bare = dataclasses.replace(himmelblau_result, spec=None)
    with pytest.raises(engine.EngineError, match="pass bounds="):
        plots.plot_landscape_2d(bare, HIMMELBLAU.fun, tmp_path / "x", resolution=10)
    paths = plots.plot_landscape_2d(bare, HIMMELBLAU.fun, tmp_path / "x", resolution=30,
                                    bounds=HIMMELBLAU.bounds)
    assert_picture(paths)


def test_a_trace_climbs_for_a_maximization_and_each_point_is_a_new_best(tmp_path):
    def negated(x):
        return -HIMMELBLAU.fun(x)

    res = engine.minimize(negated, HIMMELBLAU.bounds, maximize=True, n_starts=8, seed=0,
                          client="serial")
    for run in res.runs[:3]:
        path = plots.trace_run(res, negated, run.index)
        values = np.array([negated(p) for p in path])
        assert np.all(np.diff(values) > 0), values  # every step a higher value
        assert np.array_equal(path[0], run.x0) and np.array_equal(path[-1], run.x)


def test_landscape_of_an_objective_returning_its_gradient_draws_the_value(tmp_path):
    def value_and_gradient(x):
        return HIMMELBLAU.fun(x), HIMMELBLAU.jac(x)

    res = engine.minimize(value_and_gradient, HIMMELBLAU.bounds, jac=True, n_starts=8, seed=0,
                          client="serial")
    assert res.n_failed == 0
    written = plots.plot_all(res, value_and_gradient, tmp_path / "pair", jac=True,
                             resolution=40)
    assert_picture(written["landscape"], "Landscape with starts")
    assert "objective not finite" not in written["landscape"][1].read_text()
