"""Mutation testing of the core modules: hand-written named mutants, then mutmut.

Named mutants (the regression guard of issue 21): each is a one-line change to a copy of the
tree; the test files relevant to it run against that copy and must fail. They need nothing but
pytest.

mutmut (the ``mutation`` extra, ``pip install -e .[mutation]``): each module is mutated in its
own scratch copy of the tree, ``paths_to_mutate`` set to that module and the tests it runs
(``pytest_add_cli_args_test_selection``) to its fast test files; ``mutmut run`` runs under a
wall-clock limit and ``mutmut results`` / ``mutmut show`` give the survivors with file:line and
the change. Survivors judged equivalent are listed in ``EQUIVALENT`` with the reason.

Results: ``bench-results/mutation.json`` (merged: a part that is not run keeps its last
result) and ``bench-results/mutation-summary.txt``.

Usage::

    scripts/mutation                      # named mutants, then mutmut on every module
    scripts/mutation --named              # named mutants only
    scripts/mutation --mutmut basins stop --time-limit 600
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results" / "mutation.json"
SUMMARY = ROOT / "bench-results" / "mutation-summary.txt"
PYTEST = ["-x", "-q", "-p", "no:cacheprovider", "--timeout=120", "-W", "ignore"]

# -- named mutants -------------------------------------------------------------------------

#: name, file, the exact text replaced (must occur once), its replacement, the tests to run.
NAMED = [
    {
        "name": "maximize: gradient sign not flipped (jac)",
        "file": "engine/local/objective.py",
        "old": "grad = self.problem.minimized_gradient(self.to_user(z))",
        "new": "grad = self.problem.gradient(self.to_user(z))",
        "tests": ["tests/test_local.py", "tests/test_solve_core.py", "tests/test_evaluate.py",
                  "tests/test_mutation_kills.py"],
    },
    {
        "name": "maximize: gradient sign not flipped (fun_and_grad, jac=True)",
        "file": "engine/local/objective.py",
        "old": "value, grad = self.problem.minimized_and_gradient(x)",
        "new": "value, grad = self.problem.minimized(x), self.problem.gradient(x)",
        "tests": ["tests/test_local.py", "tests/test_solve_core.py", "tests/test_evaluate.py",
                  "tests/test_mutation_kills.py"],
    },
    {
        "name": "merge value tolerance made absolute instead of relative",
        "file": "engine/basins.py",
        "old": "return np.abs(values - refs) <= self.ftol * np.maximum(\n"
               "            1.0, np.maximum(np.abs(values), np.abs(refs)))",
        "new": "return np.abs(values - refs) <= self.ftol",
        "tests": ["tests/test_basins.py", "tests/test_mutation_kills.py"],
    },
    {
        "name": "target compared without the maximize sign",
        "file": "engine/stop.py",
        "old": "return run is not None and run.success and sign * run.fun <= sign * self.target",
        "new": "return run is not None and run.success and run.fun <= self.target",
        "tests": ["tests/test_stop.py", "tests/test_session.py"],
    },
    {
        "name": "default dedup xtol 1e-4 -> 1e-2",
        "file": "engine/options.py",
        "old": "xtol: float = option(\n        1e-4,",
        "new": "xtol: float = option(\n        1e-2,",
        "tests": ["tests/test_basins.py", "tests/test_mutation_kills.py",
                  "tests/test_options.py"],
    },
    {
        "name": "restart never accepted",
        "file": "engine/local/solve.py",
        "old": "if not (again.success and lowered):",
        "new": "if True:",
        "tests": ["tests/test_local.py", "tests/test_solve_core.py"],
    },
    {
        "name": "basins keep the worst representative",
        "file": "engine/basins.py",
        "old": "if (f, index) < (basin.f, basin.index):",
        "new": "if (f, index) > (basin.f, basin.index):",
        "also": [("if (values[lo], int(indices[lo])) < (basin.f, basin.index):",
                  "if (values[hi - 1], int(indices[hi - 1])) > (basin.f, basin.index):"),
                 ("basin.x, basin.f, basin.index = points[lo].copy(), float(values[lo]), int(\n"
                  "                    indices[lo])",
                  "basin.x, basin.f, basin.index = points[hi - 1].copy(), "
                  "float(values[hi - 1]), int(\n                    indices[hi - 1])")],
        "tests": ["tests/test_basins.py"],
    },
    {
        "name": "journal resume skips a record",
        "file": "engine/results/journal.py",
        "old": "for number, line in enumerate(lines[1:], start=2):",
        "new": "for number, line in enumerate(lines[2:], start=3):",
        "tests": ["tests/test_resume.py", "tests/test_runstore.py"],
    },
    {
        "name": "chunk tail rule removed (no two chunks per slot for the tail)",
        "file": "engine/parallel/chunking.py",
        "old": "size = min(size, remaining // (2 * self.n_slots))",
        "new": "size = min(size, remaining)",
        "tests": ["tests/test_chunking.py"],
    },
]

#: the files of the tree a scratch copy needs
COPY = ["engine", "tests", "pyproject.toml", "scripts", "configs", "docs", "examples",
        "README.md"]


def copy_tree(dest: Path) -> None:
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", "mutants", ".hypothesis"))
        elif src.exists():
            shutil.copy2(src, dest / name)


def apply(dest: Path, mutant: dict) -> str:
    path = dest / mutant["file"]
    text = path.read_text()
    before = text
    for old, new in [(mutant["old"], mutant["new"]), *mutant.get("also", [])]:
        if text.count(old) != 1:
            raise SystemExit(f"named mutant {mutant['name']!r}: {old!r} occurs "
                             f"{text.count(old)} times in {mutant['file']}")
        text = text.replace(old, new)
    path.write_text(text)
    return "".join(difflib.unified_diff(before.splitlines(True), text.splitlines(True),
                                        mutant["file"], mutant["file"], n=0))


def run_pytest(cwd: Path, tests: list[str], timeout: float) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONPATH": str(cwd), "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "CI": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    tests = [t for t in tests if (cwd / t).exists()]
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", *PYTEST, *tests], cwd=cwd,
                              env=env, capture_output=True, text=True, timeout=timeout)
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        rc, out = -1, "timed out"
    return rc, out, time.monotonic() - t0


def which_engine(cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([sys.executable, "-c", "import engine; print(engine.__file__)"],
                          cwd=cwd, env=env, capture_output=True, text=True).stdout.strip()


def run_named(timeout: float) -> dict:
    out = {"mutants": [], "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    t_all = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutation-named-") as tmp:
        base = Path(tmp) / "base"
        copy_tree(base)
        located = which_engine(base)
        if not located.startswith(str(base)):
            raise SystemExit(f"the copy's tests import engine from {located}, not the copy")
        # The unmutated tree must pass the same tests, else a failure proves nothing.
        for mutant in NAMED:
            work = Path(tmp) / "work"
            if work.exists():
                shutil.rmtree(work)
            shutil.copytree(base, work)
            diff = apply(work, mutant)
            rc, log, seconds = run_pytest(work, mutant["tests"], timeout)
            failed = [line for line in log.splitlines() if line.startswith("FAILED")]
            entry = {
                "name": mutant["name"], "file": mutant["file"], "diff": diff,
                "tests": mutant["tests"], "caught": rc not in (0, 5, -1),
                "pytest_exit": rc, "seconds": round(seconds, 1),
                "caught_by": failed[:5] or log.strip().splitlines()[-1:],
            }
            print(f"[named] {'CAUGHT ' if entry['caught'] else 'MISSED '} "
                  f"{mutant['name']}  ({seconds:.0f} s) {entry['caught_by'][:1]}", flush=True)
            out["mutants"].append(entry)
        baseline = {}
        for tests in sorted({tuple(m["tests"]) for m in NAMED}):
            rc, log, seconds = run_pytest(base, list(tests), timeout)
            baseline[" ".join(tests)] = {"pytest_exit": rc, "seconds": round(seconds, 1)}
            if rc != 0:
                print(f"[named] baseline FAILS for {tests}:\n{log[-2000:]}", flush=True)
        out["baseline_unmutated"] = baseline
    out["caught"] = sum(m["caught"] for m in out["mutants"])
    out["total"] = len(out["mutants"])
    out["seconds"] = round(time.monotonic() - t_all, 1)
    return out


# -- mutmut --------------------------------------------------------------------------------

#: module key -> (files to mutate, fast test files that cover them)
MODULES = {
    "basins": (["engine/basins.py"], ["tests/test_basins.py", "tests/test_mutation_kills.py"]),
    "stop": (["engine/stop.py"], ["tests/test_stop.py", "tests/test_session.py",
                                  "tests/test_mutation_kills.py"]),
    "session": (["engine/session.py"], ["tests/test_session.py", "tests/test_stop.py",
                                        "tests/test_resume.py", "tests/test_progress.py",
                                        "tests/test_problem.py", "tests/test_strategies.py",
                                        "tests/test_session_exact.py"]),
    "journal": (["engine/results/journal.py"], ["tests/test_resume.py", "tests/test_runstore.py",
                                                "tests/test_journal_exact.py",
                                                "tests/test_mutation_kills.py"]),
    "sampling": (["engine/sampling.py"], ["tests/test_sampling.py",
                                          "tests/test_sampling_exact.py",
                                          "tests/test_mutation_kills.py"]),
    "local": (["engine/local/solve.py", "engine/local/objective.py",
               "engine/local/least_squares.py"],
              ["tests/test_local.py", "tests/test_solve_core.py", "tests/test_evaluate.py",
               "tests/test_real_use_scaling.py", "tests/test_mutation_kills.py",
               "tests/test_fitting.py", "tests/test_local_exact.py"]),
    "driver": (["engine/driver.py"], ["tests/test_driver_exact.py", "tests/test_stop.py"]),
    "segments": (["engine/results/segments.py"], ["tests/test_segments.py"]),
}

#: Survivors judged equivalent (same results for every input the engine passes), by mutmut's
#: name; the numbers are stable while the module's source is unchanged.
_SENTINEL = "another negative 'not joined' sentinel: only its sign is ever tested"
_STRICT = "zip over two sequences that always have the same length"
_SAME_INDEX = ("(f, index) ties only for the same start index, which is added once")
_ALL_WARNINGS = ("ignores every warning instead of UserWarning: the qmc engines raise no "
                 "other")
_REFUSED = ("an unknown sampler is refused by the name check before n or d are read")
_UTF8 = ("the encoding spelled 'UTF-8' or left to the locale: codec names are case-blind, and "
         "Python (3.7+) reads and writes UTF-8 under the C/POSIX locale and every UTF-8 locale "
         "the engine runs on")
_TRAMPOLINE = ("the warning's stacklevel: mutmut's trampoline adds a frame, so only an "
               "ordinary run can check it (tests/test_journal_exact.py does)")
_ONE_COLON = ("the only budget error, 'BudgetExhausted: max_evals reached after N "
              "evaluations' (SolverObjective._check_limits), holds one ': ': split on it, on "
              "whitespace once or from the right, its last part is the same")
EQUIVALENT = {
    "basins": {
        "xǁBasinSetǁ__init____mutmut_5": "integer bounds: unit coordinates are a true division",
        "xǁBasinSetǁ__init____mutmut_7": "integer bounds: unit coordinates are a true division",
        "xǁBasinSetǁ__init____mutmut_11": "integer bounds: unit coordinates are a true division",
        "xǁBasinSetǁ__init____mutmut_13": "integer bounds: unit coordinates are a true division",
        "xǁBasinSetǁ__init____mutmut_24": "initial capacity of the values array; _grow resizes "
                                          "both arrays when the unit array is full",
        "xǁBasinSetǁ_grow__mutmut_4": "growth factor of the arrays: capacity only",
        **{name: _STRICT for name in ("xǁBasinSetǁ_found_among__mutmut_46",
                                      "xǁBasinSetǁ_found_among__mutmut_49",
                                      "xǁBasinSetǁ_found_among__mutmut_50")},
        "xǁBasinSetǁ_join_bulk__mutmut_14": _SAME_INDEX,
        "xǁBasinSetǁadd__mutmut_26": _SAME_INDEX,
        "xǁBasinSetǁ_match_known__mutmut_7": _SENTINEL,
        "xǁBasinSetǁ_match_known__mutmut_97": _SENTINEL,
        "xǁBasinSetǁ_match_known__mutmut_21": "a float count compares the same",
        "xǁBasinSetǁ_match_known__mutmut_23": "a float count compares the same",
        "xǁBasinSetǁ_match_known__mutmut_34": "three nearest instead of two: a point near "
                                              "several minima still takes the exact path",
        "xǁBasinSetǁ_match_known__mutmut_86": "a point near one minimum taking the exact path "
                                              "gets the same answer",
        "xǁBasinSetǁadd_many__mutmut_1": "block size: the outcome equals repeated add",
        "xǁBasinSetǁadd_many__mutmut_17": "integer values compare and convert the same",
        "xǁBasinSetǁadd_many__mutmut_19": "integer values compare and convert the same",
    },
    "stop": {
        "x_register_rule__mutmut_1": "runs at import, before mutmut switches a mutant on: "
                                     "mutmut cannot test it (the named tests of the rules "
                                     "list would fail)",
        "x_estimated_coverage__mutmut_7": "at n == w + 1 the formula gives 0.0 too",
        "xǁMaxTimeǁmet__mutmut_1": "elapsed() equal to max_time to the last bit: a float "
                                   "clock reading, not a value a test can hit",
    },
    "session": {
        **{name: "start points as given or as float: inside() compares them the same, and "
                 "any negative size lets numpy infer the row count" for name in (
            "x_check_starts_inside__mutmut_8", "x_check_starts_inside__mutmut_10",
            "x_check_starts_inside__mutmut_12")},
    },
    "journal": {
        **{name: _UTF8 for name in (
            "x_finished_starts__mutmut_7", "x_finished_starts__mutmut_10",
            "x_finished_starts__mutmut_13", "xǁJournalǁ_open__mutmut_10",
            "xǁJournalǁ_open__mutmut_13", "xǁJournalǁ_open__mutmut_15",
            "xǁJournalǁ_read__mutmut_2", "xǁJournalǁ_read__mutmut_5",
            "xǁJournalǁ_read__mutmut_8")},
        **{name: _TRAMPOLINE for name in (
            "xǁJournalǁ_keep_finished_starts__mutmut_32",
            "xǁJournalǁ_keep_finished_starts__mutmut_33",
            "xǁJournalǁ_read__mutmut_68", "xǁJournalǁ_read__mutmut_72")},
        "xǁJournalǁ__init____mutmut_12": "the handle is replaced by _open before any path "
                                          "reads it (close is never reached with the initial "
                                          "value)",
        "xǁJournalǁ_read__mutmut_22": "an unparsable header, None or '', fails the same "
                                      "isinstance(header, dict) check",
        "xǁJournalǁ_write__mutmut_5": "now - synced equal to FSYNC_INTERVAL to the last bit: a "
                                      "float clock reading, not a value a test can hit",
    },
    "local": {
        "xǁSolverObjectiveǁ_check_limits__mutmut_3": "time.monotonic() equal to the deadline "
                                                     "to the last bit: a float clock reading, "
                                                     "not a value a test can hit",
        **{name: "best.x is a float64 array already (scipy's, or least_squares' converted)"
           for name in ("x__check_stationary__mutmut_13", "x__check_stationary__mutmut_15")},
        **{name: _ONE_COLON for name in (
            "x__failed_run__mutmut_35", "x__failed_run__mutmut_39",
            "x__failed_run__mutmut_42", "x__failed_run__mutmut_36",
            "x__failed_run__mutmut_38", "x__failed_run__mutmut_41")},
        **{name: "best.x is a float64 array already (scipy's, or least_squares' converted)"
           for name in ("x__descend__mutmut_30", "x__descend__mutmut_32",
                        "x__accept_precision_stop__mutmut_14",
                        "x__accept_precision_stop__mutmut_16", "x__finished_run__mutmut_5",
                        "x__finished_run__mutmut_7")},
        **{name: "z is a float64 array (its callers convert it) and np.array copies it "
                 "either way" for name in ("x__lowest_neighbour__mutmut_21",
                                           "x__lowest_neighbour__mutmut_23")},
        **{name: "x is float64 already (to_user returns float arrays) and np.array copies it "
                 "either way" for name in ("xǁSolverObjectiveǁ_seen__mutmut_5",
                                           "xǁSolverObjectiveǁ_seen__mutmut_7")},
        **{name: "the first value of a solve sets the shift (_unshifted starts True), and "
                 "no_shift sets it for a least-squares solve, before anything reads it"
           for name in ("xǁSolverObjectiveǁ__init____mutmut_22",
                        "xǁSolverObjectiveǁ__init____mutmut_23")},
        "xǁSolverObjectiveǁ__init____mutmut_21": "unscaled, setup.width is all ones: the "
                                                 "derivatives times 1.0 are the same",
        "x__descend__mutmut_63": "a restart's value equal to best.fun - 1e-12 (1 + |best.fun|) "
                                 "to the last bit: a float, not a value a solve can be "
                                 "steered to",
        "x__descend__mutmut_19": "the first drop is replaced before it is read: the "
                                 "stationarity check runs only after a loop pass (restarts "
                                 "> 0 and a success), which sets drop first",
        "x__descend__mutmut_33": "replaced at once without constraints; with constraints the "
                                 "solve is never scaled, so the check that reads drop does "
                                 "not run",
        "x__finished_run__mutmut_3": "reshape(None) leaves a 1-D array as it is, and best.x "
                                     "is 1-D like x0",
        "x__finished_run__mutmut_54": "error=None is LocalRun's default",
        **{name: "solve_one then makes the same SolveSetup for each start (the executors pass "
                 "options with scale resolved, so SolveSetup.of measures nothing): only the "
                 "per-start cost differs" for name in (
            "x_solve_each__mutmut_1", "x_solve_each__mutmut_10", "x_solve_each__mutmut_15")},
    },
    "driver": {
        **{name: "the first stop reason is always replaced: strategy.run returns one and each "
                 "except clause sets one" for name in (
            "x__search__mutmut_1", "x__search__mutmut_2", "x__search__mutmut_3")},
        "x__search__mutmut_4": "'' and None both mean no note: build_result appends a note "
                               "only when it is truthy",
        "x__merge_pass__mutmut_6": "budgets 500 and 501 allow the same 100 segments: "
                                   "merge_minima spends evaluations in steps of n_points=5",
        "x__merge_pass__mutmut_7": "merge_minima compares whole numbers spent + 5 with the "
                                   "budget, and an integer exceeds nfev / 10 exactly when it "
                                   "exceeds nfev // 10",
        **{name: "a budget of 0 or 1, under n_points=5, lets merge_minima check no segment: "
                 "every basin stays as cluster_points gave it (best first, members "
                 "ascending), as with no pass" for name in (
            "x__merge_pass__mutmut_23", "x__merge_pass__mutmut_24")},
        "x__relabelling_notes__mutmut_9": "reads every column of the runs on disk, not only "
                                          "their messages: the same messages (a cost, not a "
                                          "result)",
        "x_run_multistart__mutmut_79": "_provenance does not read its session argument",
        "x_run_multistart__mutmut_89": "with no point seen best_seen_f is inf, so the pair "
                                       "is (None, +-inf), which better_than never prefers",
    },
    "sampling": {
        **{name: "scramble=True is scipy.stats.qmc's default" for name in (
            "x__unit_halton__mutmut_6", "x__unit_sobol__mutmut_6",
            "x_iter_unit_blocks__mutmut_28", "xǁUnitStreamǁ__init____mutmut_32")},
        **{name: _ALL_WARNINGS for name in (
            "x__unit_sobol__mutmut_18", "x_iter_unit_blocks__mutmut_47",
            "xǁUnitStreamǁdraw__mutmut_11")},
        **{name: "sobol_seq returns float64 already" for name in (
            "x__unit_sobol_seq__mutmut_4", "x__unit_sobol_seq__mutmut_6")},
        "x_iter_unit_blocks__mutmut_1": "block size only: the concatenated blocks are the same",
        "x_iter_unit_blocks__mutmut_2": "the check then runs for known samplers (a no-op "
                                        "sample of 0 points), and an unknown one is refused "
                                        "by sample_unit on the eager path",
        **{name: _REFUSED for name in (
            "x_iter_unit_blocks__mutmut_4", "x_iter_unit_blocks__mutmut_5",
            "x_iter_unit_blocks__mutmut_9", "xǁUnitStreamǁ__init____mutmut_3",
            "xǁUnitStreamǁ__init____mutmut_4", "xǁUnitStreamǁ__init____mutmut_8")},
        **{name: "bounds as float or as given: lower + unit * (upper - lower) is float either "
                 "way" for name in (
            "x_sample_starts__mutmut_3", "x_sample_starts__mutmut_5",
            "x_sample_starts__mutmut_8", "x_sample_starts__mutmut_10")},
        "x__unit_lhs_cd__mutmut_9": "scipy.stats.qmc reads the optimization's name case-blind "
                                    "(the same points for 'RANDOM-CD' and 'random-cd')",
        **{name: "n == 0 then reaches the generators, which all return (0, d)" for name in (
            "x_sample_unit__mutmut_7", "xǁUnitStreamǁdraw__mutmut_1")},
    },
}

MUTMUT_CONFIG = """
[tool.mutmut]
paths_to_mutate = {paths}
tests_dir = {tests}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-W", "ignore", "--timeout=120"]
pytest_add_cli_args_test_selection = {tests}
also_copy = {also}
"""


def mutmut_bin() -> str:
    exe = Path(sys.executable).parent / "mutmut"
    if not exe.exists():
        raise SystemExit("mutmut is not installed: pip install -e '.[mutation]'")
    return str(exe)


def differing_sources(work: Path) -> list[str]:
    """The engine files that differ between scratch copy ``work`` and this tree."""
    ours = {str(p.relative_to(ROOT)): p.read_bytes() for p in (ROOT / "engine").rglob("*.py")}
    theirs = {str(p.relative_to(work)): p.read_bytes() for p in (work / "engine").rglob("*.py")}
    return sorted(name for name in ours.keys() | theirs.keys()
                  if ours.get(name) != theirs.get(name))


def reusable_workdir(key: str, previous: dict | None, unchanged: bool = True) -> Path | None:
    """The scratch copy of the last run of ``key`` when its engine is still this tree's, or
    (``unchanged=False``) when its mutated files are: the others' differences are recorded."""
    work = Path(previous["workdir"]) if previous and previous.get("workdir") else None
    if work is None or not (work / "mutants").is_dir():
        return None
    differ = differing_sources(work)
    if differ and (unchanged or set(differ) & set(MODULES[key][0])):
        return None
    return work


