"""Checkpoint and resume through the journal: same run continues, another run is refused.

Killing the driver (SIGKILL, SIGINT) and resuming is tested in test_faults.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from runfiles import write_config

import engine
from engine.exceptions import JournalError

MULTISTART = str(Path(sys.executable).with_name("multistart"))


def make_config(tmp_path: Path, out: str, kind: str = "serial", n_starts: int = 150) -> Path:
    return write_config(tmp_path, out, n_starts=n_starts, kind=kind)


def minima_of(directory: Path) -> list[tuple]:
    data = json.loads((directory / "result.json").read_text())
    return [(tuple(m["x"]), m["fun"], m["n_hits"], tuple(m["starts"])) for m in data["minima"]]


def test_journal_from_another_config_is_refused_unless_forced(tmp_path):
    first = make_config(tmp_path, "a", n_starts=10)
    subprocess.run([MULTISTART, "run", str(first), "--quiet"], check=True, timeout=120,
                   capture_output=True)
    cfg = yaml.safe_load(first.read_text())
    cfg["starts"]["seed"] = 8
    first.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([MULTISTART, "run", str(first), "--resume", "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "belongs to a different run" in proc.stderr and "--force" in proc.stderr
    forced = subprocess.run([MULTISTART, "run", str(first), "--resume", "--force", "--quiet"],
                            capture_output=True, text=True, timeout=120)
    assert forced.returncode == 0, forced.stderr


def test_api_journal_resumes_and_torn_last_line_is_tolerated(tmp_path):
    path = tmp_path / "runs.jsonl"

    calls = []

    def f(x):
        calls.append(1)
        return float((x[0] ** 2 - 1) ** 2 + x[1] ** 2)

    first = engine.minimize(f, [(-2, 2), (-1, 1)], n_starts=20, seed=3, journal=path,
                            client="serial")
    # Simulate a kill in the middle of writing: drop the last 5 records, tear the one before.
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-6]) + "\n" + lines[-6][: len(lines[-6]) // 2])
    calls.clear()
    with pytest.warns(RuntimeWarning, match="line 16 is torn or corrupt"):
        again = engine.minimize(f, [(-2, 2), (-1, 1)], n_starts=20, seed=3, journal=path,
                                client="serial")
    assert [r.index for r in again.runs] == list(range(20))
    # Lines 2..15 hold starts 0..13; only starts 14..19 are solved again (plus the few
    # evaluations the minima check between equal-valued minima spends, counted apart).
    solved = sum(r.nfev for r in again.runs if r.index >= 14)
    assert len(calls) == solved + again.provenance["merge"]["evaluations"] and solved > 0
    assert [m.starts for m in again.minima] == [m.starts for m in first.minima]
    assert [r.index for r in journal_runs(path)] == list(range(20))


def journal_runs(path):
    from engine.results.types import LocalRun

    out = []
    for line in path.read_text().splitlines()[1:]:
        try:
            out.append(LocalRun.from_dict(json.loads(line)))
        except json.JSONDecodeError:
            continue
    return out


def test_journal_of_a_different_problem_is_refused(tmp_path):
    path = tmp_path / "runs.jsonl"
    engine.minimize(lambda x: float(x[0] ** 2), [(-1, 1)], n_starts=4, seed=0, journal=path,
                    client="serial")
    with pytest.raises(JournalError, match="belongs to a different run"):
        engine.minimize(lambda x: float(x[0] ** 2), [(-2, 2)], n_starts=4, seed=0,
                        journal=path, client="serial")


@pytest.mark.parametrize("journal", ["runs.jsonl", "history"])
def test_another_function_of_the_same_name_and_file_is_refused(tmp_path, journal):
    """A notebook user edits the objective (same name, same file or none) and runs again
    with the same journal: the old runs must not be taken for the new function's, while the
    same function defined again resumes."""
    path = tmp_path / journal
    first = engine.minimize(lambda x: float((x[0] - 0.5) ** 2), [(-1, 1)], n_starts=4, seed=0,
                            journal=path, client="serial")
    again = engine.minimize(lambda x: float((x[0] - 0.5) ** 2), [(-1, 1)], n_starts=4, seed=0,
                            journal=path, client="serial")
    assert again.nfev == first.nfev and abs(again.x[0] - 0.5) < 1e-6
    with pytest.raises(JournalError, match="objective's code"):
        engine.minimize(lambda x: float((x[0] + 0.5) ** 2), [(-1, 1)], n_starts=4, seed=0,
                        journal=path, client="serial")
