"""Cluster kinds against real components: a running scheduler, SLURM, mpirun.

Worker faults (killed, out of memory) are in test_faults.py.

SLURM and MPI tests skip, with the reason, where those are not installed and running; .ci/run
installs and starts them (scripts/hpc-services), so in CI they run for real.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import engine
from engine.cli import main
from engine.parallel.jobqueue import jobqueue_kwargs

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
MULTISTART = str(Path(sys.executable).with_name("multistart"))
HIMMELBLAU = [(3.0, 2.0), (-2.805118, 3.131313), (-3.779310, -3.283186), (3.584428, -1.848127)]


def slurm_ready() -> str | None:
    if shutil.which("sbatch") is None:
        return "SLURM is not installed (no sbatch); .ci/run installs it via scripts/hpc-services"
    probe = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if probe.returncode != 0 or not probe.stdout.strip():
        return f"no SLURM controller answers (sinfo: {probe.stderr.strip() or probe.stdout!r}); "\
               "start one with: scripts/hpc-services start"
    return None


def mpi_ready() -> str | None:
    if shutil.which("mpirun") is None:
        return "MPI is not installed (no mpirun); .ci/run installs OpenMPI via scripts/hpc-services"
    for module in ("mpi4py", "dask_mpi"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: pip install 'multistart-engine[mpi]'"
    return None


def assert_himmelblau(minima: list[dict] | list) -> None:
    xs = [np.asarray(m["x"] if isinstance(m, dict) else m.x) for m in minima]
    assert len(xs) == 4
    for known in HIMMELBLAU:
        assert min(np.max(np.abs(x - known)) for x in xs) < 1e-5


def config_file(tmp_path: Path, cluster: dict, n_starts: int = 48) -> Path:
    cfg = {
        "problem": {"objective": str(ROOT / "examples" / "objectives.py") + ":himmelblau",
                    "bounds": [[-5, 5], [-5, 5]]},
        "starts": {"n_starts": n_starts, "seed": 5},
        "cluster": cluster,
        "output": {"dir": str(tmp_path / "out")},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_address_kind_uses_an_existing_scheduler_and_leaves_it_running(tmp_path, dask_client):
    address = dask_client.scheduler.address
    res = engine.run_config(config_file(tmp_path, {"kind": "address", "address": address}))
    assert_himmelblau(res.minima)
    assert res.provenance["cluster"]["scheduler"] == address
    assert dask_client.submit(sum, [1, 2]).result() == 3  # still up


@pytest.mark.slow  # waits for the connection timeout
def test_unreachable_address_is_a_clear_cluster_error(tmp_path):
    path = config_file(tmp_path, {"kind": "address", "address": "tcp://127.0.0.1:9"})
    with pytest.raises(engine.ClusterError, match="cannot reach the Dask scheduler at"):
        engine.run_config(path)


def test_check_prints_pbs_job_script_without_submitting(capsys):
    assert main(["check", str(ROOT / "configs" / "pbs.yaml")]) == 0
    out = capsys.readouterr().out
    assert "#PBS -q workq" in out and "#PBS -l walltime=00:10:00" in out
    assert "--lifetime" in out and "dask_worker" in out


def test_jobqueue_keys_are_checked(tmp_path, capsys):
    path = config_file(tmp_path, {"kind": "slurm", "cores": 1, "memory": "1GB",
                                  "walltime": "00:10:00", "queu": "debug", "jobs": 0})
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "cluster.queu (did you mean 'queue'?)" in err and "cluster.jobs=0" in err


def test_worker_lifetime_is_shorter_than_walltime():
    kwargs = jobqueue_kwargs({"kind": "slurm", "cores": 1, "memory": "1GB",
                              "walltime": "01:00:00", "jobs": 2})
    extra = kwargs["worker_extra_args"]
    assert extra[extra.index("--lifetime") + 1] == "3240s"  # 54 of 60 minutes
    assert extra[extra.index("--lifetime-stagger") + 1] == "180s"
    assert "jobs" not in kwargs and "kind" not in kwargs


@pytest.mark.slurm
def test_slurm_run_submits_real_jobs_finds_minima_and_leaves_no_job(tmp_path):
    reason = slurm_ready()
    if reason:
        pytest.skip(reason)
    cluster = {"kind": "slurm", "queue": "debug", "cores": 1, "processes": 1, "memory": "1GB",
               "walltime": "00:10:00", "jobs": 2, "scheduler_options": {"host": "127.0.0.1"},
               "log_directory": str(tmp_path / "logs"), "wait_for_workers": 1}
    res = engine.run_config(config_file(tmp_path, cluster, n_starts=48))
    assert_himmelblau(res.minima)
    assert res.n_starts == 48 and res.n_failed == 0
    assert res.provenance["cluster"]["n_workers"] >= 1
    logs = list((tmp_path / "logs").glob("*.err"))
    assert logs, "no SLURM job log: were worker jobs really submitted?"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        queue = subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout.strip()
        if not queue:
            break
        time.sleep(0.5)
    assert queue == "", f"jobs left in squeue: {queue}"


@pytest.mark.mpi
def test_mpirun_gives_the_same_minima_as_serial(tmp_path):
    reason = mpi_ready()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "mpi"
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(
        ["mpirun", "--oversubscribe", "-n", "4", MULTISTART, "run",
         str(ROOT / "configs" / "mpi.yaml"), "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    mpi_result = json.loads((out / "result.json").read_text())
    assert mpi_result["provenance"]["cluster"]["n_workers"] == 2
    cfg = engine.load_config(ROOT / "configs" / "mpi.yaml")
    serial = engine.minimize(
        engine.api.problem_from_config(cfg).fun, cfg.problem["bounds"],
        n_starts=cfg.starts.n_starts, seed=cfg.starts.seed, client="serial")
    assert len(mpi_result["minima"]) == len(serial.minima) == 4
    for m_mpi, m_serial in zip(mpi_result["minima"], serial.minima, strict=True):
        np.testing.assert_allclose(m_mpi["x"], m_serial.x, atol=1e-9, rtol=0)
        assert m_mpi["n_hits"] == m_serial.n_hits


MPI_POOL_SCRIPT = """
import json

