"""Ending a descent early once it is only going back to a minimum already found.

A descent that comes within a small distance of a known minimum while still above its value
is, almost always, on its way down to it: the rest of the solve would spend evaluations to
find that minimum again. :class:`KnownMinima` (set on the local options by the session when
a strategy asks, see :attr:`engine.session.Session.join_radius`) lets the solve's objective
end it there (:class:`JoinedKnown`); the run is recorded as another hit of that minimum.
Minima close to the start itself are left out, so a solve from a minimum (a polish, a short
hop) runs to its end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.local.objective import StopSolve
from engine.problem import Problem


@dataclass(frozen=True, eq=False)
class KnownMinima:
    """Minima found before a batch of solves began.

    Attributes
    ----------
    x : ndarray, shape (m, dim)
        The minima in the user's coordinates.
    units : ndarray, shape (m, dim)
        The same in the unit box.
    values : ndarray, shape (m,)
        Their values, minimized sign.
    radius : float
        A descent ends when it is within this distance (unit box, every coordinate) of a
        minimum and above its value.
    """

    x: np.ndarray
    units: np.ndarray
    values: np.ndarray
    radius: float

    def watch(self, problem: Problem, x0: np.ndarray) -> JoinWatch:
        """The check for a solve from ``x0``: the minima farther than ``2 radius`` from it."""
        start = problem.to_unit(np.asarray(x0, dtype=float)[None, :])[0]
        far = np.flatnonzero(np.max(np.abs(self.units - start), axis=1) >= 2 * self.radius)
        return JoinWatch(problem, self.units[far], self.values[far], far, self.radius)


class JoinedKnown(StopSolve):
    """Raised inside the objective when the descent joins a known minimum (``k``: its row
    in :class:`KnownMinima`)."""

    def __init__(self, k: int, nfev: int) -> None:
        super().__init__(f"joined a known minimum after {nfev} evaluations")
        self.k = k


class JoinWatch:
    """Tests each point a solve evaluates against the known minima it may join.

    Examples
    --------
    >>> p = Problem.create(lambda x: float(x @ x), [(-1, 1)] * 2)
    >>> known = KnownMinima(np.zeros((1, 2)), np.full((1, 2), 0.5), np.zeros(1), 0.02)
    >>> watch = known.watch(p, np.array([0.9, 0.9]))
    >>> watch.check(np.array([0.5, 0.5]), 0.5, nfev=3)  # far from it: nothing
    >>> watch.check(np.array([0.01, -0.01]), 2e-4, nfev=9)
    Traceback (most recent call last):
    ...
    engine.local.known.JoinedKnown: joined a known minimum after 9 evaluations
    """

    def __init__(self, problem: Problem, units: np.ndarray, values: np.ndarray,
                 rows: np.ndarray, radius: float) -> None:
        self.problem = problem
        self.units, self.values, self.rows, self.radius = units, values, rows, radius

    def check(self, x: np.ndarray, value: float, nfev: int) -> None:
        """Raise :class:`JoinedKnown` when ``x`` (user coordinates) is within the radius of a
        minimum lower than ``value``."""
        if not len(self.units):
            return
        unit = self.problem.to_unit(np.asarray(x, dtype=float)[None, :])[0]
        joined = ((np.max(np.abs(self.units - unit), axis=1) < self.radius)
                  & (self.values < value))
        if joined.any():
            raise JoinedKnown(int(self.rows[int(np.argmax(joined))]), nfev)
