"""Objectives for the fault tests: Himmelblau made slow enough to be interrupted."""

import time

import numpy as np


def slow_himmelblau(x: np.ndarray) -> float:
    """Himmelblau with a 0.5 ms pause per evaluation (about 20 ms per local solve)."""
    time.sleep(0.0005)
    return float((x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2)


def memory_hog_himmelblau(x: np.ndarray) -> float:
    """Himmelblau, except near (0, 0), where it grabs about 1.5 GB and holds it."""
    if abs(x[0]) < 0.5 and abs(x[1]) < 0.5:
        block = np.ones(200_000_000)  # 1.6 GB: beyond the test workers' memory limit
        time.sleep(5)
        return float(block[0])
    return float((x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2)
