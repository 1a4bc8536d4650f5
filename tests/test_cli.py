"""The ``multistart`` command: run with progress and dashboard link, plot, diagnose, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from functions import get

import engine
from engine.cli import EXIT_OK, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVE = f"{ROOT / 'examples' / 'objectives.py'}:himmelblau"
HIMMELBLAU = get("himmelblau")


def write_config(folder: Path, cluster: dict, n_starts: int = 32, **problem) -> Path:
    body = {
        "problem": {"objective": OBJECTIVE, "bounds": [[-5, 5], [-5, 5]], **problem},
        "starts": {"n_starts": n_starts, "seed": 0},
        "local": {"method": "L-BFGS-B"},
        "cluster": cluster,
        "output": {"dir": str(folder / "out")},
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.fixture(scope="module")
def result_dir(tmp_path_factory) -> Path:
    """A finished serial run of Himmelblau's function, written by ``multistart run``."""
    folder = tmp_path_factory.mktemp("cli")
    assert main(["run", str(write_config(folder, {"kind": "serial"})), "--quiet"]) == EXIT_OK
    return folder / "out"


def test_run_writes_results_and_ends_progress_with_the_final_counts(tmp_path, capsys):
    config = write_config(tmp_path, {"kind": "serial"}, n_starts=16)
    assert main(["run", str(config), "--progress-every", "0.001"]) == EXIT_OK
    captured = capsys.readouterr()
    res = engine.MultistartResult.load(tmp_path / "out")
    assert len(res.minima) == 4 and res.n_starts == 16
    lines = [ln for ln in captured.err.splitlines() if ln.startswith("[multistart]")]
    assert len(lines) > 2  # one line per start at this interval, and the last
    assert lines[-1].startswith(f"[multistart] 16/16 starts, best {res.fun:.10g}, 4 minima")
    assert "dashboard" not in captured.err  # a serial run has no cluster
    assert "4 distinct minima from 16 starts" in captured.out


@pytest.mark.slow
def test_run_on_a_local_cluster_prints_its_dashboard_link(tmp_path, capsys):
    cluster = {"kind": "local", "n_workers": 2, "threads_per_worker": 1,
               "dashboard_address": ":0"}
    assert main(["run", str(write_config(tmp_path, cluster, n_starts=16)), "--quiet"]) == 0
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if "dashboard" in ln)
    assert "multistart: Dask dashboard http://" in line and "/status" in line
    assert "(local, 2 workers, 2 threads)" in line
    res = engine.MultistartResult.load(tmp_path / "out")
    assert res.provenance["cluster"]["dashboard"] in line
    assert len(res.minima) == 4


def test_a_bad_config_fails_before_any_cluster_starts(tmp_path, capsys):
    config = write_config(tmp_path, {"kind": "local", "n_workers": 2},
                          objective="no_such_file.py:f")
    assert main(["run", str(config)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "no_such_file.py" in err and "dashboard" not in err


def test_plot_draws_every_picture_with_the_objective_from_the_config(result_dir, capsys):
    assert main(["plot", str(result_dir), "--resolution", "40"]) == EXIT_OK
    out = capsys.readouterr().out
    folder = result_dir / "plots"
    for name in ("landscape", "basins", "waterfall", "convergence", "traces"):
        for suffix in (".png", ".svg"):
            path = folder / f"{name}{suffix}"
            assert path.stat().st_size > 5000, path
        assert name in out
    assert "4 distinct minima" in (folder / "landscape.svg").read_text()


def test_plot_of_a_result_saved_from_python_needs_objective_for_the_landscape(tmp_path,
                                                                             capsys):
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=16, seed=0,
                          client="serial")
    res.save(tmp_path / "result.json")
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "a")]) == EXIT_OK
    captured = capsys.readouterr()
    assert "pass --objective" in captured.err
    assert sorted(p.stem for p in (tmp_path / "a").glob("*.png")) == [
        "basins", "convergence", "waterfall"]
    assert main(["plot", str(tmp_path / "result.json"), "--out", str(tmp_path / "b"),
                 "--objective", OBJECTIVE, "--traces", "0", "3", "--resolution", "30"]) == 0
    traces = (tmp_path / "b" / "traces.svg").read_text()
    assert "start 0:" in traces and "start 3:" in traces
    assert (tmp_path / "b" / "landscape.png").exists()


def test_diagnose_reports_in_text_and_json(result_dir, capsys):
    assert main(["diagnose", str(result_dir)]) == EXIT_OK
    text = capsys.readouterr().out
    assert text.startswith("Diagnosis of 32 runs (L-BFGS-B, 0 failed)")
    # the objective came from the config: the checks that evaluate it ran
    assert "tolerance: re-solving the best" in text
    assert main(["diagnose", str(result_dir), "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["n_runs"] == 32 and report["method"] == "L-BFGS-B"
    assert "tolerance" in [f["kind"] for f in report["findings"]]


def test_diagnose_of_nelder_mead_limits_shows_fmin_warnflags(tmp_path, capsys):
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=8, seed=0,
                          client="serial", method="Nelder-Mead", options={"maxiter": 5})
    res.save(tmp_path / "result.json")
    assert main(["diagnose", str(tmp_path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "[warning] warnflag:" in out and "warnflag 2 (maxiter reached) at 8" in out


def test_plot_and_diagnose_refuse_a_folder_without_a_result(tmp_path, capsys):
    for command in ("plot", "diagnose"):
        assert main([command, str(tmp_path)]) == EXIT_USAGE
        err = capsys.readouterr().err
        assert "holds no result.json" in err and str(tmp_path) in err


def test_a_bad_objective_option_is_a_usage_error(result_dir, capsys):
    assert main(["diagnose", str(result_dir), "--objective", "nowhere"]) == EXIT_USAGE
    assert "--objective='nowhere'" in capsys.readouterr().err

