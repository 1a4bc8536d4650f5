"""Standard bounded test problems for global optimization, with their known minima.

Every problem is written from its published definition (mostly the Surjanovic & Bingham
"Virtual Library of Simulation Experiments" pages, which follow Jamil & Yang (2013),
Molga & Smutnicki (2005) and Dixon & Szego (1978)).  Each :class:`TestProblem` carries

* ``fun``: the objective, taking a 1-D array of length ``dim`` and returning a Python float;
* ``bounds``: the standard search box;
* ``f_min`` and ``global_minima``: the global minimum value and all its minimizers inside the
  box (every listed minimizer is in the box; eggholder's lies on its edge);
* ``local_minima``: ``(x, f)`` pairs of *all* interior local minima in the box, global ones
  included, for problems where that list is known, else ``()``.  Only interior stationary
  minima are listed: minima that exist only because of a bound (beale has two) are not;
* ``jac``: an analytic gradient where one is easy to write, else ``None``.

Minimizers without a closed form were refined by Newton iterations (or bracketed root
finding) on the gradient in double precision (about 1e-13 relative); ``f_min`` is then ``fun``
at the listed minimizer, which agrees with the published rounded values.  The local-minima
lists of hartmann3, hartmann6, shekel5/7/10 and rosenbrock_5d come from exhaustive multistart
enumeration (12000 L-BFGS-B starts, no other interior minimum found), the others from analysis
of the definition.

``multimodal_1d_max`` is meant for maximization tests: maximize
:func:`multimodal_1d_max_objective` (which is ``-fun``); its maximizers are the points listed
as minima, and its maximum is ``-f_min``.

``tests/test_functions.py`` checks all of this: the listed minimizers attain ``f_min`` inside
the box, ``f_min`` agrees with the published value, no Sobol point (polished) goes below it,
gradients match finite differences and vanish at interior minima, local-minima lists are
complete. ``scripts/bench-quality`` uses these problems as its suite.

Use ``PROBLEMS[name]``, :func:`get` (which also accepts family names such as ``"rastrigin"``)
or :func:`names` to select problems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

import numpy as np

__all__ = [
    "PROBLEMS",
    "TestProblem",
    "get",
    "multimodal_1d_max_objective",
    "names",
]

PI = float(np.pi)

Point = tuple[float, ...]


@dataclass(frozen=True)
class TestProblem:
    """A bounded minimization test problem with its known minima."""

    __test__ = False  # not a pytest test class

    name: str
    fun: Callable[[np.ndarray], float]
    bounds: tuple[tuple[float, float], ...]
    f_min: float
    global_minima: tuple[Point, ...]
    local_minima: tuple[tuple[Point, float], ...] = ()
    jac: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def dim(self) -> int:
        """Number of variables."""
        return len(self.bounds)

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds as an array."""
        return np.array([b[0] for b in self.bounds], dtype=float)

    @property
    def upper(self) -> np.ndarray:
        """Upper bounds as an array."""
        return np.array([b[1] for b in self.bounds], dtype=float)


def _x(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=float).ravel()


def _box(lo: float, hi: float, dim: int) -> tuple[tuple[float, float], ...]:
    return tuple((float(lo), float(hi)) for _ in range(dim))


# ---------------------------------------------------------------------------------------------
# Objective functions (dimension follows the length of x where the definition allows it)
# ---------------------------------------------------------------------------------------------


def himmelblau(x: np.ndarray) -> float:
    """Himmelblau (1972): (x1^2 + x2 - 11)^2 + (x1 + x2^2 - 7)^2."""
    x = _x(x)
    a = x[0] ** 2 + x[1] - 11.0
    b = x[0] + x[1] ** 2 - 7.0
    return float(a * a + b * b)


def himmelblau_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`himmelblau`."""
    x = _x(x)
    a = x[0] ** 2 + x[1] - 11.0
    b = x[0] + x[1] ** 2 - 7.0
    return np.array([4.0 * x[0] * a + 2.0 * b, 2.0 * a + 4.0 * x[1] * b])


def six_hump_camel(x: np.ndarray) -> float:
    """Six-hump camel (Surjanovic & Bingham; Dixon & Szego)."""
    x = _x(x)
    x1, x2 = x[0], x[1]
    return float((4.0 - 2.1 * x1**2 + x1**4 / 3.0) * x1**2 + x1 * x2 + (-4.0 + 4.0 * x2**2) * x2**2)


def six_hump_camel_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`six_hump_camel`."""
    x = _x(x)
    x1, x2 = x[0], x[1]
    return np.array([8.0 * x1 - 8.4 * x1**3 + 2.0 * x1**5 + x2, x1 - 8.0 * x2 + 16.0 * x2**3])


def three_hump_camel(x: np.ndarray) -> float:
    """Three-hump camel (Surjanovic & Bingham): 2x1^2 - 1.05x1^4 + x1^6/6 + x1x2 + x2^2."""
    x = _x(x)
    x1, x2 = x[0], x[1]
    return float(2.0 * x1**2 - 1.05 * x1**4 + x1**6 / 6.0 + x1 * x2 + x2**2)


def three_hump_camel_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`three_hump_camel`."""
    x = _x(x)
    x1, x2 = x[0], x[1]
    return np.array([4.0 * x1 - 4.2 * x1**3 + x1**5 + x2, x1 + 2.0 * x2])


_BR_A, _BR_B, _BR_C = 1.0, 5.1 / (4.0 * PI**2), 5.0 / PI
_BR_R, _BR_S, _BR_T = 6.0, 10.0, 1.0 / (8.0 * PI)


def branin(x: np.ndarray) -> float:
    """Branin-Hoo with the standard constants (Surjanovic & Bingham; Dixon & Szego)."""
    x = _x(x)
    u = x[1] - _BR_B * x[0] ** 2 + _BR_C * x[0] - _BR_R
    return float(_BR_A * u * u + _BR_S * (1.0 - _BR_T) * np.cos(x[0]) + _BR_S)


def branin_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`branin`."""
    x = _x(x)
    u = x[1] - _BR_B * x[0] ** 2 + _BR_C * x[0] - _BR_R
    return np.array(
        [
            2.0 * _BR_A * u * (-2.0 * _BR_B * x[0] + _BR_C) - _BR_S * (1.0 - _BR_T) * np.sin(x[0]),
            2.0 * _BR_A * u,
        ]
    )


def rastrigin(x: np.ndarray) -> float:
    """Rastrigin: 10d + sum(x_i^2 - 10 cos(2 pi x_i)) (Surjanovic & Bingham)."""
    x = _x(x)
    return float(10.0 * x.size + np.sum(x * x - 10.0 * np.cos(2.0 * PI * x)))


def rastrigin_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`rastrigin`."""
    x = _x(x)
    return 2.0 * x + 20.0 * PI * np.sin(2.0 * PI * x)


def ackley(x: np.ndarray) -> float:
    """Ackley with a=20, b=0.2, c=2 pi (Surjanovic & Bingham)."""
    x = _x(x)
    d = x.size
    s1 = np.sqrt(np.sum(x * x) / d)
    s2 = np.sum(np.cos(2.0 * PI * x)) / d
    return float(-20.0 * np.exp(-0.2 * s1) - np.exp(s2) + 20.0 + np.e)


def ackley_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`ackley` (0 at the origin, where the function has a kink)."""
    x = _x(x)
    d = x.size
    s1 = np.sqrt(np.sum(x * x) / d)
    s2 = np.sum(np.cos(2.0 * PI * x)) / d
    radial = np.zeros_like(x) if s1 == 0.0 else 4.0 * np.exp(-0.2 * s1) * x / (d * s1)
    return radial + np.exp(s2) * 2.0 * PI * np.sin(2.0 * PI * x) / d


