"""How many starts go into one task: sized from measured task times."""

from __future__ import annotations

import math
import time

import numpy as np

#: Work below which a task is not cut, even at the end of a run (seconds).
MIN_TASK_SECONDS = 0.025

#: Tasks per second the scheduler is asked to handle at most, whatever the number of workers:
#: each costs the driver's process (scheduler, client, the engine's bookkeeping) about 2-3 ms
#: of CPU (measured by scripts/bench-scale: 0.1-0.25 of a core at 50-70 tasks a second), so
#: 100 a second keep one driver core at most about a third busy, and on 256 slots give
#: 2.6 s tasks, short enough that the end of a 15 s run is not one long task (50 a second
#: gave 5 s tasks: 0.84 of the ideal time instead of 0.89).
MAX_TASKS_PER_SECOND = 100.0


#: The most of the time left before a run's limit that one task may take. A task queued behind
#: a running one, sent when more time was left, ends later than its own length. Measured with
#: 0.1 s starts on 2 workers and 1 s tasks: a quarter kept 97-98% of the slots' time in solves
#: that ended in time for limits of 4 and 10 s, half kept 85% at 4 s (tasks of 0.2 s, 97-98%).
DEADLINE_SHARE = 0.25

#: How much faster than :data:`MAX_TASKS_PER_SECOND` the end of a run may send tasks. The
#: shrinking chunks of the last two waves (about two task lengths of work per slot) are what
#: lets every slot finish together; floored at the sustained rate, the chunks of 256 slots
#: could not shrink at all and the last ones ended up to a whole task apart. Measured on 256
#: slots x 20,000 starts of 0.2 s, alternating on one warm cluster (6 rounds): 0.859 of the
#: ideal time at 1x, 0.892 at 4x (every round better); 8x gave 0.860 and 16x 0.812 (the
#: driver's CPU per task then costs more than the tail saves). Below about 10 slots
#: ``min_seconds`` is the floor and nothing changes.
END_BURST = 4.0


class ChunkSizer:
    """Picks how many starts go into the next task.

    Each task should run for about ``target_seconds`` so that what every task costs besides
    its starts stays small: measured on a 2-core machine with 2 worker processes, about 7 ms of
    CPU in the worker's process (receiving it, reporting it, its result), 4 ms in the driver's
    and 4 ms in the scheduler's. On a small machine all of it is taken from the workers: 0.2 s
    tasks lost 7% of the machine to it, 1 s tasks 1.5% (the executors' defaults are 1 s).
    With many worker threads tasks grow further, so that all of them together send the
    scheduler no more than ``max_tasks_per_second``. Near the end of the run chunks shrink so
    that every worker still has work and none finishes long after the others. They shrink no
    further than ``min_seconds`` of work, nor than all slots together can send at
    :data:`END_BURST` times ``max_tasks_per_second``: below that a task costs more to
    schedule than a worker can lose waiting for the last one (on hundreds of slots, halving
    the chunks all the way down would send thousands of one-start tasks, more than the driver
    settles in a second). What is left then goes in one round of equal chunks, one per slot.
    With ``timeout`` (the run's time limit, in seconds from now) no task is sized to take more
    than :data:`DEADLINE_SHARE` of the time left: the tasks in flight at the limit are
    cancelled, and their work with them.

    Examples
    --------
    >>> sizer = ChunkSizer(n_slots=2, target_seconds=0.05)
    >>> sizer.next_size(remaining=1000)
    1
    >>> sizer.observe(n_starts=10, seconds=0.01)   # 1 ms per start
    >>> sizer.next_size(remaining=1000)
    50
    >>> sizer.next_size(remaining=40)  # the end: 40 starts left, 20 for each slot
    20
    >>> sizer.next_size(remaining=3)
    3
    >>> ChunkSizer(n_slots=200, target_seconds=0.2).target_for_slots()  # 200 / 100 a second
    2.0
    >>> late = ChunkSizer(n_slots=2, target_seconds=1.0, timeout=0.2)
    >>> late.observe(n_starts=10, seconds=0.01)
    >>> late.next_size(remaining=None) <= 50  # 0.05 s of the 0.2 s left, not 1 s
    True
    """

    def __init__(self, n_slots: int, target_seconds: float = 0.05, max_size: int = 1000,
                 min_seconds: float = MIN_TASK_SECONDS,
                 max_tasks_per_second: float = MAX_TASKS_PER_SECOND,
                 timeout: float | None = None):
        self.n_slots = max(1, n_slots)
        # A run's time limit: tasks cancelled at it lose their work, so none is sized to
        # run past it.
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.target_seconds = target_seconds
        self.max_tasks_per_second = max_tasks_per_second
        self.min_seconds = min_seconds
        self.max_size = max_size
        self._starts = 0
        self._seconds = 0.0
        self._last_share: int | None = None  # the chunk size of the run's last round

    def observe(self, n_starts: int, seconds: float) -> None:
        self._starts += n_starts
        self._seconds += seconds

    def target_for_slots(self) -> float:
        """Seconds a full task should take with ``n_slots`` worker threads busy."""
        return max(self.target_seconds, self.n_slots / self.max_tasks_per_second)

    def next_size(self, remaining: int | None) -> int:
        if self._starts == 0:
            return 1  # measure before batching
        per_start = max(self._seconds / self._starts, 1e-6)
        size = int(self.target_for_slots() / per_start)
        if remaining is not None:
            # Leave about two chunks per slot for the tail so workers finish together...
            size = min(size, remaining // (2 * self.n_slots))
            # ...but never chunks so small that scheduling them costs more than it saves:
            # under min_seconds of work, or so short that all slots together would send the
            # scheduler more than END_BURST x max_tasks_per_second for these last waves (on
            # hundreds of slots, halving the chunks towards the end would otherwise send
            # thousands of one-start tasks, and the driver can settle only so many a
            # second). The last starts are spread over every slot.
            floor = math.ceil(max(self.min_seconds,
                                  self.n_slots / (END_BURST * self.max_tasks_per_second))
                              / per_start)
            if remaining <= self.n_slots * floor:
                # The end: what is left goes in equal chunks, one per slot, so that every
                # slot finishes within one short chunk of the others.
                if self._last_share is None:
                    self._last_share = math.ceil(remaining / self.n_slots)
                return max(1, min(self._last_share, remaining))
            size = max(size, floor)
        if self.deadline is not None:
            size = min(size, int(DEADLINE_SHARE * (self.deadline - time.monotonic())
                                 / per_start))
        # The cap guards against a first start that failed at once (a per-start time far too
        # small); it grows with the target so that it never undoes the tasks-per-second limit,
        # but only once a start per slot has been measured.
        growth = 1.0
        if self.target_seconds > 0 and self._starts >= self.n_slots:
            growth = self.target_for_slots() / self.target_seconds
        cap = self.max_size * max(1.0, growth)
        return int(np.clip(size, 1, cap))
