"""Chunk sizing: tasks long enough to amortize scheduling, short enough to end together."""

from __future__ import annotations

import math

import pytest

from engine.parallel.chunking import END_BURST, MAX_TASKS_PER_SECOND, ChunkSizer


def plan(per_start: float, total: int, slots: int = 2, target: float = 0.2,
         min_seconds: float = 0.025) -> list[int]:
    """The chunk sizes a run of ``total`` starts costing ``per_start`` seconds each gets."""
    sizer = ChunkSizer(slots, target, min_seconds=min_seconds)
    sizes, remaining = [], total
    while remaining:
        size = sizer.next_size(remaining)
        sizes.append(size)
        sizer.observe(size, size * per_start)
        remaining -= size
    return sizes


def test_first_task_measures_one_start():
    assert plan(0.001, 100)[0] == 1


@pytest.mark.parametrize("per_start", [1e-4, 1e-3, 1e-2, 0.1])
def test_tasks_amortize_scheduling_and_cover_every_start(per_start):
    sizes = plan(per_start, 20000)
    assert sum(sizes) == 20000
    # Every task after the first carries at least min_seconds of work (or a whole start when
    # one start is longer than that), but the last round: what is left then (under a
    # floor's worth per slot) goes in equal chunks, one per slot, the last one the rest.
    final = sizes[-2:]
    assert final[1] <= final[0] and sum(final) <= 2 * max(1, math.ceil(0.025 / per_start))
    for size in sizes[1:-2]:
        assert size * per_start >= 0.0249 or size == 1000
    # None is longer than the target (a worker is never stuck with a long task at the end).
    assert max(sizes) * per_start <= 0.2 + per_start


def test_tail_shrinks_so_workers_finish_together():
    sizes = plan(0.01, 2000)  # 20 s of work on 2 slots; full chunks are 0.2 s
    assert max(sizes) == 20
    # The last tasks are short: a worker waits at most about one short task for the other.
    assert all(size * 0.01 <= 0.05 for size in sizes[-4:])
    # and the tail does not explode into single-start tasks: the only one is the first task
    # (which measures); the tail stops at min_seconds of work (2 slots at 100 tasks a second
    # ask for 0.02 s, less), 0.025 s = 3 starts, then what is left (at most 6) is shared
    # between the two slots.
    assert sizes.count(1) == 1 and sizes[0] == 1
    floor = math.ceil(0.025 / 0.01 - 1e-9)  # 3 starts
    assert floor <= min(sizes[1:-2]) <= floor + 1
    assert sizes[-1] <= sizes[-2] <= floor + 1 and sum(sizes[-2:]) <= 2 * (floor + 1)


def test_many_slots_spread_the_tail():
    sizes = plan(0.001, 800, slots=16)
    assert sum(sizes) == 800
    assert max(sizes[1:]) <= 800 // 32 + 25


@pytest.mark.parametrize("slots", [2, 16, 100, 400])
def test_many_workers_do_not_flood_the_scheduler(slots):
    """However many worker threads, the full tasks of a long run together come at most 100 a
    second (each costs the driver's process 2-3 ms of CPU)."""
    per_start = 0.01
    total = 8 * slots * round(max(0.2, slots / 100) / per_start)  # long enough for full tasks
    sizes = plan(per_start, total, slots=slots)
    assert sum(sizes) == total
    full = max(sizes) * per_start  # seconds of a full task
    assert slots / full <= 100 * 1.01
    if slots <= 10:
        assert full == pytest.approx(0.2, rel=0.01)  # small clusters keep the 0.2 s target


def test_the_end_of_a_run_on_many_slots_sends_shorter_tasks():
    """On 256 slots the sustained rate gives 2.56 s tasks; the last waves shrink to a quarter
    of that (END_BURST), so that the slots finish within a short task of each other, and no
    further."""
    per_start, slots = 0.2, 256
    sizes = plan(per_start, 20000, slots=slots, target=1.0)
    assert sum(sizes) == 20000
    full = max(sizes) * per_start
    assert full == pytest.approx(slots / MAX_TASKS_PER_SECOND, abs=per_start)
    short = slots / (END_BURST * MAX_TASKS_PER_SECOND)  # 0.64 s
    tail = sizes[-slots:]
    assert max(tail) * per_start <= short + per_start < full / 2
    assert min(sizes[1:-slots]) * per_start >= short - 1e-9  # no task below it before then


def test_a_zero_target_still_gives_chunks():
    sizer = ChunkSizer(2, target_seconds=0.0)
    sizer.observe(4, 0.004)
    # The scheduler's rate limit sets the task length instead, 2 slots / 100 tasks a second
    # = 0.02 s, and no task carries less than min_seconds (0.025 s): at 1 ms a start, 25
    # starts (below both the tail share 1000 // 4 and the cap).
    assert sizer.next_size(remaining=1000) == 25


def test_one_instant_start_cannot_make_huge_tasks_on_a_big_cluster():
    sizer = ChunkSizer(200, target_seconds=0.2)
    sizer.observe(1, 1e-7)  # a start that failed at once
    assert sizer.next_size(remaining=None) == 1000  # the plain cap, not 200 / 100 times it
    sizer.observe(199, 199 * 1e-3)  # a start per slot measured: now the cap may grow
    assert sizer.next_size(remaining=None) > 1000


def test_no_task_is_sized_past_the_time_limit():
    """Tasks in flight when ``max_time`` runs out are cancelled with their work: a task is
    never longer than a quarter of the time left (one queued behind a running task, sent
    when more time was left, ends later than its own length)."""
    sizer = ChunkSizer(2, target_seconds=1.0, timeout=0.4)
    sizer.observe(10, 0.01)  # 1 ms a start: a full task would be 1000 starts
    assert 50 <= sizer.next_size(remaining=None) <= 100
    assert sizer.next_size(remaining=None) * 1e-3 <= 0.1 + 1e-3
    unlimited = ChunkSizer(2, target_seconds=1.0)
    unlimited.observe(10, 0.01)
    assert unlimited.next_size(remaining=None) == 1000


def test_an_expired_limit_still_gives_one_start():
    sizer = ChunkSizer(2, target_seconds=1.0, timeout=0.0)
    sizer.observe(10, 0.01)
    assert sizer.next_size(remaining=100) == 1


def test_executors_send_tasks_of_about_a_second():
    """Each task costs the machine about 15 ms of CPU besides its starts (worker, driver and
    scheduler together, measured on 2 cores): 0.2 s tasks lost 7% of a 2-core machine."""
    import inspect

    from engine.parallel.dask_executor import DaskExecutor
    from engine.parallel.futures import FuturesExecutor

    for executor in (DaskExecutor, FuturesExecutor):
        default = inspect.signature(executor).parameters["target_task_seconds"].default
        assert default == 1.0
