"""Himmelblau's function inside a disk: constrained minima on the boundary, with SLSQP.

All four minima of Himmelblau's function lie outside the disk x0^2 + x1^2 <= 9, so the
constrained problem has its minima on the circle, and there are three of them. One SLSQP
solve finds whichever is downhill from its start; the multistart run finds all three and
ranks them. Constraints are passed as in ``scipy.optimize.minimize``.

Run: python examples/constrained.py
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

import engine

BOUNDS = [(-5.0, 5.0), (-5.0, 5.0)]
RADIUS = 3.0
# scipy's form: an 'ineq' constraint means fun(x) >= 0.
IN_DISK = {"type": "ineq", "fun": lambda x: RADIUS**2 - x @ x, "jac": lambda x: -2.0 * x}


def himmelblau(x: np.ndarray) -> float:
    """Himmelblau's function: four minima with f = 0, all outside the disk of radius 3."""
    return float((x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2)


def main() -> None:
    single = minimize(himmelblau, np.array([-1.0, -1.0]), method="SLSQP", bounds=BOUNDS,
                      constraints=IN_DISK)
    print(f"one SLSQP solve from (-1, -1): f = {single.fun:.6f} at "
          f"x = {np.round(single.x, 5).tolist()}")
    res = engine.minimize(himmelblau, BOUNDS, method="SLSQP", constraints=IN_DISK,
                          n_starts=32, seed=0, client="serial")
    print(f"multistart SLSQP: best f = {res.fun:.6f} at x = {np.round(res.x, 5).tolist()}")
    print()
    print(res.summary())
    print()
    for rank, m in enumerate(res.minima, start=1):
        print(f"minimum {rank}: |x| = {np.linalg.norm(m.x):.6f} (on the circle of radius "
              f"{RADIUS:g})")


if __name__ == "__main__":
    main()
