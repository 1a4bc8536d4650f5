"""A noisy objective: finite-difference gradients fail, Nelder-Mead and Powell do not.

Himmelblau's function plus Gaussian noise of 0.001 per call. L-BFGS-B estimates gradients
from differences over steps of 1e-8, which the noise swamps: its runs stop anywhere, and some
fail in the line search. Powell's line searches and the Nelder-Mead simplex take steps large
enough to see through the noise; with ``tol`` and the dedup ``ftol`` set to ten times the
noise they find the four true minima (f = 0 up to the noise).

The engine sizes Nelder-Mead's first simplex by the bounds (5% of each width). scipy's own
default steps 5% of each start coordinate, so a start next to the origin would get a simplex
far smaller than the noise and "converge" where it began; the script shows that with plain
``scipy.optimize.minimize`` from one such start.

Run: python examples/noisy_objective.py
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

import engine
from engine.analysis.compare import compare_methods

BOUNDS = [(-5.0, 5.0), (-5.0, 5.0)]
NOISE = 1e-3


class NoisyHimmelblau:
    """Himmelblau's function plus N(0, sigma^2) noise, freshly drawn at every call."""

    def __init__(self, sigma: float = NOISE, seed: int = 0) -> None:
        self.sigma = sigma
        self.rng = np.random.default_rng(seed)

    def __call__(self, x: np.ndarray) -> float:
        clean = (x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2
        return float(clean + self.sigma * self.rng.standard_normal())


def main() -> None:
    table = compare_methods(NoisyHimmelblau(), BOUNDS,
                            methods=("L-BFGS-B", "Nelder-Mead", "Powell"), n_starts=32,
                            seed=0, tol=10 * NOISE, dedup={"xtol": 0.01, "ftol": 10 * NOISE})
    print(table)
    print()
    print("Powell's minima:")
    print(table.results["Powell"].summary())
    print()
    lbfgsb = engine.diagnose(table.results["L-BFGS-B"]).find("line_search")
    if lbfgsb:
        print(f"L-BFGS-B: {lbfgsb[0].message}")
    nelder = table.results["Nelder-Mead"]
    print(f"Nelder-Mead: {len(nelder.minima)} minima, every start converged: "
          f"{nelder.n_failed == 0}")
    near_origin = np.array([0.002, -0.001])
    plain = minimize(NoisyHimmelblau(), near_origin, method="Nelder-Mead", tol=10 * NOISE)
    moved = float(np.max(np.abs(plain.x - near_origin)))
    print(f"plain scipy Nelder-Mead from {near_origin.tolist()}: stopped {moved:.1e} from its "
          f"start at f = {plain.fun:.4g} ({plain.nit} iterations): its default first simplex "
          f"is too small to see past the noise")


if __name__ == "__main__":
    main()