def run_mutmut(key: str, time_limit: float, jobs: int, previous: dict | None = None,
               extra: list[str] | None = None, unchanged: bool = True) -> dict:
    """mutmut on module ``key`` in a scratch copy, within ``time_limit`` wall seconds.

    With ``previous`` (the module's last result) whose scratch copy still holds this tree's
    engine, that copy is reused with the current tests: its open survivors are run again, then
    the mutants it had not reached; every other verdict stands (a new test can only kill).
    """
    paths, tests = MODULES[key]
    tests = [t for t in tests if (ROOT / t).exists()]
    t0 = time.monotonic()
    work = reusable_workdir(key, previous, unchanged) if previous is not None else None
    again: list[str] = []
    if work is not None:
        for name in ("tests", "scripts"):
            shutil.rmtree(work / name)
            shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", ".hypothesis"))
        again = list(previous.get("open_survivors", []))
        # Named mutants run again too (a verdict suspected of a flaky test, say).
        again += [name for name in extra or [] if name.split(".")[-1].startswith("x")
                  and name.startswith("engine.") and name not in again]
        print(f"[mutmut] {key}: reusing {work}; {len(again)} open survivors run again",
              flush=True)
    else:
        if previous is not None:
            print(f"[mutmut] {key}: the last scratch copy is gone or its engine differs: a "
                  "full run", flush=True)
        work = Path(tempfile.mkdtemp(prefix=f"mutation-{key}-"))
        copy_tree(work)
    text = (work / "pyproject.toml").read_text()
    text = re.sub(r"\n\[tool\.mutmut\]\n(?:(?!\[).*(?:\n|$))*", "\n", text)
    # The rest of the package goes along unmutated, so that mutants/engine is the whole
    # package and nothing is imported from elsewhere (an editable install of the tree).
    rest: list[str] = []

    def keep(folder: Path) -> None:
        for entry in sorted(folder.iterdir()):
            name = str(entry.relative_to(work))
            if entry.name == "__pycache__" or name in paths:
                continue
            if entry.is_dir() and any(p.startswith(name + "/") for p in paths):
                keep(entry)
            else:
                rest.append(name)

    keep(work / "engine")
    also = ["tests", "configs", "docs", "examples", "README.md", "scripts", *rest]
    text += MUTMUT_CONFIG.format(paths=json.dumps(paths), tests=json.dumps(tests),
                                 also=json.dumps(also))
    (work / "pyproject.toml").write_text(text)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "CI": "1"}
    env.pop("PYTHONPATH", None)
    log_path = work / "mutmut-run.log"
    timed_out = False
    # Named survivors first (mutmut runs a named mutant again), then whatever is unchecked.
    commands = [[*again]] if again else []
    commands.append([])
    with open(log_path, "a" if again else "w") as log:
        for names in commands:
            left = time_limit - (time.monotonic() - t0)
            proc = subprocess.Popen([mutmut_bin(), "run", "--max-children", str(jobs), *names],
                                    cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                proc.wait(timeout=max(left, 1.0))
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, 15)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()
                break
    res = subprocess.run([mutmut_bin(), "results", "--all", "true"], cwd=work, env=env,
                         capture_output=True, text=True)
    statuses: dict[str, str] = {}
    for line in res.stdout.splitlines():
        m = re.match(r"\s*(\S+__mutmut_\d+):\s*(.+)$", line)
        if m:
            statuses[m.group(1)] = m.group(2).strip()
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    survivors = []
    for name, status in sorted(statuses.items()):
        if status not in ("survived", "no tests"):
            continue
        shown = subprocess.run([mutmut_bin(), "show", name], cwd=work, env=env,
                               capture_output=True, text=True).stdout
        entry = {"mutant": name, "status": status, **locate(work, paths, shown)}
        reason = EQUIVALENT.get(key, {}).get(name.split(".")[-1])
        if reason:
            entry["equivalent"] = reason
        survivors.append(entry)
    killed = counts.get("killed", 0)
    n_equivalent = sum("equivalent" in s for s in survivors)
    decided = killed + counts.get("survived", 0) + counts.get("no tests", 0) + counts.get(
        "timeout", 0)
    caught = killed + counts.get("timeout", 0)
    out = {
        "files": paths, "tests": tests, "mutants": len(statuses), "counts": counts,
        "killed": killed, "survived": counts.get("survived", 0),
        "score": round(caught / decided, 4) if decided else None,
        "equivalent": n_equivalent,
        "score_without_equivalent": round(caught / (decided - n_equivalent), 4) if (
            decided > n_equivalent) else None,
        "open_survivors": [s["mutant"] for s in survivors if "equivalent" not in s],
        "timed_out": timed_out, "seconds": round(time.monotonic() - t0, 1),
        "survivors": survivors, "log_tail": log_path.read_text()[-1500:] if (
            not statuses) else "",
        "workdir": str(work),
        # Engine files of this tree that the scratch copy's engine differs in (--finish).
        "engine_differs": differing_sources(work),
    }
    print(f"[mutmut] {key}: {len(statuses)} mutants, {counts}, score {out['score']}"
          f"{' (time limit hit)' if timed_out else ''}", flush=True)
    return out