def griewank(x: np.ndarray) -> float:
    """Griewank: sum x_i^2/4000 - prod cos(x_i/sqrt(i)) + 1 (Surjanovic & Bingham)."""
    x = _x(x)
    sq = np.sqrt(np.arange(1, x.size + 1, dtype=float))
    return float(np.sum(x * x) / 4000.0 - np.prod(np.cos(x / sq)) + 1.0)


def griewank_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`griewank`."""
    x = _x(x)
    sq = np.sqrt(np.arange(1, x.size + 1, dtype=float))
    c = np.cos(x / sq)
    g = x / 2000.0
    for i in range(x.size):
        others = np.prod(np.delete(c, i))
        g[i] += np.sin(x[i] / sq[i]) / sq[i] * others
    return g


_SCHWEFEL_C = 418.9829


def schwefel(x: np.ndarray) -> float:
    """Schwefel (Surjanovic & Bingham): 418.9829 d - sum x_i sin(sqrt|x_i|)."""
    x = _x(x)
    return float(_SCHWEFEL_C * x.size - np.sum(x * np.sin(np.sqrt(np.abs(x)))))


def schwefel_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`schwefel`: d/dt [t sin sqrt|t|] = sin r + r cos(r) / 2, r = sqrt|t|."""
    r = np.sqrt(np.abs(_x(x)))
    return -(np.sin(r) + 0.5 * r * np.cos(r))


def levy(x: np.ndarray) -> float:
    """Levy (Surjanovic & Bingham), with w_i = 1 + (x_i - 1)/4."""
    x = _x(x)
    w = 1.0 + (x - 1.0) / 4.0
    head = np.sin(PI * w[0]) ** 2
    mid = np.sum((w[:-1] - 1.0) ** 2 * (1.0 + 10.0 * np.sin(PI * w[:-1] + 1.0) ** 2))
    tail = (w[-1] - 1.0) ** 2 * (1.0 + np.sin(2.0 * PI * w[-1]) ** 2)
    return float(head + mid + tail)


def levy_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`levy`."""
    x = _x(x)
    w = 1.0 + (x - 1.0) / 4.0
    g = np.zeros_like(w)
    g[0] += PI * np.sin(2.0 * PI * w[0])
    wm = w[:-1]
    g[:-1] += 2.0 * (wm - 1.0) * (1.0 + 10.0 * np.sin(PI * wm + 1.0) ** 2) + (
        wm - 1.0
    ) ** 2 * 10.0 * PI * np.sin(2.0 * (PI * wm + 1.0))
    wd = w[-1]
    g[-1] += 2.0 * (wd - 1.0) * (1.0 + np.sin(2.0 * PI * wd) ** 2) + (
        wd - 1.0
    ) ** 2 * 2.0 * PI * np.sin(4.0 * PI * wd)
    return g / 4.0


_MICH_M = 10


def michalewicz(x: np.ndarray) -> float:
    """Michalewicz with m=10: -sum sin(x_i) sin(i x_i^2/pi)^(2m) (Surjanovic & Bingham)."""
    x = _x(x)
    i = np.arange(1, x.size + 1, dtype=float)
    return float(-np.sum(np.sin(x) * np.sin(i * x * x / PI) ** (2 * _MICH_M)))


def michalewicz_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`michalewicz`."""
    x = _x(x)
    i = np.arange(1, x.size + 1, dtype=float)
    s = np.sin(i * x * x / PI)
    c = np.cos(i * x * x / PI)
    m2 = 2 * _MICH_M
    return -(np.cos(x) * s**m2 + np.sin(x) * m2 * s ** (m2 - 1) * c * (2.0 * i * x / PI))


def _shubert_g(t: float) -> float:
    i = np.arange(1, 6, dtype=float)
    return float(np.sum(i * np.cos((i + 1.0) * t + i)))


def _shubert_dg(t: float) -> float:
    i = np.arange(1, 6, dtype=float)
    return float(-np.sum(i * (i + 1.0) * np.sin((i + 1.0) * t + i)))


def shubert(x: np.ndarray) -> float:
    """Shubert 2-D: prod_k sum_{i=1..5} i cos((i+1) x_k + i) (Surjanovic & Bingham)."""
    x = _x(x)
    return _shubert_g(x[0]) * _shubert_g(x[1])


def shubert_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`shubert`."""
    x = _x(x)
    g0, g1 = _shubert_g(x[0]), _shubert_g(x[1])
    return np.array([_shubert_dg(x[0]) * g1, g0 * _shubert_dg(x[1])])


_H3_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H3_A = np.array([[3.0, 10.0, 30.0], [0.1, 10.0, 35.0], [3.0, 10.0, 30.0], [0.1, 10.0, 35.0]])
_H3_P = 1e-4 * np.array(
    [
        [3689.0, 1170.0, 2673.0],
        [4699.0, 4387.0, 7470.0],
        [1091.0, 8732.0, 5547.0],
        [381.0, 5743.0, 8828.0],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
        [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
        [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
        [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
    ]
)


def _hartmann(x: np.ndarray, alpha: np.ndarray, a: np.ndarray, p: np.ndarray) -> float:
    x = _x(x)
    inner = np.sum(a * (x[None, :] - p) ** 2, axis=1)
    return float(-np.sum(alpha * np.exp(-inner)))


def _hartmann_jac(x: np.ndarray, alpha: np.ndarray, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    x = _x(x)
    diff = x[None, :] - p
    e = alpha * np.exp(-np.sum(a * diff**2, axis=1))
    return np.sum(e[:, None] * 2.0 * a * diff, axis=0)


def hartmann3(x: np.ndarray) -> float:
    """Hartmann 3-D (Surjanovic & Bingham; Dixon & Szego)."""
    return _hartmann(x, _H3_ALPHA, _H3_A, _H3_P)


def hartmann3_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`hartmann3`."""
    return _hartmann_jac(x, _H3_ALPHA, _H3_A, _H3_P)


def hartmann6(x: np.ndarray) -> float:
    """Hartmann 6-D (Surjanovic & Bingham; Dixon & Szego)."""
    return _hartmann(x, _H6_ALPHA, _H6_A, _H6_P)


def hartmann6_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`hartmann6`."""
    return _hartmann_jac(x, _H6_ALPHA, _H6_A, _H6_P)


_SHEKEL_BETA = 0.1 * np.array([1.0, 2.0, 2.0, 4.0, 4.0, 6.0, 3.0, 7.0, 5.0, 5.0])
_SHEKEL_C = np.array(
    [
        [4.0, 1.0, 8.0, 6.0, 3.0, 2.0, 5.0, 8.0, 6.0, 7.0],
        [4.0, 1.0, 8.0, 6.0, 7.0, 9.0, 3.0, 1.0, 2.0, 3.6],
        [4.0, 1.0, 8.0, 6.0, 3.0, 2.0, 5.0, 8.0, 6.0, 7.0],
        [4.0, 1.0, 8.0, 6.0, 7.0, 9.0, 3.0, 1.0, 2.0, 3.6],
    ]
)


def _shekel(x: np.ndarray, m: int) -> float:
    x = _x(x)
    d = np.sum((x[:, None] - _SHEKEL_C[:, :m]) ** 2, axis=0) + _SHEKEL_BETA[:m]
    return float(-np.sum(1.0 / d))


def _shekel_jac(x: np.ndarray, m: int) -> np.ndarray:
    x = _x(x)
    diff = x[:, None] - _SHEKEL_C[:, :m]
    d = np.sum(diff**2, axis=0) + _SHEKEL_BETA[:m]
    return np.sum(2.0 * diff / d**2, axis=1)


def shekel5(x: np.ndarray) -> float:
    """Shekel m=5 (Surjanovic & Bingham; Dixon & Szego)."""
    return _shekel(x, 5)


def shekel5_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`shekel5`."""
    return _shekel_jac(x, 5)


