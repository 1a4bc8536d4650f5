"""Batch-system runs that fail loudly, keep their work and leave no job behind.

Config checks run everywhere; the tests marked ``slurm`` submit real jobs to the one-node
SLURM that .ci/run starts (scripts/hpc-services) and skip, with the reason, where it is not
running (under REQUIRE_HPC=1 such a skip fails, see conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from engine.cli import main
from engine.parallel.jobqueue import jobqueue_kwargs, scheduler_options, worker_lifetime
from engine.results import attempts
from tests.test_hpc import ROOT, slurm_ready

PYTHON = sys.executable
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
SLOW_OBJECTIVE = '''
import time


def slow_himmelblau(x):
    time.sleep(0.02)
    return float((x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2)
'''


def slurm_cluster(tmp_path: Path, **extra) -> dict:
    """A small slurm cluster: block whose worker jobs are named after the test's folder."""
    return {"kind": "slurm", "queue": "debug", "cores": 1, "processes": 1, "memory": "500MB",
            "walltime": "00:05:00", "jobs": 1, "job_name": f"msh-{tmp_path.name}"[:40],
            "scheduler_options": {"host": "127.0.0.1"}, "log_directory": str(tmp_path / "logs"),
            **extra}


def write_config(tmp_path: Path, cluster: dict, n_starts: int = 16,
                 objective: str | None = None) -> Path:
    cfg = {
        "problem": {"objective": objective or f"{ROOT / 'examples' / 'objectives.py'}:himmelblau",
                    "bounds": [[-5, 5], [-5, 5]]},
        "starts": {"n_starts": n_starts, "seed": 3},
        "cluster": cluster,
        "output": {"dir": str(tmp_path / "out")},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def our_jobs(name: str) -> str:
    """squeue lines of the jobs called ``name`` (other users of the SLURM are left out)."""
    return subprocess.run(["squeue", "-h", "-n", name, "-o", "%i %T %r"], capture_output=True,
                          text=True).stdout.strip()


def wait_until_no_jobs(name: str, seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    while (left := our_jobs(name)) and time.monotonic() < deadline:
        time.sleep(0.25)
    return left


def listening_addresses(pid: int) -> list[str]:
    """The TCP addresses process ``pid`` listens on (``ss -ltnp``); empty without ss."""
    out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
    return [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]


def need_slurm() -> None:
    reason = slurm_ready()
    if reason:
        pytest.skip(reason)


# ------------------------------------------------------------------ checks (no SLURM needed)


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("walltime", "1h", "cluster.walltime='1h' is not a walltime slurm reads; use 'HH:MM:SS'"),
    ("walltime", "-1", "cluster.walltime='-1' is not a walltime slurm reads"),
    ("walltime", "1:00:00:00", "cluster.walltime='1:00:00:00' is not a walltime slurm reads"),
    ("walltime", 3600, "cluster.walltime=3600 is a number; quote the walltime"),
    ("walltime", "00:00:00", "cluster.walltime='00:00:00' is zero"),
    ("walltime", "00:00:20", "cluster.walltime is 20 s: too short for a worker"),
    ("memory", "lots", "cluster.memory='lots' is not allowed; use a size with its unit"),
    ("cores", "two", "cluster.cores='two' is not allowed; use an integer >= 1"),
    ("resource_spec", "select=1", "unknown key cluster.resource_spec for cluster.kind='slurm' "
                                  "(it is a key of pbs, sge)"),
    ("job_extra", ["--exclusive"], "cluster.job_extra is a deprecated dask-jobqueue name; use "
                                   "job_extra_directives instead"),
    ("env_extra", ["module load x"], "use job_script_prologue instead"),
    ("job_extra_directives", "--exclusive", "use a list of strings"),
])
def test_check_refuses_bad_slurm_values_naming_key_value_and_fix(tmp_path, capsys, key, value,
                                                                   expected):
    cluster = {"kind": "slurm", "cores": 1, "memory": "1GB", "walltime": "00:10:00", key: value}
    assert main(["check", str(write_config(tmp_path, cluster))]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "problems):" not in err, err  # only the bad key is reported


def test_keys_are_those_of_the_chosen_scheduler(tmp_path, capsys):
    pbs = {"kind": "pbs", "cores": 1, "memory": "1GB", "walltime": "01:00:00",
           "resource_spec": "select=1:ncpus=1", "job_cpu": 2}
    assert main(["check", str(write_config(tmp_path, pbs))]) == 2
    err = capsys.readouterr().err
    assert "unknown key cluster.job_cpu for cluster.kind='pbs' (it is a key of slurm)" in err
    assert "resource_spec" not in err.split("job_cpu", 1)[0]  # a PBS key: accepted
    condor = {"kind": "htcondor", "cores": 1, "memory": "1GB", "disk": "1GB",
              "walltime": "01:00:00"}
    assert main(["check", str(write_config(tmp_path, condor))]) == 2
    assert "unknown key cluster.walltime for cluster.kind='htcondor'" in capsys.readouterr().err


def test_short_walltimes_still_get_a_worker_lifetime():
    assert worker_lifetime({"walltime": "00:02:00"}) == ("80s", "6s")
    assert worker_lifetime({"walltime": "00:01:00"}) == ("40s", "3s")
    assert worker_lifetime({"walltime": "01:00:00"}) == ("3240s", "180s")


def test_scheduler_and_dashboard_bind_one_interface_never_all():
    options = scheduler_options({"kind": "slurm"})
    assert options["host"] not in ("", "0.0.0.0", None)
    assert options["dashboard_address"].startswith("127.0.0.1:")
    kwargs = jobqueue_kwargs({"kind": "slurm", "cores": 1, "memory": "1GB",
                              "walltime": "00:10:00", "interface": "ib0"})
    assert "host" not in kwargs["scheduler_options"]  # the interface chosen is kept
    assert kwargs["death_timeout"] == 60  # workers of a dead driver give up


def test_edited_objective_is_refused_on_resume(tmp_path, capsys):
    objective = tmp_path / "obj.py"
    objective.write_text("def f(x):\n    return float((x[0] - 1) ** 2 + x[1] ** 2)\n")
    path = write_config(tmp_path, {"kind": "serial"}, n_starts=4,
                        objective=f"{objective}:f")
    assert main(["run", str(path), "--quiet"]) == 0
    assert main(["run", str(path), "--quiet", "--resume"]) == 0  # same code: resumes
    capsys.readouterr()
    objective.write_text("def f(x):\n    return float((x[0] + 1) ** 2 + x[1] ** 2)\n")
    assert main(["run", str(path), "--quiet", "--resume"]) == 1
    err = capsys.readouterr().err
    assert "belongs to a different run" in err and "objective's code, source file" in err
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert len(result["provenance"]["code"]["source"]) == 1
    assert [a["attempt"] for a in result["provenance"]["attempts"]] == [1, 2]
    assert result["provenance"]["attempts"][1]["resume"] is True


# ------------------------------------------------------------------ real SLURM


@pytest.mark.slurm
def test_bad_partition_fails_check_and_run_fast_with_sbatchs_message(tmp_path, capsys):
    need_slurm()
    cluster = slurm_cluster(tmp_path, queue="nosuchpartition")
    path = write_config(tmp_path, cluster)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "the batch system would refuse the worker job" in err
    assert "invalid partition specified: nosuchpartition" in err  # sbatch's own words
    began = time.monotonic()
    proc = subprocess.run([PYTHON, "-m", "engine.cli", "run", str(path), "--quiet"],
                          capture_output=True, text=True, timeout=120, env=ENV, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert time.monotonic() - began < 60
    assert "the batch system refused the worker job" in proc.stderr
    assert "Invalid partition name specified" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert wait_until_no_jobs(cluster["job_name"]) == ""


@pytest.mark.slurm
def test_pending_jobs_are_reported_then_the_run_gives_up(tmp_path):
    need_slurm()
    cluster = slurm_cluster(tmp_path, jobs=2, worker_timeout=6,
                            job_extra_directives=["--begin=now+1hour"])
    path = write_config(tmp_path, cluster)
    began = time.monotonic()
    proc = subprocess.run([PYTHON, "-m", "engine.cli", "run", str(path), "--quiet"],
                          capture_output=True, text=True, timeout=120, env=ENV, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert time.monotonic() - began < 60
    assert "waiting for workers: 2 worker jobs pending (BeginTime) in queue debug" in proc.stderr
    assert "no worker joined within 6 s" in proc.stderr
    assert wait_until_no_jobs(cluster["job_name"]) == ""


@pytest.mark.slurm
@pytest.mark.parametrize(("signum", "code", "reason"), [
    (signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_signal_on_a_slurm_run_keeps_a_partial_result_and_cancels_jobs(tmp_path, signum, code,
                                                                        reason):
    need_slurm()
    objective = tmp_path / "slow.py"
    objective.write_text(SLOW_OBJECTIVE)
    cluster = slurm_cluster(tmp_path)
    path = write_config(tmp_path, cluster, n_starts=400,
                        objective=f"{objective}:slow_himmelblau")
    journal = tmp_path / "out" / "journal.jsonl"
    proc = subprocess.Popen([PYTHON, "-m", "engine.cli", "run", str(path), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            cwd=tmp_path)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and len(journal.read_text().splitlines()) >= 4:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        if shutil.which("ss"):  # iproute2: the scheduler and dashboard bind one interface
            listening = listening_addresses(proc.pid)
            assert listening, "the driver listens nowhere: is the scheduler in it?"
            assert not [a for a in listening if a.startswith(("0.0.0.0:", "*:", "[::]:"))]
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err[-2000:]
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["stop_reason"] == reason
    assert 3 <= len(result["runs"]) < 400
    assert result["provenance"]["worker_jobs"], "no worker job recorded"
    assert result["provenance"]["attempts"][0]["stop_reason"] == reason
    assert wait_until_no_jobs(cluster["job_name"]) == ""


@pytest.mark.slurm
def test_a_run_whose_replacement_jobs_are_refused_stops_with_a_partial_result(tmp_path):
    """The first worker job is taken, later ones refused (an sbatch that refuses from its
    second call on): once the worker job ends, the run stops instead of waiting forever."""
    need_slurm()
    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    fake.write_text(f"""#!/bin/sh
if [ -e {tmp_path}/submitted ]; then
  echo 'sbatch: error: Batch job submission failed: Invalid account or account/partition \
combination specified' >&2
  exit 1
fi
touch {tmp_path}/submitted
exec {shutil.which("sbatch")} "$@"
""")
    fake.chmod(0o755)
    objective = tmp_path / "slow.py"
    objective.write_text(SLOW_OBJECTIVE)
    cluster = slurm_cluster(tmp_path)
    path = write_config(tmp_path, cluster, n_starts=400,
                        objective=f"{objective}:slow_himmelblau")
    journal = tmp_path / "out" / "journal.jsonl"
    env = {**ENV, "PATH": f"{fake.parent}{os.pathsep}{ENV['PATH']}"}
    proc = subprocess.Popen([PYTHON, "-m", "engine.cli", "run", str(path), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and len(journal.read_text().splitlines()) >= 3:
                break
            time.sleep(0.2)
        subprocess.run(["scancel", "-n", cluster["job_name"]], check=True)  # the job ends
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "no worker left and the batch system refused the replacement worker job" in err
    assert "Invalid account or account/partition combination" in err
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["stop_reason"] == "interrupted" and 2 <= len(result["runs"]) < 400
    assert wait_until_no_jobs(cluster["job_name"]) == ""


@pytest.mark.slurm
def test_pending_worker_jobs_are_cancelled_after_the_driver_is_killed(tmp_path):
    need_slurm()
    cluster = slurm_cluster(tmp_path, jobs=2, job_extra_directives=["--begin=now+1hour"])
    path = write_config(tmp_path, cluster)
    proc = subprocess.Popen([PYTHON, "-m", "engine.cli", "run", str(path), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
                            cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and our_jobs(cluster["job_name"]).count("\n") < 1:
            time.sleep(0.25)
        assert our_jobs(cluster["job_name"]).count("PENDING") == 2
    finally:
        proc.kill()  # SIGKILL: nothing of the driver runs after it
        proc.wait()
    assert wait_until_no_jobs(cluster["job_name"], seconds=15) == ""


@pytest.mark.slurm
def test_worker_jobs_of_a_frozen_driver_are_cancelled(tmp_path):
    need_slurm()
    cluster = slurm_cluster(tmp_path, jobs=2, driver_timeout=4,
                            job_extra_directives=["--begin=now+1hour"])
    path = write_config(tmp_path, cluster)
    proc = subprocess.Popen([PYTHON, "-m", "engine.cli", "run", str(path), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
                            cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and our_jobs(cluster["job_name"]).count("\n") < 1:
            time.sleep(0.25)
        assert our_jobs(cluster["job_name"]).count("PENDING") == 2
        proc.send_signal(signal.SIGSTOP)  # frozen: alive, but runs nothing
        assert wait_until_no_jobs(cluster["job_name"], seconds=20) == ""
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_attempt_history_marks_a_killed_attempt(tmp_path):
    first = attempts.begin(tmp_path, kind="slurm", resume=False, command=["multistart"])
    second = attempts.begin(tmp_path, kind="local", resume=True, command=["multistart"])
    attempts.end(tmp_path, second, n_starts=8, stop_reason="max_evals")
    history = attempts.history(tmp_path)
    assert (first, second) == (1, 2)
    assert "end" not in history[0] and history[1]["starts_solved"] == 8


def job_state(job_id: str) -> tuple[str, str, int]:
    """(state, reason, restarts) of a SLURM job (kept by scontrol for MinJobAge after it ends)."""
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True,
                         text=True).stdout
    fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
    return fields.get("JobState", "GONE"), fields.get("Reason", ""), int(
        fields.get("Restarts", "0"))


@pytest.mark.slurm
@pytest.mark.slow
def test_sbatch_example_reaching_its_walltime_requeues_itself_and_resumes(tmp_path):
    """The shipped script under a 1-minute time limit and a run of about 40 s of work: SLURM
    signals it before the limit (SIGTERM to the run), it requeues itself, and the requeued
    job resumes from the journal until the run is done; no start is lost or solved twice."""
    need_slurm()
    objective = tmp_path / "slow.py"
    objective.write_text(SLOW_OBJECTIVE)
    n_starts = 40
    path = write_config(tmp_path, {"kind": "serial"}, n_starts=n_starts,
                        objective=f"{objective}:slow_himmelblau")
    out = tmp_path / "out"
    env = {**ENV, "MULTISTART_LAUNCH": "", "MULTISTART": f"{PYTHON} -m engine.cli",
           "MULTISTART_OUT": str(out)}
    name = f"msh-{tmp_path.name}"[:40]
    job_id = subprocess.run(
        ["sbatch", "--parsable", "--time=1", "--signal=B:USR1@30", "--ntasks=1",
         "--mem-per-cpu=500M", "-J", name, "-o", str(tmp_path / "job.log"),
         str(ROOT / "scripts" / "sbatch-example.sh"), str(path)],
        capture_output=True, text=True, check=True, env=env, cwd=tmp_path).stdout.strip()
    try:
        deadline = time.monotonic() + 240
        state, held_since = "", None
        while time.monotonic() < deadline:
            state, reason, restarts = job_state(job_id)
            if state in ("COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "GONE"):
                break
            if state == "PENDING" and reason == "BeginTime":
                # SLURM holds a requeued job for two minutes; let it start sooner, once the
                # node has cleaned up after the previous run of the job (a few seconds:
                # starting it at once races that cleanup, "Job credential revoked").
                held_since = held_since or time.monotonic()
                if time.monotonic() - held_since > 4:
                    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"],
                                   capture_output=True)
            else:
                held_since = None
            time.sleep(0.5)
    finally:
        subprocess.run(["scancel", job_id], capture_output=True)
    log = (tmp_path / "job.log").read_text()
    assert state == "COMPLETED", f"{state}: {log[-3000:]}"
    assert restarts >= 1 and "requeueing" in log
    result = json.loads((out / "result.json").read_text())
    assert result["stop_reason"] not in ("interrupted", "terminated")
    history = result["provenance"]["attempts"]
    assert len(history) == restarts + 1 >= 2
    assert history[0]["stop_reason"] == "terminated" and history[-1]["resume"] is True
    assert history[-1]["job"]["slurm"] == job_id
    indices = [json.loads(line)["index"] for line in
               (out / "journal.jsonl").read_text().splitlines()[1:]]
    assert sorted(indices) == list(range(n_starts))  # none lost, none twice
    assert len(result["minima"]) == 4


def test_array_refuses_what_needs_the_whole_run(tmp_path, capsys):
    path = write_config(tmp_path, {"kind": "serial"})
    cfg = yaml.safe_load(path.read_text())
    cfg["search"] = {"strategy": "mlsl"}
    cfg["stop"] = {"target": 0.0}
    path.write_text(yaml.safe_dump(cfg))
    assert main(["array", str(path), "--tasks", "2", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "search.strategy='mlsl' cannot run as a job array" in err
    assert "stop.target=0.0 needs the whole run's results" in err


@pytest.mark.slurm
def test_job_array_with_a_cancelled_task_merges_to_the_serial_run(tmp_path, capsys):
    need_slurm()
    path = write_config(tmp_path, {"kind": "serial"}, n_starts=40)
    cfg = yaml.safe_load(path.read_text())
    cfg["search"] = {"strategy": "all"}
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    assert main(["array", str(path), "--tasks", "4", "--dry-run"]) == 0
    assert "#SBATCH --array=0-3" in capsys.readouterr().out
    assert main(["array", str(path), "--tasks", "4"]) == 0
    job_id = json.loads((out / "array.json").read_text())["job_ids"][0]
    subprocess.run(["scancel", f"{job_id}_3"], check=True)

    def wait_for(job: str) -> None:
        deadline = time.monotonic() + 120
        while subprocess.run(["squeue", "-h", "-j", job], capture_output=True,
                             text=True).stdout.strip() and time.monotonic() < deadline:
            time.sleep(0.5)

    wait_for(job_id)
    capsys.readouterr()
    assert main(["merge", str(out)]) == 1
    err = capsys.readouterr().err
    assert "10 of 40 starts missing, from array tasks 3" in err
    command = err.split("run them again with: ")[1].split(" (then")[0]
    assert command == f"sbatch --array=3 {out / 'array.sh'}"
    words = command.split()
    resubmitted = subprocess.run([words[0], "--parsable", *words[1:]], capture_output=True,
                                 text=True, check=True, env=ENV, cwd=tmp_path).stdout.strip()
    wait_for(resubmitted.split(";")[0])
    assert main(["merge", str(out)]) == 0
    merged = json.loads((out / "result.json").read_text())
    assert merged["provenance"]["array"]["missing_tasks"] == []
    serial = engine_run_serial(path, tmp_path / "serial")
    assert [m["n_hits"] for m in merged["minima"]] == [m.n_hits for m in serial.minima]
    for m_array, m_serial in zip(merged["minima"], serial.minima, strict=True):
        assert max(abs(a - b) for a, b in zip(m_array["x"], m_serial.x, strict=True)) < 1e-12
    assert merged["n_starts"] == 40


def engine_run_serial(path: Path, out: Path):
    import engine

    return engine.run_config(path, out=out)


@pytest.mark.slurm
def test_adaptive_cluster_from_zero_jobs_starts_and_finishes(tmp_path):
    """adapt: {minimum: 0} submits a job before the run starts (so a refused job is seen),
    and the run finishes with the minima."""
    need_slurm()
    import engine

    cluster = {key: value for key, value in slurm_cluster(tmp_path).items() if key != "jobs"}
    cluster["adapt"] = {"minimum": 0, "maximum": 1}
    res = engine.run_config(write_config(tmp_path, cluster, n_starts=16))
    assert len(res.minima) == 4 and res.n_starts == 16
    assert wait_until_no_jobs(cluster["job_name"]) == ""


@pytest.mark.parametrize(("words", "code", "expected"), [
    ("sbatch: error: Batch job submission failed: Unable to contact slurm controller", 1,
     (None, "could not ask the batch system for a dry run")),
    ("sbatch: Job 7 to start at 2026-01-01T00:00:00", 0,
     (True, "the batch system would take it (dry run): sbatch: Job 7")),
])
def test_check_tells_an_unreachable_batch_system_from_a_refusal(tmp_path, monkeypatch, capsys,
                                                                 words, code, expected):
    from engine.parallel.batch_jobs import dry_run_submit

    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho '{words}' >&2\nexit {code}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert dry_run_submit("slurm", "#!/bin/sh\n")[0] is expected[0]
    assert dry_run_submit("pbs", "#!/bin/sh\n") is None  # no dry run there
    cluster = {"kind": "slurm", "cores": 1, "memory": "1GB", "walltime": "00:10:00",
               "scheduler_options": {"host": "127.0.0.1"}}
    assert main(["check", str(write_config(tmp_path, cluster))]) == 0
    assert expected[1] in capsys.readouterr().out
