"""Every script in examples/ runs as a user would run it and prints the known answer."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

ROOT = Path(__file__).resolve().parents[1]
HIMMELBLAU_MINIMA = np.array([(3.0, 2.0), (-2.805118, 3.131313), (-3.779310, -3.283186),
                              (3.584428, -1.848127)])
NUMBER = r"(-?\d+(?:\.\d*)?(?:e[-+]?\d+)?)"


def run_example(name: str, timeout: float = 60.0, stderr: list[str] | None = None) -> str:
    """Run ``python examples/NAME.py`` from the repository root; return its stdout (and
    append its stderr to ``stderr`` when given)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    if stderr is not None:
        stderr.append(done.stderr)
    return done.stdout


def grab(pattern: str, text: str) -> tuple[str, ...]:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in output:\n{text}"
    return match.groups()


def points(text: str) -> np.ndarray:
    """Every bracketed coordinate list ``[a, b]`` in ``text``."""
    return np.array([[float(v) for v in m.split(",")]
                     for m in re.findall(r"\[(-?[\d.e-]+, -?[\d.e-]+)\]", text)])


def test_maximize_1d_finds_the_global_maximum_a_single_solve_misses():
    out = run_example("maximize_1d")
    f = lambda x: np.sin(3 * x) - 0.1 * x**2  # noqa: E731
    grid = np.linspace(-5, 5, 200001)
    x_best = grid[np.argmax(f(grid))]
    known = minimize_scalar(lambda x: -f(x), bounds=(x_best - 1e-3, x_best + 1e-3),
                            method="bounded", options={"xatol": 1e-10})
    f_glob, x_glob = (float(v) for v in grab(
        rf"global maximum f = {NUMBER} at x = {NUMBER}", out))
    assert f_glob == pytest.approx(-known.fun, abs=1e-6)
    assert x_glob == pytest.approx(known.x, abs=1e-4)
    f_loc, x_loc = (float(v) for v in grab(rf"local maximum f = {NUMBER} at x = {NUMBER}", out))
    assert f_loc < f_glob - 1.0
    assert abs(3 * np.cos(3 * x_loc) - 0.2 * x_loc) < 1e-3  # a stationary point: a hilltop
    assert "6 distinct maxima from 32 starts" in out


def test_plateau_is_diagnosed_and_both_cures_leave_one_minimum():
    out = run_example("plateau")
    (n_minima,) = grab(r"(\d+) distinct minima from 64 starts", out)
    assert int(n_minima) > 10  # the plateau breaks one minimum into many
    assert "[warning] flat_region:" in out and "stopped on a slope" in out
    assert "L-BFGS-B in the unit box (the default here): 1 distinct minimum" in out
    assert "Nelder-Mead: 1 distinct minimum" in out
    assert "reshaped objective: 1 distinct minimum at x = [0.0, 0.0] (64 of 64 starts)" in out


def test_badly_scaled_fit_is_flagged_and_unit_box_solves_save_evaluations():
    out = run_example("badly_scaled_fit")
    assert "[warning] badly_scaled: bound widths differ by a factor 1.2e+03" in out
    assert "ran in unit-box coordinates (local scale on)" in out
    fits = {}
    for label in ("raw units", "unit box"):
        failed, nfev, a, k = grab(rf"{label}: (\d+) of 32 runs failed, (\d+) evaluations, "
                                  rf"A = {NUMBER}, k = {NUMBER}", out)
        fits[label] = (int(failed), int(nfev), float(a), float(k))
        assert float(a) == pytest.approx(3.0, rel=0.01)
        assert float(k) == pytest.approx(0.004, rel=0.01)
    assert fits["unit box"][0] == 0
    assert fits["unit box"][1] < 0.8 * fits["raw units"][1]
    assert fits["unit box"][2:] == pytest.approx(fits["raw units"][2:], rel=1e-5)


def test_noisy_objective_derivative_free_methods_find_the_four_minima():
    out = run_example("noisy_objective")
    rows = {}
    for method in ("L-BFGS-B", "Nelder-Mead", "Powell"):
        success, best, minima = grab(rf"\n{method}\s+(\d+)%\s+\S+\s+\d+\s+{NUMBER}\s+(\d+)",
                                     out)
        rows[method] = (int(success), float(best), int(minima))
    assert rows["Powell"][0] == 100 and rows["Powell"][2] == 4
    assert abs(rows["Powell"][1]) < 0.01
    assert abs(rows["Nelder-Mead"][1]) < 0.01
    # A first simplex sized by the bounds sees past the noise: every start, four minima.
    assert rows["Nelder-Mead"][0] == 100 and rows["Nelder-Mead"][2] == 4
    assert rows["L-BFGS-B"][2] > 8  # noise scatters the gradient method's end points
    powell = points(out.split("Powell's minima:")[1].split("L-BFGS-B:")[0])
    assert len(powell) == 4
    for known in HIMMELBLAU_MINIMA:
        assert np.min(np.max(np.abs(powell - known), axis=1)) < 0.02
    assert "L-BFGS-B:" in out and "failed line search" in out
    stuck = float(grab(r"plain scipy Nelder-Mead from .*: stopped (\S+) from its start", out)[0])
    assert stuck < 0.01 and "too small to see past the noise" in out