def shekel7(x: np.ndarray) -> float:
    """Shekel m=7 (Surjanovic & Bingham; Dixon & Szego)."""
    return _shekel(x, 7)


def shekel7_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`shekel7`."""
    return _shekel_jac(x, 7)


def shekel10(x: np.ndarray) -> float:
    """Shekel m=10 (Surjanovic & Bingham; Dixon & Szego)."""
    return _shekel(x, 10)


def shekel10_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`shekel10`."""
    return _shekel_jac(x, 10)


def goldstein_price(x: np.ndarray) -> float:
    """Goldstein-Price (Surjanovic & Bingham; Dixon & Szego)."""
    x = _x(x)
    x1, x2 = x[0], x[1]
    a = 1.0 + (x1 + x2 + 1.0) ** 2 * (
        19.0 - 14.0 * x1 + 3.0 * x1**2 - 14.0 * x2 + 6.0 * x1 * x2 + 3.0 * x2**2
    )
    b = 30.0 + (2.0 * x1 - 3.0 * x2) ** 2 * (
        18.0 - 32.0 * x1 + 12.0 * x1**2 + 48.0 * x2 - 36.0 * x1 * x2 + 27.0 * x2**2
    )
    return float(a * b)


def goldstein_price_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`goldstein_price`."""
    x = _x(x)
    x1, x2 = x[0], x[1]
    s, q = x1 + x2 + 1.0, 19.0 - 14.0 * x1 + 3.0 * x1**2 - 14.0 * x2 + 6.0 * x1 * x2 + 3.0 * x2**2
    t, r = (
        2.0 * x1 - 3.0 * x2,
        (18.0 - 32.0 * x1 + 12.0 * x1**2 + 48.0 * x2 - 36.0 * x1 * x2 + 27.0 * x2**2),
    )
    a, b = 1.0 + s * s * q, 30.0 + t * t * r
    da1 = 2.0 * s * q + s * s * (-14.0 + 6.0 * x1 + 6.0 * x2)
    da2 = 2.0 * s * q + s * s * (-14.0 + 6.0 * x1 + 6.0 * x2)
    db1 = 4.0 * t * r + t * t * (-32.0 + 24.0 * x1 - 36.0 * x2)
    db2 = -6.0 * t * r + t * t * (48.0 - 36.0 * x1 + 54.0 * x2)
    return np.array([da1 * b + a * db1, da2 * b + a * db2])


def rosenbrock(x: np.ndarray) -> float:
    """Rosenbrock: sum 100 (x_{i+1} - x_i^2)^2 + (x_i - 1)^2 (Surjanovic & Bingham)."""
    x = _x(x)
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (x[:-1] - 1.0) ** 2))


def rosenbrock_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`rosenbrock`."""
    x = _x(x)
    g = np.zeros_like(x)
    r = x[1:] - x[:-1] ** 2
    g[:-1] += -400.0 * x[:-1] * r + 2.0 * (x[:-1] - 1.0)
    g[1:] += 200.0 * r
    return g


def styblinski_tang(x: np.ndarray) -> float:
    """Styblinski-Tang: sum(x_i^4 - 16 x_i^2 + 5 x_i) / 2 (Surjanovic & Bingham)."""
    x = _x(x)
    return float(0.5 * np.sum(x**4 - 16.0 * x**2 + 5.0 * x))


def styblinski_tang_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`styblinski_tang`."""
    x = _x(x)
    return 0.5 * (4.0 * x**3 - 32.0 * x + 5.0)


def sphere(x: np.ndarray) -> float:
    """Sphere: sum x_i^2 (Surjanovic & Bingham)."""
    x = _x(x)
    return float(np.sum(x * x))


def sphere_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`sphere`."""
    return 2.0 * _x(x)


def booth(x: np.ndarray) -> float:
    """Booth: (x1 + 2x2 - 7)^2 + (2x1 + x2 - 5)^2 (Surjanovic & Bingham)."""
    x = _x(x)
    return float((x[0] + 2.0 * x[1] - 7.0) ** 2 + (2.0 * x[0] + x[1] - 5.0) ** 2)


def booth_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`booth`."""
    x = _x(x)
    a, b = x[0] + 2.0 * x[1] - 7.0, 2.0 * x[0] + x[1] - 5.0
    return np.array([2.0 * a + 4.0 * b, 4.0 * a + 2.0 * b])


def matyas(x: np.ndarray) -> float:
    """Matyas: 0.26 (x1^2 + x2^2) - 0.48 x1 x2 (Surjanovic & Bingham)."""
    x = _x(x)
    return float(0.26 * (x[0] ** 2 + x[1] ** 2) - 0.48 * x[0] * x[1])


def matyas_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`matyas`."""
    x = _x(x)
    return np.array([0.52 * x[0] - 0.48 * x[1], 0.52 * x[1] - 0.48 * x[0]])


def beale(x: np.ndarray) -> float:
    """Beale (Surjanovic & Bingham)."""
    x = _x(x)
    x1, x2 = x[0], x[1]
    return float(
        (1.5 - x1 + x1 * x2) ** 2 + (2.25 - x1 + x1 * x2**2) ** 2 + (2.625 - x1 + x1 * x2**3) ** 2
    )


def beale_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`beale`."""
    x = _x(x)
    x1, x2 = x[0], x[1]
    t1, t2, t3 = 1.5 - x1 + x1 * x2, 2.25 - x1 + x1 * x2**2, 2.625 - x1 + x1 * x2**3
    return np.array(
        [
            2.0 * (t1 * (x2 - 1.0) + t2 * (x2**2 - 1.0) + t3 * (x2**3 - 1.0)),
            2.0 * (t1 * x1 + t2 * 2.0 * x1 * x2 + t3 * 3.0 * x1 * x2**2),
        ]
    )


def easom(x: np.ndarray) -> float:
    """Easom: -cos x1 cos x2 exp(-(x1 - pi)^2 - (x2 - pi)^2) (Surjanovic & Bingham)."""
    x = _x(x)
    r = (x[0] - PI) ** 2 + (x[1] - PI) ** 2
    return float(-np.cos(x[0]) * np.cos(x[1]) * np.exp(-r))


def easom_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`easom`."""
    x = _x(x)
    e = np.exp(-((x[0] - PI) ** 2) - (x[1] - PI) ** 2)
    c0, c1, s0, s1 = np.cos(x[0]), np.cos(x[1]), np.sin(x[0]), np.sin(x[1])
    return e * np.array(
        [s0 * c1 + 2.0 * (x[0] - PI) * c0 * c1, c0 * s1 + 2.0 * (x[1] - PI) * c0 * c1]
    )


def drop_wave(x: np.ndarray) -> float:
    """Drop-wave: -(1 + cos(12 r)) / (r^2/2 + 2), r = |x| (Surjanovic & Bingham)."""
    x = _x(x)
    r2 = x[0] ** 2 + x[1] ** 2
    return float(-(1.0 + np.cos(12.0 * np.sqrt(r2))) / (0.5 * r2 + 2.0))


def eggholder(x: np.ndarray) -> float:
    """Eggholder (Surjanovic & Bingham)."""
    x = _x(x)
    x1, x2 = x[0], x[1]
    return float(
        -(x2 + 47.0) * np.sin(np.sqrt(abs(x2 + x1 / 2.0 + 47.0)))
        - x1 * np.sin(np.sqrt(abs(x1 - (x2 + 47.0))))
    )


