"""Starts stuck inside one objective call on a Dask worker, ended by restarting the worker.

``start_timeout`` is checked between objective calls, and a call spinning in Python code is
interrupted inside the solve (:mod:`engine.local.solve`). A call blocked in C code
(``time.sleep``, waiting for a subprocess, a compiled simulator) ends only when it returns,
and holds its worker thread until then: two such starts stalled a 2-worker run until
``max_time``. :class:`HangWatch` finds them: each chunk task notes the start it is solving
and since when (:func:`~engine.parallel.tasks.running_starts`), and the driver asks the
workers that hold old tasks through ``client.run``, which a worker's event loop answers while
the task's thread is blocked. A start past :func:`hang_limit` has its task cancelled and its
worker restarted by the worker's nanny; the window records the start as timed out and solves
its chunk-mates again.

A call that holds the interpreter lock (a C loop that never releases it) stops the worker's
event loop too, so the worker does not answer at all. One that stays silent for the grace
period while it holds an old task is restarted the same way; which of its starts hung is not
known, so its old tasks count as lost with their worker, and the window's quarantine tries
their starts one at a time, which singles out the stuck one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from engine.parallel.tasks import running_starts
from engine.parallel.window import Hung, Lost

logger = logging.getLogger(__name__)

#: Shortest grace, in seconds, past ``start_timeout`` before a worker is restarted.
GRACE_MIN = 2.0
#: Seconds a worker gets to say what it is running (it answers in milliseconds unless a call
#: holds the interpreter lock; a busy scheduler may add a little).
ANSWER_TIMEOUT = 5.0
#: Seconds a restart may take (the nanny waits 4 s for a graceful close, then kills).
RESTART_TIMEOUT = 30.0


def grace(start_timeout: float) -> float:
    """Seconds past ``start_timeout`` before a stuck start's worker is restarted.

    At least ``start_timeout`` itself, so that the solve's own watchdog (which interrupts a
    call spinning in Python code at 1.5 x ``start_timeout``) always acts first: only calls
    that nothing else can end cost a worker restart.

    Examples
    --------
    >>> grace(1.0), grace(10.0)
    (2.0, 10.0)
    """
    return max(GRACE_MIN, float(start_timeout))


def hang_limit(start_timeout: float) -> float:
    """Seconds a start may run before its worker is restarted.

    Examples
    --------
    >>> hang_limit(1.0), hang_limit(10.0)
    (3.0, 20.0)
    """
    return float(start_timeout) + grace(start_timeout)


class HangWatch:
    """Finds tasks whose start is stuck inside one call, and restarts their workers.

    Parameters
    ----------
    client : distributed.Client
    start_timeout : float
        The run's ``start_timeout`` in seconds.

    Notes
    -----
    Only tasks submitted more than :func:`hang_limit` seconds ago are looked at, so a run
    whose tasks finish in time costs nothing; past that, the workers holding such tasks are
    asked at most every :attr:`interval` seconds. A restart runs in a thread of its own (the
    nanny takes seconds), while the window goes on with the other tasks; the run does not
    wait for it to end (a cluster closed meanwhile just stops it).
    """

    def __init__(self, client: Any, start_timeout: float) -> None:
        self.client = client
        self.start_timeout = float(start_timeout)
        self.grace = grace(start_timeout)
        self.limit = hang_limit(start_timeout)
        # Often enough to act within a fraction of the grace; not a round trip per task.
        self.interval = min(max(0.25 * self.grace, 0.5), 5.0)
        self.next_ask = 0.0
        self.silent_since: dict[str, float] = {}  # worker -> when a question went unanswered
        self.restarts: dict[str, threading.Thread] = {}

    def check(self, sent: dict[Any, tuple[float, int]]) -> list[tuple[Any, Hung | Lost]]:
        """The tasks of ``sent`` (future -> (``time.monotonic()`` when submitted, number of
        starts)) given up on, with why; their workers are being restarted. The caller
        cancels those futures."""
        now = time.monotonic()
        if now < self.next_ask:
            return []
        self.next_ask = now + self.interval
        if not any(now - at > self.limit for at, _ in sent.values()):
            return []
        holders = self._holders(sent, now)
        answers = self._ask(list(holders))
        verdicts: list[tuple[Any, Hung | Lost]] = []
        for worker, (old, n_ours) in holders.items():
            found = self._judge(worker, old, n_ours, answers.get(worker, {}), sent, now)
            if found:
                verdicts += found
                self._restart(worker)
        return verdicts

    def _holders(self, sent: dict[Any, tuple[float, int]],
                 now: float) -> dict[str, tuple[list[Any], int]]:
        """Worker -> (the old tasks the scheduler has given it, how many of the run's tasks it
        holds), for the workers holding old tasks and not restarting."""
        try:
            processing = self.client.processing()
        except Exception:  # the scheduler is busy or gone: ask again next time
            return {}
        ours = {future.key: future for future in sent}
        holders = {}
        for worker, keys in processing.items():
            restart = self.restarts.get(worker)
            if restart is not None and restart.is_alive():
                continue
            held = [ours[key] for key in keys if key in ours]
            old = [future for future in held if now - sent[future][0] > self.limit]
            if old:
                holders[worker] = (old, len(held))
        return holders

    def _ask(self, workers: list[str]) -> dict[str, dict | None]:
        """What each worker is running (``None``: it did not answer; left out: it is gone)."""
        if not workers:
            return {}
        try:
            return self._run(workers)
        except TimeoutError:
            if len(workers) == 1:
                return {workers[0]: None}
            # One of them is silent: ask each alone to learn which.
        except Exception:
            return {}
        answers: dict[str, dict | None] = {}
        for worker in workers:
            try:
                answers.update(self._run([worker]))
            except TimeoutError:
                answers[worker] = None
            except Exception:
                continue
        return answers

    def _run(self, workers: list[str]) -> dict[str, dict]:
        # ``callback_timeout`` is read by the client's ``sync`` (a silent worker would
        # otherwise block the driver until it answers).
        return self.client.run(running_starts, workers=workers, on_error="ignore",
                               callback_timeout=ANSWER_TIMEOUT)

    def _judge(self, worker: str, old: list[Any], n_ours: int, answer: dict | None,
               sent: dict[Any, tuple[float, int]], now: float) -> list[tuple[Any, Hung | Lost]]:
        """The verdicts on one worker's old tasks, from its answer."""
        if answer is None:
            return self._judge_silent(worker, old, n_ours, sent, now)
        self.silent_since.pop(worker, None)
        verdicts: list[tuple[Any, Hung | Lost]] = []
        for future in old:
            running = answer.get(future.key)
            if running is not None and running[2] > self.limit:
                position, _index, seconds = running
                reason = (f"TimeoutError: start_timeout={self.start_timeout:g} s reached "
                          f"inside a call that did not return after {seconds:.0f} s; "
                          f"{self._action(worker)}")
                verdicts.append((future, Hung(position, reason)))
        return verdicts

    def _judge_silent(self, worker: str, old: list[Any], n_ours: int,
                      sent: dict[Any, tuple[float, int]],
                      now: float) -> list[tuple[Any, Hung | Lost]]:
        """The verdicts on the old tasks of a worker that did not answer."""
        since = self.silent_since.setdefault(worker, now)
        silent = time.monotonic() - since
        if silent < self.grace:
            return []
        reason = (f"TimeoutError: start_timeout={self.start_timeout:g} s reached inside a "
                  f"call that held the interpreter lock: its worker did not answer for "
                  f"{silent:.0f} s; {self._action(worker)}")
        (first, *_) = old
        if n_ours == 1 and sent[first][1] == 1:
            # The run's only task there, of one start: that start is the stuck one.
            return [(first, Hung(0, reason))]
        return [(future, Lost(reason)) for future in old]

    def _action(self, worker: str) -> str:
        """What is done about a stuck worker, as the timed-out run says."""
        if self._has_nanny(worker):
            return "worker restarted"
        return ("the worker has no nanny to restart it: one of its threads stays busy until "
                "the call returns")

    def _has_nanny(self, worker: str) -> bool:
        try:
            info = self.client.scheduler_info(n_workers=-1)["workers"].get(worker, {})
        except Exception:
            return False
        return bool(info.get("nanny"))

    def _restart(self, worker: str) -> None:
        """Restart ``worker`` in the background, when it has a nanny to do it."""
        self.silent_since.pop(worker, None)
        if not self._has_nanny(worker):
            return
        thread = threading.Thread(target=self._restart_now, args=(worker,), daemon=True,
                                  name=f"multistart-restart-{worker}")
        self.restarts[worker] = thread
        thread.start()

    def _restart_now(self, worker: str) -> None:
        try:
            status = self.client.restart_workers([worker], timeout=RESTART_TIMEOUT,
                                                 raise_for_error=False)
        except Exception as exc:  # the cluster is closing, or the worker went on its own
            status = {worker: f"{type(exc).__name__}: {exc}"}
        # The run may have ended and its cluster be closing meanwhile: nothing to say then.
        if status.get(worker) != "OK" and self.client.status not in ("closing", "closed"):
            logger.warning("restarting worker %s after a stuck start: %s", worker,
                           status.get(worker))
