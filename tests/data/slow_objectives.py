"""Objectives for the fault tests: Himmelblau made slow enough to be interrupted."""

import time

import numpy as np


def slow_himmelblau(x: np.ndarray) -> float:
    """Himmelblau with a 0.5 ms pause per evaluation (about 20 ms per local solve)."""
    time.sleep(0.0005)
    return float((x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2)
