"""Fit a decay whose two parameters differ a thousand-fold: the engine's unit-box solves.

y(t) = A exp(-k t) with A ~ 3 and k ~ 0.004 per second, measured for 1000 s. The bounds
(A in [0, 12], k in [0, 0.01]) are 1200x apart in width. Solved in these raw units
(``local={"scale": False}``), the local solver's steps, finite-difference gradients and
tolerances are the same size for A and for k, so each solve crawls along k; ``diagnose`` flags
the scaling. With ``local={"scale": True}`` (the default for bounds this far apart) every solve
runs in the unit box (A, k) = low + u * (high - low) and reaches the same fit for far fewer
evaluations.

Run: python examples/badly_scaled_fit.py
"""

from __future__ import annotations

import numpy as np

import engine

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


def fit(scale: bool, t: np.ndarray, y: np.ndarray) -> engine.MultistartResult:
    """32 L-BFGS-B starts, solved in raw units or in the unit box."""
    return engine.minimize(sse, BOUNDS, args=(t, y), n_starts=32, seed=0, client="serial",
                           method="L-BFGS-B", local={"scale": scale})


def report(label: str, res: engine.MultistartResult) -> None:
    print(f"{label}: {res.n_failed} of {res.n_starts} runs failed, {res.nfev} evaluations, "
          f"A = {res.x[0]:.5f}, k = {res.x[1]:.7f}")


def main() -> None:
    t, y = data()
    raw = fit(False, t, y)
    report("raw units", raw)
    print(engine.diagnose(raw, fun=sse, args=(t, y)))
    print()
    unit = fit(True, t, y)
    report("unit box", unit)
    print(engine.diagnose(unit).find("badly_scaled")[0].message)
    print(f"true values: A = {TRUE_A}, k = {TRUE_K}")


if __name__ == "__main__":
    main()
