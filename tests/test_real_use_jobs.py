"""Batch jobs as users run them: reruns, scancel/walltime (SIGTERM), Ctrl-C, failing runs,
file permissions on shared clusters (issue 15, "Data and jobs")."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import engine
from engine.cli import EXIT_OK, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[1]

# Himmelblau with a pause per evaluation read from the environment at each call: the run that
# gets the signal is slow (it must still be running when the signal comes), the resume and the
# uninterrupted reference run of the same config are fast.
OBJECTIVES = '''
import os
import time


def himmelblau(x):
    time.sleep(float(os.environ.get("EVAL_PAUSE", "0")))
    return float((x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2)


def broken(x):
    raise ValueError("the model file is missing")
'''


def write_config(folder: Path, name: str, *, n_starts: int = 16, kind: str = "serial",
                 objective: str = "himmelblau") -> Path:
    (folder / "objectives.py").write_text(OBJECTIVES)
    cluster = {"kind": kind}
    if kind == "local":
        cluster.update(n_workers=2, threads_per_worker=1, dashboard_address=None)
    body = {
        "problem": {"objective": f"{folder / 'objectives.py'}:{objective}",
                    "bounds": [[-5, 5], [-5, 5]]},
        "starts": {"n_starts": n_starts, "seed": 3},
        "local": {"method": "L-BFGS-B"},
        "cluster": cluster,
        "output": {"dir": str(folder / name)},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def minima_of(directory: Path) -> list[tuple]:
    data = json.loads((directory / "result.json").read_text())
    return [(tuple(m["x"]), m["fun"], m["n_hits"], tuple(m["starts"])) for m in data["minima"]]


def journal_records(path: Path) -> list[dict]:
    """Every line after the header, each parsed (a line that does not parse fails the test)."""
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


# ------------------------------------------------------------------ rerun without --resume


def test_rerun_without_resume_keeps_the_journal_and_force_moves_it_aside(tmp_path, capsys):
    config = write_config(tmp_path, "out")
    assert main(["run", str(config), "--quiet"]) == EXIT_OK
    journal = tmp_path / "out" / "journal.jsonl"
    before = journal.read_bytes()
    capsys.readouterr()

    # A requeued job runs the same command again: the finished starts must survive.
    assert main(["run", str(config), "--quiet"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert (f"16 finished starts in {journal}: add --resume to continue or --force to start "
            "over") in err
    assert journal.read_bytes() == before

    assert main(["run", str(config), "--quiet", "--force"]) == EXIT_OK
    aside = sorted((tmp_path / "out").glob("journal.*.jsonl"))
    assert (f"multistart: warning: moved the journal of the previous run (16 finished starts) "
            f"to {aside[0]}\n") in capsys.readouterr().err
    assert len(aside) == 1 and aside[0].read_bytes() == before
    assert len(journal_records(journal)) == 16  # the new run's own journal
    # Forced again in the same second: a second copy, the first one untouched.
    assert main(["run", str(config), "--quiet", "--force"]) == EXIT_OK
    assert len(list((tmp_path / "out").glob("journal.*.jsonl"))) == 2
    assert aside[0].read_bytes() == before


def test_run_config_from_python_refuses_too(tmp_path):
    from engine.results.journal import JournalNotEmptyError

    config = write_config(tmp_path, "out", n_starts=4)
    engine.run_config(config)
    with pytest.raises(JournalNotEmptyError, match="4 finished starts in"):
        engine.run_config(config)
    assert engine.run_config(config, resume=True).n_starts == 4


def test_a_journal_without_finished_starts_is_started_afresh(tmp_path):
    from engine.results.journal import Journal

    path = tmp_path / "journal.jsonl"
    Journal(path, "abc").close()  # a header only: nothing would be lost
    Journal(path, "def", resume=False).close()
    assert json.loads(path.read_text().splitlines()[0])["fingerprint"] == "def"
    assert list(tmp_path.iterdir()) == [path]


# ------------------------------------------------------------------ signals


def start_run(config: Path, pause: float) -> subprocess.Popen:
    """``multistart run CONFIG`` in its own process group, as a batch job or a shell runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EVAL_PAUSE": str(pause)}
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "run", str(config)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for_records(journal: Path, n: int, proc: subprocess.Popen, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) > n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before the signal: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail(f"no {n} finished starts in {timeout} s")