def holder_table(x: np.ndarray) -> float:
    """Holder table: -|sin x1 cos x2 exp(|1 - |x|/pi|)| (Surjanovic & Bingham)."""
    x = _x(x)
    r = np.sqrt(x[0] ** 2 + x[1] ** 2)
    return float(-abs(np.sin(x[0]) * np.cos(x[1]) * np.exp(abs(1.0 - r / PI))))


def cross_in_tray(x: np.ndarray) -> float:
    """Cross-in-tray (Surjanovic & Bingham)."""
    x = _x(x)
    r = np.sqrt(x[0] ** 2 + x[1] ** 2)
    inner = abs(np.sin(x[0]) * np.sin(x[1]) * np.exp(abs(100.0 - r / PI))) + 1.0
    return float(-0.0001 * inner**0.1)


def bukin6(x: np.ndarray) -> float:
    """Bukin N.6: 100 sqrt|x2 - 0.01 x1^2| + 0.01 |x1 + 10| (Surjanovic & Bingham)."""
    x = _x(x)
    return float(100.0 * np.sqrt(abs(x[1] - 0.01 * x[0] ** 2)) + 0.01 * abs(x[0] + 10.0))


def zakharov(x: np.ndarray) -> float:
    """Zakharov: sum x_i^2 + s^2 + s^4, s = sum 0.5 i x_i (Surjanovic & Bingham)."""
    x = _x(x)
    s = np.sum(0.5 * np.arange(1, x.size + 1) * x)
    return float(np.sum(x * x) + s**2 + s**4)


def zakharov_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`zakharov`."""
    x = _x(x)
    c = 0.5 * np.arange(1, x.size + 1)
    s = np.sum(c * x)
    return 2.0 * x + (2.0 * s + 4.0 * s**3) * c


def dixon_price(x: np.ndarray) -> float:
    """Dixon-Price: (x1 - 1)^2 + sum_{i>=2} i (2 x_i^2 - x_{i-1})^2 (Surjanovic & Bingham)."""
    x = _x(x)
    i = np.arange(2, x.size + 1, dtype=float)
    return float((x[0] - 1.0) ** 2 + np.sum(i * (2.0 * x[1:] ** 2 - x[:-1]) ** 2))


def dixon_price_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`dixon_price`."""
    x = _x(x)
    i = np.arange(2, x.size + 1, dtype=float)
    t = 2.0 * x[1:] ** 2 - x[:-1]
    g = np.zeros_like(x)
    g[0] += 2.0 * (x[0] - 1.0)
    g[1:] += i * 2.0 * t * 4.0 * x[1:]
    g[:-1] -= i * 2.0 * t
    return g


def trid(x: np.ndarray) -> float:
    """Trid: sum (x_i - 1)^2 - sum x_i x_{i-1} (Surjanovic & Bingham)."""
    x = _x(x)
    return float(np.sum((x - 1.0) ** 2) - np.sum(x[1:] * x[:-1]))


def trid_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`trid`."""
    x = _x(x)
    g = 2.0 * (x - 1.0)
    g[1:] -= x[:-1]
    g[:-1] -= x[1:]
    return g


def powell(x: np.ndarray) -> float:
    """Powell singular function, dimension a multiple of 4 (Surjanovic & Bingham)."""
    x = _x(x).reshape(-1, 4)
    a, b, c, d = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
    return float(
        np.sum((a + 10.0 * b) ** 2 + 5.0 * (c - d) ** 2 + (b - 2.0 * c) ** 4 + 10.0 * (a - d) ** 4)
    )


def powell_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`powell`."""
    x = _x(x).reshape(-1, 4)
    a, b, c, d = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
    p, q, r, s = a + 10.0 * b, c - d, b - 2.0 * c, a - d
    g = np.stack(
        [
            2.0 * p + 40.0 * s**3,
            20.0 * p + 4.0 * r**3,
            10.0 * q - 8.0 * r**3,
            -10.0 * q - 40.0 * s**3,
        ],
        axis=1,
    )
    return g.ravel()


def colville(x: np.ndarray) -> float:
    """Colville (Surjanovic & Bingham)."""
    x = _x(x)
    x1, x2, x3, x4 = x[0], x[1], x[2], x[3]
    return float(
        100.0 * (x1**2 - x2) ** 2
        + (x1 - 1.0) ** 2
        + (x3 - 1.0) ** 2
        + 90.0 * (x3**2 - x4) ** 2
        + 10.1 * ((x2 - 1.0) ** 2 + (x4 - 1.0) ** 2)
        + 19.8 * (x2 - 1.0) * (x4 - 1.0)
    )


def colville_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`colville`."""
    x = _x(x)
    x1, x2, x3, x4 = x[0], x[1], x[2], x[3]
    return np.array(
        [
            400.0 * x1 * (x1**2 - x2) + 2.0 * (x1 - 1.0),
            -200.0 * (x1**2 - x2) + 20.2 * (x2 - 1.0) + 19.8 * (x4 - 1.0),
            2.0 * (x3 - 1.0) + 360.0 * x3 * (x3**2 - x4),
            -180.0 * (x3**2 - x4) + 20.2 * (x4 - 1.0) + 19.8 * (x2 - 1.0),
        ]
    )


def bohachevsky1(x: np.ndarray) -> float:
    """Bohachevsky 1 (Surjanovic & Bingham)."""
    x = _x(x)
    return float(
        x[0] ** 2
        + 2.0 * x[1] ** 2
        - 0.3 * np.cos(3.0 * PI * x[0])
        - 0.4 * np.cos(4.0 * PI * x[1])
        + 0.7
    )


def bohachevsky1_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`bohachevsky1`."""
    x = _x(x)
    return np.array(
        [
            2.0 * x[0] + 0.9 * PI * np.sin(3.0 * PI * x[0]),
            4.0 * x[1] + 1.6 * PI * np.sin(4.0 * PI * x[1]),
        ]
    )


def bohachevsky2(x: np.ndarray) -> float:
    """Bohachevsky 2 (Surjanovic & Bingham)."""
    x = _x(x)
    return float(
        x[0] ** 2 + 2.0 * x[1] ** 2 - 0.3 * np.cos(3.0 * PI * x[0]) * np.cos(4.0 * PI * x[1]) + 0.3
    )


def bohachevsky2_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`bohachevsky2`."""
    x = _x(x)
    a, b = 3.0 * PI * x[0], 4.0 * PI * x[1]
    return np.array(
        [
            2.0 * x[0] + 0.9 * PI * np.sin(a) * np.cos(b),
            4.0 * x[1] + 1.2 * PI * np.cos(a) * np.sin(b),
        ]
    )


def bohachevsky3(x: np.ndarray) -> float:
    """Bohachevsky 3 (Surjanovic & Bingham)."""
    x = _x(x)
    return float(
        x[0] ** 2 + 2.0 * x[1] ** 2 - 0.3 * np.cos(3.0 * PI * x[0] + 4.0 * PI * x[1]) + 0.3
    )


def bohachevsky3_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`bohachevsky3`."""
    x = _x(x)
    s = np.sin(3.0 * PI * x[0] + 4.0 * PI * x[1])
    return np.array([2.0 * x[0] + 0.9 * PI * s, 4.0 * x[1] + 1.2 * PI * s])


def mccormick(x: np.ndarray) -> float:
    """McCormick: sin(x1 + x2) + (x1 - x2)^2 - 1.5 x1 + 2.5 x2 + 1 (Surjanovic & Bingham)."""
    x = _x(x)
    return float(np.sin(x[0] + x[1]) + (x[0] - x[1]) ** 2 - 1.5 * x[0] + 2.5 * x[1] + 1.0)


