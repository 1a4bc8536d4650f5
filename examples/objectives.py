"""Objective functions used by the example configs (referenced as 'examples/objectives.py:NAME').

Each is a plain function of a 1-D numpy array, as scipy.optimize.minimize expects.
"""

from __future__ import annotations

import numpy as np


def himmelblau(x: np.ndarray) -> float:
    """Himmelblau's function: four minima with f = 0 in [-5, 5]^2."""
    return float((x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2)


def six_hump_camel(x: np.ndarray) -> float:
    """Six-hump camel back: six local minima, two global ones at f = -1.0316."""
    a, b = x[0], x[1]
    return float((4 - 2.1 * a**2 + a**4 / 3) * a**2 + a * b + (-4 + 4 * b**2) * b**2)


def wavy_bowl(x: np.ndarray) -> float:
    """A 1-D landscape with several local maxima: sin(3x) - 0.1 x^2 on [-5, 5]."""
    return float(np.sin(3.0 * x[0]) - 0.1 * x[0] ** 2)
