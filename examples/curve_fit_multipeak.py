"""Least-squares fit of three Gaussian peaks to noisy data: a landscape full of local minima.

The model has 9 parameters (amplitude, centre, width of each peak). A local fit from a poor
guess pushes peaks against the edges of the box, covers the data with one wide peak, and
stops in a local minimum with a large residual. Multistart L-BFGS-B over the box finds the
fit whose residual matches the noise. The best value is reached six times: the same three
peaks listed in the 3! = 6 possible orders, which the engine reports as six distinct (equally
good) minima.

Run: python examples/curve_fit_multipeak.py
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

import engine

# amplitude, centre, width of each peak
TRUE = np.array([1.0, 2.5, 0.4, 0.7, 5.0, 0.6, 1.2, 7.5, 0.5])
BOUNDS = [(0.1, 2.0), (0.0, 10.0), (0.1, 1.5)] * 3
SIGMA = 0.02


def model(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Sum of Gaussians; p holds (amplitude, centre, width) per peak."""
    peaks = np.asarray(p, dtype=float).reshape(-1, 3)
    amp, centre, width = peaks[:, :1], peaks[:, 1:2], peaks[:, 2:3]
    return np.sum(amp * np.exp(-0.5 * ((x - centre) / width) ** 2), axis=0)


def data(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """200 samples of the true curve with N(0, SIGMA^2) noise."""
    x = np.linspace(0.0, 10.0, 200)
    return x, model(TRUE, x) + np.random.default_rng(seed).normal(0.0, SIGMA, x.size)


def sse(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Sum of squared residuals."""
    return float(np.sum((model(p, x) - y) ** 2))


def by_centre(p: np.ndarray) -> np.ndarray:
    """Peaks as rows, sorted by centre (the order of peaks in p is arbitrary)."""
    peaks = np.asarray(p, dtype=float).reshape(-1, 3)
    return peaks[np.argsort(peaks[:, 1])]


def main() -> None:
    x, y = data()
    guess = np.array([1.0, 4.0, 1.0, 1.0, 5.0, 1.0, 1.0, 6.0, 1.0])
    single = minimize(sse, guess, args=(x, y), method="L-BFGS-B", bounds=BOUNDS)
    print(f"one local fit from a poor guess: SSE = {single.fun:.4f}")
    res = engine.minimize(sse, BOUNDS, args=(x, y), n_starts=128, seed=0, client="serial",
                          method="L-BFGS-B")
    print(f"multistart: SSE = {res.fun:.4f} (noise alone gives about {x.size * SIGMA**2:.2f});"
          f" {len(res.minima)} distinct minima")
    same = sum(abs(m.fun - res.fun) <= 1e-6 * max(1.0, abs(res.fun)) for m in res.minima)
    print(f"{same} minima reach the best SSE: the same peaks in different orders")
    print("fitted peaks (amplitude, centre, width), by centre:")
    for row, true in zip(by_centre(res.x), by_centre(TRUE), strict=True):
        print(f"  fit {np.round(row, 3).tolist()}   true {true.tolist()}")


if __name__ == "__main__":
    main()