def mccormick_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`mccormick`."""
    x = _x(x)
    c = np.cos(x[0] + x[1])
    d = 2.0 * (x[0] - x[1])
    return np.array([c + d - 1.5, c - d + 2.5])


def levy13(x: np.ndarray) -> float:
    """Levy N.13 (Surjanovic & Bingham): sin^2(3 pi x1) + (x1 - 1)^2 (1 + sin^2(3 pi x2))
    + (x2 - 1)^2 (1 + sin^2(2 pi x2))."""
    x = _x(x)
    x1, x2 = x[0], x[1]
    return float(
        np.sin(3.0 * PI * x1) ** 2
        + (x1 - 1.0) ** 2 * (1.0 + np.sin(3.0 * PI * x2) ** 2)
        + (x2 - 1.0) ** 2 * (1.0 + np.sin(2.0 * PI * x2) ** 2)
    )


def levy13_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`levy13`."""
    x = _x(x)
    x1, x2 = x[0], x[1]
    return np.array(
        [
            3.0 * PI * np.sin(6.0 * PI * x1)
            + 2.0 * (x1 - 1.0) * (1.0 + np.sin(3.0 * PI * x2) ** 2),
            (x1 - 1.0) ** 2 * 3.0 * PI * np.sin(6.0 * PI * x2)
            + 2.0 * (x2 - 1.0) * (1.0 + np.sin(2.0 * PI * x2) ** 2)
            + (x2 - 1.0) ** 2 * 2.0 * PI * np.sin(4.0 * PI * x2),
        ]
    )


def _schaffer_parts(x: np.ndarray) -> tuple[float, float, float, float]:
    """u = x1^2 - x2^2, the damping D = 1 + 0.001 |x|^2, and x1, x2."""
    x = _x(x)
    return x[0] ** 2 - x[1] ** 2, 1.0 + 0.001 * (x[0] ** 2 + x[1] ** 2), x[0], x[1]


def schaffer2(x: np.ndarray) -> float:
    """Schaffer N.2 (Surjanovic & Bingham): 0.5 + (sin^2(x1^2 - x2^2) - 0.5) / D^2."""
    u, d, _, _ = _schaffer_parts(x)
    return float(0.5 + (np.sin(u) ** 2 - 0.5) / d**2)


def schaffer2_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`schaffer2`."""
    u, d, x1, x2 = _schaffer_parts(x)
    du = np.sin(2.0 * u) / d**2  # derivative of the numerator term in u
    dd = -2.0 * (np.sin(u) ** 2 - 0.5) / d**3 * 0.002  # derivative through D, per unit x_i
    return np.array([du * 2.0 * x1 + dd * x1, -du * 2.0 * x2 + dd * x2])


def schaffer4(x: np.ndarray) -> float:
    """Schaffer N.4 (Surjanovic & Bingham): 0.5 + (cos^2(sin|x1^2 - x2^2|) - 0.5) / D^2.

    ``cos^2(sin t)`` is even in t, so the absolute value changes nothing and f is smooth.
    """
    u, d, _, _ = _schaffer_parts(x)
    return float(0.5 + (np.cos(np.sin(abs(u))) ** 2 - 0.5) / d**2)


def schaffer4_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`schaffer4`."""
    u, d, x1, x2 = _schaffer_parts(x)
    c, s = np.cos(np.sin(u)), np.sin(np.sin(u))
    du = -2.0 * c * s * np.cos(u) / d**2
    dd = -2.0 * (c * c - 0.5) / d**3 * 0.002
    return np.array([du * 2.0 * x1 + dd * x1, -du * 2.0 * x2 + dd * x2])


_PERM_BETA = 10.0


def perm0(x: np.ndarray) -> float:
    """Perm 0, d, beta with beta = 10 (Surjanovic & Bingham):
    sum_i (sum_j (j + beta) (x_j^i - 1 / j^i))^2."""
    x = _x(x)
    j = np.arange(1, x.size + 1, dtype=float)
    inner = [np.sum((j + _PERM_BETA) * (x**i - j**-i)) for i in range(1, x.size + 1)]
    return float(np.sum(np.square(inner)))


def perm0_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`perm0`."""
    x = _x(x)
    j = np.arange(1, x.size + 1, dtype=float)
    g = np.zeros_like(x)
    for i in range(1, x.size + 1):
        inner = np.sum((j + _PERM_BETA) * (x**i - j**-i))
        g += 2.0 * inner * (j + _PERM_BETA) * i * x ** (i - 1)
    return g


def gramacy_lee_1d(x: np.ndarray) -> float:
    """Gramacy & Lee (2012) 1-D: sin(10 pi x) / (2x) + (x - 1)^4 (Surjanovic & Bingham)."""
    t = float(_x(x)[0])
    return float(np.sin(10.0 * PI * t) / (2.0 * t) + (t - 1.0) ** 4)


def gramacy_lee_1d_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`gramacy_lee_1d`."""
    t = float(_x(x)[0])
    return np.array(
        [
            10.0 * PI * np.cos(10.0 * PI * t) / (2.0 * t)
            - np.sin(10.0 * PI * t) / (2.0 * t * t)
            + 4.0 * (t - 1.0) ** 3
        ]
    )


def sin_quadratic_1d(x: np.ndarray) -> float:
    """Simple multimodal 1-D function: sin(3x) + 0.1 x^2."""
    t = float(_x(x)[0])
    return float(np.sin(3.0 * t) + 0.1 * t * t)


def sin_quadratic_1d_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`sin_quadratic_1d`."""
    t = float(_x(x)[0])
    return np.array([3.0 * np.cos(3.0 * t) + 0.2 * t])


def multimodal_1d_max_objective(x: np.ndarray) -> float:
    """Function to *maximize* in maximization tests: cos(2x) exp(-0.1 x^2)."""
    t = float(_x(x)[0])
    return float(np.cos(2.0 * t) * np.exp(-0.1 * t * t))


def multimodal_1d_max(x: np.ndarray) -> float:
    """Negation of :func:`multimodal_1d_max_objective` (the minimization form)."""
    return -multimodal_1d_max_objective(x)


def multimodal_1d_max_jac(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`multimodal_1d_max`."""
    t = float(_x(x)[0])
    return np.array([np.exp(-0.1 * t * t) * (2.0 * np.sin(2.0 * t) + 0.2 * t * np.cos(2.0 * t))])


# ---------------------------------------------------------------------------------------------
# Known minimizers that have no simple closed form (refined by Newton iterations on the gradient)
# ---------------------------------------------------------------------------------------------

# Six-hump camel: the six interior local minima (f is even: f(-x) = f(x)).
_SHC_X_GLOBAL = (0.08984201310031807, -0.7126564030207396)
_SHC_F_GLOBAL = -1.0316284534898774
_SHC_X_2 = (1.7036067149699814, -0.7960835686726251)
_SHC_F_2 = -0.21546382438372036
_SHC_X_3 = (1.6071047529201976, 0.5686514548841313)
_SHC_F_3 = 2.1042503103112593

# Three-hump camel: x1^2 = (4.2 + sqrt(3.64)) / 2, x2 = -x1 / 2.
_THC_X1 = 1.747552345830289
_THC_F = 0.29863844223686054

# Styblinski-Tang: roots of 4t^3 - 32t + 5 (global -2.90..., local 2.74...), per coordinate.
_ST_T_GLOBAL = -2.903534027771177
_ST_T_LOCAL = 2.746802770990837
_ST_G_GLOBAL = -39.16616570377141
_ST_G_LOCAL = -25.02944665528394

# Schwefel: per-coordinate minimizer (root of sin(sqrt t) + sqrt(t) cos(sqrt t) / 2) and the
# per-coordinate value 418.9829 - t sin(sqrt t), which is slightly positive.
_SCHWEFEL_T = 420.9687463599821
_SCHWEFEL_G = 1.2727566229386866e-05

