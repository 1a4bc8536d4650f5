"""YAML configs and the command line: validation that lists every problem, and real runs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.cli import main
from engine.config import load_config
from engine.exceptions import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
OBJECTIVES = ROOT / "examples" / "objectives.py"


def write_config(tmp_path: Path, **sections) -> Path:
    base = {
        "problem": {"objective": f"{OBJECTIVES}:himmelblau", "bounds": [[-5, 5], [-5, 5]]},
        "starts": {"n_starts": 32, "seed": 1},
        "cluster": {"kind": "serial"},
        "output": {"dir": str(tmp_path / "out")},
    }
    for name, body in sections.items():
        base[name] = body if body is None else {**base.get(name, {}), **body}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base))
    return path


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_validates(path):
    config = load_config(path)
    assert config.problem.get("objective") or config.problem["kind"] == "least_squares"
    assert main(["check", str(path)]) == 0


def test_every_key_in_quickstart_is_commented():
    lines = (ROOT / "configs" / "quickstart.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and ":" in stripped and line.startswith("  "):
            assert lines[i - 1].strip().startswith("#"), f"key without comment: {line!r}"


def test_misspelled_key_is_named_with_a_suggestion(tmp_path):
    path = write_config(tmp_path, starts={"n_start": 10})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "unknown key starts.n_start (did you mean 'n_starts'?)" in text
    assert str(path) in text


def test_all_problems_reported_at_once(tmp_path):
    path = write_config(
        tmp_path,
        starts={"n_starts": "many", "sampler": "sobel"},
        local={"method": "BFGSS"},
        cluster={"kind": "slurn"},
        stop={"max_time": -1},
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    assert len(problems) == 5, problems
    text = str(info.value)
    for needle in ["starts.n_starts='many'", "starts.sampler='sobel' is unknown",
                   "(did you mean 'sobol'?)", "local.method='BFGSS'",
                   "cluster.kind='slurn' is unknown (did you mean 'slurm'?)", "stop.max_time=-1"]:
        assert needle in text


def test_missing_objective_module_and_bad_bounds_are_config_errors(tmp_path):
    path = write_config(tmp_path, problem={"objective": "nowhere_pkg_xyz.mod:f"})
    assert main(["check", str(path)]) == 2
    path = write_config(tmp_path, problem={"bounds": [[5, -5]]})
    assert main(["check", str(path)]) == 2


def test_check_exit_status_two_and_one_message_for_every_problem(tmp_path, capsys):
    path = write_config(tmp_path, starts={"n_start": 3, "seed": "x"}, cluster={"kind": "cloud"})
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "3 problems" in err
    assert "starts.n_start" in err and "starts.seed='x'" in err and "cluster.kind='cloud'" in err


def test_cli_run_writes_result_files_and_prints_ranked_table(tmp_path, capsys):
    path = write_config(tmp_path)
    assert main(["run", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "4 distinct minima from 32 starts" in out
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["n_minima"] == 4 and result["stop_reason"] == "n_starts"
    prov = result["provenance"]
    assert prov["config_hash"] and prov["seed"] == 1 and prov["cluster"]["kind"] == "serial"
    assert prov["versions"]["numpy"] and prov["host"] and prov["started"] and prov["finished"]
    rows = list(csv.DictReader((tmp_path / "out" / "minima.csv").open()))
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4]
    assert all(abs(float(r["fun"])) < 1e-6 for r in rows)
    assert len((tmp_path / "out" / "runs.csv").read_text().splitlines()) == 33
    assert not list((tmp_path / "out").glob(".*.tmp"))  # no half-written files left


def test_unwritable_output_dir_fails_before_compute(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = write_config(tmp_path, output={"dir": str(blocker / "sub")})
    assert main(["run", str(path), "--quiet"]) == 2
    assert "output.dir" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_multistart_command_is_installed_and_runs_quickstart_on_local_cluster(tmp_path):
    out = tmp_path / "quick"
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("multistart")), "run",
         str(ROOT / "configs" / "quickstart.yaml"), "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "4 distinct minima" in proc.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["provenance"]["cluster"]["kind"] == "dask"
    assert result["provenance"]["cluster"]["n_workers"] == 2


def test_config_hash_tells_large_arrays_apart_by_content():
    from engine.config import config_hash

    points = np.random.default_rng(0).uniform(size=(100_000, 20))
    changed = points.copy()
    changed[12_345, 7] = np.nextafter(changed[12_345, 7], 2.0)  # one ulp
    assert config_hash({"points": points}) == config_hash({"points": points.copy()})
    assert config_hash({"points": points}) != config_hash({"points": changed})
    assert config_hash({"points": points}) != config_hash({"points": points.reshape(-1, 10)})
    assert config_hash({"b": np.arange(3.0)}) == config_hash({"b": [0.0, 1.0, 2.0]})
    big = np.arange(2**53, 2**53 + 100, dtype=np.int64)  # not all exact as floats
    assert config_hash({"p": big}) != config_hash({"p": big + np.arange(100) % 2})
    assert config_hash({"p": np.ones(100) + 1j}) != config_hash({"p": np.ones(100) + 2j})
    assert config_hash({"p": np.array(["a"] * 100)}) == config_hash({"p": ["a"] * 100})


def test_check_lists_bounds_objective_and_option_problems_at_once(tmp_path, capsys):
    path = write_config(tmp_path, problem={"objective": "no_such_file.py:f",
                                           "bounds": [[5, -5], [-5, 5]]},
                        starts={"n_starts": -3}, dedup={"xtol": 2})
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    for needle in ("problem.bounds[0]=(5.0, -5.0) has low >= high",
                   "problem.objective: file 'no_such_file.py' not found",
                   "starts.n_starts=-3", "dedup.xtol=2"):
        assert needle in err, (needle, err)
    assert "(4 problems)" in err
