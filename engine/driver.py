"""The multistart loop: starts → executor → journal → basins → stop rules → result."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import platform
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.spatial import cKDTree

from engine.basins import Basin, BasinSet, cluster_points
from engine.exceptions import ProblemError
from engine.local.methods import check_method_requirements, choose_method
from engine.local.solve import uses_scaling
from engine.options import DedupOptions, LocalOptions, SearchOptions, StartOptions, StopOptions
from engine.problem import Problem
from engine.progress import RunState, make_progress
from engine.results.store import RunStore
from engine.results.types import LocalRun, Minimum, MultistartResult
from engine.sampling import UnitStream, iter_unit_blocks, seed_sequence
from engine.search.selection import (
    Hopper,
    critical_distance,
    evaluate_points,
    mlsl_select,
    tiktak_blend,
    tiktak_select,
)
from engine.stop import bayes_says_stop, estimated_coverage, estimated_n_minima

Start = tuple[int, np.ndarray]


def versions() -> dict[str, str]:
    """Versions of the engine and the libraries that decide its results."""
    return dict(_installed_versions())


@functools.lru_cache(maxsize=1)
def _installed_versions() -> tuple[tuple[str, str], ...]:
    # Reading package metadata takes ~10 ms; it cannot change within a process.
    from importlib import metadata

    out = [("python", platform.python_version())]
    for dist in ("multistart-engine", "numpy", "scipy", "dask", "distributed"):
        try:
            out.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            out.append((dist, "not installed"))
    return tuple(out)


def plain_data(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python numbers and lists (JSON).

    Examples
    --------
    >>> plain_data({"maxiter": np.int64(5), "eps": np.array([1e-8])})
    {'maxiter': 5, 'eps': [1e-08]}
    """
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


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


class StartPlan:
    """The ordered starts of a run: the user's ``x0`` points first, then sampled ones."""

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

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        yield from enumerate(self.fixed)
        offset = len(self.fixed)
        if self.n_sampled:
            blocks = iter_unit_blocks(self.options.sampler, self.n_sampled, self.problem.dim,
                                      self.root)
            for block in blocks:
                for row in self.problem.from_unit(block):
                    yield offset, row
                    offset += 1


def as_minima(basins: list[Basin], sign: float) -> tuple[Minimum, ...]:
    """Basins (internal, minimized sign) as result minima with the user's sign."""
    return tuple(
        Minimum(x=b.x, fun=sign * b.f, n_hits=len(b.members), starts=tuple(b.members))
        for b in basins
    )