# Michalewicz (m=10) is separable: coordinate i has its own 1-D minimizer and value.
_MICH_T = (
    2.2029055201726093,
    1.5707963267948966,
    1.2849915705529245,
    1.9230584698663629,
    1.7204697725658413,
    1.5707963267948966,
    1.454413971362379,
    1.7560865209450263,
    1.6557174168210291,
    1.5707963267948966,
)
_MICH_F = {2: -1.8013034100985532, 5: -4.687658179088148, 10: -9.660151715641343}

# Shubert 2-D: g(t) = sum i cos((i+1)t + i) has three global maximizers and three global
# minimizers in [-10, 10]; the 18 global minima of g(x1) g(x2) pair a maximizer with a minimizer.
_SHUBERT_TMAX = (-7.0835064076515595, -0.8003211004719731, 5.482864206707613)
_SHUBERT_TMIN = (-7.708313735499347, -1.425128428319761, 4.858056878859825)
_SHUBERT_F = -186.73090883102384

_H3_LOCAL = (
    ((0.11458887665506896, 0.5556488946169301, 0.8525469846866774), -3.862779787332663),
    ((0.10933747837181026, 0.8605242257018717, 0.5641231666105352), -3.0897641343826487),
    ((0.36872272706931863, 0.11756162882466427, 0.2675737430151714), -1.0008168635606354),
)
_H6_LOCAL = (
    (
        (
            0.20168951100670543,
            0.15001069182345797,
            0.47687397422189703,
            0.2753324304940561,
            0.31165161660011326,
            0.6573005340656204,
        ),
        -3.322368011415515,
    ),
    (
        (
            0.4046531277061713,
            0.8824449239723832,
            0.8461015704781809,
            0.5739896924303658,
            0.13892660366724385,
            0.03849589247823727,
        ),
        -3.2031619183962317,
    ),
)


def _shekel_pt(a: float, b: float) -> Point:
    return (a, b, a, b)  # rows 1 and 3 (2 and 4) of the Shekel matrix coincide


_SHEKEL5_LOCAL = (
    (_shekel_pt(4.000037152819676, 4.00013327659156), -10.153199679058227),
    (_shekel_pt(7.999583305120821, 7.999641588712129), -5.100772140331988),
    (_shekel_pt(1.0001315875670855, 1.0001563413719277), -5.055197728932866),
    (_shekel_pt(5.998749537020335, 6.000287366987216), -2.682860395693139),
    (_shekel_pt(3.0017963949110316, 6.998333939622431), -2.6304716684108937),
)
_SHEKEL7_LOCAL = (
    (_shekel_pt(4.000572819251117, 3.9996062096096887), -10.402915336777744),
    (_shekel_pt(7.999514415128183, 7.999605865587191), -5.128822703802935),
    (_shekel_pt(1.0002324793568507, 1.0002243825870414), -5.087671723628904),
    (_shekel_pt(4.994455050706951, 3.0063749940761255), -3.703142805846777),
    (_shekel_pt(5.998107900937738, 5.999306407615402), -2.7519143533908594),
    (_shekel_pt(3.0005641111830865, 7.000792141071383), -2.749562109983576),
    (_shekel_pt(2.0046594478259845, 8.99179260289152), -1.8325945278795277),
)
_SHEKEL10_LOCAL = (
    (_shekel_pt(4.000746868270634, 3.9995094800857736), -10.536443153483528),
    (_shekel_pt(7.999478459800357, 7.999436394806344), -5.175646763018196),
    (_shekel_pt(1.0003662633783896, 1.0002529704011887), -5.128480944361218),
    (_shekel_pt(5.001473974135179, 3.0022064937652737), -4.069876498198584),
    (_shekel_pt(5.999014633051126, 5.99650349120897), -2.871159583549868),
    (_shekel_pt(3.000927922820216, 7.000379149058804), -2.790290505219691),
    (_shekel_pt(5.99191442665159, 2.022366444620981), -2.6084628331716924),
    (_shekel_pt(6.986309425720556, 3.592961862410129), -2.4950359734737293),
    (_shekel_pt(2.004953341196788, 8.991402258585783), -1.85448081581853),
    (_shekel_pt(7.985087353839334, 1.0130325596346925), -1.6964247856194914),
)

_ROSENBROCK5_LOCAL2 = (
    (
        -0.9620510206947501,
        0.9357393959767101,
        0.8807136041943205,
        0.7778776758544064,
        0.605093678592653,
    ),
    3.9308394341330275,
)

# Schaffer N.4: minimizers on the axes at distance t from the origin (root of the 1-D derivative;
# published as 1.25313 with f = 0.292579).
_SCHAFFER4_T = 1.2531318314637332
_SCHAFFER4_F = 0.29257863203598056

# Eggholder: the global minimizer lies on the edge x1 = 512.
_EGG_X = (512.0, 404.2318051137579)
_EGG_F = -959.6406627208509

_HOLDER_T = (8.055023475736563, 9.664590019241272)
_HOLDER_F = -19.208502567886732

# Cross-in-tray: x1 = x2 = atan(pi sqrt 2) up to signs.
_CIT_T = 1.3494066171539107
_CIT_F = -2.062611870822738

_GRAMACY_LEE_LOCAL = (
    ((0.5485634445276053,), -0.8690111349894997),
    ((0.7487437781430086,), -0.6632798486904421),
    ((0.9489336866904863,), -0.5266047887404023),
    ((1.1490876188021968,), -0.4344550484699566),
    ((1.348785167362593,), -0.3556350233910972),
    ((1.5472883271844393,), -0.23225917160244927),
    ((1.743576740469435,), 0.024757434887311913),
    ((1.9362196625299228,), 0.5338536167507468),
    ((2.121899166052543,), 1.4345939158961474),
)
_SIN_QUADRATIC_LOCAL = (
    ((-0.5122140283561128,), -0.9731804794973067),
    ((1.5365898801477498,), -0.7586284086132372),
    ((-2.5608069380735436,), -0.3295462859357772),
    ((3.584751817303719,), 0.31402091965919066),
    ((-4.608298882423005,), 1.172003315524485),
)
_MM1_LOCAL = (
    ((0.0,), -1.0),
    ((2.996045667486456,), -0.3903900008515032),
    ((-2.996045667486456,), -0.3903900008515032),
    ((6.012515675957491,), -0.023067530460738853),
)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


def _single(x: Point, f: float) -> tuple[tuple[Point, float], ...]:
    return ((x, f),)


