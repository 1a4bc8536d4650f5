"""Command line: ``multistart run|check|array|merge|export|plot|diagnose``.

``run CONFIG`` solves a YAML config and writes ``result.json``, ``minima.csv`` (and
``runs.csv``) with a live progress bar (plain lines when the output is not a terminal) and
prints the Dask dashboard link of the cluster it uses; ``check CONFIG`` validates a config
without computing; ``array CONFIG --tasks N`` runs it as a SLURM job array (each task a
serial slice of the starts, no daemon) and ``merge DIR`` ranks the tasks' runs into the
same result files; ``export DIR --csv`` writes the runs of a run's Parquet history as
``runs.csv``; ``plot RESULT_DIR`` draws the pictures of a finished run and ``diagnose
RESULT_DIR`` explains its failures. ``plot`` and ``diagnose`` re-import the objective named in
the run's config (or ``--objective``) for the checks and pictures that evaluate it.

Exit status: 0 on success, 2 for an invalid config or bad input (also: a journal with
finished starts in the output directory and neither ``--resume`` nor ``--force``), 1 when the
run itself failed (cluster unreachable, no writable output, ...), 3 when no start succeeded,
130 when stopped by Ctrl-C (SIGINT) and 143 when stopped by SIGTERM (``scancel``, a batch
system's time limit, ``kill``): the finished starts are then in the journal and a partial
``result.json`` (``stop_reason`` ``interrupted`` or ``terminated``) is written.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.analysis.diagnostics import diagnose
from engine.analysis.fit_plots import plot_residuals
from engine.analysis.plots import plot_all
from engine.api import config_spec, planned_runs, run_config
from engine.config import load_config
from engine.exceptions import ConfigError, EngineError
from engine.fitting.config import least_squares_problem
from engine.fitting.residuals import Residuals
from engine.parallel.array import (
    SliceExecutor,
    array_problems,
    array_script,
    resubmit_command,
    submit_array,
    task_dir,
    task_slice,
)
from engine.parallel.base import Executor
from engine.parallel.batch_jobs import submitted_job_ids
from engine.parallel.clusters import cluster_kind, open_executor, prepare_process
from engine.parallel.security import dashboard_loads
from engine.parallel.serial import SerialExecutor
from engine.problem import load_callable
from engine.progress import make_progress
from engine.results import attempts
from engine.results.array_merge import merge_journals
from engine.results.history import load as load_history
from engine.results.journal import JournalNotEmptyError
from engine.results.outputs import atomic_write_text, check_writable, write_result_dir
from engine.results.rundir import has_history, refuse_to_overwrite
from engine.results.types import MultistartResult
from engine.session import StartPlan

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING_SOLVED = 0, 1, 2, 3
# 128 + the signal number: what a shell and a batch system report for a process it ended.
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="multistart",
        description="Find the distinct minima of a bounded problem from many local starts.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a YAML config and write result.json, minima.csv")
    run.add_argument("config", type=Path, help="YAML config file (see configs/)")
    run.add_argument("--out", type=Path, help="output directory (overrides output.dir)")
    run.add_argument("--resume", action="store_true",
                     help="continue from the journal in the output directory")
    run.add_argument("--force", action="store_true",
                     help="without --resume: start over, moving the journal of the previous "
                          "run aside (journal.<UTC time>.jsonl); with --resume: accept a "
                          "journal written for a different config")
    run.add_argument("--quiet", action="store_true", help="no progress display")
    run.add_argument("--progress-every", type=float, default=None, metavar="SECONDS",
                     help="seconds between progress lines when the output is not a terminal "
                          "(default 10)")
    check = sub.add_parser("check", help="validate a config without running anything")
    check.add_argument("config", type=Path)

    array = sub.add_parser("array", help="run a config as a SLURM job array (no daemon): "
                                         "each task solves its own slice of the starts")
    array.add_argument("config", type=Path)
    array.add_argument("--tasks", type=int, required=True, metavar="N",
                       help="number of array tasks")
    array.add_argument("--out", type=Path, help="output directory (overrides output.dir)")
    array.add_argument("--dry-run", action="store_true",
                       help="print the batch script instead of submitting it")
    array.add_argument("--task", type=int, metavar="K",
                       help="run task K here (what each array task runs)")
    merge = sub.add_parser("merge", help="rank the runs of a job array's tasks into "
                                         "result.json and minima.csv")
    merge.add_argument("dir", type=Path, help="the output directory of 'multistart array'")

    export = sub.add_parser("export", help="write the runs of a run's output directory as "
                                           "CSV (they are kept as Parquet segments)")
    export.add_argument("dir", type=Path, help="the output directory of 'multistart run'")
    export.add_argument("--csv", action="store_true", required=True,
                        help="write runs.csv (the only export format for now)")
    export.add_argument("--out", type=Path, metavar="FILE",
                        help="where to write it (default DIR/runs.csv)")

    plot = sub.add_parser("plot", help="draw the pictures of a finished run (PNG and SVG)")
    plot.add_argument("result", type=Path, help="folder holding result.json (or the file)")
    plot.add_argument("--out", type=Path,
                      help="folder for the pictures (default RESULT_DIR/plots)")
    plot.add_argument("--objective", metavar="SPEC",
                      help="'file.py:function' or 'module:function' (default: the run's "
                           "config); needed for the landscape and solver-path pictures")
    plot.add_argument("--dims", type=int, nargs=2, metavar=("I", "J"), default=(0, 1),
                      help="the two coordinates of the landscape of an N-D problem "
                           "(default 0 1; the others are fixed at the best minimum)")
    plot.add_argument("--traces", type=int, nargs="+", metavar="START",
                      help="start indices whose solver paths are drawn (default: the first "
                           "start of each of the best three minima)")
    plot.add_argument("--resolution", type=int, default=150,
                      help="grid points per axis of the landscape (default 150)")

    diag = sub.add_parser("diagnose", help="explain failures and stalls of a finished run")
    diag.add_argument("result", type=Path, help="folder holding result.json (or the file)")
    diag.add_argument("--objective", metavar="SPEC",
                      help="'file.py:function' or 'module:function' (default: the run's "
                           "config); enables the checks that evaluate it")
    diag.add_argument("--json", action="store_true", help="print the findings as JSON")
    return parser


# ------------------------------------------------------------------ run


def _cluster_line(executor: Executor, kind: str) -> str | None:
    """What to tell the user about the cluster a run uses (its Dask dashboard link), if any."""
    info = executor.describe()
    if info.get("kind") == "serial":
        return None
    workers = f"{info.get('n_workers', 0)} workers, {info.get('n_threads', 0)} threads"
    if info.get("kind") != "dask":
        return f"multistart: {info.get('kind')} executor ({kind}, {workers})"
    link = info.get("dashboard")
    if not link:
        return f"multistart: Dask cluster ({kind}, {workers}); no dashboard"
    if not dashboard_loads(link):  # e.g. no bokeh where the scheduler runs: the page is missing
        hint = (" that loads from here" if importlib.util.find_spec("bokeh") else
                ": pip install 'multistart-engine[plots]' (bokeh) to get one")
        return f"multistart: Dask cluster ({kind}, {workers}); no dashboard{hint}"
    return f"multistart: Dask dashboard {link} ({kind}, {workers})"


class Terminated(KeyboardInterrupt):
    """SIGTERM as an exception (``scancel``, a batch system's time limit, ``kill``).

    A KeyboardInterrupt, so that the driver stops on it as it does on Ctrl-C: it keeps the
    finished starts and returns the partial result.
    """


class _StopSignals:
    """While a run goes on, SIGTERM and SIGINT stop it as Ctrl-C does.

    The first signal raises :class:`Terminated` (SIGTERM) or KeyboardInterrupt (SIGINT) in the
    main thread and is kept in ``received``; ``progress``'s last line then names it instead
    of "done". A second SIGTERM is ignored while the run winds down (journal, partial result,
    cluster); a second SIGINT stops at once, as an impatient user means it to. A signal the
    caller ignores (``nohup``, a background job's SIGINT) stays ignored, and the handlers
    found are put back on exit.
    """

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def label(self) -> str:
        return "terminated" if self.received == signal.SIGTERM else "interrupted"

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():  # only it may set handlers
            for signum in (signal.SIGTERM, signal.SIGINT):
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def rearm(self) -> None:
        """Take the signals back from anything that set its own handler meanwhile (a
        cluster's library starting up), so that every cluster kind stops the same way."""
        for signum in self._previous:
            if signal.getsignal(signum) is not self._handle:
                signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        self.received = signum
        if hasattr(self.progress, "ending"):
            self.progress.ending = self.label
        raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


@contextlib.contextmanager
def _workers_ignore_ctrl_c(active: bool) -> Iterator[None]:
    """Start the worker processes of a local cluster with SIGINT ignored (they inherit it).

    Ctrl-C in a terminal signals the whole process group: workers that got it too would each
    die with two tracebacks while the driver winds down. This way the driver alone stops,
    then closes them. (A Ctrl-C while the cluster starts, a second or two, is not seen.)
    """
    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _ClusterLogs:
    """Dask's loggers, silenced on :meth:`silence` until the end of the ``with`` block."""

    def __enter__(self) -> _ClusterLogs:
        self._levels: dict[str, int] = {}
        return self

    def silence(self) -> None:
        """After a stop by signal the cluster closes with tasks in flight: its messages about
        cancelled tasks and lost workers tell the user nothing the one line about the
        interruption does not."""
        for name in list(logging.root.manager.loggerDict):
            if name.partition(".")[0] in ("distributed", "tornado"):
                logger = logging.getLogger(name)
                self._levels.setdefault(name, logger.level)
                logger.setLevel(logging.CRITICAL)

    def __exit__(self, *exc: object) -> None:
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)


def _why_nothing_solved(result: MultistartResult, out_dir: Path) -> str:
    """One line on a run where no start succeeded: how many failed and the commonest reason."""
    failures = result.failures()
    if not failures:
        return f"no start was solved (stop: {result.stop_reason})"
    reason, count = next(iter(failures.items()))
    # The reason is the error's type; show the whole message of its first run.
    example = next((run.error or run.message for run in result.runs if not run.success
                    and (run.error.split(":", 1)[0] if run.error else run.message) == reason),
                   reason)
    return (f"{result.n_failed} of {result.n_starts} failed, {count} with {example}; "
            f"'multistart diagnose {out_dir}' explains more")


def _run(args: argparse.Namespace) -> int:
    overrides = {"output": {"dir": str(args.out)}} if args.out else None
    config = load_config(args.config, overrides)
    # Every process running this command does what its cluster kind needs first: under
    # mpirun, all ranks but the driver's serve the cluster and leave here.
    prepare_process(config.cluster)
    out_dir = Path(config.output.dir)
    prepared = config_spec(config)  # before a cluster is started: a bad config costs nothing
    check_writable(out_dir)
    if args.progress_every is not None and not args.progress_every > 0:
        raise ConfigError(f"--progress-every={args.progress_every!r} is not allowed; use a "
                          "number of seconds > 0")
    progress: Any = False
    if not args.quiet:
        progress = (make_progress(True) if args.progress_every is None
                    else make_progress(True, interval=args.progress_every))
    if not args.resume and not args.force:  # before a cluster starts, as for a bad config
        refuse_to_overwrite(out_dir)
    kind = config.cluster.get("kind", "local")
    attempt = attempts.begin(out_dir, kind=kind, resume=args.resume, command=list(sys.argv))
    with _StopSignals(progress) as signals, _ClusterLogs() as cluster_logs, \
            contextlib.ExitStack() as cluster:
        with _workers_ignore_ctrl_c(kind == "local"):
            executor = cluster.enter_context(
                open_executor(config.cluster, planned_runs(*prepared)))
        signals.rearm()
        line = _cluster_line(executor, kind)
        if line:
            print(line, file=sys.stderr, flush=True)
        try:
            result = run_config(config, resume=args.resume, force=args.force,
                                progress=progress, client=executor, prepared=prepared)
        finally:
            if signals.received is not None:
                cluster_logs.silence()  # the cluster closes next
        if result.stop_reason == "interrupted" and signals.label == "terminated":
            # The driver calls any stop by signal "interrupted": say which one it was (before
            # the cluster closes: a batch system kills for good a few seconds after SIGTERM).
            result = dataclasses.replace(
                result, stop_reason="terminated",
                message=result.message.replace("stopped by interrupted", "stopped by terminated"))
        attempts.end(out_dir, attempt, n_starts=result.n_starts,
                     stop_reason=result.stop_reason)
        result = dataclasses.replace(result, provenance={
            **result.provenance, "command": list(sys.argv), "driver_job": attempts.driver_job(),
            "worker_jobs": submitted_job_ids(), "attempts": attempts.history(out_dir)})
        write_result_dir(result, out_dir, runs_csv=config.output.runs_csv)
    print(result.summary(max_rows=20))
    print(f"\nwrote {out_dir / 'result.json'} and {out_dir / 'minima.csv'}")
    if hasattr(result.runs, "tables"):
        print(f"the runs are in {out_dir / 'runs'} (Parquet: engine.load(DIR).runs_frame(), "
              f"pandas, DuckDB); 'multistart export {out_dir} --csv' writes runs.csv")
    if signals.received is not None or result.stop_reason == "interrupted":
        planned = result.provenance.get("n_starts_planned", "?")
        print(f"multistart: {signals.label}: {result.n_starts}/{planned} starts, partial "
              f"result in {out_dir}; continue with --resume", file=sys.stderr)
        return EXIT_TERMINATED if signals.received == signal.SIGTERM else EXIT_INTERRUPTED
    if not result.success:
        print(f"multistart: no start succeeded: {_why_nothing_solved(result, out_dir)}",
              file=sys.stderr)
        return EXIT_NOTHING_SOLVED
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    problem, spec = config_spec(config)
    kind = config.cluster.get("kind", "local")
    print(f"{args.config}: OK ({problem.dim} variables, method {spec.method} "
          f"({spec.method_reason}), {spec.starts.n_starts} {spec.starts.sampler} starts, "
          f"strategy {spec.strategy}, cluster {kind})")
    job = cluster_kind(kind).describe_job(config.cluster)
    if job is not None:
        print("\njob script each worker job would be submitted with:\n")
        print(job)
        verdict = cluster_kind(kind).dry_run(config.cluster, job)
        if verdict is not None:
            accepted, message = verdict
            if accepted is None:
                print(f"could not ask the batch system for a dry run: {message}")
            elif not accepted:
                raise ConfigError(f"cluster: the batch system would refuse the worker job: "
                                  f"{message}; fix the cluster: block (queue, walltime, account, "
                                  "memory, job_extra_directives)", source=str(args.config))
            else:
                print(f"the batch system would take it (dry run): {message}")
    return EXIT_OK


# ------------------------------------------------------------------ job arrays


def _array_config(config_path: Path, out: Path | None, n_tasks: int) -> tuple[Any, Any, Path]:
    """The config of an array run, checked for what an array can do; its output folder."""
    if n_tasks < 1:
        raise ConfigError(f"--tasks={n_tasks} is not allowed; use an integer >= 1")
    config = load_config(config_path, {"output": {"dir": str(out)}} if out else None)
    problem, spec = config_spec(config)
    problems = array_problems(spec.strategy, spec.stop)
    if problems:
        raise ConfigError(problems, source=str(config_path))
    return config, problem, Path(config.output.dir).resolve()


def _array(args: argparse.Namespace) -> int:
    config, _, out_dir = _array_config(args.config, args.out, args.tasks)
    if args.task is not None:
        if not 0 <= args.task < args.tasks:
            raise ConfigError(f"--task={args.task} is not allowed; use 0 to {args.tasks - 1}")
        folder = task_dir(out_dir, args.task)
        resume = has_history(folder)  # a task run again continues
        with _StopSignals(False) as signals:
            result = run_config(config, out=folder, resume=resume, client=SliceExecutor(
                SerialExecutor(), task_slice(args.task, args.tasks)))
        print(f"task {args.task}/{args.tasks}: {result.n_starts} starts solved into {folder}")
        if signals.received is not None:
            return EXIT_TERMINATED if signals.received == signal.SIGTERM else EXIT_INTERRUPTED
        return EXIT_OK
    script = array_script(Path(args.config).resolve(), out_dir, args.tasks, config.cluster)
    if args.dry_run:
        print(script)
        return EXIT_OK
    check_writable(out_dir)
    (out_dir / "tasks").mkdir(parents=True, exist_ok=True)  # SLURM writes the logs there
    path = atomic_write_text(out_dir / "array.sh", script)
    info = {"config": str(Path(args.config).resolve()), "tasks": args.tasks}
    atomic_write_text(out_dir / "array.json", json.dumps(info, indent=1) + "\n")
    job_id = submit_array(path)
    info["job_ids"] = [job_id]
    atomic_write_text(out_dir / "array.json", json.dumps(info, indent=1) + "\n")
    print(f"submitted job array {job_id} ({args.tasks} tasks, script {path}); when it is "
          f"done: multistart merge {out_dir}")
    return EXIT_OK


def _merge(args: argparse.Namespace) -> int:
    info_path = args.dir / "array.json"
    if not info_path.is_file():
        raise ConfigError(f"DIR={str(args.dir)!r} holds no array.json; pass the output folder "
                          "of 'multistart array'")
    info = json.loads(info_path.read_text())
    config, problem, out_dir = _array_config(Path(info["config"]), args.dir, info["tasks"])
    _, spec = config_spec(config)
    total = StartPlan(problem, spec.starts).total
    report = merge_journals(out_dir, info["tasks"], spec.fingerprint, total)
    result = run_config(config, out=out_dir, resume=True,
                        client=SliceExecutor(SerialExecutor(), lambda index: False))
    missing = report.missing_tasks(info["tasks"])
    result = dataclasses.replace(result, provenance={
        **result.provenance, "command": list(sys.argv), "array": {
            **info, "tasks_merged": report.tasks_found, "missing_tasks": missing,
            "missing_starts": len(report.missing_starts)}})
    write_result_dir(result, out_dir, runs_csv=config.output.runs_csv)
    print(result.summary(max_rows=20))
    print(f"\nwrote {out_dir / 'result.json'} and {out_dir / 'minima.csv'}")
    if missing:
        print(f"multistart: {len(report.missing_starts)} of {total} starts missing, from "
              f"array tasks {', '.join(map(str, missing))}; run them again with: "
              f"{resubmit_command(out_dir / 'array.sh', missing)} (then merge again)",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# ------------------------------------------------------------------ export


def _export(args: argparse.Namespace) -> int:
    if not has_history(args.dir):
        raise ConfigError(f"DIR={str(args.dir)!r} holds no run history (runs/ or "
                          "journal.jsonl); pass the output directory of 'multistart run'")
    path = load_history(args.dir).export_csv(args.out)
    print(f"wrote {path}")
    return EXIT_OK


# ------------------------------------------------------------------ plot and diagnose


def _load_result(path: Path) -> Any:
    target = path / "result.json" if path.is_dir() else path
    if not target.is_file():
        raise ConfigError(f"RESULT_DIR={str(path)!r} holds no result.json; pass the output "
                          "folder of 'multistart run' (or a file written by result.save)")
    try:
        return MultistartResult.load(target)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{str(target)!r} is not a result file ({type(exc).__name__}: "
                          f"{exc}); pass a result.json written by 'multistart run' or "
                          "result.save") from None


class _Objective:
    """The run's objective, its gradient and extra arguments, as far as they can be found."""

    def __init__(self, fun: Any = None, jac: Any = None, args: tuple[Any, ...] = (),
                 note: str = "") -> None:
        self.fun, self.jac, self.args, self.note = fun, jac, args, note


def _objective(result: Any, spec: str | None) -> _Objective:
    """``--objective`` if given, else the objective of the config the run was made from."""
    config = result.provenance.get("config") or {}
    problem = config.get("problem") or {}
    config_file = result.provenance.get("config_file")
    base = Path(config_file).parent if config_file else None
    args = tuple(problem.get("args") or ())
    if spec is not None:  # the user's choice: a failure to load it is bad input
        try:
            return _Objective(load_callable(spec, None, key="--objective"), None, args)
        except EngineError as exc:
            raise ConfigError(str(exc)) from None
    if problem.get("kind") == "least_squares":
        try:  # the residual model itself: a cost for the pictures, residuals for diagnose
            fit = least_squares_problem(problem, base or Path.cwd())
        except EngineError as exc:
            return _Objective(note=f"the run's residuals cannot be imported ({exc}); pass "
                                   "--objective file.py:function")
        return _Objective(fit.fun, None, fit.args)
    if not problem.get("objective"):
        return _Objective(note="the result holds no objective (it was not made from a config):"
                               " pass --objective file.py:function for the pictures and checks "
                               "that evaluate it")
    try:
        fun = load_callable(problem["objective"], base, key="problem.objective")
        jac = problem.get("jac")
        if isinstance(jac, str) and ":" in jac:
            jac = load_callable(jac, base, key="problem.jac")
    except EngineError as exc:
        return _Objective(note=f"the run's objective cannot be imported ({exc}); pass "
                               "--objective file.py:function")
    return _Objective(fun, jac if (callable(jac) or jac is True) else None, args)


def _plot(args: argparse.Namespace) -> int:
    result = _load_result(args.result)
    found = _objective(result, args.objective)
    if found.note:
        print(f"multistart: {found.note}", file=sys.stderr)
    folder = args.out or (args.result if args.result.is_dir() else args.result.parent) / "plots"
    try:
        written = plot_all(result, found.fun, folder, args=found.args, dims=tuple(args.dims),
                           trace_starts=args.traces, resolution=args.resolution)
    except ImportError as exc:
        print(f"multistart: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if written and isinstance(found.fun, Residuals) and result.x is not None:
        written["residuals"] = _plot_fit_residuals(result, found, folder)
    if not written:
        print("multistart: nothing to draw: no local run succeeded", file=sys.stderr)
        return EXIT_FAILED
    for name, paths in written.items():
        print(f"{name:<12} {', '.join(str(p) for p in paths)}")
    return EXIT_OK


def _plot_fit_residuals(result: Any, found: _Objective, folder: Path) -> list[Path]:
    """The residual plot of a least-squares run, against the data's x where it has one."""
    model = found.fun
    xdata = getattr(model.fun, "xdata", None)
    return plot_residuals(result, folder / "residuals",
                          xdata=xdata if np.ndim(xdata) == 1 else None,
                          residuals=lambda x: model.vector(x, *found.args))


def _diagnose(args: argparse.Namespace) -> int:
    result = _load_result(args.result)
    found = _objective(result, args.objective)
    if found.note:
        print(f"multistart: {found.note}", file=sys.stderr)
    report = diagnose(result, fun=found.fun, jac=found.jac, args=found.args)
    print(json.dumps(report.to_dict(), indent=1) if args.json else report)
    return EXIT_OK


_COMMANDS = {"run": _run, "check": _check, "array": _array, "merge": _merge, "export": _export,
             "plot": _plot, "diagnose": _diagnose}


def _warn_in_one_line(message: Warning | str, category: type[Warning], filename: str,
                      lineno: int, file: Any = None, line: str | None = None) -> None:
    """A warning as the command's other messages: one line, without a line of source code."""
    print(f"multistart: warning: {message}", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``multistart`` command."""
    args = _parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _warn_in_one_line
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    try:
        return _COMMANDS[args.command](args)
    except (ConfigError, JournalNotEmptyError) as exc:
        print(f"multistart: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngineError as exc:
        print(f"multistart: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Terminated:  # before the run started or after it returned: nothing to save
        print("multistart: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("multistart: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
