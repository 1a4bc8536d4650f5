"""What scipy and MATLAB users expect of a result, its files and the callback (issue 15)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

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
