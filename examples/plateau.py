"""A plateau: gradient methods stop early, and the diagnosis says so.

f(x) = arctan(|x|^2) has one minimum, f = 0 at the origin, but beyond |x| ~ 10 the surface is
almost flat (the slope falls like 2/|x|^3). Solved in your units (``local={"scale": False}``),
L-BFGS-B stops wherever the slope drops below its tolerance, so most starts end on the plateau,
each at a different point, and the run reports dozens of "minima". ``engine.diagnose(result,
fun=...)`` recognises the pattern; the cures are the unit box (the default for a box this
wide: there the slope is 100 times steeper), a derivative-free method, or a reshaped objective
whose slope does not vanish.

Run: python examples/plateau.py
"""

from __future__ import annotations

import numpy as np

import engine

BOUNDS = [(-50.0, 50.0), (-50.0, 50.0)]


def plateau(x: np.ndarray) -> float:
    """arctan(|x|^2): a narrow well in a wide, nearly flat plateau."""
    return float(np.arctan(x @ x))


def reshaped(x: np.ndarray) -> float:
    """tan(plateau(x)) = |x|^2: the same minimum, a slope that never vanishes."""
    return float(x @ x)


def main() -> None:
    res = engine.minimize(plateau, BOUNDS, n_starts=64, seed=0, client="serial",
                          method="L-BFGS-B", local={"scale": False})
    print("L-BFGS-B on the plateau, in your units:")
    print(res.summary(max_rows=4))
    print()
    print(engine.diagnose(res, fun=plateau))
    print()
    unit = engine.minimize(plateau, BOUNDS, n_starts=64, seed=0, client="serial",
                           method="L-BFGS-B")
    print(f"L-BFGS-B in the unit box (the default here): {len(unit.minima)} distinct minimum, "
          f"f = {unit.fun:.3g} at x = {(np.round(unit.x, 4) + 0.0).tolist()}")
    nelder = engine.minimize(plateau, BOUNDS, n_starts=64, seed=0, client="serial",
                             method="Nelder-Mead")
    print(f"Nelder-Mead: {len(nelder.minima)} distinct minimum, f = {nelder.fun:.3g} "
          f"at x = {(np.round(nelder.x, 4) + 0.0).tolist()}")
    fixed = engine.minimize(reshaped, BOUNDS, n_starts=64, seed=0, client="serial",
                            method="L-BFGS-B")
    print(f"L-BFGS-B on the reshaped objective: {len(fixed.minima)} distinct minimum at "
          f"x = {(np.round(fixed.x, 4) + 0.0).tolist()} ({fixed.minima[0].n_hits} of 64 starts)")


if __name__ == "__main__":
    main()
