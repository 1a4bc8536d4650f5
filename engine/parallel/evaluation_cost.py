"""How a request for objective values is cut into tasks for the workers.

The driver asks executors for the objective at a few points many times: the exploration
sample of every round, the five interior points of each segment the second merge checks
(:mod:`engine.merge`). Each task costs the scheduler and the driver about as much as a few
milliseconds of work, whatever the objective costs: five points of a cheap objective cut
into one task per worker slot cost several round trips for microseconds of work. The
evaluations still run on the workers, never in the driver: an objective that crashes its
process, or needs what only the workers have, must not take the driver with it.

:class:`EvaluationCost` cuts a request from the cost per point measured on the workers: at
most two blocks per worker slot, each of at least :data:`MIN_BLOCK_SECONDS` of work (a cheap
request is one task).
"""

from __future__ import annotations

import collections
import math

#: Work in one block of evaluations sent to a worker (seconds), unless the request is
#: smaller: a block costs about as much to send as this.
MIN_BLOCK_SECONDS = 0.01


class EvaluationCost:
    """The measured cost of one problem's evaluations, and how to cut the next request.

    The cost per point is the lowest of the last :attr:`RECENT` blocks measured: the first
    block on each worker also pays for warming that process up (tens of milliseconds), which
    would otherwise make a cheap objective look expensive.

    Examples
    --------
    >>> cost = EvaluationCost()
    >>> cost.n_blocks(5, slots=2), cost.n_blocks(100, slots=2)  # nothing measured yet
    (4, 4)
    >>> cost.observe(n_points=5, seconds=0.04)        # a cold worker: 8 ms a point
    >>> cost.observe(n_points=50, seconds=0.0005)     # 10 microseconds a point
    >>> cost.n_blocks(5, slots=2)  # 50 microseconds of work: one task
    1
    >>> cost.n_blocks(5000, slots=2)  # 0.05 s of work: 5 blocks of 0.01 s, at most 4
    4
    >>> cost.n_blocks(1500, slots=8)  # 0.015 s of work: one block of 0.01 s and a half
    1
    """

    #: Blocks whose cost is remembered.
    RECENT = 8

    def __init__(self) -> None:
        self._recent: collections.deque[float] = collections.deque(maxlen=self.RECENT)

    @property
    def per_point(self) -> float | None:
        """Seconds per evaluation measured on the workers; None before any."""
        return min(self._recent) if self._recent else None

    def observe(self, n_points: int, seconds: float) -> None:
        """Note a block of ``n_points`` evaluations that took ``seconds`` on a worker."""
        if n_points > 0:
            self._recent.append(seconds / n_points)

    def n_blocks(self, n_points: int, slots: int) -> int:
        """Blocks to cut ``n_points`` evaluations into for ``slots`` worker threads."""
        most = max(1, min(n_points, 2 * slots))
        cost = self.per_point
        if cost is None:
            return most
        return max(1, min(most, math.floor(n_points * cost / MIN_BLOCK_SECONDS)))
