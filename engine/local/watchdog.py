"""A time limit on one local solve that also ends an objective call which never returns."""

from __future__ import annotations

import ctypes
import threading

# threading.Timer overflows the platform's time_t past about 1e8 s; a limit that long is none.
_LONGEST_TIMER = 1e7


class HardTimeout(BaseException):
    """Raised asynchronously in a solving thread whose objective call overran start_timeout.

    A BaseException, so that an objective's own ``except Exception`` cannot swallow it.
    """


class Watchdog:
    """Interrupts the calling thread if a solve runs past its time limit inside one call.

    The objective wrapper checks the limit before every call; this covers the call that never
    returns while running Python code (a loop that spins). The exception is delivered at the
    thread's next Python instruction, so a call blocked inside C code ends when it returns.

    Examples
    --------
    >>> import time
    >>> try:
    ...     with Watchdog(0.05):
    ...         while True:
    ...             time.sleep(0.001)
    ... except HardTimeout:
    ...     print("interrupted")
    interrupted
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._timer: threading.Timer | None = None
        self._thread_id = threading.get_ident()
        self.fired = False

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._thread_id), ctypes.py_object(HardTimeout))

    def __enter__(self) -> Watchdog:
        if self.seconds is None or self.seconds >= _LONGEST_TIMER:
            return self  # nothing to watch: no thread, no lock
        self._lock = threading.Lock()
        self._done = False
        # A little slack past the soft limit, which the wrapper enforces between calls.
        self._timer = threading.Timer(self.seconds * 1.5 + 0.05, self._fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is None:
            return
        with self._lock:
            self._done = True
            self._timer.cancel()
            if self.fired:
                # Fired while the solve was ending: withdraw the pending interrupt so it cannot
                # surface later in unrelated code, and report the timeout here instead.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread_id), None)
                if exc[0] is None:
                    raise HardTimeout
