"""Faults injected against real components: what a run survives, and that it loses nothing.

Objective faults (raise, NaN, inf, None, non-scalar, wrong-shaped gradient, a call that never
returns), worker faults (SIGKILL, out of memory), driver faults (SIGKILL then ``--resume``,
Ctrl-C), disk faults (torn or corrupt journal lines, read-only or full output directory).
Workers are real ``distributed.LocalCluster`` processes; the driver is the real ``multistart``
command in a child process. Tests that restart workers or drivers are marked ``slow``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from runfiles import DATA, journal_indices, write_config

import engine
from engine.exceptions import ConfigError, JournalError
from engine.problem import load_callable

MULTISTART = str(Path(sys.executable).with_name("multistart"))
BOX = [(-5.0, 5.0), (-5.0, 5.0)]
TRAP = [0.1, 0.1]  # slow_objectives.TRAP: the start where the data objectives misbehave
HIMMELBLAU = [(3.0, 2.0), (-2.805118, 3.131313), (-3.779310, -3.283186), (3.584428, -1.848127)]


def data_objective(name: str):
    """A function of tests/data/slow_objectives.py, sent to workers by value."""
    return load_callable(f"{DATA}:{name}")


def is_known_minimum(x: np.ndarray) -> bool:
    return min(float(np.max(np.abs(np.asarray(x) - known))) for known in HIMMELBLAU) < 1e-5


def assert_all_four_minima(minima) -> None:
    assert len(minima) == 4
    assert all(is_known_minimum(m.x if hasattr(m, "x") else m["x"]) for m in minima)


def small_cluster(**kwargs):
    from distributed import LocalCluster

    return LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                        silence_logs=50, **kwargs)


# ======================================================================== objective faults

OBJECTIVE_FAULTS = {
    "raises": "ZeroDivisionError: division by zero near the trap",
    "nan": "objective returned nan",
    "inf": "objective returned inf",
    "none": "objective returned None, not a scalar",
    "vector": "not a scalar",
    "gradient": "gradient has shape (3,), expected (2,)",
    "spins": "TimeoutError: start_timeout=1.0 s reached inside one call",
}


@pytest.mark.parametrize("kind", list(OBJECTIVE_FAULTS))
def test_objective_fault_fails_only_its_start_on_a_cluster(kind, dask_client):
    fun, jac = data_objective("faulty")(kind)
    started = time.perf_counter()
    res = engine.minimize(fun, BOX, x0=[TRAP], n_starts=12, seed=3, client=dask_client,
                          jac=jac if kind == "gradient" else None,
                          start_timeout=1.0 if kind == "spins" else None)
    assert [r.index for r in res.runs] == list(range(13))
    trapped = res.runs[0]
    assert not trapped.success
    assert OBJECTIVE_FAULTS[kind] in trapped.error and OBJECTIVE_FAULTS[kind] in trapped.message
    assert res.n_failed == 1 and res.stop_reason == "n_starts"
    assert all(r.success for r in res.runs[1:])
    assert res.minima and all(is_known_minimum(m.x) for m in res.minima)
    assert time.perf_counter() - started < 60


def test_hung_objective_call_leaves_no_worker_spinning(dask_client):
    fun, _ = data_objective("faulty")("spins")
    res = engine.minimize(fun, BOX, x0=[TRAP, TRAP], n_starts=0, client=dask_client,
                          start_timeout=0.5)
    assert [r.success for r in res.runs] == [False, False]
    assert all("TimeoutError" in r.error for r in res.runs)
    # Each worker has one thread: a task only runs there if no objective still spins in it.
    for address in dask_client.scheduler_info()["workers"]:
        done = dask_client.submit(sum, [1, 2], workers=[address], pure=False)
        assert done.result(timeout=10) == 3


def test_max_time_ends_the_run_with_every_finished_start_saved(tmp_path, dask_client):
    cfg = write_config(tmp_path, "timed", n_starts=100_000, stop={"max_time": 1.5})
    started = time.perf_counter()
    res = engine.run_config(cfg, client=dask_client)
    assert time.perf_counter() - started < 15  # in-flight tasks are small and cancelled
    assert res.stop_reason == "max_time" and 0 < res.n_starts < 100_000
    saved = json.loads((tmp_path / "timed" / "result.json").read_text())
    in_journal = journal_indices(tmp_path / "timed" / "journal.jsonl")
    assert saved["stop_reason"] == "max_time"
    assert sorted(in_journal) == sorted(r.index for r in res.runs) == \
        sorted(r["index"] for r in saved["runs"])
    assert len(in_journal) == len(set(in_journal)) == saved["n_starts"]


# ======================================================================== worker faults


@pytest.mark.slow
def test_killed_worker_mid_run_its_starts_rerun_none_counted_twice():
    from distributed import Client

    fun = data_objective("slow_himmelblau")
    with small_cluster() as cluster, Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        killed, seen = [], []

        def kill_workers_mid_run(state):
            seen.append(state.run.index)
            if len(seen) in (30, 120) and len(killed) < 2:
                victim = pids[len(killed)]
                threading.Thread(target=os.kill, args=(victim, signal.SIGKILL)).start()
                killed.append(victim)

        res = engine.minimize(fun, BOX, n_starts=200, seed=2, client=client,
                              callback=kill_workers_mid_run)
    assert len(killed) == 2
    assert sorted(r.index for r in res.runs) == list(range(200))
    assert len(seen) == len(set(seen)) == 200  # no start counted twice
    assert res.stop_reason == "n_starts" and res.n_failed == 0
    assert_all_four_minima(res.minima)


@pytest.mark.slow
def test_worker_reaching_its_walltime_mid_run_loses_no_start():
    # A batch job's worker ends at its walltime: dask-jobqueue gives it --lifetime, and at
    # that time it retires gracefully, as client.retire_workers does here, in the middle of
    # its tasks. Its starts must be solved elsewhere, each once.
    from distributed import Client

    fun = data_objective("slow_himmelblau")
    seen, retired = [], []
    with small_cluster() as cluster, Client(cluster) as client:
        addresses = sorted(client.scheduler_info()["workers"])

        def retire_one_mid_run(state):
            seen.append(state.run.index)
            if len(seen) == 40:
                retired.append(addresses[0])
                threading.Thread(target=client.retire_workers, args=([addresses[0]],)).start()

        res = engine.minimize(fun, BOX, n_starts=200, seed=4, client=client,
                              callback=retire_one_mid_run)
        left = sorted(client.scheduler_info()["workers"])
    assert retired and retired[0] not in left
    assert sorted(r.index for r in res.runs) == list(range(200))
    assert len(seen) == len(set(seen)) == 200
    assert res.stop_reason == "n_starts" and res.n_failed == 0
    assert_all_four_minima(res.minima)


@pytest.mark.slow
def test_max_time_ends_the_run_when_every_worker_is_gone():
    # No task will ever finish (the cluster lost all its workers and gets none back):
    # max_time must still end the run, with the starts solved before that saved.
    from distributed import Client

    fun = data_objective("slow_himmelblau")
    seen = []
    with small_cluster() as cluster, Client(cluster) as client:
        addresses = list(client.scheduler_info()["workers"])

        def retire_all(state):
            seen.append(state.run.index)
            if len(seen) == 20:
                threading.Thread(target=client.retire_workers, args=(addresses,),
                                 kwargs={"close_workers": True}).start()

        started = time.monotonic()
        res = engine.minimize(fun, BOX, n_starts=5000, seed=4, client=client, max_time=6.0,
                              callback=retire_all)
        took = time.monotonic() - started
    assert res.stop_reason == "max_time"
    assert 20 <= len(seen) <= res.n_starts < 5000
    assert set(seen) <= {r.index for r in res.runs} and len(seen) == len(set(seen))
    assert took < 6.0 + 10.0  # the limit, plus cancelling what was in flight
    assert res.minima


@pytest.mark.slow
def test_start_that_kills_every_worker_is_retried_then_failed_alone():
    import dask
    from distributed import Client

    fun = data_objective("deadly_himmelblau")
    seen = []
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            small_cluster() as cluster, Client(cluster) as client:
        res = engine.minimize(fun, BOX, x0=[TRAP, [3.1, 2.1]], n_starts=40, seed=1,
                              client=client, callback=lambda s: seen.append(s.run.index))
        assert len(client.scheduler_info()["workers"]) == 2  # the nannies restarted them
    assert sorted(r.index for r in res.runs) == list(range(42))
    assert len(seen) == len(set(seen)) == 42
    deadly = res.runs[0]
    assert not deadly.success and deadly.nfev == 0
    assert "died every time it was tried" in deadly.message
    assert "KilledWorker" in deadly.error and "attempts alone" in deadly.error
    assert res.n_failed == 1  # the starts queued beside it on the dying workers were re-run
    assert res.runs[1].success and np.allclose(res.runs[1].x, [3.0, 2.0], atol=1e-5)
    assert_all_four_minima(res.minima)


@pytest.mark.slow
def test_worker_out_of_memory_loses_only_the_start_that_caused_it():
    import dask
    from distributed import Client

    fun = data_objective("memory_hog_himmelblau")
    # A fresh worker here holds about 300 MB; the nanny restarts it above 95% of 800 MB.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            small_cluster(memory_limit="800MB") as cluster, Client(cluster) as client:
        res = engine.minimize(fun, BOX, x0=[TRAP, [3.1, 2.1]], n_starts=30, seed=1,
                              client=client)
    assert sorted(r.index for r in res.runs) == list(range(32))
    hog = res.runs[0]
    assert not hog.success and "died every time it was tried" in hog.message
    assert res.runs[1].success  # started together with the hog, still solved
    assert res.n_failed == 1
    assert_all_four_minima(res.minima)


# ======================================================================== driver faults


def minima_of(directory: Path) -> list[tuple]:
    data = json.loads((directory / "result.json").read_text())
    return [(tuple(m["x"]), m["fun"], m["n_hits"], tuple(m["starts"])) for m in data["minima"]]


def wait_for_journal(journal: Path, n_lines: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and len(journal_indices(journal)) >= n_lines:
            return
        time.sleep(0.01)
    raise AssertionError(f"the run did not reach {n_lines} finished starts")


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "seed"), [("serial", 11), ("local", 12)])
def test_driver_sigkill_at_random_point_then_resume_matches_uninterrupted(tmp_path, kind,
                                                                          seed):
    full = write_config(tmp_path, "full", n_starts=150)
    subprocess.run([MULTISTART, "run", str(full), "--quiet"], check=True, timeout=300,
                   capture_output=True)

    cut_at = random.Random(seed).randint(10, 120)
    cut = write_config(tmp_path, "cut", n_starts=150, kind=kind)
    journal = tmp_path / "cut" / "journal.jsonl"
    proc = subprocess.Popen([MULTISTART, "run", str(cut), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wait_for_journal(journal, cut_at, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and, for a local cluster, its workers
    proc.wait()
    before = journal_indices(journal)
    assert cut_at <= len(before) < 150, f"the run was not cut (cut_at={cut_at})"
    assert not (tmp_path / "cut" / "result.json").exists()

    # Resume on the other cluster kind: the journal belongs to the problem and its starts.
    other = yaml.safe_load(cut.read_text())
    other["cluster"] = {"kind": "local", "n_workers": 2} if kind == "serial" else \
        {"kind": "serial"}
    cut.write_text(yaml.safe_dump(other))
    subprocess.run([MULTISTART, "run", str(cut), "--resume", "--quiet"], check=True,
                   timeout=300, capture_output=True)
    after = journal_indices(journal)
    assert sorted(after) == list(range(150)), "every start solved exactly once"
    assert after[: len(before)] == before, "no finished start solved again"
    got, want = minima_of(tmp_path / "cut"), minima_of(tmp_path / "full")
    assert len(got) == len(want) == 4
    for (xa, fa, ha, sa), (xb, fb, hb, sb) in zip(got, want, strict=True):
        np.testing.assert_allclose(xa, xb, atol=1e-9, rtol=0)
        assert fa == pytest.approx(fb, abs=1e-12)
        assert (ha, sa) == (hb, sb)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["serial", "local"])
def test_sigint_flushes_journal_writes_partial_result_exits_130(tmp_path, kind):
    cfg = write_config(tmp_path, "int", n_starts=150, kind=kind)
    journal = tmp_path / "int" / "journal.jsonl"
    proc = subprocess.Popen([MULTISTART, "run", str(cfg), "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_journal(journal, 30, proc)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "--resume" in err
    partial = json.loads((tmp_path / "int" / "result.json").read_text())
    assert partial["stop_reason"] == "interrupted"
    done = journal_indices(journal)
    assert 30 <= partial["n_starts"] == len(done) < 150  # journal flushed, nothing lost
    assert sorted(r["index"] for r in partial["runs"]) == sorted(done)
    subprocess.run([MULTISTART, "run", str(cfg), "--resume", "--quiet"], check=True,
                   timeout=300, capture_output=True)
    final = json.loads((tmp_path / "int" / "result.json").read_text())
    assert final["stop_reason"] == "n_starts" and final["n_starts"] == 150
    assert sorted(journal_indices(journal)) == list(range(150))


# ======================================================================== disk faults


def counting_objective():
    calls = []

    def fun(x):
        calls.append(1)
        return float((x[0] ** 2 - 1) ** 2 + x[1] ** 2)

    return fun, calls


def test_corrupt_journal_lines_are_skipped_with_a_warning_naming_each(tmp_path):
    path = tmp_path / "runs.jsonl"
    fun, calls = counting_objective()
    first = engine.minimize(fun, [(-2, 2), (-1, 1)], n_starts=20, seed=3, journal=path,
                            client="serial")
    lines = path.read_text().splitlines()  # line 1 is the header; line k + 2 is start k
    lines[3] = lines[3][: len(lines[3]) // 2]                       # torn (start 2)
    lines[6] = lines[6].replace('"index":5', '"index":-5')          # impossible value
    lines[9] = "\x00\x00garbage\x00"                                 # overwritten (start 8)
    lines[12] = lines[12].replace('"x0":[', '"x0":[1.0,')           # wrong dimension
    lines.append(lines[15])                                          # duplicate of start 14
    path.write_text("\n".join(lines) + "\n")
    calls.clear()
    with pytest.warns(RuntimeWarning) as caught:
        again = engine.minimize(fun, [(-2, 2), (-1, 1)], n_starts=20, seed=3, journal=path,
                                client="serial")
    messages = " ".join(str(w.message) for w in caught)
    for number in (4, 7, 10, 13):
        assert f"line {number} is torn or corrupt" in messages
    assert [r.index for r in again.runs] == list(range(20))
    # Exactly the four starts behind the bad lines were solved again, nothing else.
    assert len(calls) == (sum(again.runs[i].nfev for i in (2, 5, 8, 11))
                          + again.provenance["merge"]["evaluations"])
    assert [m.starts for m in again.minima] == [m.starts for m in first.minima]
    np.testing.assert_allclose([m.x for m in again.minima], [m.x for m in first.minima])


def test_journal_with_a_corrupt_header_is_refused_by_name(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text('{"format": "multis\n')
    with pytest.raises(JournalError, match="is not a multistart journal"):
        engine.minimize(lambda x: float(x[0] ** 2), [(-1, 1)], n_starts=2, journal=path,
                        client="serial")


def test_journal_on_a_full_disk_fails_before_any_objective_call():
    fun, calls = counting_objective()
    with pytest.raises(JournalError, match="No space left on device") as info:
        engine.minimize(fun, [(-2, 2), (-1, 1)], n_starts=4, journal="/dev/full",
                        client="serial")
    assert "/dev/full" in str(info.value) and calls == []


def run_touching_objective(tmp_path: Path, out: Path) -> Path:
    """A config whose objective leaves a file behind when it is called."""
    objective = tmp_path / "marking.py"
    objective.write_text(
        "from pathlib import Path\n"
        "def f(x):\n"
        f"    Path({str(tmp_path / 'called')!r}).touch()\n"
        "    return float(x[0] ** 2)\n")
    config = {"problem": {"objective": f"{objective}:f", "bounds": [[-1, 1]]},
              "starts": {"n_starts": 4}, "cluster": {"kind": "serial"},
              "output": {"dir": str(out)}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def mounted_tmpfs(where: Path, options: str):
    """A small tmpfs at ``where`` (needs root with mount rights; skips otherwise)."""
    where.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({probe.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@contextlib.contextmanager
def read_only_directory(tmp_path: Path):
    """A directory this process cannot write to, for root too."""
    target = tmp_path / "readonly"
    if os.geteuid() != 0:
        target.mkdir()
        target.chmod(0o555)
        try:
            yield target
        finally:
            target.chmod(0o755)
        return
    with mounted_tmpfs(target, "ro,size=64k"):
        yield target


def test_read_only_output_directory_is_refused_before_compute(tmp_path):
    with read_only_directory(tmp_path) as readonly:
        cfg = run_touching_objective(tmp_path, readonly / "out")
        with pytest.raises(ConfigError, match=r"output\.dir=.*is not writable") as info:
            engine.run_config(cfg)
        assert "--out" in str(info.value)
        assert main_exit_code(cfg) == 2  # the command: a config problem, exit status 2
    assert not (tmp_path / "called").exists()


def test_full_output_directory_is_refused_before_compute(tmp_path):
    with mounted_tmpfs(tmp_path / "full", "size=64k") as full:
        with contextlib.suppress(OSError), open(full / "filler", "wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        cfg = run_touching_objective(tmp_path, full / "out")
        with pytest.raises(ConfigError, match="No space left on device"):
            engine.run_config(cfg)
    assert not (tmp_path / "called").exists()


def main_exit_code(cfg: Path) -> int:
    from engine.cli import main

    return main(["run", str(cfg), "--quiet"])