SIGNAL_CASES = [
    # kill / SLURM walltime / scancel on a serial run: the driver alone gets SIGTERM.
    pytest.param("serial", signal.SIGTERM, False, 143, "terminated", id="serial-sigterm"),
    # scancel of a job step: every process of the job, workers included, gets SIGTERM.
    pytest.param("local", signal.SIGTERM, True, 143, "terminated", id="local-sigterm-group",
                 marks=pytest.mark.slow),
    # Ctrl-C in a terminal: the whole foreground process group gets SIGINT.
    pytest.param("serial", signal.SIGINT, True, 130, "interrupted", id="serial-ctrl-c"),
    pytest.param("local", signal.SIGINT, True, 130, "interrupted", id="local-ctrl-c",
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("kind", "signum", "to_group", "code", "label"), SIGNAL_CASES)
def test_a_signal_ends_the_run_like_ctrl_c_and_resume_finishes_it(tmp_path, kind, signum,
                                                                   to_group, code, label):
    n_starts = 40
    config = write_config(tmp_path, "out", n_starts=n_starts, kind=kind)
    out = tmp_path / "out"
    proc = start_run(config, pause=0.01)  # about 0.5 s per start: never done before the signal
    try:
        wait_for_records(out / "journal.jsonl", 3, proc)
        if to_group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, stderr

    # One line says what happened; no traceback from the driver or the workers.
    assert "Traceback" not in stderr, stderr
    result = json.loads((out / "result.json").read_text())
    assert result["stop_reason"] == label
    assert f"stopped by {label}" in result["message"] and f"stop: {label})" in stdout
    done = result["n_starts"]
    assert 3 <= done < n_starts
    assert f"{label}: {done}/{n_starts} starts, partial result in {out}" in stderr
    assert not [ln for ln in stderr.splitlines() if ln.endswith(", done")], stderr

    # The journal was flushed: every line parses, and it holds every start of the result.
    records = journal_records(out / "journal.jsonl")
    assert len({r["index"] for r in records}) == done

    resumed = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(config),
                              "--resume", "--quiet"], capture_output=True, text=True,
                             timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert resumed.returncode == EXIT_OK, resumed.stderr
    reference = write_config(tmp_path, "reference", n_starts=n_starts, kind="serial")
    assert main(["run", str(reference), "--quiet"]) == EXIT_OK
    assert minima_of(out) == minima_of(tmp_path / "reference")
    assert json.loads((out / "result.json").read_text())["stop_reason"] == "n_starts"


def test_main_puts_back_the_signal_handlers_it_found(tmp_path):
    """``main`` puts back the handlers it found (it is also called from Python)."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    assert main(["run", str(write_config(tmp_path, "out", n_starts=2)), "--quiet"]) == EXIT_OK
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


# ------------------------------------------------------------------ a run where nothing worked


def test_a_run_where_every_start_failed_exits_3_and_says_why(tmp_path, capsys):
    config = write_config(tmp_path, "out", n_starts=6, objective="broken")
    assert main(["run", str(config), "--quiet"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("multistart: no start succeeded: 6 of 6 failed")
    assert "ValueError: the model file is missing" in err[0]
    assert "multistart diagnose" in err[0]


# ------------------------------------------------------------------ files


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_output_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert main(["run", str(write_config(tmp_path, "out", n_starts=4)), "--quiet"]) == 0
        res = engine.MultistartResult.load(tmp_path / "out")
        saved = res.save(tmp_path / "saved.json")
    finally:
        os.umask(old)
    for name in ("result.json", "minima.csv", "runs.csv", "journal.jsonl"):
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == mode, name
    assert stat.S_IMODE(saved.stat().st_mode) == mode


def test_save_into_an_existing_directory_writes_result_json_there(tmp_path):
    res = engine.minimize(lambda x: float((x[0] - 1) ** 2), [(-2, 2)], n_starts=3, seed=0,
                          client="serial")
    folder = tmp_path / "results"
    folder.mkdir()
    path = res.save(folder)
    assert path == folder / "result.json"
    again = engine.MultistartResult.load(folder)
    assert again.fun == res.fun and again.n_starts == 3
