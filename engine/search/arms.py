"""The searches of a portfolio besides MLSL, TikTak and the funnel, one step at a time.

Each is a generator over one :class:`~engine.session.Session`: it yields after each step (a
few local solves, or a generation of evaluations and a solve) and returns why it ended. The
portfolio (:mod:`engine.search.portfolio`) decides which takes the next step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.options import LocalOptions, SearchOptions
from engine.sampling import UnitStream
from engine.search.hops import Sweeper
from engine.search.rounds import StartIndices, solve_from
from engine.search.selection import Hopper

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session, StartPlan

#: A search: a generator that yields after each step and returns when it has no more to do.
Steps = Iterator[None]
#: Starts per step of the plain descents.
DESCENT_BATCH = 4
#: First half-width of a hop (unit box): a tenth of each side, as basin hopping is often run.
FIRST_HOP = 0.1


def descent_steps(session: Session, plan: StartPlan, local: LocalOptions, indices: StartIndices,
              reserve: float) -> Steps:
    """Plain descents from a space-filling stream of its own, a few per step."""
    stream = UnitStream(plan.options.sampler, session.problem.dim, np.random.SeedSequence(
        plan.root.entropy, spawn_key=(*plan.root.spawn_key, 5, 3)))
    while session.remaining_evals() - reserve >= 1 and indices.left > 0:
        solve_from(session, list(stream.draw(DESCENT_BATCH)), local, indices, reserve)
        yield
    return "max_evals"


def population_steps(session: Session, plan: StartPlan, local: LocalOptions,
                indices: StartIndices, reserve: float, search: SearchOptions) -> Steps:
    """Differential evolution (DE/rand/1/bin, F = 0.7, CR = 0.9; Storn and Price, J. Global
    Optim. 11, 1997) in the unit box; after a generation that improved its best member, a
    local solve from that member. One generation per step."""
    dim = session.problem.dim
    size = int(np.clip(10 * dim, 20, 60))
    rng = np.random.default_rng(np.random.SeedSequence(
        plan.root.entropy, spawn_key=(*plan.root.spawn_key, 5, 4)))
    stream = UnitStream(plan.options.sampler, dim, np.random.SeedSequence(
        plan.root.entropy, spawn_key=(*plan.root.spawn_key, 5, 5)))
    if session.remaining_evals() - reserve < size:
        return "max_evals"
    members = stream.draw(size)
    values = session.evaluate(members, search.vectorized)
    started = math.inf
    while True:
        best = int(np.argmin(values))
        if values[best] < started and np.isfinite(values[best]):
            started = float(values[best])
            solve_from(session, [members[best]], local, indices, reserve)
        yield
        if session.remaining_evals() - reserve < size:
            return "max_evals"
        pick = np.array([rng.choice(np.delete(np.arange(size), i), 3, replace=False)
                         for i in range(size)])
        mutant = members[pick[:, 0]] + 0.7 * (members[pick[:, 1]] - members[pick[:, 2]])
        cross = rng.random((size, dim)) < 0.9
        cross[np.arange(size), rng.integers(0, dim, size)] = True
        trial = np.clip(np.where(cross, mutant, members), 0.0, 1.0)
        trial_values = session.evaluate(trial, search.vectorized)
        better = trial_values <= values
        members[better], values[better] = trial[better], trial_values[better]


@dataclass
class _Box:
    centre: np.ndarray
    half: np.ndarray  # half-widths (unit box)
    value: float


def partition_steps(session: Session, local: LocalOptions, indices: StartIndices,
               reserve: float, search: SearchOptions) -> Steps:
    """DIRECT-style partition (Jones, Perttunen and Stuckman, JOTA 79, 1993): each step
    trisects, along its longest side, the lowest box of each size (the potentially optimal
    candidates), evaluating the two new centres; a local solve starts from the best centre
    when it is the best the partition has seen."""
    dim = session.problem.dim
    if session.remaining_evals() - reserve < 1:
        return "max_evals"
    centre = np.full(dim, 0.5)
    boxes = [_Box(centre, np.full(dim, 0.5),
                  float(session.evaluate(centre[None, :], search.vectorized)[0]))]
    started = math.inf
    while True:
        best = min(boxes, key=lambda box: box.value)
        if best.value < started and math.isfinite(best.value):
            started = best.value
            solve_from(session, [best.centre], local, indices, reserve)
        yield
        by_size: dict[float, _Box] = {}
        for box in boxes:
            size = round(float(np.linalg.norm(box.half)), 12)
            if size not in by_size or box.value < by_size[size].value:
                by_size[size] = box
        chosen = [by_size[s] for s in sorted(by_size, reverse=True)]
        if session.remaining_evals() - reserve < 2 * len(chosen):
            return "max_evals"
        new_centres, splits = [], []
        for box in chosen:
            axis = int(np.argmax(box.half))
            step = np.zeros(dim)
            step[axis] = 2.0 * box.half[axis] / 3.0
            new_centres += [box.centre - step, box.centre + step]
            splits.append((box, axis))
        values = session.evaluate(np.array(new_centres), search.vectorized)
        for k, (box, axis) in enumerate(splits):
            box.half = box.half.copy()
            box.half[axis] /= 3.0
            for j in (0, 1):
                boxes.append(_Box(new_centres[2 * k + j], box.half.copy(),
                                  float(values[2 * k + j])))


def lowest_point(session: Session) -> tuple[np.ndarray, float] | None:
    """Where the moves around the best start from: the best minimum (unit box) and its value,
    or before there is one the lowest point evaluated; None when nothing has a value yet."""
    minima_units, minima_values = session.minima_units()
    if len(minima_units):
        return minima_units[0], float(minima_values[0])
    if session.best_seen_x is not None:
        return session.problem.to_unit(session.best_seen_x[None, :])[0], session.best_seen_f
    return None


def hopping_steps(session: Session, plan: StartPlan, local: LocalOptions,
                  indices: StartIndices, reserve: float) -> Steps:
    """Monotonic basin hopping (Leary, J. Global Optim. 18, 2000): each step moves every
    coordinate of the best minimum (:func:`lowest_point`; a random point before anything
    has a value) by up to the hopper's step and descends from there. The step grows when the
    descent comes back to a known minimum and shrinks when it finds a worse new one
    (:class:`~engine.search.selection.Hopper`)."""
    rng = np.random.default_rng(np.random.SeedSequence(
        plan.root.entropy, spawn_key=(*plan.root.spawn_key, 5, 7)))
    hopper = Hopper(step=FIRST_HOP)
    while session.remaining_evals() - reserve >= 1 and indices.left > 0:
        lowest = lowest_point(session)
        anchor = lowest[0] if lowest is not None else rng.random(session.problem.dim)
        best, n_minima = session.best, len(session.online)
        solve_from(session, [hopper.propose(anchor, rng)], local, indices, reserve)
        improved = session.best < best
        hopper.update(same_basin=len(session.online) == n_minima and not improved,
                      improved=improved)
        yield
    return "max_evals"


def sweep_steps(session: Session, plan: StartPlan, local: LocalOptions, indices: StartIndices,
                reserve: float, search: SearchOptions) -> Steps:
    """Coordinate sweeps from the best minimum (:class:`~engine.search.hops.Sweeper`): each
    step scans every coordinate in turn for a lower valley and descends from the point the
    scans reach when it is lower. Separable landscapes (Schwefel, Michalewicz,
    Styblinski-Tang) are solved a coordinate at a time this way."""
    rng = np.random.default_rng(np.random.SeedSequence(
        plan.root.entropy, spawn_key=(*plan.root.spawn_key, 5, 8)))
    sweeper = Sweeper()
    while session.remaining_evals() - reserve >= 1 and indices.left > 0:
        lowest = lowest_point(session)
        if lowest is None:
            return "nothing to sweep from"
        anchor, value = lowest
        before = session.nfev
        found = sweeper.sweep(session, anchor, value, rng, search.vectorized, reserve)
        if session.nfev == before:
            return "too little budget left for a sweep"
        if found is not None:
            solve_from(session, [found], local, indices, reserve)
        yield
    return "max_evals"
