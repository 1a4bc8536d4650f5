"""Fit three Gaussian peaks to a noisy spectrum: a landscape full of local minima.

The model has 9 parameters (amplitude, centre, width of each peak). A local fit from a poor
guess covers the data with one wide peak and stops in a local minimum with a large residual.
``engine.curve_fit`` runs scipy's least-squares solver (trust region reflective) from many
starts, polishes the best fits to tight tolerances and reports the covariance and standard
errors of the best, as ``scipy.optimize.curve_fit`` would. The same three peaks can be listed
in 3! = 6 orders, all equally good: with ``symmetries`` the peaks are interchangeable
groups and every order is reported as one minimum (the general scalar route,
``engine.minimize`` on the sum of squares, reports six).

Run: python examples/curve_fit_multipeak.py
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import curve_fit as scipy_curve_fit

import engine

# amplitude, centre, width of each peak
TRUE = np.array([1.0, 2.5, 0.4, 0.7, 5.0, 0.6, 1.2, 7.5, 0.5])
BOUNDS = [(0.1, 2.0), (0.0, 10.0), (0.1, 1.5)] * 3
PEAKS = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]  # interchangeable parameter groups
SIGMA = 0.02


def model(x: np.ndarray, *p: float) -> np.ndarray:
    """Sum of Gaussians; p holds (amplitude, centre, width) per peak."""
    peaks = np.asarray(p, dtype=float).reshape(-1, 3)
    amp, centre, width = peaks[:, :1], peaks[:, 1:2], peaks[:, 2:3]
    return np.sum(amp * np.exp(-0.5 * ((x - centre) / width) ** 2), axis=0)


def data(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """200 samples of the true curve with N(0, SIGMA^2) noise."""
    x = np.linspace(0.0, 10.0, 200)
    return x, model(x, *TRUE) + np.random.default_rng(seed).normal(0.0, SIGMA, x.size)


def sse(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Sum of squared residuals."""
    return float(np.sum((model(x, *p) - y) ** 2))


def by_centre(p: np.ndarray) -> np.ndarray:
    """Order of the peaks of p by centre."""
    return np.argsort(np.asarray(p, dtype=float).reshape(-1, 3)[:, 1])


def main() -> None:
    x, y = data()
    guess = [1.0, 8.5, 1.0, 1.0, 9.0, 1.0, 1.0, 9.5, 1.0]  # every peak on the right
    lower, upper = np.array(BOUNDS).T
    single, _ = scipy_curve_fit(model, x, y, p0=guess, bounds=(lower, upper))
    print(f"one local fit from a poor guess: SSE = {sse(single, x, y):.4f}")
    scalar = engine.minimize(sse, BOUNDS, args=(x, y), n_starts=64, seed=0, client="serial",
                             method="L-BFGS-B")
    same = sum(abs(m.fun - scalar.fun) <= 1e-6 * max(1.0, abs(scalar.fun))
               for m in scalar.minima)
    print(f"minimize on the SSE: SSE = {scalar.fun:.6f}; {same} minima reach it (the same "
          "peaks in different orders)")
    fit = engine.curve_fit(model, x, y, bounds=BOUNDS, sigma=np.full(x.size, SIGMA),
                           absolute_sigma=True, symmetries=PEAKS, n_starts=64, seed=0,
                           client="serial")
    best = fit.minima[0]
    print(f"curve_fit: SSE = {sse(fit.popt, x, y):.6f} (noise alone gives about "
          f"{x.size * SIGMA**2:.2f}); {len(fit.minima)} distinct minima, "
          f"{fit.result.nfev} evaluations")
    print(f"best minimum: reached by {best.n_hits} runs; {best.note}")
    print(f"identifiability: {fit.identifiability.describe()}")
    print("fitted peaks by centre: amplitude, centre, width (standard error)")
    values, errors = fit.popt.reshape(-1, 3), fit.perr.reshape(-1, 3)
    for k in by_centre(fit.popt):
        cells = ", ".join(f"{v:.4f} ({e:.4f})" for v, e in zip(values[k], errors[k],
                                                                 strict=True))
        print(f"  peak {cells}")


if __name__ == "__main__":
    main()
