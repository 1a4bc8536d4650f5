"""Models and residuals named by configs/fit.yaml and configs/fit-residuals.yaml."""

from __future__ import annotations

import numpy as np

#: The two-exponential decay sampled by :func:`decay_residuals`.
DECAY_T = np.linspace(0.0, 5.0, 40)
DECAY_Y = 2.0 * np.exp(-0.5 * DECAY_T) + 1.0 * np.exp(-3.0 * DECAY_T)


def gaussian_peaks(x: np.ndarray, *p: float) -> np.ndarray:
    """Sum of Gaussian peaks; ``p`` holds (centre, amplitude, width) per peak."""
    peaks = np.asarray(p, dtype=float).reshape(-1, 3)
    centre, amp, width = peaks[:, :1], peaks[:, 1:2], peaks[:, 2:3]
    return np.sum(amp * np.exp(-0.5 * ((x - centre) / width) ** 2), axis=0)


def decay_residuals(p: np.ndarray) -> np.ndarray:
    """Residuals of ``a exp(-k t) + b exp(-q t)`` against an exact two-exponential decay."""
    model = p[0] * np.exp(-p[1] * DECAY_T) + p[2] * np.exp(-p[3] * DECAY_T)
    return model - DECAY_Y


def write_spectrum(path: str, seed: int = 7) -> None:
    """Write the spectrum of configs/fit.yaml: three peaks, noise of sigma 0.02."""
    x = np.linspace(0.0, 10.0, 150)
    true = [2.5, 1.0, 0.4, 5.0, 0.7, 0.6, 7.5, 1.2, 0.5]
    sigma = np.full(x.size, 0.02)
    y = gaussian_peaks(x, *true) + np.random.default_rng(seed).normal(0.0, 0.02, x.size)
    np.savetxt(path, np.column_stack([x, y, sigma]), delimiter=",", header="x,y,sigma",
               comments="", fmt="%.6f")


if __name__ == "__main__":
    write_spectrum("examples/spectrum.csv")
