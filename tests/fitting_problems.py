"""Published nonlinear least-squares problems with certified optima (Moré, Garbow & Hillstrom,
"Testing unconstrained optimization software", ACM TOMS 7 (1981)), shared by the fitting
tests and scripts/bench-fitting.

Each entry: residual function, the published starting point, the published optimal sum of
squares ``f*`` (to the digits printed there) and the optimal point where it is printed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Kowalik and Osborne (MGH 15): an enzyme-kinetics rational model.
KOWALIK_Y = np.array([0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323,
                      0.0235, 0.0246])
KOWALIK_U = np.array([4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625])
# Meyer (MGH 10): thermistor resistance, parameters 1e-3 .. 6e3 apart.
MEYER_Y = np.array([34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744, 8261, 7030, 6005,
                    5147, 4427, 3820, 3307, 2872.0])
MEYER_T = 45.0 + 5.0 * np.arange(1, 17)
# Bard (MGH 8): a rational model.
BARD_Y = np.array([0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34,
                   2.10, 4.39])
BARD_U = np.arange(1, 16.0)
BARD_V = 16.0 - BARD_U
BARD_W = np.minimum(BARD_U, BARD_V)
# Osborne 1 (MGH 17): two exponentials and a constant.
OSBORNE_Y = np.array([0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784,
                      0.751, 0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522,
                      0.506, 0.490, 0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420,
                      0.414, 0.411, 0.406])
OSBORNE_T = 10.0 * np.arange(33)
# Gaussian (MGH 9).
GAUSS_Y = np.array([0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989, 0.3521,
                    0.2420, 0.1295, 0.0540, 0.0175, 0.0044, 0.0009])
GAUSS_T = (8.0 - np.arange(1, 16)) / 2.0
# Box three-dimensional (MGH 12), 10 points: zero residual at (1, 10, 1).
BOX_T = 0.1 * np.arange(1, 11)
# Biggs EXP6 (MGH 18), 13 points: zero residual at (1, 10, 1, 5, 4, 3).
BIGGS_T = 0.1 * np.arange(1, 14)
BIGGS_Y = np.exp(-BIGGS_T) - 5 * np.exp(-10 * BIGGS_T) + 3 * np.exp(-4 * BIGGS_T)
# Jennrich and Sampson (MGH 6), m = 10.
JS_I = np.arange(1, 11.0)


def kowalik(x: np.ndarray) -> np.ndarray:
    u = KOWALIK_U
    return KOWALIK_Y - x[0] * (u ** 2 + u * x[1]) / (u ** 2 + u * x[2] + x[3])


def meyer(x: np.ndarray) -> np.ndarray:
    return x[0] * np.exp(x[1] / (MEYER_T + x[2])) - MEYER_Y


def bard(x: np.ndarray) -> np.ndarray:
    return BARD_Y - (x[0] + BARD_U / (x[1] * BARD_V + x[2] * BARD_W))


def osborne1(x: np.ndarray) -> np.ndarray:
    t = OSBORNE_T
    return OSBORNE_Y - (x[0] + x[1] * np.exp(-t * x[3]) + x[2] * np.exp(-t * x[4]))


def gaussian(x: np.ndarray) -> np.ndarray:
    return x[0] * np.exp(-x[1] * (GAUSS_T - x[2]) ** 2 / 2) - GAUSS_Y


def box3d(x: np.ndarray) -> np.ndarray:
    t = BOX_T
    return (np.exp(-t * x[0]) - np.exp(-t * x[1])) - x[2] * (np.exp(-t) - np.exp(-10 * t))


def biggs(x: np.ndarray) -> np.ndarray:
    t = BIGGS_T
    return (x[2] * np.exp(-t * x[0]) - x[3] * np.exp(-t * x[1]) + x[5] * np.exp(-t * x[4])
            - BIGGS_Y)


def freudenstein_roth(x: np.ndarray) -> np.ndarray:
    return np.array([-13 + x[0] + ((5 - x[1]) * x[1] - 2) * x[1],
                     -29 + x[0] + ((x[1] + 1) * x[1] - 14) * x[1]])


# Two Gaussian peaks on a sloping baseline (a spectrum): synthetic data with a fixed,
# seeded perturbation; its optimum is computed (a tight solve from the true parameters).
PEAKS_X = np.linspace(0.0, 10.0, 80)
PEAKS_TRUE = np.array([1.0, 3.0, 0.5, 0.6, 6.5, 0.8, 0.05])


def _peaks(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    return (p[0] * np.exp(-0.5 * ((x - p[1]) / p[2]) ** 2)
            + p[3] * np.exp(-0.5 * ((x - p[4]) / p[5]) ** 2) + p[6] * x)


PEAKS_Y = _peaks(PEAKS_X, PEAKS_TRUE) + np.random.default_rng(11).normal(0, 0.02, PEAKS_X.size)


def two_gaussians(x: np.ndarray) -> np.ndarray:
    return _peaks(PEAKS_X, x) - PEAKS_Y


def jennrich_sampson(x: np.ndarray) -> np.ndarray:
    i = JS_I
    return 2 + 2 * i - (np.exp(i * x[0]) + np.exp(i * x[1]))


@dataclass(frozen=True)
class FitProblem:
    """A published problem: residuals, published start, certified ``f*`` (sum of squares;
    NaN for a synthetic problem, whose optimum is computed from ``x_star``)."""

    name: str
    residuals: object
    start: np.ndarray
    f_star: float
    x_star: np.ndarray
    digits: int = 6  # significant digits of f* as published
    kind: str = field(default="")

    def box(self) -> list[tuple[float, float]]:
        """The search box by one rule for every problem: each parameter between
        ``min(start, x*) - w`` and ``max(start, x*) + w``, ``w = max(|start|, |x*|, 1)``."""
        w = np.maximum(np.maximum(np.abs(self.start), np.abs(self.x_star)), 1.0)
        low = np.minimum(self.start, self.x_star) - w
        high = np.maximum(self.start, self.x_star) + w
        return [(float(a), float(b)) for a, b in zip(low, high, strict=True)]


PROBLEMS = (
    FitProblem("kowalik_osborne", kowalik, np.array([0.25, 0.39, 0.415, 0.39]), 3.07505e-4,
               np.array([0.1928069, 0.1912823, 0.1230565, 0.1360623]), kind="rational"),
    FitProblem("meyer", meyer, np.array([0.02, 4000.0, 250.0]), 87.9458,
               np.array([0.00560964, 6181.346, 345.2236]), kind="exponential, badly scaled"),
    FitProblem("bard", bard, np.array([1.0, 1.0, 1.0]), 8.21487e-3,
               np.array([0.08241056, 1.133036, 2.343695]), kind="rational"),
    FitProblem("osborne1", osborne1, np.array([0.5, 1.5, -1.0, 0.01, 0.02]), 5.46489e-5,
               np.array([0.3754100, 1.935847, -1.464687, 0.01286753, 0.02212270]),
               kind="two exponentials"),
    FitProblem("gaussian", gaussian, np.array([0.4, 1.0, 0.0]), 1.12793e-8,
               np.array([0.3989561, 1.000019, 0.0]), kind="Gaussian peak"),
    FitProblem("box3d", box3d, np.array([0.0, 10.0, 20.0]), 0.0, np.array([1.0, 10.0, 1.0]),
               kind="exponential, zero residual"),
    FitProblem("biggs_exp6", biggs, np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0]), 0.0,
               np.array([1.0, 10.0, 1.0, 5.0, 4.0, 3.0]), kind="exponentials, zero residual"),
    FitProblem("jennrich_sampson", jennrich_sampson, np.array([0.3, 0.4]), 124.362,
               np.array([0.2578252, 0.2578252]), kind="exponential"),
    # Published starts from which a local solver stops in a local minimum (MGH also publish
    # 10 x0 as a standard start).
    FitProblem("freudenstein_roth", freudenstein_roth, np.array([0.5, -2.0]), 0.0,
               np.array([5.0, 4.0]), kind="polynomial, local minimum 48.98"),
    FitProblem("bard_10x", bard, np.array([10.0, 10.0, 10.0]), 8.21487e-3,
               np.array([0.08241056, 1.133036, 2.343695]), kind="rational, from 10 x0"),
    FitProblem("kowalik_osborne_10x", kowalik, np.array([2.5, 3.9, 4.15, 3.9]), 3.07505e-4,
               np.array([0.1928069, 0.1912823, 0.1230565, 0.1360623]),
               kind="rational, from 10 x0"),
    FitProblem("osborne1_10x", osborne1, np.array([5.0, 15.0, -10.0, 0.1, 0.2]), 5.46489e-5,
               np.array([0.3754100, 1.935847, -1.464687, 0.01286753, 0.02212270]),
               kind="two exponentials, from 10 x0"),
    FitProblem("two_gaussians", two_gaussians, np.array([1.0, 5.0, 1.0, 1.0, 5.5, 1.0, 0.0]),
               math.nan, PEAKS_TRUE, kind="Gaussian peaks + baseline (synthetic)"),
)