def locate(work: Path, paths: list[str], diff: str) -> dict:
    """file:line and the changed lines of one ``mutmut show`` diff."""
    removed = [line[1:] for line in diff.splitlines()
               if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines()
             if line.startswith("+") and not line.startswith("+++")]
    where = None
    m = re.search(r"^\+\+\+ (?:b/)?(\S+)", diff, re.M)
    file = m.group(1) if m else (paths[0] if len(paths) == 1 else None)
    if file and removed:
        src = (ROOT / file).read_text().splitlines()
        want = removed[0].strip()
        hits = [i + 1 for i, line in enumerate(src) if line.strip() == want]
        if hits:
            where = hits[0]
    return {"file": file, "line": where, "change": {"from": [r.strip() for r in removed],
                                                     "to": [a.strip() for a in added]}}


# -- output --------------------------------------------------------------------------------

def load() -> dict:
    if RESULTS.exists():
        return json.loads(RESULTS.read_text())
    return {}


def summarize(data: dict) -> str:
    lines = ["Mutation testing (scripts/mutation); details in mutation.json", ""]
    named = data.get("named")
    if named:
        lines.append(f"Named mutants: {named['caught']}/{named['total']} caught "
                     f"({named['seconds']} s)")
        for m in named["mutants"]:
            lines.append(f"  {'caught' if m['caught'] else 'MISSED'}  {m['name']}  "
                         f"[{m['file']}]  by {m['caught_by'][0] if m['caught_by'] else '-'}")
        lines.append("")
    mods = data.get("mutmut", {})
    if mods:
        lines.append("mutmut per module (score = killed+timeout / decided):")
        for key, m in mods.items():
            lines.append(f"  {key:9s} {m.get('mutants', 0):4d} mutants  killed "
                         f"{m.get('killed', 0):4d}  survived {m.get('survived', 0):3d}  "
                         f"score {m.get('score')}  equivalent {m.get('equivalent', 0)}  "
                         f"score without them {m.get('score_without_equivalent')}  "
                         f"{m.get('seconds')} s"
                         f"{'  (time limit hit)' if m.get('timed_out') else ''}")
        lines.append("")
    for key, m in mods.items():
        open_ = [s for s in m.get("survivors", []) if "equivalent" not in s]
        eq = [s for s in m.get("survivors", []) if "equivalent" in s]
        if open_:
            lines.append(f"{key}: survivors not yet killed or judged:")
            for s in open_:
                lines.append(f"  {s['file']}:{s['line']} {' / '.join(s['change']['from'])} -> "
                             f"{' / '.join(s['change']['to'])}")
        if eq:
            lines.append(f"{key}: survivors judged equivalent:")
            for s in eq:
                lines.append(f"  {s['file']}:{s['line']} {' / '.join(s['change']['to'])}: "
                             f"{s['equivalent']}")
    return "\n".join(lines) + "\n"


