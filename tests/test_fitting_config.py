"""Least-squares problems from YAML: residuals by name, or a model and a CSV of data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import engine
from engine.cli import main
from engine.config import load_config
from engine.exceptions import ConfigError

ROOT = Path(__file__).resolve().parents[1]
FITTING = ROOT / "examples" / "fitting.py"

MODEL = '''
import numpy as np

def line(x, a, b):
    return a * x + b

def surface(x, a, b):
    return a * x[0] + b * x[1]
'''


def write(tmp_path: Path, problem: dict, **sections) -> Path:
    config = {"problem": problem, "starts": {"n_starts": 8, "seed": 0},
              "cluster": {"kind": "serial"}, "output": {"dir": str(tmp_path / "out")},
              **sections}
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump(config))
    (tmp_path / "models.py").write_text(MODEL)
    return path


def test_residuals_config_finds_the_decay_once_with_its_symmetry(tmp_path):
    path = write(tmp_path, {"kind": "least_squares", "residuals": f"{FITTING}:decay_residuals",
                            "bounds": [[0, 5], [0, 10], [0, 5], [0, 10]],
                            "symmetries": [[0, 1], [2, 3]]})
    res = engine.run_config(path)
    assert res.method == "trf" and "residuals given" in res.spec.method_reason
    optima = [m for m in res.minima if m.fun < 1e-20]
    assert len(optima) == 1
    np.testing.assert_allclose(optima[0].x, [1.0, 3.0, 2.0, 0.5], rtol=1e-8)
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["fun"] == pytest.approx(res.fun, abs=1e-25)


def test_data_fit_with_sigma_column_gives_the_weighted_least_squares_line(tmp_path):
    x = np.linspace(0, 1, 11)
    y = 2.0 * x + 1.0 + 0.01 * np.cos(9 * x)
    sigma = np.where(x < 0.5, 0.1, 0.2)
    np.savetxt(tmp_path / "data.csv", np.column_stack([x, y, sigma]), delimiter=",",
               header="x,y,sigma", comments="")
    path = write(tmp_path, {"kind": "least_squares", "model": "models.py:line",
                            "data": "data.csv", "bounds": [[-10, 10], [-10, 10]]})
    res = engine.run_config(path)
    design = np.column_stack([x, np.ones_like(x)]) / sigma[:, None]
    exact = np.linalg.lstsq(design, y / sigma, rcond=None)[0]
    np.testing.assert_allclose(res.x, exact, rtol=1e-10)
    residual = (design @ exact - y / sigma)
    assert res.fun == pytest.approx(0.5 * residual @ residual, rel=1e-9)


def test_data_with_two_input_columns_reaches_the_model_as_rows(tmp_path):
    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(size=15), rng.uniform(size=15)
    np.savetxt(tmp_path / "data.csv", np.column_stack([x1, x2, 3 * x1 - 2 * x2]),
               delimiter=",", header="x1,x2,y", comments="")
    path = write(tmp_path, {"kind": "least_squares", "model": "models.py:surface",
                            "data": "data.csv", "bounds": [[-5, 5], [-5, 5]]})
    res = engine.run_config(path)
    np.testing.assert_allclose(res.x, [3.0, -2.0], rtol=1e-10)


@pytest.mark.parametrize(("problem", "needles"), [
    ({"kind": "least_squares", "bounds": [[0, 1]]},
     ["least_squares needs residuals: 'file.py:function'"]),
    ({"kind": "least_squares", "objective": "models.py:line", "bounds": [[0, 1]],
      "residuals": "models.py:line"},
     ["problem.objective belongs to kind: minimize, but this problem is kind: least_squares"]),
    ({"objective": "models.py:line", "bounds": [[0, 1]], "loss": "huber"},
     ["problem.loss belongs to kind: least_squares"]),
    ({"kind": "fit", "objective": "models.py:line", "bounds": [[0, 1]]},
     ["problem.kind='fit': use one of minimize, least_squares"]),
    ({"kind": "least_squares", "model": "models.py:line", "data": "missing.csv",
      "bounds": [[0, 1]] * 2}, ["problem.data: file 'missing.csv' not found"]),
    ({"kind": "least_squares", "model": "models.py:line", "data": "bad.csv",
      "bounds": [[0, 1]] * 2}, ["bad.csv has columns ['t', 'y']; it needs x"]),
    ({"kind": "least_squares", "residuals": "models.py:line", "model": "models.py:line",
      "data": "bad.csv", "bounds": [[0, 1]] * 2},
     ["give residuals, or model and data, not both"]),
    ({"kind": "least_squares", "residuals": "models.py:line", "f_scale": -2,
      "bounds": [[0, 1]] * 2}, ["problem.f_scale=-2: use a positive number"]),
])
def test_config_problems_are_listed_with_their_fix(tmp_path, problem, needles):
    (tmp_path / "bad.csv").write_text("t,y\n1,2\n")
    path = write(tmp_path, problem)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    for needle in needles:
        assert needle in str(info.value)


def test_data_rows_with_a_missing_value_are_named(tmp_path):
    (tmp_path / "gap.csv").write_text("x,y\n0,1\n1,\n2,5\n")
    path = write(tmp_path, {"kind": "least_squares", "model": "models.py:line",
                            "data": "gap.csv", "bounds": [[0, 1]] * 2})
    with pytest.raises(ConfigError, match=r"column 'y' of .* data row 2"):
        load_config(path)


def test_check_and_run_the_shipped_fit_config_from_the_command_line(tmp_path, capsys):
    config = ROOT / "configs" / "fit-residuals.yaml"
    assert main(["check", str(config)]) == 0
    assert main(["run", str(config), "--out", str(tmp_path / "out")]) == 0
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["stop_reason"] == "max_evals" and saved["fun"] < 1e-20


def test_diagnose_and_plot_a_data_fit_from_its_result_folder(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    x = np.linspace(0, 1, 25)
    np.savetxt(tmp_path / "data.csv", np.column_stack([x, 2.0 * x + 1.0 + 0.02 * np.sin(7 * x)]),
               delimiter=",", header="x,y", comments="")
    path = write(tmp_path, {"kind": "least_squares", "model": "models.py:line",
                            "data": "data.csv", "bounds": [[-10, 10], [-10, 10]]})
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(out)]) == 0
    report = capsys.readouterr().out
    assert "Diagnosis of" in report and "trf" in report
    assert "[info] fit: full rank 2" in report and "standard errors" in report
    assert main(["plot", str(out)]) == 0
    assert (out / "plots" / "residuals.png").is_file()
    svg = (out / "plots" / "residuals.svg").read_text()
    assert "25 residuals" in svg