def _build() -> dict[str, TestProblem]:
    probs: list[TestProblem] = []
    add = probs.append

    # --- 1-D problems with all interior local minima listed -----------------------------------
    add(
        TestProblem(
            "gramacy_lee_1d",
            gramacy_lee_1d,
            ((0.5, 2.5),),
            _GRAMACY_LEE_LOCAL[0][1],
            (_GRAMACY_LEE_LOCAL[0][0],),
            _GRAMACY_LEE_LOCAL,
            gramacy_lee_1d_jac,
        )
    )
    add(
        TestProblem(
            "sin_quadratic_1d",
            sin_quadratic_1d,
            ((-5.0, 4.5),),
            _SIN_QUADRATIC_LOCAL[0][1],
            (_SIN_QUADRATIC_LOCAL[0][0],),
            _SIN_QUADRATIC_LOCAL,
            sin_quadratic_1d_jac,
        )
    )
    add(
        TestProblem(
            "multimodal_1d_max",
            multimodal_1d_max,
            ((-4.0, 7.0),),
            -1.0,
            ((0.0,),),
            _MM1_LOCAL,
            multimodal_1d_max_jac,
        )
    )

    # --- 2-D problems with all interior local minima listed -----------------------------------
    him = (
        (3.0, 2.0),
        (-2.805118086952745, 3.131312518250573),
        (-3.779310253377747, -3.283185991286170),
        (3.584428340330492, -1.848126526964404),
    )
    add(
        TestProblem(
            "himmelblau",
            himmelblau,
            _box(-5.0, 5.0, 2),
            0.0,
            him,
            tuple((x, 0.0) for x in him),
            himmelblau_jac,
        )
    )

    def neg(x: Point) -> Point:
        return tuple(-v for v in x)

    shc_global = (_SHC_X_GLOBAL, neg(_SHC_X_GLOBAL))
    shc_local = (
        (_SHC_X_GLOBAL, _SHC_F_GLOBAL),
        (neg(_SHC_X_GLOBAL), _SHC_F_GLOBAL),
        (_SHC_X_2, _SHC_F_2),
        (neg(_SHC_X_2), _SHC_F_2),
        (_SHC_X_3, _SHC_F_3),
        (neg(_SHC_X_3), _SHC_F_3),
    )
    add(
        TestProblem(
            "six_hump_camel",
            six_hump_camel,
            ((-3.0, 3.0), (-2.0, 2.0)),
            _SHC_F_GLOBAL,
            shc_global,
            shc_local,
            six_hump_camel_jac,
        )
    )
    thc = (_THC_X1, -_THC_X1 / 2.0)
    add(
        TestProblem(
            "three_hump_camel",
            three_hump_camel,
            _box(-5.0, 5.0, 2),
            0.0,
            ((0.0, 0.0),),
            (((0.0, 0.0), 0.0), (thc, _THC_F), (neg(thc), _THC_F)),
            three_hump_camel_jac,
        )
    )
    br_f = 10.0 / (8.0 * PI)  # = s t, since cos(x1) = -1 at the minimizers
    br = ((-PI, 12.275), (PI, 2.275), (3.0 * PI, 2.475))
    add(
        TestProblem(
            "branin",
            branin,
            ((-5.0, 10.0), (0.0, 15.0)),
            br_f,
            br,
            tuple((x, br_f) for x in br),
            branin_jac,
        )
    )
    # McCormick: with u = x1 + x2, v = x1 - x2, f = sin u + u/2 + (v - 1)^2, so the minima are
    # at v = 1, u = -2 pi/3 + 2 pi k; two of them lie in the box.
    mc_u = (-2.0 * PI / 3.0, 4.0 * PI / 3.0)
    mc = tuple(((u + 1.0) / 2.0, (u - 1.0) / 2.0) for u in mc_u)
    mc_f = tuple(float(np.sin(u) + 0.5 * u) for u in mc_u)
    add(
        TestProblem(
            "mccormick",
            mccormick,
            ((-1.5, 4.0), (-3.0, 4.0)),
            mc_f[0],
            (mc[0],),
            tuple(zip(mc, mc_f, strict=True)),
            mccormick_jac,
        )
    )
    add(
        TestProblem(
            "goldstein_price",
            goldstein_price,
            _box(-2.0, 2.0, 2),
            3.0,
            ((0.0, -1.0),),
            (
                ((0.0, -1.0), 3.0),
                ((-0.6, -0.4), 30.0),
                ((1.8, 0.2), 84.0),
                ((1.2, 0.8), 840.0),
            ),
            goldstein_price_jac,
        )
    )
    st2 = tuple(
        (x, _ST_G_GLOBAL * x.count(_ST_T_GLOBAL) + _ST_G_LOCAL * x.count(_ST_T_LOCAL))
        for x in product((_ST_T_GLOBAL, _ST_T_LOCAL), repeat=2)
    )
    st5 = tuple(
        (x, _ST_G_GLOBAL * x.count(_ST_T_GLOBAL) + _ST_G_LOCAL * x.count(_ST_T_LOCAL))
        for x in product((_ST_T_GLOBAL, _ST_T_LOCAL), repeat=5)
    )
    st10 = tuple(
        (x, _ST_G_GLOBAL * x.count(_ST_T_GLOBAL) + _ST_G_LOCAL * x.count(_ST_T_LOCAL))
        for x in product((_ST_T_GLOBAL, _ST_T_LOCAL), repeat=10)
    )
    for d, lm in ((2, st2), (5, st5), (10, st10)):
        add(
            TestProblem(
                f"styblinski_tang_{d}d",
                styblinski_tang,
                _box(-5.0, 5.0, d),
                d * _ST_G_GLOBAL,
                ((_ST_T_GLOBAL,) * d,),
                lm,
                styblinski_tang_jac,
            )
        )
    dp2 = ((1.0, 2.0**-0.5), (1.0, -(2.0**-0.5)))
    add(
        TestProblem(
            "dixon_price_2d",
            dixon_price,
            _box(-10.0, 10.0, 2),
            0.0,
            dp2,
            tuple((x, 0.0) for x in dp2),
            dixon_price_jac,
        )
    )
    add(
        TestProblem(
            "beale",
            beale,
            _box(-4.5, 4.5, 2),
            0.0,
            ((3.0, 0.5),),
            _single((3.0, 0.5), 0.0),
            beale_jac,
        )
    )

    # --- Convex (or unimodal) problems: the global minimizer is the only local minimum --------
    for d in (2, 5, 10):
        z = (0.0,) * d
        add(
            TestProblem(
                f"sphere_{d}d", sphere, _box(-5.12, 5.12, d), 0.0, (z,), _single(z, 0.0), sphere_jac
            )
        )
    for d in (2, 5, 10):
        z = (0.0,) * d
        add(
            TestProblem(
                f"zakharov_{d}d",
                zakharov,
                _box(-5.0, 10.0, d),
                0.0,
                (z,),
                _single(z, 0.0),
                zakharov_jac,
            )
        )
    for d in (2, 6):
        xt = tuple(float(i * (d + 1 - i)) for i in range(1, d + 1))
        ft = -d * (d + 4) * (d - 1) / 6.0
        add(
            TestProblem(
                f"trid_{d}d",
                trid,
                _box(-(d**2), d**2, d),
                ft,
                (xt,),
                _single(xt, ft),
                trid_jac,
            )
        )
    add(
        TestProblem(
            "booth",
            booth,
            _box(-10.0, 10.0, 2),
            0.0,
            ((1.0, 3.0),),
            _single((1.0, 3.0), 0.0),
            booth_jac,
        )
    )
    add(
        TestProblem(
            "matyas",
            matyas,
            _box(-10.0, 10.0, 2),
            0.0,
            ((0.0, 0.0),),
            _single((0.0, 0.0), 0.0),
            matyas_jac,
        )
    )
    # Powell is convex with a unique minimizer, but the minimum is singular (quartic), so local
    # solvers stop ~1e-4 away from it; no local-minima list is given to keep x-matching meaningful.
    for d, name in ((4, "powell"), (8, "powell_8d")):
        add(TestProblem(name, powell, _box(-4.0, 5.0, d), 0.0, ((0.0,) * d,), jac=powell_jac))
    one4 = (1.0,) * 4
    add(
        TestProblem(
            "colville",
            colville,
            _box(-10.0, 10.0, 4),
            0.0,
            (one4,),
            _single(one4, 0.0),
            colville_jac,
        )
    )

    # --- Rosenbrock ------------------------------------------------------------------------------
    add(
        TestProblem(
            "rosenbrock_2d",
            rosenbrock,
            _box(-5.0, 10.0, 2),
            0.0,
            ((1.0, 1.0),),
            _single((1.0, 1.0), 0.0),
            rosenbrock_jac,
        )
    )
    one5 = (1.0,) * 5
    add(
        TestProblem(
            "rosenbrock_5d",
            rosenbrock,
            _box(-5.0, 10.0, 5),
            0.0,
            (one5,),
            ((one5, 0.0), _ROSENBROCK5_LOCAL2),
            rosenbrock_jac,
        )
    )
    add(
        TestProblem(
            "rosenbrock_10d",
            rosenbrock,
            _box(-5.0, 10.0, 10),
            0.0,
            ((1.0,) * 10,),
            jac=rosenbrock_jac,
        )
    )

    # --- Hartmann and Shekel (Dixon-Szego set); interior local minima enumerated numerically ----
    add(
        TestProblem(
            "hartmann3",
            hartmann3,
            _box(0.0, 1.0, 3),
            _H3_LOCAL[0][1],
            (_H3_LOCAL[0][0],),
            _H3_LOCAL,
            hartmann3_jac,
        )
    )
    add(
        TestProblem(
            "hartmann6",
            hartmann6,
            _box(0.0, 1.0, 6),
            _H6_LOCAL[0][1],
            (_H6_LOCAL[0][0],),
            _H6_LOCAL,
            hartmann6_jac,
        )
    )
    for m, fun, jac, lm in (
        (5, shekel5, shekel5_jac, _SHEKEL5_LOCAL),
        (7, shekel7, shekel7_jac, _SHEKEL7_LOCAL),
        (10, shekel10, shekel10_jac, _SHEKEL10_LOCAL),
    ):
        add(TestProblem(f"shekel{m}", fun, _box(0.0, 10.0, 4), lm[0][1], (lm[0][0],), lm, jac))

    # --- Highly multimodal problems (global minima only) ----------------------------------------
    for d in (2, 5, 10):
        z = (0.0,) * d
        add(
            TestProblem(
                f"rastrigin_{d}d", rastrigin, _box(-5.12, 5.12, d), 0.0, (z,), jac=rastrigin_jac
            )
        )
        add(
            TestProblem(f"ackley_{d}d", ackley, _box(-32.768, 32.768, d), 0.0, (z,), jac=ackley_jac)
        )
        add(
            TestProblem(
                f"griewank_{d}d", griewank, _box(-600.0, 600.0, d), 0.0, (z,), jac=griewank_jac
            )
        )
        add(
            TestProblem(
                f"schwefel_{d}d",
                schwefel,
                _box(-500.0, 500.0, d),
                d * _SCHWEFEL_G,
                ((_SCHWEFEL_T,) * d,),
                jac=schwefel_jac,
            )
        )
        add(TestProblem(f"levy_{d}d", levy, _box(-10.0, 10.0, d), 0.0, ((1.0,) * d,), jac=levy_jac))
    for d in (2, 5, 10):
        add(
            TestProblem(
                f"michalewicz_{d}d",
                michalewicz,
                _box(0.0, PI, d),
                _MICH_F[d],
                (_MICH_T[:d],),
                jac=michalewicz_jac,
            )
        )
    # Dixon-Price: x_i = 2^(-(2^i - 2) / 2^i); x_1..x_{d-1} must be positive (x_{i-1} = 2 x_i^2),
    # the last coordinate may take either sign.
    for d in (5, 10):
        head = tuple(2.0 ** (-(2.0**i - 2.0) / 2.0**i) for i in range(1, d))
        last = 2.0 ** (-(2.0**d - 2.0) / 2.0**d)
        add(
            TestProblem(
                f"dixon_price_{d}d",
                dixon_price,
                _box(-10.0, 10.0, d),
                0.0,
                ((*head, last), (*head, -last)),
                jac=dixon_price_jac,
            )
        )
    shubert_min = tuple(
        sorted(
            [(a, b) for a in _SHUBERT_TMAX for b in _SHUBERT_TMIN]
            + [(b, a) for a in _SHUBERT_TMAX for b in _SHUBERT_TMIN]
        )
    )
    add(
        TestProblem(
            "shubert", shubert, _box(-10.0, 10.0, 2), _SHUBERT_F, shubert_min, jac=shubert_jac
        )
    )
    add(TestProblem("levy13", levy13, _box(-10.0, 10.0, 2), 0.0, ((1.0, 1.0),), jac=levy13_jac))
    add(
        TestProblem(
            "schaffer2", schaffer2, _box(-100.0, 100.0, 2), 0.0, ((0.0, 0.0),), jac=schaffer2_jac
        )
    )
    t4 = _SCHAFFER4_T
    add(
        TestProblem(
            "schaffer4",
            schaffer4,
            _box(-100.0, 100.0, 2),
            _SCHAFFER4_F,
            ((-t4, 0.0), (0.0, -t4), (0.0, t4), (t4, 0.0)),
            jac=schaffer4_jac,
        )
    )
    perm4 = tuple(1.0 / j for j in range(1, 5))
    add(TestProblem("perm0_4d", perm0, _box(-4.0, 4.0, 4), 0.0, (perm4,), jac=perm0_jac))
    add(TestProblem("easom", easom, _box(-100.0, 100.0, 2), -1.0, ((PI, PI),), jac=easom_jac))
    add(TestProblem("drop_wave", drop_wave, _box(-5.12, 5.12, 2), -1.0, ((0.0, 0.0),)))
    add(TestProblem("eggholder", eggholder, _box(-512.0, 512.0, 2), _EGG_F, (_EGG_X,)))
    holder = tuple((sx * _HOLDER_T[0], sy * _HOLDER_T[1]) for sx, sy in product((1, -1), repeat=2))
    add(TestProblem("holder_table", holder_table, _box(-10.0, 10.0, 2), _HOLDER_F, holder))
    cit = tuple((sx * _CIT_T, sy * _CIT_T) for sx, sy in product((1, -1), repeat=2))
    add(TestProblem("cross_in_tray", cross_in_tray, _box(-10.0, 10.0, 2), _CIT_F, cit))
    add(TestProblem("bukin6", bukin6, ((-15.0, -5.0), (-3.0, 3.0)), 0.0, ((-10.0, 1.0),)))
    for k, fun, jac in (
        (1, bohachevsky1, bohachevsky1_jac),
        (2, bohachevsky2, bohachevsky2_jac),
        (3, bohachevsky3, bohachevsky3_jac),
    ):
        add(
            TestProblem(f"bohachevsky{k}", fun, _box(-100.0, 100.0, 2), 0.0, ((0.0, 0.0),), jac=jac)
        )

    return {p.name: p for p in probs}