def constrained_minima_on_circle(radius: float = 3.0) -> list[tuple[float, float, float]]:
    """Local minima of Himmelblau's function along the circle, by a fine scan of the angle."""
    t = np.linspace(0, 2 * np.pi, 400001)[:-1]
    x, y = radius * np.cos(t), radius * np.sin(t)
    f = (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2
    idx = np.nonzero((f < np.roll(f, 1)) & (f < np.roll(f, -1)))[0]
    return sorted((float(f[i]), float(x[i]), float(y[i])) for i in idx)


def test_constrained_example_finds_every_minimum_on_the_circle():
    out = run_example("constrained")
    known = constrained_minima_on_circle()
    assert len(known) == 3
    (best,) = grab(rf"multistart SLSQP: best f = {NUMBER}", out)
    assert float(best) == pytest.approx(known[0][0], abs=1e-5)
    (single,) = grab(rf"one SLSQP solve from \(-1, -1\): f = {NUMBER}", out)
    assert float(single) > float(best) + 1.0
    assert "3 distinct minima from 32 starts" in out
    assert out.count("|x| = 3.000000 (on the circle") == 3
    table = out.split("rank")[1].split("minimum 1")[0]
    found = points(table)
    assert len(found) == 3
    for f, x, y in known:
        assert np.min(np.max(np.abs(found - (x, y)), axis=1)) < 1e-4, (f, x, y)


def test_multipeak_fit_recovers_the_three_peaks():
    out = run_example("curve_fit_multipeak")
    (single,) = grab(rf"one local fit from a poor guess: SSE = {NUMBER}", out)
    scalar, copies = grab(rf"minimize on the SSE: SSE = {NUMBER}; (\d+) minima reach it", out)
    (best,) = grab(rf"curve_fit: SSE = {NUMBER}", out)
    assert float(best) < 0.1 < 1.0 < float(single)  # 0.1 ~ 200 samples x noise^2
    assert float(best) == pytest.approx(float(scalar), rel=1e-5)
    # The scalar route lists the same peaks in several orders; the fit lists them once.
    assert int(copies) >= 2
    relabelled, hits = (int(v) for v in grab(r"symmetric: (\d+) of its (\d+) runs", out))
    assert 0 < relabelled < hits
    assert "full rank 9" in out
    fitted = [[float(v) for v in re.findall(r"(-?[\d.]+) \(", line)]
              for line in re.findall(r"  peak (.*)", out)]
    errors = [[float(v) for v in re.findall(r"\(([\d.]+)\)", line)]
              for line in re.findall(r"  peak (.*)", out)]
    true = [(1.0, 2.5, 0.4), (0.7, 5.0, 0.6), (1.2, 7.5, 0.5)]
    assert len(fitted) == 3
    for row, err, known in zip(fitted, errors, true, strict=True):
        # Each parameter within 3 standard errors of the truth (the noise is known).
        for value, e, t in zip(row, err, known, strict=True):
            assert 0 < e < 0.01 and abs(value - t) < 3 * e + 1e-3, (row, err, known)


@pytest.mark.slow
def test_laptop_cluster_runs_two_problems_on_two_workers():
    err: list[str] = []
    out = run_example("laptop_cluster", timeout=120, stderr=err)
    assert "cluster with 2 workers" in out
    assert "4 distinct minima from 64 starts (0 failed" in out
    found = points(out.split("rank")[1].split("six-hump")[0])
    for known in HIMMELBLAU_MINIMA:
        assert np.min(np.max(np.abs(found - known), axis=1)) < 1e-4
    assert "six-hump camel: best f = -1.031628, 6 distinct minima (on dask with 2 workers)" in out
    # progress=True writes plain lines when stderr is not a terminal; the last one at the end
    last = [line for line in err[0].splitlines() if line.startswith("[multistart]")][-1]
    assert last.startswith("[multistart] 256/256 starts, best -1.031628")
    assert "6 minima, 0 failed" in last and last.endswith("done")


@pytest.mark.skipif(importlib.util.find_spec("dask_jobqueue") is None,
                    reason="needs dask-jobqueue: pip install 'multistart-engine[hpc]'")
def test_hpc_yaml_prints_the_job_script_and_runs_the_config_here():
    out = run_example("hpc_yaml")
    assert "slurm.yaml: method L-BFGS-B, 64 starts, cluster kind slurm" in out
    assert "#SBATCH -p debug" in out and "#SBATCH -t 00:10:00" in out
    assert "4 distinct minima from 64 starts (0 failed" in out
    assert "files written: journal.jsonl, minima.csv, result.json, runs.csv" in out
