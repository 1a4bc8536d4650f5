"""Objectives for the fault tests: Himmelblau made slow, hungry, deadly or stuck on purpose.

Each misbehaves only near one point, ``TRAP`` (the first start of the tests that use them),
so a run shows whether exactly that start, and no other, is lost.
"""

import os
import signal
import time

import numpy as np

TRAP = (0.1, 0.1)


def himmelblau(x: np.ndarray) -> float:
    """Four minima of value 0 in [-5, 5]^2, among them (3, 2)."""
    return float((x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2)


def at_trap(x: np.ndarray) -> bool:
    """Whether ``x`` is (within finite-difference steps of) the start at ``TRAP``."""
    return abs(x[0] - TRAP[0]) < 1e-3 and abs(x[1] - TRAP[1]) < 1e-3


def logged_himmelblau(x: np.ndarray, log: str) -> float:
    """Himmelblau; each call appends a line to the file ``log`` (calls of every process)."""
    with open(log, "a") as handle:
        handle.write(f"{os.getpid()}\n")
    return himmelblau(x)


def slow_himmelblau(x: np.ndarray) -> float:
    """Himmelblau with a 0.5 ms pause per evaluation (about 20 ms per local solve)."""
    time.sleep(0.0005)
    return himmelblau(x)


def memory_hog_himmelblau(x: np.ndarray) -> float:
    """Himmelblau, except at ``TRAP``, where it takes 100 MB more every 20 ms, up to 3 GB.

    A worker with a memory limit is killed by its nanny long before the end.
    """
    if at_trap(x):
        blocks = []
        for _ in range(30):
            blocks.append(np.ones(12_500_000))  # 100 MB, written so it is really resident
            time.sleep(0.02)
        return float(sum(b[0] for b in blocks))
    return himmelblau(x)


def deadly_himmelblau(x: np.ndarray) -> float:
    """Himmelblau, except at ``TRAP``, where it kills its own process (SIGKILL)."""
    if at_trap(x):
        os.kill(os.getpid(), signal.SIGKILL)
    return slow_himmelblau(x)


def sleepy_himmelblau(x: np.ndarray) -> float:
    """Himmelblau, except at ``TRAP``, where one call sleeps for 60 s (a hung objective)."""
    if at_trap(x):
        time.sleep(60)
    return himmelblau(x)


def spinning_himmelblau(x: np.ndarray) -> float:
    """Himmelblau, except at ``TRAP``, where the call never returns (spins in Python code)."""
    if at_trap(x):
        while True:
            pass
    return himmelblau(x)


def faulty(kind: str):
    """``(fun, jac)``: Himmelblau and its gradient, misbehaving at ``TRAP`` as ``kind`` says.

    Kinds: ``raises``, ``nan``, ``inf``, ``none``, ``vector`` (a non-scalar value),
    ``gradient`` (a gradient of the wrong shape), ``spins`` (a call that never returns).
    """

    def fun(x: np.ndarray):
        if at_trap(x):
            if kind == "raises":
                raise ZeroDivisionError("division by zero near the trap")
            if kind == "spins":
                while True:
                    pass
            bad = {"nan": float("nan"), "inf": float("inf"), "none": None,
                   "vector": np.ones(3)}
            if kind in bad:
                return bad[kind]
        return himmelblau(x)

    def jac(x: np.ndarray) -> np.ndarray:
        if kind == "gradient" and at_trap(x):
            return np.zeros(3)
        return np.array([4 * x[0] * (x[0] ** 2 + x[1] - 11) + 2 * (x[0] + x[1] ** 2 - 7),
                         2 * (x[0] ** 2 + x[1] - 11) + 4 * x[1] * (x[0] + x[1] ** 2 - 7)])

    return fun, jac


def gil_holding_himmelblau(x: np.ndarray) -> float:
    """Himmelblau, except at ``TRAP``, where one call runs in C without ever releasing the
    interpreter lock (its worker's event loop cannot answer either)."""
    if at_trap(x):
        return float(sum(range(10**13)))
    return himmelblau(x)