from mpi4py.futures import MPIPoolExecutor

import engine


def himmelblau(x):
    return float((x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2)


if __name__ == "__main__":
    with MPIPoolExecutor() as pool:
        res = engine.minimize(himmelblau, [(-5, 5), (-5, 5)], n_starts=32, seed=3, client=pool)
    print(json.dumps({"x": [m.x.tolist() for m in res.minima],
                      "starts": [list(m.starts) for m in res.minima],
                      "cluster": res.provenance["cluster"]}))
"""


@pytest.mark.mpi
def test_mpi4py_pool_executor_gives_the_same_minima_as_serial(tmp_path):
    """client= an mpi4py MPIPoolExecutor (like scipy's workers= taking a map): 2 worker ranks
    under a real mpirun, the same minima from the same starts as a serial run."""
    reason = mpi_ready()
    if reason:
        pytest.skip(reason)
    script = tmp_path / "mpi_pool.py"
    script.write_text(MPI_POOL_SCRIPT)
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(
        ["mpirun", "--oversubscribe", "-n", "3", sys.executable, "-m", "mpi4py.futures",
         str(script)], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["cluster"]["kind"] == "futures" and out["cluster"]["pool"] == "MPIPoolExecutor"
    assert out["cluster"]["n_workers"] == 2
    serial = engine.minimize(
        lambda x: float((x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2),
        [(-5, 5), (-5, 5)], n_starts=32, seed=3, client="serial")
    assert_himmelblau([{"x": x} for x in out["x"]])
    assert out["starts"] == [list(m.starts) for m in serial.minima]


def test_unguarded_script_gets_a_clear_message_about_main_guard(tmp_path):
    script = tmp_path / "noguard.py"
    script.write_text("import engine\n"
                      "engine.minimize(lambda x: float(x[0] ** 2), [(-1, 1)], n_starts=2)\n")
    for command in ([sys.executable, str(script)], [sys.executable, "-"]):
        proc = subprocess.run(command, input=script.read_text() if command[-1] == "-" else None,
                              capture_output=True, text=True, timeout=180, cwd=tmp_path)
        assert proc.returncode != 0
        assert "ClusterError" in proc.stderr
        assert 'if __name__ == "__main__":' in proc.stderr and "client='serial'" in proc.stderr