class _Stop(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


# Stop reasons after which the best minima are still worth polishing.
_POLISH_AFTER = ("n_starts", "max_evals", "bayes", "explored", "max_discoveries")


class _Session:
    """The state of one run: finished runs, minima so far, counters and the stop rules."""

    def __init__(self, problem: Problem, dedup: DedupOptions, stop: StopOptions, executor: Any,
                 journal: Any, display: Any, callback: Any, n_planned: int,
                 track_best: bool = True) -> None:
        self.problem = problem
        self.dedup = dedup
        self.stop = stop
        self.executor = executor
        self.journal = journal
        self.display = display
        self.callback = callback
        self.n_planned = n_planned
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

    # -- bookkeeping
    def record_many(self, runs: list[LocalRun]) -> None:
        """Store a task's runs and merge their minima, in arrival order, in one step.

        Starts already recorded are ignored (a task re-run after a lost worker).
        """
        stored = [run for run in runs if self.runs.append(run)]
        if not stored:
            return
        sign = self.problem.sign
        self.nfev += sum(run.nfev for run in stored)
        converged = [run for run in stored if run.success]
        self.n_success += len(converged)
        self.n_failed += len(stored) - len(converged)
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
        sign = self.problem.sign
        return RunState(
            run=run, n_done=len(self.runs), n_total=max(self.n_planned, len(self.runs)),
            n_failed=self.n_failed, nfev=self.nfev, n_minima=len(self.online),
            best_fun=sign * self.best if math.isfinite(self.best) else math.nan,
            elapsed=self.elapsed(),
            minima_source=((lambda: as_minima(self.online.basins(), sign))
                           if self.callback is not None else None),
        )

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def time_left(self) -> float | None:
        """Seconds until ``max_time`` (None without one)."""
        if self.stop.max_time is None:
            return None
        return max(0.0, self.stop.max_time - self.elapsed())

    def remaining_evals(self) -> float:
        return math.inf if self.stop.max_evals is None else self.stop.max_evals - self.nfev

    # -- stop rules
    def check_limits(self) -> None:
        """Budget and time: checked after every run and every exploration batch."""
        if self.stop.max_evals is not None and self.nfev >= self.stop.max_evals:
            raise _Stop("max_evals")
        if self.stop.max_time is not None and self.elapsed() >= self.stop.max_time:
            raise _Stop("max_time")

    def hits_target(self, run: LocalRun) -> bool:
        """Whether ``run`` converged at least as low (high, maximizing) as ``stop.target``."""
        sign = self.problem.sign
        return (self.stop.target is not None and run.success
                and sign * run.fun <= sign * self.stop.target)

    def check_run(self, run: LocalRun) -> None:
        if self.hits_target(run):
            raise _Stop("target")
        if (self.stop.max_discoveries is not None and len(self.online)
                and len(self.online.best().members) >= self.stop.max_discoveries):
            raise _Stop("max_discoveries")
        self.check_limits()

    def check_runs(self, runs: list[LocalRun]) -> None:
        """:meth:`check_run` after each of ``runs`` in turn (they are all recorded already)."""
        if not runs:
            return
        self.check_run(runs[0])
        # Past the first run only a target can stop the loop: the other rules read the
        # session's totals, which the runs after it do not change.
        if self.stop.target is not None and any(map(self.hits_target, runs[1:])):
            raise _Stop("target")

    def check_bayes(self) -> None:
        if self.stop.bayes and bayes_says_stop(self.n_success, len(self.online)):
            raise _Stop("bayes")

    # -- work
    def evaluate(self, units: np.ndarray, vectorized: bool) -> np.ndarray:
        """Objective values (minimized sign) of sample points given in unit coordinates."""
        points = self.problem.from_unit(units)
        evaluate = getattr(self.executor, "evaluate", None)
        if evaluate is not None:
            values = evaluate(self.problem, points, vectorized, timeout=self.time_left())
        else:
            values = evaluate_points(self.problem, points, vectorized)
        if len(values):
            best = int(np.argmin(values))
            self.saw(points[best], float(values[best]))
        self.nfev += len(points)
        self.n_explore += len(points)
        return values

    def solve(self, starts: Iterable[Start], local: LocalOptions, total: int | None = None,
              per_run: bool = False, collect: bool = True) -> list[LocalRun]:
        """Solve ``starts`` on the executor (resumed ones are taken from the journal).

        Returns their runs when ``collect``; a stream of a million starts passes
        ``collect=False`` so that its runs stay in the columnar store only.
        """
        wanted: list[int] = []

        def pending() -> Iterator[Start]:
            for start in starts:
                if collect:
                    wanted.append(start[0])
                if start[0] not in self.runs:
                    yield start

        batches = self.executor.run(self.problem, local, pending(), total=total,
                                    timeout=self.time_left())
        try:
            for batch in batches:
                # A task re-run after a lost worker may repeat starts: keep the first result.
                fresh = [run for run in batch if run.index not in self.runs]
                self.record_many(fresh)
                if self.journal is not None:
                    self.journal.extend(fresh)  # the whole task's runs, one fsync
                if self.display is None and self.callback is None and not per_run:
                    self.check_runs(fresh)
                    continue
                for run in fresh:
                    if self.display is not None or self.callback is not None:
                        current = self.state(run)
                        if self.display is not None:
                            self.display(current)
                        if self.callback is not None and self.callback(current) is True:
                            raise _Stop("callback")
                    self.check_run(run)
                    if per_run:
                        self.check_bayes()
        finally:
            batches.close()
        if self.time_left() == 0.0:
            raise _Stop("max_time")  # the executor stopped waiting for tasks in flight
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
            return self.solve(batch, _capped(local, self, reserve, share), total=total,
                              per_run=per_run, collect=collect)
        finished: list[LocalRun] = []
        for start in batch:
            left = self.remaining_evals() - reserve
            if left < 1:
                raise _Stop("max_evals")
            finished += self.solve([start], replace(local, max_nfev=int(left)),
                                   per_run=per_run, collect=collect)
        return finished

    def minima_units(self) -> tuple[np.ndarray, np.ndarray]:
        basins = self.online.basins()
        if not basins:
            return np.empty((0, self.problem.dim)), np.empty(0)
        return (self.problem.to_unit(np.array([b.x for b in basins])),
                np.array([b.f for b in basins]))


def run_multistart(
    problem: Problem,
    starts: StartOptions,
    local: LocalOptions,
    dedup: DedupOptions,
    stop: StopOptions,
    executor: Any,
    *,
    search: SearchOptions | None = None,
    noisy: bool = False,
    journal: Any = None,
    progress: bool | Callable[[RunState], None] = False,
    callback: Callable[[RunState], Any] | None = None,
    provenance: dict[str, Any] | None = None,
) -> MultistartResult:
    """Run the multistart loop on ``executor`` and return the ranked result.

    This is the engine behind :func:`engine.minimize` and :func:`engine.run_config`; use those.
    """
    search = search or SearchOptions()
    method_reason = "chosen by the user"
    if local.method == "auto":
        method, method_reason = choose_method(problem, noisy)
        local = replace(local, method=method)
    check_method_requirements(local.method, problem)
    strategy = "all" if search.strategy == "auto" else search.strategy
    plan = StartPlan(problem, starts)
    started_wall = time.time()
    display = make_progress(progress)
    # Under constraints a low point may be infeasible, and with noise the lowest of many
    # samples is luck: there only converged minima can be the answer.
    session = _Session(problem, dedup, stop, executor, journal, display, callback, plan.total,
                       track_best=not problem.constraints and not noisy)
    if journal is not None:
        resumed = iter(journal.completed())
        while chunk := list(itertools.islice(resumed, 4096)):  # not a million objects at once
            session.record_many(chunk)
    try:
        return _run_and_build(session, plan, search, local, strategy, starts, dedup, stop,
                              executor, provenance, method_reason, started_wall)
    finally:
        # Also when the run raised: a live progress bar must give the terminal back.
        if display is not None and len(session.runs):
            display(session.state(session.runs[-1]), final=True)


def _run_and_build(session: _Session, plan: StartPlan, search: SearchOptions,
                   local: LocalOptions, strategy: str, starts: StartOptions,
                   dedup: DedupOptions, stop: StopOptions, executor: Any,
                   provenance: dict[str, Any] | None, method_reason: str,
                   started_wall: float) -> MultistartResult:
    problem = session.problem
    stop_reason = "n_starts"
    try:
        for run in session.runs:  # resumed runs may already meet a stop rule
            session.check_run(run)
        if strategy == "all":
            session.solve_within(iter(plan), local, 0.0, total=plan.total - len(session.runs),
                                 per_run=stop.bayes, collect=False)
        else:
            stop_reason = _explore_and_solve(session, plan, search, local, strategy)
    except _Stop as why:
        stop_reason = why.reason
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    if strategy != "all" and search.polish and stop_reason in _POLISH_AFTER:
        try:
            _polish(session, local, next_index=_next_index(session))
        except _Stop:
            pass
        except KeyboardInterrupt:
            stop_reason = "interrupted"
    runs = session.runs
    result = build_result(
        problem, runs, dedup, stop_reason, session.elapsed(),
        provenance={
            **(provenance or {}),
            "seed": plan.root.entropy,
            "bounds": np.column_stack([problem.lower, problem.upper]).tolist(),
            "maximize": problem.maximize,
            "sampler": starts.sampler,
            "n_starts_planned": plan.total,
            "strategy": strategy,
            "method": local.method,
            "method_reason": method_reason,
            "scaled": uses_scaling(problem, local),
            "options": plain_data(dict(local.options)),
            "tol": local.tol,
            "xtol": dedup.xtol,
            "ftol": dedup.ftol,
            "max_evals": stop.max_evals,
            "cluster": executor.describe(),
            "versions": versions(),
            "host": socket.gethostname(),
            "started": dt.datetime.fromtimestamp(started_wall, dt.timezone.utc).isoformat(),
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(),
        },
        n_explore=session.n_explore,
        n_skipped=session.n_skipped,
        method=local.method,
        strategy=strategy,
        best_seen=(None if session.best_seen_x is None
                   else (session.best_seen_x, problem.sign * session.best_seen_f)),
    )
    return result


def _next_index(session: _Session) -> int:
    return session.runs[-1].index + 1 if len(session.runs) else 0


def _capped(local: LocalOptions, session: _Session, reserve: float,
            share: int = 1) -> LocalOptions:
    """``local`` with each solve limited to its ``share`` of what is left of the budget."""
    left = session.remaining_evals() - reserve
    if not math.isfinite(left):
        return local
    return replace(local, max_nfev=max(1, int(left // max(1, share))))


def round_size(max_evals: int | None, dim: int) -> int:
    """Sample points evaluated per exploration round when ``n_explore`` is not given.

    Examples
    --------
    >>> round_size(10_000, 2), round_size(1000, 10), round_size(None, 3)
    (1000, 200, 100)
    """
    if max_evals is None:
        return max(100, 20 * dim)
    return int(np.clip(max_evals // 10, 20 * dim, 20_000))


def _polish_reserve(max_evals: int | None, dim: int) -> float:
    if max_evals is None:
        return 0.0
    return float(min(0.1 * max_evals, max(0.03 * max_evals, 20 * (dim + 1))))


SAMPLE_SHARE = 0.25
# Starts per round: sample picks, and hops (plus a coordinate sweep). Fixed, not taken
# from the cluster's size, so that the same seed gives the same rounds on any cluster.
ROUND_PICKS = 4
ROUND_HOPS = 1


def _explore_and_solve(session: _Session, plan: StartPlan, search: SearchOptions,
                       local: LocalOptions, strategy: str) -> str:
    """Rounds of: pick starts (MLSL or TikTak, plus hops), solve them. Returns why it ended.

    The sample grows by ``n_explore`` points whenever the picked starts run out. Each round
    is decided from the results of the rounds before it only, so the same seed gives the
    same starts on any number of workers.
    """
    problem = session.problem
    dim = problem.dim
    max_evals = session.stop.max_evals
    reserve = _polish_reserve(max_evals, dim) if search.polish else 0.0
    per_round = search.n_explore or round_size(max_evals, dim)
    # In more dimensions a sample says less about where the basins are, and the budget is
    # better spent on descents and hops.
    share = SAMPLE_SHARE * min(1.0, (2 / dim) ** 0.5)
    sample_cap = math.inf if max_evals is None else share * max_evals
    stream = UnitStream(plan.options.sampler, dim, plan.root)
    sample = _Sample(dim)
    hopper = Hopper()
    sweeper = _Sweeper()
    max_solves = plan.total
    next_index = len(plan.fixed)
    session.solve_within(list(enumerate(plan.fixed)), local, reserve)
    if search.global_phase is not None:
        seed = int(np.random.SeedSequence(plan.root.entropy, spawn_key=(
            *plan.root.spawn_key, 3)).generate_state(1)[0])
        x = _global_phase(session, search, max_evals, seed)
        if x is not None:
            session.solve_within([(next_index, x)], local, reserve)
            next_index += 1
    pending: list[np.ndarray] = []  # picked starts (unit box), best first
    pending_rows: list[int] = []
    for round_no in itertools.count():
        session.check_limits()
        if session.remaining_evals() <= reserve:
            return "max_evals"
        if next_index >= max_solves:
            return "n_starts"
        # 1. Starts from the sample; it grows when the picked ones have run out.
        pending, pending_rows = _still_worth(session, pending, pending_rows, sample, strategy)
        grew = False
        if not pending:
            n_new = int(min(per_round, sample_cap - session.n_explore,
                            session.remaining_evals() - reserve))
            if n_new > 0:
                if len(sample.values):
                    fresh = stream.draw(n_new)
                else:
                    # The first sample point is the centre of the box, as DIRECT and shgo
                    # begin: symmetric problems often have their minimum there, and a
                    # scrambled sequence never lands on it exactly.
                    fresh = np.vstack([np.full((1, dim), 0.5), stream.draw(n_new - 1)])
                sample.add(fresh, session.evaluate(fresh, search.vectorized))
                session.check_limits()
                grew = True
            if grew or round_no == 0:
                pending, pending_rows = _pick(session, sample, strategy)
        n_picks = min(len(pending), ROUND_PICKS)
        picks = [(pending[k], pending_rows[k]) for k in range(n_picks)]
        pending, pending_rows = pending[n_picks:], pending_rows[n_picks:]
        # 2. Hops from the best minima: a short move in all coordinates; and now and then a
        #    sweep along every coordinate of the best one, solved from when it found lower.
        hops: list[tuple[np.ndarray, int]] = []
        if search.hops and len(session.online):
            minima_units, minima_values = session.minima_units()
            rng = np.random.default_rng(np.random.SeedSequence(
                plan.root.entropy, spawn_key=(*plan.root.spawn_key, 2, round_no)))
            anchors = [0, 0, 1, 0, 0, 2]
            for k in range(ROUND_HOPS):
                anchor = anchors[(round_no + k) % len(anchors)] % len(minima_units)
                hops.append((hopper.propose(minima_units[anchor], rng), anchor))
            if sweeper.due():
                found = sweeper.sweep(session, minima_units[0], minima_values[0], rng,
                                      search.vectorized, reserve)
                if found is not None:
                    hops.append((found, -1))
        # 3. Fit the round to the budget left: best picks first, hops interleaved.
        order: list[tuple[np.ndarray, int | None, int | None]] = []
        for k in range(max(len(picks), len(hops))):
            if k < len(picks):
                order.append((picks[k][0], picks[k][1], None))
            if k < len(hops):
                order.append((hops[k][0], None, hops[k][1]))
        order = order[: _affordable(session, reserve, max_solves - next_index)]
        if not order:
            if not grew and sample_cap - session.n_explore < 1:
                return "explored"
            continue
        batch = []
        hop_of: dict[int, int] = {}
        for point, row, anchor in order:
            if row is not None:
                sample.used[row] = True
            if anchor is not None and anchor >= 0:
                hop_of[next_index] = anchor
            batch.append((next_index, problem.from_unit(point)))
            next_index += 1
        anchors_before = session.minima_units()
        finished = session.solve_within(batch, local, reserve)
        _learn_from_hops(session, hopper, finished, hop_of, anchors_before)
        session.check_bayes()
    return "n_starts"  # unreachable: the loop ends by return or _Stop


def _scan_points(max_evals: int | None) -> int:
    """Grid points of a coordinate scan: finer as the budget grows (resolving narrower
    valleys), coarse where a small budget cannot pay for it."""
    if max_evals is None:
        return 32
    return int(np.clip(math.sqrt(max_evals) / 3.0, 12, 48))


class _Sweeper:
    """Coordinate sweeps from the best minimum, backing off while they find nothing.

    On separable and nearly separable landscapes (Rastrigin, Schwefel, Styblinski-Tang,
    Michalewicz, Levy) the best minimum differs from a good one in a few coordinates; a scan
    along each coordinate finds the better valley for it at the cost of a few dozen
    evaluations, where a local solve from a random move costs a whole descent. Where sweeps
    find nothing (landscapes whose coordinates interact) they are made rarer: after ``k``
    fruitless sweeps in a row the next waits ``2^k - 1`` rounds (at most 15).
    """

    def __init__(self) -> None:
        self.backoff = 0
        self.wait = 0

    def due(self) -> bool:
        if self.wait > 0:
            self.wait -= 1
            return False
        return True

    def sweep(self, session: _Session, unit: np.ndarray, value: float,
              rng: np.random.Generator, vectorized: bool, reserve: float) -> np.ndarray | None:
        """A point lower than ``value`` reached by moving coordinates of ``unit`` one at a
        time into better valleys, or None."""
        point, current = np.array(unit, dtype=float), value
        cost = 3 * _scan_points(session.stop.max_evals)
        for axis in rng.permutation(len(unit)):
            if session.remaining_evals() - reserve < 2 * cost:
                break
            found = _scan_axis(session, point, current, int(axis), rng, vectorized)
            if found is not None:
                point[axis], current = found
        improved = current < value
        self.backoff = 0 if improved else min(2 * self.backoff + 1, 15)
        self.wait = self.backoff
        return point if improved else None


def _scan_axis(session: _Session, unit: np.ndarray, value: float, axis: int,
               rng: np.random.Generator, vectorized: bool) -> tuple[float, float] | None:
    """The position along ``axis`` through ``unit`` of a valley lower than ``value``.

    A stratified grid along the axis locates the valleys of the 1-D profile; the best two
    (other than the one holding ``unit``) are refined by a bounded scalar minimization.
    Returns ``(position, value)`` or None.
    """
    n = _scan_points(session.stop.max_evals)
    grid = np.repeat(unit[None, :], n, axis=0)
    grid[:, axis] = (np.arange(n) + rng.random(n)) / n
    values = session.evaluate(grid, vectorized)
    padded = np.concatenate([[np.inf], values, [np.inf]])
    valleys = [k for k in range(n) if padded[k + 1] <= padded[k] and padded[k + 1] <= padded[k + 2]
               and np.isfinite(values[k]) and abs(grid[k, axis] - unit[axis]) > 1.0 / n]
    valleys.sort(key=lambda k: values[k])
    for k in valleys[:2]:
        low = grid[k - 1, axis] if k > 0 else 0.0
        high = grid[k + 1, axis] if k < n - 1 else 1.0
        point = np.array(unit, dtype=float)

        def along(t: float, point: np.ndarray = point) -> float:
            point[axis] = t
            return float(session.evaluate(point[None, :], False)[0])

        found = minimize_scalar(along, bounds=(low, high), method="bounded",
                                options={"xatol": 1e-4 * (high - low), "maxiter": 20})
        if found.fun < value - 1e-12 * max(1.0, abs(value)):
            return float(found.x), float(found.fun)
    return None


class _Sample:
    """The exploration sample so far: unit-box points, their values, which were started."""

    def __init__(self, dim: int) -> None:
        self.units = np.empty((0, dim))
        self.values = np.empty(0)
        self.used = np.zeros(0, dtype=bool)

    def add(self, units: np.ndarray, values: np.ndarray) -> None:
        self.units = np.vstack([self.units, units])
        self.values = np.concatenate([self.values, values])
        self.used = np.concatenate([self.used, np.zeros(len(values), dtype=bool)])


def _pick(session: _Session, sample: _Sample, strategy: str) -> tuple[list[np.ndarray], list[int]]:
    """Sample points to start from, best first (MLSL or TikTak)."""
    if not len(sample.values):
        return [], []
    if strategy == "mlsl":
        minima_units, minima_values = session.minima_units()
        selection = mlsl_select(sample.units, sample.values, sample.used, minima_units,
                                minima_values,
                                critical_distance(len(sample.values), session.problem.dim))
        session.n_skipped += selection.n_skipped
        rows = [int(r) for r in selection.rows]
        return [sample.units[r] for r in rows], rows
    selection = tiktak_select(sample.values, sample.used)
    best_unit = _best_unit(session, sample.units, sample.values)
    done = int(sample.used.sum())
    total = max(1, int(np.ceil(0.1 * np.isfinite(sample.values).sum())))
    rows = [int(r) for r in selection.rows]
    return [tiktak_blend(sample.units[r], best_unit, done + k, total)
            for k, r in enumerate(rows)], rows


def _still_worth(session: _Session, pending: list[np.ndarray], rows: list[int],
                 sample: _Sample, strategy: str) -> tuple[list[np.ndarray], list[int]]:
    """Drop picked MLSL starts that a minimum found since lies close to and below."""
    if strategy != "mlsl" or not pending:
        return pending, rows
    minima_units, minima_values = session.minima_units()
    if not len(minima_units):
        return pending, rows
    radius = critical_distance(len(sample.values), session.problem.dim)
    tree = cKDTree(minima_units)
    keep_points, keep_rows = [], []
    for point, row in zip(pending, rows, strict=True):
        close = tree.query_ball_point(point, radius)
        if any(minima_values[m] <= sample.values[row] for m in close):
            session.n_skipped += 1
            continue
        keep_points.append(point)
        keep_rows.append(row)
    return keep_points, keep_rows


def _best_unit(session: _Session, units: np.ndarray, values: np.ndarray) -> np.ndarray:
    if len(session.online):
        return session.problem.to_unit(session.online.best().x)
    return units[int(np.argmin(values))]


def _affordable(session: _Session, reserve: float, slots_left: int) -> int:
    """How many more local solves the budget is expected to pay for (at least one)."""
    left = session.remaining_evals() - reserve
    if not math.isfinite(left):
        return max(0, slots_left)
    costs = session.runs.nfevs[session.runs.success]
    expected = float(np.mean(costs)) if len(costs) else 30.0 * (session.problem.dim + 1)
    return int(min(slots_left, max(1, left // max(expected, 1.0))))


def _learn_from_hops(session: _Session, hopper: Hopper, finished: list[LocalRun],
                     hop_of: dict[int, int], anchors: tuple[np.ndarray, np.ndarray]) -> None:
    units, values = anchors
    for run in finished:
        if run.index not in hop_of or not run.success:
            continue
        anchor = hop_of[run.index]
        f = session.problem.sign * run.fun
        distance = float(np.max(np.abs(session.problem.to_unit(run.x) - units[anchor])))
        same = distance <= 10 * session.dedup.xtol
        improved = f < values[anchor] - session.dedup.ftol * max(1.0, abs(values[anchor]))
        hopper.update(same_basin=same, improved=improved)


def _polish(session: _Session, local: LocalOptions, next_index: int) -> None:
    """Solve the best minima once more with tight tolerances, from where they are.

    A point evaluated lower than every minimum (a sample point, or a solve the budget cut
    short) is descended from first: it is where the best minimum probably lies.
    """
    points = [b.x for b in session.online.basins()[:3]]
    best_known = session.online.basins()[0].f if points else math.inf
    if session.best_seen_x is not None and session.best_seen_f < best_known - 1e-12 * (
            1.0 + abs(session.best_seen_f)):
        points = [session.best_seen_x, *points[:2]]
    if not points:
        return
    tight = replace(local, tol=min(local.tol or 1e-12, 1e-12), restarts=max(local.restarts, 1))
    left = session.remaining_evals()
    if left <= 0:
        return
    session.solve_within([(next_index + k, x) for k, x in enumerate(points)], tight, 0.0)


def _global_phase(session: _Session, search: SearchOptions, max_evals: int | None,
                  seed: int) -> np.ndarray | None:
    """Run a scipy global optimizer on part of the budget; its best point (or None)."""
    from engine.search.global_phase import run_global_phase

    budget = (int(min(search.global_fraction * max_evals, session.remaining_evals()))
              if max_evals is not None else 1000 * session.problem.dim)
    if budget <= 0:
        return None
    x, used = run_global_phase(search.global_phase or "", session.problem, budget, seed=seed)
    session.nfev += used
    session.n_explore += used
    session.check_limits()
    return x


def _better_than(f_new: float, f_old: float, ftol: float) -> bool:
    """``f_new`` lower than ``f_old`` (minimized sign) by more than the dedup tolerance."""
    if not math.isfinite(f_new):
        return False
    if not math.isfinite(f_old):
        return True
    return f_new < f_old - ftol * max(1.0, abs(f_old))


def build_result(
    problem: Problem,
    runs: RunStore | dict[int, LocalRun],
    dedup: DedupOptions,
    stop_reason: str,
    wall_time: float,
    provenance: dict[str, Any],
    *,
    n_explore: int = 0,
    n_skipped: int = 0,
    method: str = "",
    strategy: str = "all",
    best_seen: tuple[np.ndarray, float] | None = None,
) -> MultistartResult:
    """Merge the successful runs into distinct minima (order independent) and rank them.

    ``best_seen`` is the best point evaluated anywhere, as ``(x, fun)`` in the user's sign.
    It becomes ``x``/``fun`` of the result when no minimum is as good (the budget ran out
    during the descent from it), as a scipy global optimizer reports its best point.
    """
    if not isinstance(runs, RunStore):
        runs = RunStore.from_runs(runs.values())
    sign = problem.sign
    indices, points, values = runs.successful()
    minima: tuple[Minimum, ...] = ()
    if len(indices):
        basins = cluster_points(indices, points, sign * values, problem.lower, problem.upper,
                                dedup.xtol, dedup.ftol)
        minima = as_minima(basins, sign)
    n_failed = runs.n_failed
    kind = "maxima" if problem.maximize else "minima"
    if minima:
        message = (f"found {len(minima)} distinct {kind} from {len(runs)} starts "
                   f"({n_failed} failed); stopped by {stop_reason}")
    else:
        message = f"no local solve succeeded ({n_failed} of {len(runs)} failed)"
    x, fun = (minima[0].x, minima[0].fun) if minima else (None, math.nan)
    if best_seen is not None and _better_than(sign * best_seen[1], sign * fun, dedup.ftol):
        x, fun = np.array(best_seen[0], dtype=float), float(best_seen[1])
        message += (f"; x is the best point evaluated (fun={fun:.6g}), which no local solve "
                    f"had descended from when the run stopped: give a larger budget to refine it")
    return MultistartResult(
        x=x,
        fun=fun,
        minima=minima,
        runs=runs,
        n_starts=len(runs),
        nfev=runs.nfev + n_explore,
        n_failed=n_failed,
        wall_time=wall_time,
        stop_reason=stop_reason,
        success=bool(minima),
        message=message,
        maximize=problem.maximize,
        provenance=provenance,
        n_explore=n_explore,
        n_skipped=n_skipped,
        estimated_n_minima=estimated_n_minima(len(indices), len(minima)),
        coverage=estimated_coverage(len(indices), len(minima)),
        method=method,
        strategy=strategy,
    )
