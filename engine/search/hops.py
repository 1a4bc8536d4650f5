"""Moves from the best minima: basin-hopping perturbations and coordinate sweeps.

Each exploration round adds, besides its sample picks, a short move of all coordinates of a
good minimum (:class:`~engine.search.selection.Hopper`, whose step adapts to what the moves
find) and now and then a sweep along every coordinate of the best one (:class:`Sweeper`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize_scalar

from engine.results.types import LocalRun
from engine.search.selection import Hopper

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session

# Hops per round. Fixed, not taken from the cluster's size, so that the same seed gives the
# same rounds on any cluster.
HOPS_PER_ROUND = 1
# Which minimum (by rank) each round's hop starts from, in turn: mostly the best.
ANCHORS = (0, 0, 1, 0, 0, 2)


class Hops:
    """The hops of each round, and what the hopper learns from their descents.

    Examples
    --------
    >>> hops = Hops(np.random.SeedSequence(0), vectorized=False)
    >>> hops.hopper.step, hops.sweeper.wait
    (0.05, 0)
    """

    def __init__(self, root: np.random.SeedSequence, vectorized: bool) -> None:
        self.root = root
        self.vectorized = vectorized
        self.hopper = Hopper()
        self.sweeper = Sweeper()

    def propose(self, session: Session, round_no: int,
                reserve: float) -> list[tuple[np.ndarray, int]]:
        """This round's hops as ``(unit point, rank of the minimum it moved from)``.

        A sweep's point has rank -1: it is not a hop of the hopper's step.
        """
        if not len(session.online):
            return []
        minima_units, minima_values = session.minima_units()
        # One generator per round, from the seed: the same rounds on any cluster.
        rng = np.random.default_rng(np.random.SeedSequence(
            self.root.entropy, spawn_key=(*self.root.spawn_key, 2, round_no)))
        hops: list[tuple[np.ndarray, int]] = []
        for k in range(HOPS_PER_ROUND):
            anchor = ANCHORS[(round_no + k) % len(ANCHORS)] % len(minima_units)
            hops.append((self.hopper.propose(minima_units[anchor], rng), anchor))
        if self.sweeper.due():
            found = self.sweeper.sweep(session, minima_units[0], minima_values[0], rng,
                                       self.vectorized, reserve)
            if found is not None:
                hops.append((found, -1))
        return hops

    def learn(self, session: Session, finished: list[LocalRun], hop_of: dict[int, int],
              anchors: tuple[np.ndarray, np.ndarray]) -> None:
        """Adapt the hopper's step to where the hops' descents ended.

        ``hop_of`` maps a start's index to the rank of its minimum among ``anchors`` (the
        minima as they were when the round began).
        """
        units, values = anchors
        for run in finished:
            if run.index not in hop_of or not run.success:
                continue
            anchor = hop_of[run.index]
            f = session.problem.sign * run.fun
            distance = float(np.max(np.abs(session.problem.to_unit(run.x) - units[anchor])))
            same = distance <= 10 * session.dedup.xtol
            improved = f < values[anchor] - session.dedup.ftol * max(1.0, abs(values[anchor]))
            self.hopper.update(same_basin=same, improved=improved)


def scan_points(max_evals: int | None) -> int:
    """Grid points of a coordinate scan: finer as the budget grows (resolving narrower
    valleys), coarse where a small budget cannot pay for it.

    Examples
    --------
    >>> scan_points(None), scan_points(1000), scan_points(10**6)
    (32, 12, 48)
    """
    if max_evals is None:
        return 32
    return int(np.clip(math.sqrt(max_evals) / 3.0, 12, 48))


class Sweeper:
    """Coordinate sweeps from the best minimum, backing off while they find nothing.

    On separable and nearly separable landscapes (Rastrigin, Schwefel, Styblinski-Tang,
    Michalewicz, Levy) the best minimum differs from a good one in a few coordinates; a scan
    along each coordinate finds the better valley for it at the cost of a few dozen
    evaluations, where a local solve from a random move costs a whole descent. Where sweeps
    find nothing (landscapes whose coordinates interact) they are made rarer: after ``k``
    fruitless sweeps in a row the next waits ``2^k - 1`` rounds (at most 15).

    Examples
    --------
    >>> s = Sweeper()
    >>> s.backoff, s.wait = 3, 3
    >>> [s.due() for _ in range(4)]
    [False, False, False, True]
    """

    def __init__(self) -> None:
        self.backoff = 0
        self.wait = 0

    def due(self) -> bool:
        if self.wait > 0:
            self.wait -= 1
            return False
        return True

    def sweep(self, session: Session, unit: np.ndarray, value: float,
              rng: np.random.Generator, vectorized: bool, reserve: float) -> np.ndarray | None:
        """A point lower than ``value`` reached by moving coordinates of ``unit`` one at a
        time into better valleys, or None."""
        point, current = np.array(unit, dtype=float), value
        cost = 3 * scan_points(session.stop.max_evals)
        for axis in rng.permutation(len(unit)):
            if session.remaining_evals() - reserve < 2 * cost:
                break
            found = scan_axis(session, point, current, int(axis), rng, vectorized)
            if found is not None:
                point[axis], current = found
        improved = current < value
        self.backoff = 0 if improved else min(2 * self.backoff + 1, 15)
        self.wait = self.backoff
        return point if improved else None


def scan_axis(session: Session, unit: np.ndarray, value: float, axis: int,
              rng: np.random.Generator, vectorized: bool) -> tuple[float, float] | None:
    """The position along ``axis`` through ``unit`` of a valley lower than ``value``.

    A stratified grid along the axis locates the valleys of the 1-D profile; the best two
    (other than the one holding ``unit``) are refined by a bounded scalar minimization.
    Returns ``(position, value)`` or None.
    """
    n = scan_points(session.stop.max_evals)
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