def annotate(data: dict) -> None:
    """Mark the survivors listed in ``EQUIVALENT`` and recount (the list may be newer than
    the run)."""
    for key, m in data.get("mutmut", {}).items():
        survivors = m.get("survivors", [])
        for s in survivors:
            reason = EQUIVALENT.get(key, {}).get(s["mutant"].split(".")[-1])
            s.pop("equivalent", None)
            if reason:
                s["equivalent"] = reason
        counts = m.get("counts", {})
        caught = counts.get("killed", 0) + counts.get("timeout", 0)
        decided = caught + counts.get("survived", 0) + counts.get("no tests", 0)
        m["equivalent"] = sum("equivalent" in s for s in survivors)
        m["score_without_equivalent"] = round(caught / (decided - m["equivalent"]), 4) if (
            decided > m["equivalent"]) else None
        m["open_survivors"] = [s["mutant"] for s in survivors if "equivalent" not in s]


def save(data: dict) -> None:
    annotate(data)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")
    SUMMARY.write_text(summarize(data))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--named", action="store_true", help="run the named mutants only")
    ap.add_argument("--report", action="store_true",
                    help="run nothing: mark equivalents in mutation.json and rewrite the summary")
    ap.add_argument("--mutmut", nargs="*", metavar="MODULE",
                    help=f"run mutmut on these modules (default all: {', '.join(MODULES)})")
    ap.add_argument("--time-limit", type=float, default=900.0,
                    help="wall seconds for mutmut on one module (default 900)")
    ap.add_argument("--jobs", type=int, default=2, help="mutmut --max-children (default 2)")
    ap.add_argument("--rerun", action="store_true",
                    help="reuse each module's last scratch copy (when its engine is unchanged): "
                         "run its open survivors again with the current tests, then the "
                         "mutants it had not reached")
    ap.add_argument("--finish", action="store_true",
                    help="with --rerun: reuse a scratch copy whose mutated files are this tree's "
                         "even if other engine files changed since (listed in the results as "
                         "engine_differs), to finish a run cut by the time limit")
    ap.add_argument("--again", nargs="*", default=[], metavar="MUTANT",
                    help="with --rerun: also run these mutants (mutmut's full names) again")
    ap.add_argument("--named-timeout", type=float, default=300.0,
                    help="wall seconds for the tests of one named mutant (default 300)")
    args = ap.parse_args(argv)
    data = load()
    if args.report:
        save(data)
        print(summarize(data))
        return 0
    do_named = args.named or args.mutmut is None
    do_mutmut = args.mutmut is not None or not args.named
    if do_named:
        named = run_named(args.named_timeout)
        data = load()  # another run may have saved meanwhile: keep its parts
        data["named"] = named
        save(data)
    if do_mutmut:
        keys = args.mutmut or list(MODULES)
        for key in keys:
            if key not in MODULES:
                raise SystemExit(f"unknown module {key!r}; choose from {', '.join(MODULES)}")
        data.setdefault("mutmut", {})
        for key in keys:
            previous = data["mutmut"].get(key, {}) if args.rerun else None
            result = run_mutmut(key, args.time_limit, args.jobs, previous, args.again,
                                unchanged=not args.finish)
            data = load()  # another run may have saved meanwhile: keep its parts
            data.setdefault("mutmut", {})[key] = result
            save(data)
    print(summarize(data))
    named_ok = not do_named or data["named"]["caught"] == data["named"]["total"]
    return 0 if named_ok else 1


if __name__ == "__main__":
    sys.exit(main())
