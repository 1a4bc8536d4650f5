"""Exploration in rounds, shared by MLSL and TikTak: they differ only in :meth:`pick`.

Each round (1) grows a space-filling sample when the picked starts have run out and picks
starts from it, (2) adds hops from the best minima (:mod:`engine.search.hops`), (3) fits the
round to what is left of the budget and (4) solves it. Each round is decided from the results
of the rounds before it only, so the same seed gives the same starts on any number of workers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from engine.options import LocalOptions, SearchOptions
from engine.sampling import UnitStream
from engine.search.global_phase import run_global_phase
from engine.search.hops import Hops
from engine.search.polish import polish_reserve
from engine.stop import StopReason

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session, StartPlan

# A round's share of the budget for the sample, in two dimensions (less in more).
SAMPLE_SHARE = 0.25
# Sample picks per round. Fixed, not taken from the cluster's size, so that the same seed
# gives the same rounds on any cluster.
ROUND_PICKS = 4

# A round's starts: (unit point, its sample row or None, rank of its hop's minimum or None).
_Order = list[tuple[np.ndarray, int | None, int | None]]


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


@dataclass
class StartIndices:
    """The indices new starts get, in order, up to ``limit`` (the plan's total): shared by
    the searches of a portfolio so that no two starts share one.

    Examples
    --------
    >>> ids = StartIndices(2, 4)
    >>> ids.take(), ids.take(), ids.left
    (2, 3, 0)
    """

    next: int
    limit: int

    def take(self) -> int:
        index = self.next
        self.next += 1
        return index

    @property
    def left(self) -> int:
        return self.limit - self.next


class Sample:
    """The exploration sample so far: unit-box points, their values, which were started.

    Examples
    --------
    >>> s = Sample(2)
    >>> s.add(np.zeros((3, 2)), np.array([1.0, 2.0, 0.5]))
    >>> s.units.shape, s.used.tolist()
    ((3, 2), [False, False, False])
    """

    def __init__(self, dim: int) -> None:
        self.units = np.empty((0, dim))
        self.values = np.empty(0)
        self.used = np.zeros(0, dtype=bool)

    def add(self, units: np.ndarray, values: np.ndarray) -> None:
        self.units = np.vstack([self.units, units])
        self.values = np.concatenate([self.values, values])
        self.used = np.concatenate([self.used, np.zeros(len(values), dtype=bool)])


class ExplorationRounds:
    """A strategy that explores a sample in rounds; subclasses say how starts are picked.

    Parameters
    ----------
    search : SearchOptions
        ``n_explore`` (sample points per round), ``vectorized``, ``hops``, ``global_phase``,
        ``global_fraction`` and ``polish`` (a reserve of the budget is kept for it).

    Examples
    --------
    >>> class BestFirst(ExplorationRounds):
    ...     def pick(self, session, sample):
    ...         rows = [int(r) for r in np.argsort(sample.values) if not sample.used[r]]
    ...         return [sample.units[r] for r in rows], rows
    >>> BestFirst(SearchOptions()).polishes
    True
    """

    name: ClassVar[str]
    polishes: ClassVar[bool] = True

    def __init__(self, search: SearchOptions) -> None:
        self.search = search

    def pick(self, session: Session, sample: Sample) -> tuple[list[np.ndarray], list[int]]:
        """Points to start from (unit box), best first, and their rows in ``sample``."""
        raise NotImplementedError

    def still_worth(self, session: Session, pending: list[np.ndarray], rows: list[int],
                    sample: Sample) -> tuple[list[np.ndarray], list[int]]:
        """The picked starts not yet solved that are still worth solving (all, by default)."""
        return pending, rows

    def run(self, session: Session, plan: StartPlan, local: LocalOptions) -> StopReason:
        """Rounds of: pick starts (plus hops), solve them. Returns why it ended."""
        steps = self.steps(session, plan, local, StartIndices(len(plan.fixed), plan.total))
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value

    def steps(self, session: Session, plan: StartPlan, local: LocalOptions,
              indices: StartIndices, *, first_starts: bool = True,
              sample_share: float = 1.0, stream_key: int = 0, alone: bool = True
              ) -> Iterator[None]:
        """The rounds one at a time: yields after each round's solves; returns why it ended.

        A portfolio runs several of these side by side on one session: it solves the user's
        points itself (``first_starts=False``), gives each its ``sample_share`` of the
        exploration allowance, counted over its own sample only (``alone=False``), and its
        own sample stream (``stream_key``; 0 is the plan's).
        """
        loop = _Loop(self, session, plan, local, indices, sample_share, stream_key, alone)
        if first_starts:
            loop.first_starts()
        for round_no in itertools.count():
            session.check_limits()
            if session.remaining_evals() <= loop.reserve:
                return "max_evals"
            if indices.left <= 0:
                return "n_starts"
            grew = loop.refill(round_no)
            if grew and not alone:
                # In a portfolio a fresh sample is a step of its own: the other searches may
                # use it (the funnel models it) before this one spends on descents.
                yield
                if session.remaining_evals() <= loop.reserve:
                    return "max_evals"
            order = loop.fit(loop.take_picks(), loop.hops_of(round_no))
            if not order:
                if not grew and loop.sample_cap - loop.explored < 1:
                    return "explored"
                continue
            loop.solve(order)
            session.check_round()
            yield
        return "n_starts"  # unreachable: the loop ends by return or StopRun


class _Loop:
    """The state of one exploration: sample, picks waiting, hops, next start index."""

    def __init__(self, strategy: ExplorationRounds, session: Session, plan: StartPlan,
                 local: LocalOptions, indices: StartIndices, sample_share: float = 1.0,
                 stream_key: int = 0, alone: bool = True) -> None:
        search = strategy.search
        dim = session.problem.dim
        max_evals = session.stop.max_evals
        self.strategy, self.session, self.plan, self.local = strategy, session, plan, local
        self.reserve = polish_reserve(max_evals, dim) if search.polish else 0.0
        self.per_round = search.n_explore or round_size(max_evals, dim)
        # In more dimensions a sample says less about where the basins are, and the budget
        # is better spent on descents and hops.
        share = SAMPLE_SHARE * min(1.0, (2 / dim) ** 0.5)
        self.sample_cap = math.inf if max_evals is None else share * max_evals * sample_share
        root = plan.root if not stream_key else np.random.SeedSequence(
            plan.root.entropy, spawn_key=(*plan.root.spawn_key, 5, stream_key))
        self.stream = UnitStream(plan.options.sampler, dim, root)
        self.sample = Sample(dim)
        self.hops = Hops(root, search.vectorized) if search.hops else None
        self.indices = indices
        # Alone, the exploration allowance is the run's (sweeps and a global phase count);
        # in a portfolio each search counts its own sample.
        self.alone = alone
        self.own_samples = 0
        self.pending: list[np.ndarray] = []  # picked starts (unit box), best first
        self.pending_rows: list[int] = []

    def first_starts(self) -> None:
        """The user's start points, then the global phase's best point (if one runs)."""
        session, search = self.session, self.strategy.search
        session.solve_within(list(enumerate(self.plan.fixed)), self.local, self.reserve)
        if search.global_phase is None:
            return
        root = self.plan.root
        seed = int(np.random.SeedSequence(root.entropy, spawn_key=(
            *root.spawn_key, 3)).generate_state(1)[0])
        x = global_phase(session, search, session.stop.max_evals, seed)
        if x is not None:
            session.solve_within([(self.indices.take(), x)], self.local, self.reserve)

    def refill(self, round_no: int) -> bool:
        """Drop stale picks; grow the sample and pick anew when none are left. Grew?"""
        session, sample = self.session, self.sample
        self.pending, self.pending_rows = self.strategy.still_worth(
            session, self.pending, self.pending_rows, sample)
        grew = False
        if not self.pending:
            n_new = int(min(self.per_round, self.sample_cap - self.explored,
                            session.remaining_evals() - self.reserve))
            if n_new > 0:
                if len(sample.values):
                    fresh = self.stream.draw(n_new)
                else:
                    # The first sample point is the centre of the box, as DIRECT and shgo
                    # begin: symmetric problems often have their minimum there, and a
                    # scrambled sequence never lands on it exactly.
                    dim = session.problem.dim
                    fresh = np.vstack([np.full((1, dim), 0.5), self.stream.draw(n_new - 1)])
                sample.add(fresh, session.evaluate(fresh, self.strategy.search.vectorized))
                self.own_samples += len(fresh)
                session.check_limits()
                grew = True
        if grew or round_no == 0:
            self.pending, self.pending_rows = (
                self.strategy.pick(session, sample) if len(sample.values) else ([], []))
        return grew

    @property
    def explored(self) -> int:
        """Evaluations counted against the exploration allowance."""
        return self.session.n_explore if self.alone else self.own_samples

    def take_picks(self) -> list[tuple[np.ndarray, int]]:
        """This round's sample picks, best first, as ``(unit point, sample row)``."""
        n_picks = min(len(self.pending), ROUND_PICKS)
        picks = [(self.pending[k], self.pending_rows[k]) for k in range(n_picks)]
        self.pending, self.pending_rows = self.pending[n_picks:], self.pending_rows[n_picks:]
        return picks

    def hops_of(self, round_no: int) -> list[tuple[np.ndarray, int]]:
        if self.hops is None:
            return []
        return self.hops.propose(self.session, round_no, self.reserve)

    def fit(self, picks: list[tuple[np.ndarray, int]],
            hops: list[tuple[np.ndarray, int]]) -> _Order:
        """The round fitted to the budget left: best picks first, hops interleaved."""
        order: _Order = []
        for k in range(max(len(picks), len(hops))):
            if k < len(picks):
                order.append((picks[k][0], picks[k][1], None))
            if k < len(hops):
                order.append((hops[k][0], None, hops[k][1]))
        return order[: affordable(self.session, self.reserve, self.indices.left)]

    def solve(self, order: _Order) -> None:
        """Solve the round's starts; the hopper learns from where its hops ended."""
        session = self.session
        batch = []
        hop_of: dict[int, int] = {}
        for point, row, anchor in order:
            if row is not None:
                self.sample.used[row] = True
            index = self.indices.take()
            if anchor is not None and anchor >= 0:
                hop_of[index] = anchor
            batch.append((index, session.problem.from_unit(point)))
        anchors_before = session.minima_units()
        finished = session.solve_within(batch, self.local, self.reserve)
        if self.hops is not None:
            self.hops.learn(session, finished, hop_of, anchors_before)


def affordable(session: Session, reserve: float, slots_left: int) -> int:
    """How many more local solves the budget is expected to pay for (at least one)."""
    left = session.remaining_evals() - reserve
    if not math.isfinite(left):
        return max(0, slots_left)
    costs = session.runs.nfevs[session.runs.success]
    expected = float(np.mean(costs)) if len(costs) else 30.0 * (session.problem.dim + 1)
    return int(min(slots_left, max(1, left // max(expected, 1.0))))


def solve_from(session: Session, units: list[np.ndarray], local: LocalOptions,
                indices: StartIndices, reserve: float) -> None:
    """Local solves from ``units`` (unit box), as many as the budget pays for."""
    n = min(len(units), affordable(session, reserve, indices.left))
    batch = [(indices.take(), session.problem.from_unit(u)) for u in units[:n]]
    if batch:
        session.solve_within(batch, local, reserve)


def global_phase(session: Session, search: SearchOptions, max_evals: int | None,
                 seed: int) -> np.ndarray | None:
    """Run a scipy global optimizer on part of the budget; its best point (or None)."""
    budget = (int(min(search.global_fraction * max_evals, session.remaining_evals()))
              if max_evals is not None else 1000 * session.problem.dim)
    if budget <= 0:
        return None
    x, used = run_global_phase(search.global_phase or "", session.problem, budget, seed=seed)
    session.nfev += used
    session.n_explore += used
    session.check_limits()
    return x
