"""The run history as Parquet segments: exact round trip, sealing, torn segments, resume after a
kill at any point equal to an uninterrupted run, the on-disk view of the runs, the queries."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

import engine  # noqa: E402
import engine.results.segments as segments  # noqa: E402
import engine.session as session_module  # noqa: E402
from engine.results.journal import Journal, JournalNotEmptyError  # noqa: E402
from engine.results.rundir import open_history, read_history  # noqa: E402
from engine.results.runview import RunsOnDisk  # noqa: E402
from engine.results.segments import SegmentJournal, segment_paths  # noqa: E402
from engine.results.store import RunStore  # noqa: E402
from engine.results.types import LocalRun  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES = ROOT / "examples" / "objectives.py"


def make_runs(n: int, start: int = 0) -> list[LocalRun]:
    """Runs of every kind: converged, failed with an error, cut short by the budget."""
    rng = np.random.default_rng(start)
    runs = []
    for i in range(start, start + n):
        x0 = rng.uniform(-1, 1, 2)
        if i % 7 == 3:
            runs.append(LocalRun(i, x0, x0.copy(), float("nan"), 3, 0, False,
                                 "objective failed", error=f"ValueError: bad x={x0[0]:.3f}",
                                 time=0.25 + i))
        elif i % 11 == 5:
            runs.append(LocalRun(i, x0, x0 * 0.5, 2.0 + i, 9, 2, False, "stopped",
                                 error="BudgetExhausted: max_evals", time=0.5))
        else:
            runs.append(LocalRun(i, x0, np.array([0.3, -0.1]) + 1e-9 * x0,
                                 float(rng.random() * 1e-12), 5 + i % 4, 3, True, "converged",
                                 time=1e-3 * i, in_bounds=bool(i % 13)))
    return runs


def same_run(a: LocalRun, b: LocalRun) -> bool:
    return (a.index == b.index and np.array_equal(a.x0, b.x0) and np.array_equal(a.x, b.x)
            and (a.fun == b.fun or (np.isnan(a.fun) and np.isnan(b.fun)))
            and (a.nfev, a.nit, a.success, a.message, a.error, a.time, a.in_bounds)
            == (b.nfev, b.nit, b.success, b.message, b.error, b.time, b.in_bounds))


def history(tmp_path: Path, **kwargs) -> SegmentJournal:
    return SegmentJournal(tmp_path / "runs", tmp_path / "journal.jsonl", "fp", **kwargs)


# ------------------------------------------------------------------ writer and reader


def test_runs_round_trip_exactly_and_segments_are_sealed_every_rows(tmp_path):
    runs = make_runs(23)
    with history(tmp_path, rows=10) as journal:
        journal.extend(runs[:4])
        journal.extend(runs[4:])
        # Two segments of ten, three runs still in the JSONL tail only.
        assert [p.name for p in segment_paths(tmp_path / "runs")] == [
            "part-000000.parquet", "part-000001.parquet"]
        tail = (tmp_path / "journal.jsonl").read_text().splitlines()
        assert [json.loads(line)["index"] for line in tail[1:]] == [20, 21, 22]
    # A run that has segments seals its tail at the end: all 23 in three segments.
    assert len(segment_paths(tmp_path / "runs")) == 3
    assert (tmp_path / "journal.jsonl").read_text().count("\n") == 1  # the header alone
    back = list(history(tmp_path, rows=10).completed())
    assert len(back) == 23 and all(same_run(a, b) for a, b in zip(runs, back, strict=True))
    table = segments.read_segment(segment_paths(tmp_path / "runs")[0])
    assert table.schema.names == ["index", "fun", "nfev", "nit", "success", "in_bounds", "time",
                                  "message", "error", "x_0", "x_1", "x0_0", "x0_1"]
    assert table.column("error").to_pylist()[3] == runs[3].error


def test_starting_the_tail_afresh_after_a_seal_reads_nothing_back(tmp_path, monkeypatch):
    """After each segment the JSONL tail is rewritten with the runs no segment holds; reading
    it back built a run store whose index map grows with the highest start index (80 MB at
    ten million), once a segment. The tail is appended to as written, and still complete."""
    runs = make_runs(25, start=5_000_000)
    reads: list[Path] = []
    read = Journal._read

    def counting(self, force):
        reads.append(self.path)
        return read(self, force)

    with history(tmp_path, rows=10) as journal:
        monkeypatch.setattr(Journal, "_read", counting)
        journal.extend(runs[:7])
        journal.extend(runs[7:24])  # seals 10, then 10 more; 4 runs stay in the tail
        assert len(segment_paths(tmp_path / "runs")) == 2 and reads == []
        journal.append(runs[24])
        tail = (tmp_path / "journal.jsonl").read_text().splitlines()
        assert [json.loads(line)["index"] for line in tail[1:]] == [
            r.index for r in runs[20:]]
        monkeypatch.undo()
    back = list(history(tmp_path, rows=10).completed())
    assert len(back) == 25 and all(same_run(a, b) for a, b in zip(runs, back, strict=True))


def test_a_small_run_keeps_its_runs_in_the_jsonl_journal_alone(tmp_path):
    runs = make_runs(5)
    with history(tmp_path, rows=10) as journal:
        journal.extend(runs)
    assert segment_paths(tmp_path / "runs") == []
    lines = (tmp_path / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["index"] for line in lines[1:]] == [0, 1, 2, 3, 4]
    back = list(history(tmp_path, rows=10).completed())
    assert [r.index for r in back] == [0, 1, 2, 3, 4]


def test_an_old_long_jsonl_journal_is_sealed_into_segments_when_resumed(tmp_path):
    runs = make_runs(25)
    with Journal(tmp_path / "journal.jsonl", "fp", resume=False) as old:
        old.extend(runs)
    journal = history(tmp_path, rows=10)
    assert [r.index for r in journal.completed()] == list(range(25))
    assert len(segment_paths(tmp_path / "runs")) == 2
    tail = (tmp_path / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["index"] for line in tail[1:]] == [20, 21, 22, 23, 24]
    journal.close()
    assert [r.index for r in read_history(tmp_path)] == list(range(25))


def test_a_torn_segment_is_skipped_with_a_warning_and_kept_aside(tmp_path):
    with history(tmp_path, rows=10) as journal:
        journal.extend(make_runs(30))
    last = segment_paths(tmp_path / "runs")[-1]
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])  # a copy cut short, a disk that filled up
    with pytest.warns(RuntimeWarning, match="part-000002.parquet is torn or corrupt and was "
                                            "skipped.*solved again"):
        journal = history(tmp_path, rows=10)
    assert sorted(r.index for r in journal.completed()) == list(range(20))
    assert (tmp_path / "runs" / "part-000002.parquet.torn").read_bytes() == data[: len(data) // 2]
    # New segments do not reuse the torn one's number.
    journal.extend(make_runs(10, start=20))
    journal.close()
    assert [p.name for p in segment_paths(tmp_path / "runs")][-1] == "part-000003.parquet"
    assert sorted(r.index for r in read_history(tmp_path)) == list(range(30))


def test_a_crash_between_sealing_and_restarting_the_tail_records_each_start_once(tmp_path,
                                                                                 monkeypatch):
    journal = history(tmp_path, rows=10)
    monkeypatch.setattr(SegmentJournal, "_rotate_tail", lambda self, runs: None)
    journal.extend(make_runs(12))  # sealed 0..11, the tail still holds them (crash)
    journal._tail.close()
    monkeypatch.undo()
    again = history(tmp_path, rows=10)
    assert sorted(r.index for r in again.completed()) == list(range(12))
    frame = engine.load(tmp_path).runs_frame()
    assert frame["index"].tolist() == list(range(12))


def test_a_fresh_run_over_finished_starts_is_refused_then_forced_aside(tmp_path):
    with history(tmp_path, rows=5) as journal:
        journal.extend(make_runs(12))
    with pytest.raises(JournalNotEmptyError, match=r"12 finished starts in .*--resume"):
        history(tmp_path, rows=5, resume=False)
    with pytest.warns(RuntimeWarning, match="moved the run history"):
        fresh = history(tmp_path, rows=5, resume=False, force=True)
    assert list(fresh.completed()) == []
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("runs.")]
    assert len(moved) == 1 and len(segment_paths(moved[0])) == 3


def test_another_fingerprint_is_refused(tmp_path):
    with history(tmp_path, rows=5) as journal:
        journal.extend(make_runs(12))
    with pytest.raises(engine.JournalError, match="belongs to a different run"):
        SegmentJournal(tmp_path / "runs", tmp_path / "journal.jsonl", "other")


# ------------------------------------------------------------------ the view on disk


def test_the_view_on_disk_answers_as_the_store_does(tmp_path):
    runs = make_runs(40)
    store = RunStore.from_runs(runs[:15])
    journal = history(tmp_path, rows=8)
    journal.extend(runs[:15])
    view = RunsOnDisk.from_store(store, journal)
    for run in [*runs[15:], runs[3]]:  # a start recorded twice counts once
        if view.append(run):
            journal.extend([run])
    full = RunStore.from_runs(runs)
    assert (len(view), view.nfev, view.nit, view.n_failed, view.n_stopped, view.n_success) == (
        len(full), full.nfev, full.nit, full.n_failed, full.n_stopped, full.n_success)
    assert view.failures() == full.failures() == {"ValueError": 6}
    assert np.array_equal(view.indices, full.indices)
    assert np.array_equal(view.x0, full.x0) and np.array_equal(view.nfevs, full.nfevs)
    assert view[-1].index == 39 and view[5].index == 5 and same_run(view.get(17), runs[17])
    assert 17 in view and 40 not in view and view.get(40) is None
    groups = [[0, 1, 2], [4, 6, 7, 8], [1, 99]]
    found = view.best_and_nfev_many(groups)
    for group, hit in zip(groups[:2], found[:2], strict=True):
        best, nfev = full.best_and_nfev(group)
        assert hit[:2] == (best, nfev) and np.array_equal(hit[2], full.get(best).x0)
    assert found[2] is None  # start 99 is not recorded
    assert view.nbytes == 4096  # a bit per start (a first block for 32768), not a record


def test_failures_on_disk_decode_only_failed_rows_and_read_nothing_when_none_failed(tmp_path):
    good = [run for run in make_runs(60) if run.success]
    solver = LocalRun(70, np.zeros(2), np.ones(2), 4.0, 30, 9, False,
                      "ABNORMAL_TERMINATION_IN_LNSRCH", time=0.1)
    raised = [LocalRun(i, np.zeros(2), np.zeros(2), float("nan"), 1, 0, False,
                       "objective failed", error=f"ZeroDivisionError: at {i}") for i in (71, 72)]
    with history(tmp_path, rows=8) as journal:
        journal.extend([*good, solver, *raised])  # segments with no failure, then one with
        store = RunStore.from_runs([*good, solver, *raised])
        view = RunsOnDisk.from_store(store, journal)
        assert view.failures() == store.failures() == {
            "ZeroDivisionError": 2, "ABNORMAL_TERMINATION_IN_LNSRCH": 1}

    clean = tmp_path / "clean"
    clean.mkdir()
    with history(clean, rows=8) as journal:
        journal.extend(good)
        view = RunsOnDisk.from_store(RunStore.from_runs(good), journal)
        for path in segment_paths(clean / "runs"):
            path.write_bytes(b"not parquet")  # a read would warn and rename it
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert view.failures() == {}
    assert all(not p.name.endswith(".torn") for p in (clean / "runs").iterdir())


# ------------------------------------------------------------------ whole runs


def write_config(tmp_path: Path, name: str, n_starts: int, kind: str = "serial") -> Path:
    config = {
        "problem": {"objective": f"{OBJECTIVES}:himmelblau", "bounds": [[-5, 5], [-5, 5]]},
        "starts": {"n_starts": n_starts, "seed": 11},
        "cluster": {"kind": kind} if kind == "serial" else {"kind": kind, "n_workers": 2},
        "output": {"dir": str(tmp_path / name)},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def minima(result) -> list[tuple]:
    return [(tuple(m.x), m.fun, m.n_hits, tuple(m.starts), m.nfev, tuple(m.x0))
            for m in result.minima]


@pytest.fixture
def small_segments(monkeypatch):
    """Segments of 40 runs; the session keeps 60 runs in memory, then holds them on disk."""
    monkeypatch.setattr(segments, "ROWS_PER_SEGMENT", 40)
    monkeypatch.setattr(session_module, "RUNS_IN_MEMORY", 60)


class Killed(BaseException):
    """What a SIGKILL does to the driver: nothing after it runs."""


def test_resume_after_a_kill_at_any_point_equals_an_uninterrupted_run(tmp_path, monkeypatch,
                                                                     small_segments):
    n = 200
    reference = engine.run_config(write_config(tmp_path, "ref", n))
    assert isinstance(reference.runs, RunsOnDisk) and len(reference.runs) == n
    assert len(reference.minima) == 4
    record = session_module.Session.record_many
    for kill_at in (1, 39, 40, 41, 61, 119, 199):
        name = f"kill{kill_at}"
        config = write_config(tmp_path, name, n)

        def record_then_die(self, runs, kill_at=kill_at):
            record(self, runs)
            if len(self.runs) >= kill_at and self.journal is not None:
                self.journal.extend(runs)  # the line reached the OS, then the kill
                raise Killed

        with monkeypatch.context() as patched:
            patched.setattr(session_module.Session, "record_many", record_then_die)
            # A killed driver seals nothing more: the tail's buffered runs are only in the file.
            patched.setattr(SegmentJournal, "close", lambda self: self._tail.close())
            with pytest.raises(Killed):
                engine.run_config(config)
        done = read_history(tmp_path / name)
        assert sorted(r.index for r in done) == list(range(kill_at))
        resumed = engine.run_config(config, resume=True)
        assert minima(resumed) == minima(reference), kill_at
        assert (resumed.n_starts, resumed.nfev) == (reference.n_starts, reference.nfev)
        frame = engine.load(tmp_path / name).runs_frame()
        assert frame["index"].tolist() == list(range(n))


def test_a_segment_half_written_at_the_kill_is_cleaned_and_resumed(tmp_path, monkeypatch,
                                                                  small_segments):
    reference = engine.run_config(write_config(tmp_path, "ref", 100))
    config = write_config(tmp_path, "cut", 100)
    real = segments.write_segment

    def die_while_writing(table, path):
        if path.name == "part-000001.parquet":
            (path.parent / f".{path.name}.1.tmp").write_bytes(b"PAR1 half a segment")
            raise Killed
        return real(table, path)

    with monkeypatch.context() as patched:
        patched.setattr(segments, "write_segment", die_while_writing)
        patched.setattr(SegmentJournal, "close", lambda self: self._tail.close())
        with pytest.raises(Killed):
            engine.run_config(config)
    assert [p.name for p in segment_paths(tmp_path / "cut" / "runs")] == ["part-000000.parquet"]
    resumed = engine.run_config(config, resume=True)
    assert minima(resumed) == minima(reference)
    assert not list((tmp_path / "cut" / "runs").glob(".*.tmp"))


def test_a_killed_driver_resumes_from_segments(tmp_path):
    """A real SIGKILL of ``multistart run`` after segments were sealed; --resume finishes it
    with the minima of an uninterrupted run."""
    n = 3000
    prelude = ("import sys, engine.results.segments as s, engine.session as S; "
               "s.ROWS_PER_SEGMENT = 200; S.RUNS_IN_MEMORY = 500; "
               "from engine.cli import main; sys.exit(main(sys.argv[1:]))")
    command = [sys.executable, "-c", prelude, "run", "--quiet"]
    reference = subprocess.run([*command, str(write_config(tmp_path, "ref", n))],
                               capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert reference.returncode == 0, reference.stderr
    config = write_config(tmp_path, "killed", n)
    proc = subprocess.Popen([*command, str(config)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(segment_paths(tmp_path / "killed" / "runs")) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "no segments were sealed"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    done = read_history(tmp_path / "killed")
    assert 600 <= len({r.index for r in done}) < n
    resumed = subprocess.run([*command, "--resume", str(config)], capture_output=True,
                             text=True, timeout=600, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr
    ours = json.loads((tmp_path / "killed" / "result.json").read_text())
    theirs = json.loads((tmp_path / "ref" / "result.json").read_text())
    assert ours["minima"] == theirs["minima"] and ours["n_starts"] == theirs["n_starts"] == n
    assert ours["nfev"] == theirs["nfev"]


def test_a_run_on_a_local_cluster_holds_its_runs_on_disk_with_the_serial_minima(
        tmp_path, small_segments):
    serial = engine.run_config(write_config(tmp_path, "serial", 300))
    local = engine.run_config(write_config(tmp_path, "local", 300, kind="local"))
    assert isinstance(local.runs, RunsOnDisk)
    assert minima(local) == minima(serial)
    assert sorted(engine.load(tmp_path / "local").runs_frame()["index"]) == list(range(300))


# ------------------------------------------------------------------ queries and export


def test_runs_frame_and_export_agree_with_the_runs(tmp_path, small_segments):
    result = engine.run_config(write_config(tmp_path, "big", 150))
    loaded = engine.load(tmp_path / "big")
    frame = loaded.runs_frame()
    assert frame["index"].tolist() == list(range(150))
    assert frame["nfev"].sum() == result.nfev
    assert result.runs_frame()["nfev"].tolist() == frame["nfev"].tolist()
    # Which starts ended in which minimum, from result.json's minima.
    per_minimum = frame.merge(loaded.minima_table().to_pandas(), on="index")
    counts = per_minimum.groupby("minimum").size().tolist()
    assert counts == [m.n_hits for m in result.minima]
    assert not (tmp_path / "big" / "runs.csv").exists()  # big: CSV is an export
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "export", str(tmp_path / "big"),
                           "--csv"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = (tmp_path / "big" / "runs.csv").read_text().splitlines()
    assert rows[0] == "index,fun,success,nfev,nit,time,message,x_0,x_1,x0_0,x0_1"
    assert len(rows) == 151
    first = result.runs.get(0)
    assert rows[1].split(",")[:5] == ["0", repr(first.fun), str(first.success),
                                       str(first.nfev), str(first.nit)]
    assert loaded.result().runs_frame()["index"].tolist() == list(range(150))


def test_export_of_a_small_run_equals_its_runs_csv(tmp_path):
    engine.run_config(write_config(tmp_path, "small", 30))
    written = (tmp_path / "small" / "runs.csv").read_text()
    exported = engine.load(tmp_path / "small").export_csv(tmp_path / "again.csv")
    assert exported.read_text() == written


def test_the_query_example_prints_its_tables(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "query_runs.py"),
                           str(tmp_path / "q")], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "starts per minimum" in out and "failures by message" in out
    assert "nfev distribution" in out
    data = json.loads((tmp_path / "q" / "result.json").read_text())
    for rank, minimum in enumerate(data["minima"], start=1):
        assert f"minimum {rank}: {minimum['n_hits']} starts" in out


# ------------------------------------------------------------------ without pyarrow


def test_without_pyarrow_runs_use_the_jsonl_journal_and_queries_say_what_to_install(
        tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "have_pyarrow", lambda: False)
    journal = open_history(tmp_path, "fp", resume=True, force=False)
    assert isinstance(journal, Journal)
    journal.extend(make_runs(3))
    journal.close()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"runs_dataset\(\) needs pyarrow .*"
                                          r"multistart-engine\[runs\]"):
        engine.load(tmp_path).runs_dataset()


def test_no_history_is_a_clear_error(tmp_path):
    with pytest.raises(engine.JournalError, match="holds no run history"):
        engine.load(tmp_path)
    shutil.rmtree(tmp_path)


# ------------------------------------------------------------------ compact minima


def test_compact_minima_equal_the_plain_ones_and_hold_starts_past_int32():
    from engine.basins import BasinSet
    from engine.compact_basins import CompactBasinSet
    from engine.results.types import StartList

    rng = np.random.default_rng(4)
    centres = np.array([[0.1, 0.1], [0.5, 0.9], [0.9, 0.2]])
    labels = rng.integers(0, 3, 300)
    points = centres[labels] + rng.uniform(-1e-6, 1e-6, (300, 2))
    values = labels.astype(float)
    plain = BasinSet(np.zeros(2), np.ones(2))
    plain.add_many(np.arange(100), points[:100], values[:100])
    compact = CompactBasinSet.of(plain)
    plain.add_many(np.arange(100, 300), points[100:], values[100:])
    compact.add_many(np.arange(100, 300), points[100:], values[100:])
    ours, theirs = compact.basins(), plain.basins()
    assert [(b.f, b.index, tuple(b.members)) for b in ours] == [
        (b.f, b.index, tuple(b.members)) for b in theirs]
    assert all(isinstance(b.members, StartList) for b in ours)
    assert np.asarray(ours[0].members).dtype == np.int32  # 4 bytes a start
    big = 2**31 + 5
    compact.add(big, centres[0], 0.0)
    members = compact.basins()[0].members
    assert members[-1] == big and len(members) == len(theirs[0].members) + 1
    # At the end: the same minima, an ordered member array given as it is (no copy).
    final = compact.final_basins()
    assert [(b.f, tuple(b.members)) for b in final] == [
        (b.f, tuple(b.members)) for b in compact.basins()]
    ordered = CompactBasinSet(np.zeros(1), np.ones(1))
    for i in range(5):
        ordered.add(i, np.array([0.5]), 0.0)
    (only,) = ordered.final_basins()
    assert tuple(only.members) == (0, 1, 2, 3, 4)
    assert np.shares_memory(np.asarray(only.members), np.frombuffer(
        ordered._basins[0].members, np.int32))  # the member array itself, not a copy
    shuffled = CompactBasinSet(np.zeros(1), np.ones(1))  # a cluster's arrival order
    for i in (4, 0, 3, 1, 2):
        shuffled.add(i, np.array([0.5]), 0.0)
    (only,) = shuffled.final_basins()
    assert tuple(only.members) == (0, 1, 2, 3, 4)
    assert np.shares_memory(np.asarray(only.members), np.frombuffer(
        shuffled._basins[0].members, np.int32))  # sorted where it was
    assert StartList([3, 1]) == (3, 1) and StartList([3, 1]) != (1, 3)


def himmelblau_up(x):
    """Himmelblau turned upside down: four maxima of value 0."""
    return -((x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2)


def himmelblau_up_grad(x):
    a, b = x[0] ** 2 + x[1] - 11, x[0] + x[1] ** 2 - 7
    return -np.array([4 * x[0] * a + 2 * b, 2 * a + 4 * x[1] * b])


def test_minimize_with_a_journal_directory_keeps_big_runs_on_disk_and_resumes(
        tmp_path, small_segments, dask_client):
    """``journal=`` a directory: the runs go to Parquet segments there, past the in-memory
    limit ``res.runs`` is read from them, a second call resumes every start (none solved
    again) and ``engine.load`` reads the same runs. Maximized, with a gradient, on a cluster."""
    history = tmp_path / "history"
    kwargs = {"jac": himmelblau_up_grad, "maximize": True, "n_starts": 150, "seed": 4}
    res = engine.minimize(himmelblau_up, [(-5, 5), (-5, 5)], client=dask_client,
                          journal=history, **kwargs)
    assert isinstance(res.runs, RunsOnDisk) and len(res.runs) == 150
    assert segment_paths(history / "runs")  # sealed segments of 40 runs
    assert len(res.minima) == 4 and all(abs(m.fun) < 1e-8 for m in res.minima)
    assert sum(m.n_hits for m in res.minima) == sum(run.success for run in res.runs) > 140
    again = engine.minimize(himmelblau_up, [(-5, 5), (-5, 5)], client="serial",
                            journal=history, **kwargs)
    assert again.nfev == res.nfev and minima(again) == minima(res)
    frame = engine.load(history).runs_frame()
    assert sorted(frame["index"].tolist()) == list(range(150))
    assert int(frame["nfev"].sum()) == res.nfev


def test_a_journal_path_with_a_suffix_is_a_jsonl_file(tmp_path):
    path = tmp_path / "runs.jsonl"
    res = engine.minimize(himmelblau_up, [(-5, 5), (-5, 5)], jac=himmelblau_up_grad,
                          maximize=True, n_starts=8, seed=1, client="serial", journal=path)
    assert path.is_file() and not (tmp_path / "runs").exists()
    assert sum(1 for _ in path.open()) == 1 + 8 and isinstance(res.runs, RunStore)
