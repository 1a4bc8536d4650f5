"""The journal's exact contract: what each corrupt record is called, where files go, the
messages that name the fix, compact lines, fsync on the first write, and a clean close after
a failing disk."""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import engine.results.journal as journal_module
from engine.exceptions import JournalError
from engine.results.journal import (
    FORMAT,
    Journal,
    JournalNotEmptyError,
    finished_starts,
    refuse_to_overwrite,
)
from engine.results.types import LocalRun

HEADER = json.dumps({"format": FORMAT, "fingerprint": "fp"})
#: Under mutmut a trampoline frame sits between the caller and the journal, so the warnings'
#: stacklevel is checked in ordinary runs only.
PLAIN_RUN = "MUTANT_UNDER_TEST" not in os.environ


def run(index: int, **changes) -> dict:
    record = LocalRun(index, np.zeros(2), np.ones(2), 1.0, 5, 2, True, "ok").to_dict()
    record.update(changes)
    return record


def write(path: Path, *records, last_newline: bool = True) -> None:
    lines = [HEADER, *(r if isinstance(r, str) else json.dumps(r) for r in records)]
    path.write_text("\n".join(lines) + ("\n" if last_newline else ""))


@pytest.mark.parametrize(("record", "reason"), [
    ("[1, 2]", "ValueError: not a JSON object"),
    (run(-1), "ValueError: index -1 is not a start number"),
    (run(1, nfev=-3), "ValueError: nfev -3 is not a count"),
    (run(1, nit=-1), "ValueError: nit -1 is not a count"),
    (run(1, success="yes"), "ValueError: success or message has the wrong type"),
    (run(1, x0=[0.0]), "ValueError: x0 and x have shapes (1,) and (2,)"),
    (run(1, x0=[0.0, None]), "ValueError: x0 is not finite"),
    (run(1, fun=None), "ValueError: a successful run without a finite fun"),
])
def test_each_corrupt_record_is_skipped_with_its_reason(tmp_path, record, reason):
    path = tmp_path / "j.jsonl"
    write(path, run(0), record, run(2))
    with pytest.warns(RuntimeWarning) as caught, Journal(path, "fp", resume=True) as journal:
        runs = journal.completed()
    assert [r.index for r in runs] == [0, 2]
    caught = [w for w in caught if w.category is RuntimeWarning]
    (message,) = [str(w.message) for w in caught]
    assert f"line 3 is torn or corrupt and was skipped ({reason}" in message
    assert message.endswith("that start will be solved again")
    assert caught[0].filename == __file__ or not PLAIN_RUN  # points at the caller's line