PROBLEMS: dict[str, TestProblem] = _build()


def _aliases() -> dict[str, str]:
    """Family names without a dimension suffix, mapped to the smallest registered variant."""
    out = {"bohachevsky": "bohachevsky1"}
    for name in sorted(PROBLEMS, key=lambda n: PROBLEMS[n].dim, reverse=True):
        family, _, suffix = name.rpartition("_")
        if family and family not in PROBLEMS and suffix[:-1].isdigit() and suffix[-1] == "d":
            out[family] = name
    return out


_ALIASES: dict[str, str] = _aliases()


def get(name: str) -> TestProblem:
    """Return the problem called ``name``.

    A family name without its dimension suffix (``"rastrigin"``) gives the smallest registered
    variant (``"rastrigin_2d"``); ``"bohachevsky"`` gives ``"bohachevsky1"``.
    """
    if name in PROBLEMS:
        return PROBLEMS[name]
    if name in _ALIASES:
        return PROBLEMS[_ALIASES[name]]
    raise KeyError(f"unknown test problem {name!r}; known: {', '.join(sorted(PROBLEMS))}")


def names(
    *,
    max_dim: int | None = None,
    with_local_minima: bool = False,
    with_jac: bool = False,
) -> list[str]:
    """Sorted problem names, optionally only those up to ``max_dim`` variables, those with a
    full local-minima list, or those with an analytic gradient."""
    out = []
    for name, p in PROBLEMS.items():
        if max_dim is not None and p.dim > max_dim:
            continue
        if with_local_minima and not p.local_minima:
            continue
        if with_jac and p.jac is None:
            continue
        out.append(name)
    return sorted(out)
