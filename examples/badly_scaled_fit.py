"""Fit a decay whose two parameters differ a thousand-fold, in raw units and rescaled.

y(t) = A exp(-k t) with A ~ 3 and k ~ 0.004 per second, measured for 1000 s. The bounds
(A in [0, 12], k in [0, 0.01]) are 1200x apart in width. The engine compares minima in
unit-box coordinates anyway, but the local solver's steps, finite-difference gradients and
tolerances act in raw units, so each solve takes more evaluations. ``diagnose`` flags the
scaling; solving for u in [0, 1]^2 with (A, k) = low + u * (high - low) gives the same fit
for fewer evaluations.

Run: python examples/badly_scaled_fit.py
"""

from __future__ import annotations

import numpy as np

import engine
from engine.diagnostics import diagnose

TRUE_A, TRUE_K = 3.0, 0.004
BOUNDS = [(0.0, 12.0), (0.0, 0.01)]


def data(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """60 noisy samples of the decay over 1000 s."""
    t = np.linspace(0.0, 1000.0, 60)
    noise = np.random.default_rng(seed).normal(0.0, 0.02, t.size)
    return t, TRUE_A * np.exp(-TRUE_K * t) + noise


def sse(p: np.ndarray, t: np.ndarray, y: np.ndarray) -> float:
    """Sum of squared residuals of the model A exp(-k t), p = (A, k)."""
    return float(np.sum((p[0] * np.exp(-p[1] * t) - y) ** 2))


def sse_unit(u: np.ndarray, t: np.ndarray, y: np.ndarray) -> float:
    """The same fit over the unit square: (A, k) = low + u * (high - low)."""
    low, high = np.array(BOUNDS).T
    return sse(low + u * (high - low), t, y)


def main() -> None:
    t, y = data()
    raw = engine.minimize(sse, BOUNDS, args=(t, y), n_starts=32, seed=0, client="serial")
    print(f"raw units: {raw.n_failed} of {raw.n_starts} runs failed, {raw.nfev} evaluations, "
          f"A = {raw.x[0]:.5f}, k = {raw.x[1]:.7f}")
    print(diagnose(raw, fun=sse, args=(t, y)))
    print()
    unit = engine.minimize(sse_unit, [(0.0, 1.0), (0.0, 1.0)], args=(t, y), n_starts=32,
                           seed=0, client="serial")
    low, high = np.array(BOUNDS).T
    a, k = low + unit.x * (high - low)
    print(f"rescaled: {unit.n_failed} of {unit.n_starts} runs failed, {unit.nfev} evaluations, "
          f"A = {a:.5f}, k = {k:.7f}")
    print(f"true values: A = {TRUE_A}, k = {TRUE_K}")


if __name__ == "__main__":
    main()