def test_zero_counts_are_valid_and_blank_lines_do_not_end_the_journal(tmp_path):
    path = tmp_path / "j.jsonl"
    write(path, run(0, nfev=0, nit=0), "", run(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with Journal(path, "fp", resume=True) as journal:
            runs = journal.completed()
    assert [(r.index, r.nfev) for r in runs] == [(0, 0), (1, 5)]


def test_a_torn_last_line_gets_a_newline_and_the_next_record_its_own_line(tmp_path):
    path = tmp_path / "j.jsonl"
    write(path, run(0), '{"index": 1, "x0"', last_newline=False)
    with pytest.warns(RuntimeWarning, match="line 3 is torn"):
        journal = Journal(path, "fp", resume=True)
    journal.append(LocalRun(2, np.zeros(2), np.ones(2), 0.5, 3, 1, True, "ok"))
    journal.close()
    lines = path.read_text().split("\n")
    assert lines[2] == '{"index": 1, "x0"' and json.loads(lines[3])["index"] == 2
    # A journal that ends with its newline is left as it is.
    clean = tmp_path / "clean.jsonl"
    write(clean, run(0))
    before = clean.read_text()
    Journal(clean, "fp", resume=True).close()
    assert clean.read_text() == before


def test_records_are_compact_lines_and_the_first_write_is_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(journal_module.os, "fsync",
                        lambda fd: (synced.append(fd), real_fsync(fd))[1])
    path = tmp_path / "deep" / "er" / "j.jsonl"  # parent folders are made
    journal = Journal(path, "fp", resume=False)
    assert len(synced) == 1  # the header, on disk at once
    journal.extend([LocalRun(0, np.zeros(2), np.ones(2), 1.0, 5, 2, True, "ok")])
    journal.close()
    text = path.read_text()
    assert ", " not in text and '": ' not in text  # separators (",", ":")
    assert json.loads(text.split("\n")[0]) == {"format": FORMAT, "fingerprint": "fp"}


def test_finished_starts_counts_distinct_indices_and_skips_bad_lines(tmp_path):
    path = tmp_path / "j.jsonl"
    write(path, run(0), run(0), '{"index": [1]}', '{"nope": 1}', "torn", run(3))
    assert finished_starts(path) == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert finished_starts(empty) == 0
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(HEADER.encode() + b"\n" + json.dumps(run(4, message="M")).encode()
                      .replace(b'"M"', b'"\xe9"') + b"\n")
    assert finished_starts(latin) == 1  # undecodable bytes are replaced, not fatal
    with Journal(latin, "fp", resume=True) as journal:  # read back, the byte replaced
        assert [(r.index, r.message) for r in journal.completed()] == [(4, "\ufffd")]


def test_not_a_journal_and_another_runs_journal_name_the_fix(tmp_path):
    one_byte = tmp_path / "x.jsonl"
    one_byte.write_text("x")
    with pytest.raises(JournalError) as info:
        Journal(one_byte, "fp", resume=True)
    assert str(info.value) == (f"{str(one_byte)!r} is not a multistart journal (first line is "
                               "not its header); remove it or choose another output directory")
    other = tmp_path / "o.jsonl"
    write(other, run(0))
    with pytest.raises(JournalError) as info:
        Journal(other, "mine", resume=True)
    assert str(info.value).startswith(
        f"journal {str(other)!r} belongs to a different run (fingerprint 'fp', this run is "
        "'mine'): the problem")
    assert str(info.value).endswith("starts, local solver or dedup options changed. Use another "
                                    "output directory (from Python: another journal= path), or "
                                    "--force to resume from it anyway")
    assert [r.index for r in Journal(other, "mine", resume=True, force=True).completed()] == [0]


def test_an_empty_file_is_a_new_journal(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text("")
    journal = Journal(path, "fp", resume=True)
    journal.close()
    assert json.loads(path.read_text().split("\n")[0])["fingerprint"] == "fp"


def test_path_errors_name_the_fix(tmp_path):
    with pytest.raises(JournalError) as info:
        Journal(3, "fp")
    assert str(info.value) == ("journal=3 is not a file path; give a str or pathlib.Path such "
                               "as 'runs.jsonl', or None for no journal")
    with pytest.raises(JournalError) as info:
        Journal(tmp_path, "fp")
    assert str(info.value) == (f"journal={str(tmp_path)!r} is a directory; give a file path "
                               f"such as {str(tmp_path / 'journal.jsonl')!r}")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JournalError) as info:
        Journal(blocker / "j.jsonl", "fp")
    assert re.fullmatch(rf"journal {re.escape(repr(str(blocker / 'j.jsonl')))} cannot be opened "
                        r"for writing \(.+\); choose a writable location", str(info.value))


def test_force_moves_old_journals_aside_with_a_stamp_and_a_number(tmp_path, monkeypatch):
    real = journal_module.dt.datetime
    utc = journal_module.dt.timezone.utc

    class Frozen:
        @staticmethod
        def now(tz):
            assert tz is utc
            return real(2026, 1, 2, 3, 4, 5, tzinfo=tz)

    monkeypatch.setattr(journal_module.dt, "datetime", Frozen)
    path = tmp_path / "j.jsonl"
    names = []
    for _ in range(3):
        write(path, run(0), run(1))
        with pytest.warns(RuntimeWarning) as caught:
            Journal(path, "fp", resume=False, force=True).close()
        caught = [w for w in caught if w.category is RuntimeWarning]
        assert caught[0].filename == __file__ or not PLAIN_RUN
        names.append(re.search(r"to (.+)$", str(caught[0].message)).group(1))
        assert str(caught[0].message).startswith(
            "moved the journal of the previous run (2 finished starts) to ")
    assert [Path(n).name for n in names] == ["j.20260102T030405Z.jsonl",
                                             "j.20260102T030405Z-1.jsonl",
                                             "j.20260102T030405Z-2.jsonl"]
    with pytest.raises(JournalNotEmptyError) as info:
        refuse_to_overwrite(Path(names[0]))
    assert str(info.value) == (f"2 finished starts in {names[0]}: add --resume to continue or "
                               "--force to start over")


def test_a_failing_disk_is_reported_once_and_close_stays_quiet(tmp_path):
    journal = Journal(tmp_path / "j.jsonl", "fp", resume=False)

    class Full:
        def write(self, text):
            raise OSError(28, "No space left on device")

        def flush(self):
            raise OSError(28, "No space left on device")

        def fileno(self):
            raise OSError(9, "Bad file descriptor")

        def close(self):
            raise OSError(28, "No space left on device")

    journal._handle = Full()
    with pytest.raises(JournalError) as info:
        journal.append(LocalRun(0, np.zeros(2), np.ones(2), 1.0, 5, 2, True, "ok"))
    assert str(info.value) == (
        f"writing journal {str(tmp_path / 'j.jsonl')!r} failed (No space left on device): the "
        "disk may be full or read-only. Every run written before is kept; free space (or move "
        "the output directory) and continue with --resume")
    journal.close()  # no second report
    assert journal._handle is None


def _refusing_open(*args, **kwargs):
    raise PermissionError(13, "Permission denied")


def test_a_journal_that_cannot_be_read_names_the_path_and_the_fix(tmp_path, monkeypatch):
    path = tmp_path / "j.jsonl"
    write(path, run(0))
    monkeypatch.setattr(journal_module, "open", _refusing_open, raising=False)
    expected = (f"journal {str(path)!r} cannot be read (Permission denied); check its "
                "permissions, or choose another output directory")
    with pytest.raises(JournalError) as info:
        Journal(path, "fp", resume=True)
    assert str(info.value) == expected
    with pytest.raises(JournalError) as info:
        finished_starts(path)
    assert str(info.value) == expected


def test_a_journal_that_cannot_be_moved_aside_names_both_paths(tmp_path, monkeypatch):
    path = tmp_path / "j.jsonl"
    write(path, run(0))

    def refuse(self, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "rename", refuse)
    with pytest.raises(JournalError) as info:
        Journal(path, "fp", resume=False, force=True)
    message = str(info.value)
    assert re.fullmatch(rf"journal {re.escape(repr(str(path)))} cannot be moved aside to "
                        rf"'{re.escape(str(tmp_path))}/j\.\d{{8}}T\d{{6}}Z\.jsonl' \(Permission "
                        r"denied\); move it yourself, or choose another output directory",
                        message), message


def test_a_long_reason_is_cut_at_80_characters(tmp_path):
    deep = 0.0
    for _ in range(40):
        deep = [deep]
    path = tmp_path / "j.jsonl"
    write(path, run(0), run(1, x0=deep))
    with pytest.warns(RuntimeWarning) as caught, Journal(path, "fp", resume=True):
        pass
    (message,) = [str(w.message) for w in caught if w.category is RuntimeWarning]
    reason = "x0 and x have shapes " + str((1,) * 40) + " and (2,)"
    assert f"(ValueError: {reason[:80]}); that start" in message


def test_release_forgets_the_runs_read_at_opening_but_keeps_writing(tmp_path):
    path = tmp_path / "j.jsonl"
    write(path, run(0), run(1))
    with Journal(path, "fp") as journal:
        assert [r.index for r in journal.completed()] == [0, 1]
        journal.release()
        assert len(journal.completed()) == 0 and list(journal.completed()) == []
        journal.append(LocalRun(2, np.zeros(2), np.ones(2), 1.0, 5, 2, True, "ok"))
    assert [r.index for r in Journal(path, "fp").completed()] == [0, 1, 2]
