"""Maximize a wavy 1-D function: one local solve finds a local maximum, the engine the global.

f(x) = sin(3x) - 0.1 x^2 on [-5, 5] has six local maxima; the highest is near x = 0.51.
A single ``scipy.optimize.minimize`` of -f climbs the nearest hill; ``engine.minimize`` with
``maximize=True`` climbs them all and ranks the tops, highest first.

Run: python examples/maximize_1d.py
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

import engine

BOUNDS = [(-5.0, 5.0)]


def wavy(x: np.ndarray) -> float:
    """sin(3x) - 0.1 x^2: six local maxima in [-5, 5]."""
    return float(np.sin(3.0 * x[0]) - 0.1 * x[0] ** 2)


def main() -> None:
    x0 = np.array([4.0])
    single = minimize(lambda x: -wavy(x), x0, method="L-BFGS-B", bounds=BOUNDS)
    print(f"scipy.optimize.minimize(-f) from x0=4: local maximum f = {-single.fun:.6f} "
          f"at x = {single.x[0]:.6f}")

    res = engine.minimize(wavy, BOUNDS, maximize=True, n_starts=32, seed=0, client="serial",
                          method="L-BFGS-B")
    print(f"engine.minimize(maximize=True): global maximum f = {res.fun:.6f} "
          f"at x = {res.x[0]:.6f}")
    print()
    print(res.summary())


if __name__ == "__main__":
    main()
