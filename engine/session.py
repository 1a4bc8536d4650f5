"""The state of one run: its planned starts, finished runs, minima so far and counters.

:class:`StartPlan` orders the starts; :class:`Session` solves them on the executor, records
what comes back (journal, columnar store, online basins), keeps the budget and asks the stop
rules of :mod:`engine.stop`, which end the run by raising :class:`~engine.stop.StopRun`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from engine.basins import Basin, BasinSet
from engine.compact_basins import CompactBasinSet
from engine.exceptions import ProblemError
from engine.local.known import KnownMinima
from engine.options import DedupOptions, LocalOptions, StartOptions, StopOptions
from engine.problem import Problem
from engine.progress import RunState
from engine.results.runview import RunsOnDisk
from engine.results.segments import SegmentJournal
from engine.results.store import RunStore
from engine.results.types import LocalRun, Minimum, StartList, stopped_by_budget, with_runs
from engine.sampling import iter_unit_blocks, seed_sequence
from engine.stop import CHECKPOINTS, Checkpoint, StopRule, StopRun, rules_from

Start = tuple[int, np.ndarray]

#: Runs a session holds in memory. Past them, when its journal keeps the runs on disk (Parquet
#: segments, :mod:`engine.results.segments`), it holds only which starts are done and counters,
#: and reads runs back from the disk when asked: the driver's memory stays flat.
RUNS_IN_MEMORY = 100_000
#: The minima a solve may stop at (the best ones): the test runs at every evaluation.
JOINABLE = 256


def check_starts_inside(problem: Problem, points: np.ndarray | None, key: str) -> None:
    """Refuse start points outside the bounds (scipy would silently clip or leave them)."""
    if points is None:
        return
    points = np.asarray(points, dtype=float).reshape(-1, problem.dim)
    outside = np.flatnonzero(~problem.inside(points, rtol=0.0))
    if outside.size:
        i = int(outside[0])
        raise ProblemError(
            f"{key}[{i}]={points[i].tolist()} lies outside the bounds "
            f"(lower={problem.lower.tolist()}, upper={problem.upper.tolist()}); "
            f"{len(outside)} point(s) are outside: move them inside the box or widen the bounds"
        )


#: The longest wait a run hands to a clock (seconds, about 31 years: longer than any run). A
#: ``max_time`` beyond it waits this long: a wait of 2**63 ns (292 years) would overflow the
#: platform's clock, raising OverflowError from a queue or a lock.
LONGEST_WAIT = 1e9


class StartPlan:
    """The ordered starts of a run: the user's ``x0`` points first, then sampled ones.

    Examples
    --------
    >>> p = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    >>> plan = StartPlan(p, StartOptions(n_starts=3, seed=0, x0=np.array([0.5])))
    >>> plan.total, [i for i, _ in plan]
    (4, [0, 1, 2, 3])
    """

    def __init__(self, problem: Problem, starts: StartOptions) -> None:
        self.problem = problem
        self.options = starts
        self.root = seed_sequence(starts.seed)
        self.fixed = np.empty((0, problem.dim))
        if starts.x0 is not None:
            self.fixed = np.asarray(starts.x0, dtype=float).reshape(-1, problem.dim)
            check_starts_inside(problem, self.fixed, "x0")
        if starts.points is not None:
            check_starts_inside(problem, starts.points, "sampler")
            self.fixed = np.vstack([self.fixed, starts.points])
        self.n_sampled = 0 if starts.points is not None else starts.n_starts
        self.total = len(self.fixed) + self.n_sampled

    def __iter__(self) -> Iterator[Start]:
        yield from enumerate(self.fixed)
        offset = len(self.fixed)
        if self.n_sampled:
            blocks = iter_unit_blocks(self.options.sampler, self.n_sampled, self.problem.dim,
                                      self.root)
            for block in blocks:
                for row in self.problem.from_unit(block):
                    yield offset, row
                    offset += 1


def as_minima(basins: list[Basin], sign: float,
              runs: RunStore | None = None) -> tuple[Minimum, ...]:
    """Basins (internal, minimized sign) as result minima with the user's sign.

    With ``runs``, each minimum also gets the start point of its best run and its runs'
    evaluations (a :class:`MultistartResult` fills them from its own runs otherwise).
    """
    minima = tuple(
        Minimum(x=b.x, fun=sign * b.f, n_hits=len(b.members),
                starts=b.members if isinstance(b.members, StartList) else tuple(b.members))
        for b in basins
    )
    return minima if runs is None else with_runs(minima, runs, sign)


def _first_of_each(batch: list[LocalRun], recorded: RunStore) -> list[LocalRun]:
    """The runs of ``batch`` whose start is not recorded yet, the first of each start.

    Examples
    --------
    >>> run = LocalRun(3, np.zeros(1), np.zeros(1), 0.0, 1, 1, True, "ok")
    >>> [r.index for r in _first_of_each([run, run], RunStore())]
    [3]
    """
    fresh: list[LocalRun] = []
    taken: set[int] = set()
    for run in batch:
        if run.index not in taken and run.index not in recorded:
            taken.add(run.index)
            fresh.append(run)
    return fresh


class Session:
    """The state of one run: finished runs, minima so far, counters, budget and stop rules.

    Parameters
    ----------
    problem : Problem
    dedup : DedupOptions
        Tolerances of the online merge of converged points into minima.
    stop : StopOptions
        Its budget (``max_evals``, ``max_time``) caps each solve; its rules end the run.
    executor : object
        Has ``run(problem, local, starts, total=, timeout=)`` yielding batches of runs, and
        optionally ``evaluate(problem, points, vectorized, timeout=)`` and ``kind``.
    journal : object, optional
        Has ``completed()`` (runs of an earlier session) and ``extend(runs)``.
    display : callable, optional
        ``display(state)`` after each run of this session.
    callback : callable, optional
        ``callback(state)``; returning True or raising ends the run ("callback"), the runs so
        far kept.
    n_planned : int
        Starts planned (for the display's total).
    track_best : bool
        Keep the lowest point evaluated anywhere (off under constraints or noise, where a low
        point may be infeasible or luck).
    rules : tuple of StopRule, optional
        The stop rules; by default those that ``stop`` and ``callback`` ask for.

    Examples
    --------
    >>> p = Problem.create(lambda x: float(x[0] ** 2), [(-1, 1)])
    >>> s = Session(p, DedupOptions(), StopOptions(max_evals=10), executor=None)
    >>> s.record_many([LocalRun(0, np.array([0.5]), np.array([0.0]), 0.0, 12, 3, True, "ok")])
    >>> s.nfev, len(s.online), s.remaining_evals()
    (12, 1, -2)
    >>> s.check_limits()
    Traceback (most recent call last):
    ...
    engine.stop.StopRun: max_evals
    """

    def __init__(self, problem: Problem, dedup: DedupOptions, stop: StopOptions,
                 executor: Any = None, journal: Any = None, display: Any = None,
                 callback: Any = None, n_planned: int = 0, track_best: bool = True,
                 rules: tuple[StopRule, ...] | None = None) -> None:
        self.problem = problem
        self.dedup = dedup
        self.stop = stop
        self.executor = executor
        self.journal = journal
        self.display = display
        self.n_planned = n_planned
        self.rules = rules_from(stop, callback) if rules is None else tuple(rules)
        self._rules_at: dict[Checkpoint, tuple[StopRule, ...]] = {
            at: tuple(rule for rule in self.rules if rule.at == at) for at in CHECKPOINTS}
        # Asked for every run of a batch, not only after its first (see check_runs).
        self._each_run = tuple(rule for rule in self._rules_at["run"] if rule.each_run)
        self._last_state: RunState | None = None
        # While a batch is reported: each run's counts as they were once it was recorded
        # (n_done, nfev, n_failed, best), so a callback sees them count up run by run.
        self._running: dict[int, tuple[int, int, int, float]] = {}
        self.runs = RunStore()  # columnar: a million runs do not cost a million objects
        self.online = BasinSet(problem.lower, problem.upper, dedup.xtol, dedup.ftol)
        self.nfev = 0          # every evaluation: local solves, exploration, global phase
        self.n_explore = 0     # evaluations of the exploration sample and the global phase
        self.n_failed = 0
        self.n_success = 0
        self.n_skipped = 0
        self.best = math.inf   # internal (minimized) sign
        # The lowest point evaluated anywhere (sample, or a solve cut short by the budget):
        # the answer when no descent from it finished in time.
        self.best_seen_f = math.inf
        self.best_seen_x: np.ndarray | None = None
        self.track_best = track_best
        self.started = time.perf_counter()
        # The highest start index asked for in this session, resumed ones included: where the
        # starts added after the strategy's (the polish) begin, the same on a resume.
        self.last_requested = -1
        # Where sample points go as they are evaluated (``add(units, values)``), for a search
        # that models the landscape from them (a portfolio's funnel); None keeps none.
        self.evaluated: Any = None
        # A solve that comes within this distance (unit box) of a minimum found before its
        # batch began, above its value, ends there as another hit of it (engine.local.known);
        # None lets every solve run to its end.
        self.join_radius: float | None = None

    # -- bookkeeping
    def resume(self) -> None:
        """Record the runs the journal holds from an earlier session."""
        if self.journal is None:
            return
        resumed = iter(self.journal.completed())
        while chunk := list(itertools.islice(resumed, 4096)):  # not a million objects at once
            self.record_many(chunk)

    def record_many(self, runs: list[LocalRun]) -> None:
        """Store a task's runs and merge their minima, in arrival order, in one step.

        Starts already recorded are ignored (a task re-run after a lost worker).
        """
        stored = [run for run in runs if self.runs.append(run)]
        if not stored:
            return
        if (len(self.runs) > RUNS_IN_MEMORY and isinstance(self.runs, RunStore)
                and isinstance(self.journal, SegmentJournal)):
            self.runs = RunsOnDisk.from_store(self.runs, self.journal)
            self.online = CompactBasinSet.of(self.online)
        sign = self.problem.sign
        self.nfev += sum(run.nfev for run in stored)
        converged = [run for run in stored if run.success]
        self.n_success += len(converged)
        self.n_failed += sum(not run.success and not stopped_by_budget(run.error)
                             for run in stored)
        # (a failed run may carry NaN, which min() cannot order)
        seen = [run for run in stored
                if run.x is not None and run.in_bounds and math.isfinite(run.fun)]
        if seen:
            lowest = min(seen, key=lambda run: sign * run.fun)
            self.saw(lowest.x, sign * lowest.fun)
        if len(converged) == 1:  # the serial executor's case: skip the vectorized set-up
            (run,) = converged
            self.online.add(run.index, run.x, sign * run.fun)
        elif converged:
            self.online.add_many(np.array([run.index for run in converged]),
                                 np.array([run.x for run in converged], dtype=float),
                                 sign * np.array([run.fun for run in converged], dtype=float))
        self.best = min(self.best, min((sign * run.fun for run in converged
                                        if math.isfinite(run.fun)), default=math.inf))

    def saw(self, x: np.ndarray, f: float) -> None:
        """Keep ``x`` as the best point evaluated if its value ``f`` (minimized sign) is."""
        if self.track_best and math.isfinite(f) and f < self.best_seen_f:
            self.best_seen_f = float(f)
            self.best_seen_x = np.array(x, dtype=float)

    def state(self, run: LocalRun) -> RunState:
        """What the display and the callback see after ``run`` (one object for both)."""
        if self._last_state is not None and self._last_state.run is run:
            return self._last_state
        sign = self.problem.sign
        n_done, nfev, n_failed, best = self._running.get(
            run.index, (len(self.runs), self.nfev, self.n_failed, self.best))
        self._last_state = RunState(
            run=run, n_done=n_done, n_total=max(self.n_planned, len(self.runs)),
            n_failed=n_failed, nfev=nfev, n_minima=len(self.online),
            best_fun=sign * best if math.isfinite(best) else math.nan,
            elapsed=self.elapsed(),
            # Merging the minima costs per run: only a callback can read them.
            minima_source=((lambda: as_minima(self.online.basins(), sign, self.runs))
                           if self._rules_at["report"] else None),
        )
        return self._last_state

    def _count_up(self, runs: list[LocalRun],
                  before: tuple[int, int, int, float]) -> dict[int, tuple[int, int, int, float]]:
        """The counts after each of ``runs`` (a batch recorded at once, each start once), from
        ``before`` it."""
        n_done, nfev, n_failed, best = before
        sign = self.problem.sign
        out: dict[int, tuple[int, int, int, float]] = {}
        for run in runs:
            n_done, nfev = n_done + 1, nfev + run.nfev
            if not run.success:
                n_failed += not stopped_by_budget(run.error)
            elif math.isfinite(run.fun):
                best = min(best, sign * run.fun)
            out[run.index] = (n_done, nfev, n_failed, best)
        return out

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def time_left(self) -> float | None:
        """Seconds until ``max_time`` (None without one), at most :data:`LONGEST_WAIT`."""
        if self.stop.max_time is None:
            return None
        return min(max(0.0, self.stop.max_time - self.elapsed()), LONGEST_WAIT)

    def remaining_evals(self) -> float:
        return math.inf if self.stop.max_evals is None else self.stop.max_evals - self.nfev

    def next_index(self) -> int:
        """The index of a start added after every one recorded."""
        return self.runs[-1].index + 1 if len(self.runs) else 0

    def known_minima(self, radius: float) -> KnownMinima:
        """The best :data:`JOINABLE` minima so far, for solves to stop at (see
        :attr:`join_radius`)."""
        leaders = self.online.leaders(JOINABLE)
        x = np.array([x for x, _ in leaders], dtype=float)
        return KnownMinima(x, self.problem.to_unit(x), np.array([f for _, f in leaders]),
                           radius)

    def minima_units(self) -> tuple[np.ndarray, np.ndarray]:
        """The minima so far, best first: unit-box points and values (minimized sign)."""
        leaders = self.online.leaders()
        if not leaders:
            return np.empty((0, self.problem.dim)), np.empty(0)
        return (self.problem.to_unit(np.array([x for x, _ in leaders])),
                np.array([f for _, f in leaders]))

    # -- stop rules
    def _check(self, at: Checkpoint, run: LocalRun | None = None) -> None:
        for rule in self._rules_at[at]:
            reason = rule.check(self, run)
            if reason is not None:
                raise StopRun(reason)

    @property
    def has_round_rules(self) -> bool:
        """Whether a rule waits for the end of a round (a strategy without rounds then has
        them asked after every run)."""
        return bool(self._rules_at["round"])

    def check_limits(self) -> None:
        """Budget rules: asked after every run and every batch of sample evaluations."""
        self._check("budget")

    def check_run(self, run: LocalRun) -> None:
        """The rules asked after ``run`` was recorded (it may be a resumed one)."""
        self._check("run", run)
        self._check("budget", run)

    def check_runs(self, runs: list[LocalRun]) -> None:
        """:meth:`check_run` after each of ``runs`` in turn (they are all recorded already)."""
        if not runs:
            return
        self.check_run(runs[0])
        # Past the first run only the rules that read the run itself can say otherwise: the
        # others read the session's totals, which the runs after it do not change.
        if self._each_run:
            for run in runs[1:]:
                for rule in self._each_run:
                    reason = rule.check(self, run)
                    if reason is not None:
                        raise StopRun(reason)

    def check_round(self) -> None:
        """The rules asked at the end of a round of starts (the Bayesian estimate)."""
        self._check("round")

    def report(self, run: LocalRun) -> None:
        """Show ``run`` on the display and ask the rules that see each run (the callback).

        A callback that raises ends the run like one that returns True, with the error's
        text kept for the result's message: the runs so far are the user's, not lost to it.
        """
        if self.display is not None:
            self.display(self.state(run))
        try:
            self._check("report", run)
        except StopRun:
            raise
        except Exception as error:
            raise StopRun("callback", note=f"the callback raised {type(error).__name__}: "
                                           f"{error}") from error

    # -- work
    def evaluate(self, units: np.ndarray, vectorized: bool) -> np.ndarray:
        """Objective values (minimized sign) of sample points given in unit coordinates."""
        points = self.problem.from_unit(units)
        evaluate = getattr(self.executor, "evaluate", None)
        if evaluate is not None:
            values = evaluate(self.problem, points, vectorized, timeout=self.time_left())
        else:
            values = self.problem.minimized_many(points, vectorized)
        if len(values):
            best = int(np.argmin(values))
            self.saw(points[best], float(values[best]))
            if self.evaluated is not None:
                self.evaluated.add(np.asarray(units, dtype=float), np.asarray(values))
        self.nfev += len(points)
        self.n_explore += len(points)
        return values

    def solve(self, starts: Iterable[Start], local: LocalOptions, total: int | None = None,
              per_run: bool = False, collect: bool = True) -> list[LocalRun]:
        """Solve ``starts`` on the executor (resumed ones are taken from the journal).

        ``per_run`` asks the round rules after every run. Returns the runs when ``collect``;
        a stream of a million starts passes ``collect=False`` so that its runs stay in the
        columnar store only.
        """
        wanted: list[int] = []
        if self.join_radius is not None and len(self.online):
            local = replace(local, known_minima=self.known_minima(self.join_radius))

        def pending() -> Iterator[Start]:
            for start in starts:
                self.last_requested = max(self.last_requested, start[0])
                if collect:
                    wanted.append(start[0])
                if start[0] not in self.runs:
                    yield start

        batches = self.executor.run(self.problem, local, pending(), total=total,
                                    timeout=self.time_left())
        one_by_one = per_run or self.display is not None or bool(self._rules_at["report"])
        try:
            for batch in batches:
                # A task re-run after a lost worker may repeat starts, in earlier batches or in
                # this one: the first result counts, and only it is journaled and shown.
                fresh = _first_of_each(batch, self.runs)
                before = (len(self.runs), self.nfev, self.n_failed, self.best)
                self.record_many(fresh)
                if self.journal is not None:
                    self.journal.extend(fresh)  # the whole task's runs, one fsync
                if not one_by_one:
                    self.check_runs(fresh)
                    continue
                self._running = self._count_up(fresh, before)
                for run in fresh:
                    self.report(run)
                    self.check_run(run)
                    if per_run:
                        self.check_round()
        finally:
            self._running = {}
            batches.close()
        if self.time_left() == 0.0:
            raise StopRun("max_time")  # the executor stopped waiting for tasks in flight
        return [self.runs.get(i) for i in wanted if i in self.runs]

    def solve_within(self, batch: Iterable[Start], local: LocalOptions,
                     reserve: float, total: int | None = None,
                     per_run: bool = False, collect: bool = True) -> list[LocalRun]:
        """Solve ``batch`` without spending the last ``reserve`` evaluations of the budget.

        In this process each start gets exactly what is left when it begins, so the budget
        holds to the evaluation; on a cluster each start of the batch may use what was left
        when the batch was sent, so the overshoot is bounded by the starts in flight.
        """
        if getattr(self.executor, "kind", "") != "serial" or not math.isfinite(
                self.remaining_evals()):
            # A round's few starts run at once: they share what is left, so together they
            # cannot overshoot it (a stream of starts is stopped by the count instead).
            share = len(batch) if isinstance(batch, list) else 1
            return self.solve(batch, self._capped(local, reserve, share), total=total,
                              per_run=per_run, collect=collect)
        finished: list[LocalRun] = []
        for start in batch:
            left = self.remaining_evals() - reserve
            if left < 1:
                raise StopRun("max_evals")
            finished += self.solve([start], replace(local, max_nfev=int(left)),
                                   per_run=per_run, collect=collect)
        return finished

    def _capped(self, local: LocalOptions, reserve: float, share: int = 1) -> LocalOptions:
        """``local`` with each solve limited to its ``share`` of what is left of the budget."""
        left = self.remaining_evals() - reserve
        if not math.isfinite(left):
            return local
        return replace(local, max_nfev=max(1, int(left // max(1, share))))
