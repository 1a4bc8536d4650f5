"""The CI hooks of tests/conftest.py, run on a throwaway test file in a child pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parent / "conftest.py"

SAMPLE = '''
import pytest

@pytest.mark.slurm
def test_needs_slurm():
    pytest.skip("no sbatch here")

@pytest.mark.mpi
@pytest.mark.skipif(True, reason="no mpirun here")
def test_needs_mpi():
    pass

def test_plain_skip():
    pytest.skip("unrelated to HPC")

@pytest.mark.slurm
@pytest.mark.xfail(reason="expected to fail", strict=True)
def test_slurm_xfail():
    assert False
'''


def run_sample(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slurm: x\n    mpi: x\n")
    child_env = {k: v for k, v in os.environ.items() if k not in ("REQUIRE_HPC", "CI")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env={**child_env, **env}, timeout=120)


def test_hpc_skips_are_plain_skips_by_default(tmp_path):
    proc = run_sample(tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "3 skipped, 1 xfailed" in proc.stdout


@pytest.mark.parametrize("ci", ["", "1"])
def test_require_hpc_turns_slurm_and_mpi_skips_into_failures(tmp_path, ci):
    proc = run_sample(tmp_path, REQUIRE_HPC="1", **({"CI": ci} if ci else {}))
    assert proc.returncode == 1, proc.stdout
    out = proc.stdout
    # a skip in the test body fails the test; one from a skipif mark fails its setup (an error)
    assert "1 failed, 1 skipped, 1 xfailed, 1 error" in out
    assert "REQUIRE_HPC=1 but this slurm test was skipped: no sbatch here" in out
    assert "REQUIRE_HPC=1 but this mpi test was skipped: no mpirun here" in out
    assert "FAILED test_sample.py::test_needs_slurm" in out
    assert "ERROR test_sample.py::test_needs_mpi" in out


def test_ci_profile_is_derandomized_without_a_database(tmp_path):
    code = ("import conftest, hypothesis; s = hypothesis.settings.default; "
            "print(s.derandomize, s.database, s.print_blob)")
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=60)
    assert out.stdout.split() == ["True", "None", "True"], out.stderr
