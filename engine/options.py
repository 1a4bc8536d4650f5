"""The run's options: frozen groups, one per YAML section and ``minimize`` keyword group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StartOptions:
    """Where local solves start.

    ``n_starts`` sampled points (``sampler``) after the user's own ``x0`` points. ``seed``
    fixes every start; ``None`` draws fresh entropy, recorded in the result's provenance.
    """

    n_starts: int = 128
    sampler: str = "sobol"
    seed: int | None = None
    x0: np.ndarray | None = None
    points: np.ndarray | None = None


GLOBAL_PHASES = ("differential_evolution", "dual_annealing", "direct", "shgo")


@dataclass(frozen=True)
class SearchOptions:
    """How the budget is spent between exploring the box and local solves.

    Attributes
    ----------
    strategy : {'auto', 'mlsl', 'tiktak', 'all'}
        ``'all'`` solves from every start (``n_starts`` local solves). ``'mlsl'`` evaluates a
        space-filling sample in rounds and solves only from points that no better sample point
        or known minimum covers (Multi-Level Single Linkage), plus basin-hopping moves around
        the best minima. ``'tiktak'`` solves from the best fraction of the sample, each start
        pulled toward the best minimum. ``'auto'`` (default) is ``'mlsl'`` when only
        ``max_evals`` is given and ``'all'`` when ``n_starts`` or start points are given.
    n_explore : int, optional
        Sample points evaluated per round (default from the budget: 10% of ``max_evals``,
        between ``20 * dim`` and 20000).
    vectorized : bool
        The objective accepts a ``(d, n)`` array and returns ``n`` values (as in
        ``scipy.optimize.differential_evolution``): the sample is evaluated in one call.
    hops : bool
        Also start local solves from perturbations of the best minima (basin hopping).
    global_phase : str, optional
        Run one of scipy's global optimizers first and start a local solve from its result.
    global_fraction : float
        Share of ``max_evals`` given to the global phase.
    polish : bool
        Solve the best minima again with tight tolerances at the end.
    """

    strategy: str = "auto"
    n_explore: int | None = None
    vectorized: bool = False
    hops: bool = True
    global_phase: str | None = None
    global_fraction: float = 0.2
    polish: bool = True


@dataclass(frozen=True)
class DedupOptions:
    """Tolerances deciding when two converged points are the same minimum (see basins)."""

    xtol: float = 1e-4
    ftol: float = 1e-6


@dataclass(frozen=True)
class StopOptions:
    """Rules that end a run before every start is solved."""

    max_evals: int | None = None
    max_time: float | None = None
    target: float | None = None
    max_discoveries: int | None = None
    bayes: bool = False
    max_evals_without_improvement: int | None = None


@dataclass(frozen=True)
class OutputOptions:
    """Where the CLI writes ``result.json``, ``minima.csv``, ``runs.csv`` and the journal."""

    dir: str = "results"
    runs_csv: bool = True


@dataclass(frozen=True)
class LocalOptions:
    """How each local solve is run.

    Parameters
    ----------
    method : str
        A :func:`scipy.optimize.minimize` method.
    options : dict
        Passed as ``options=`` to scipy (``maxiter``, ``ftol``, ``gtol``, ...).
    tol : float, optional
        Passed as ``tol=`` to scipy.
    start_timeout : float, optional
        Wall seconds one start may take; checked at every objective call, so the solve ends
        at the first call after the limit and is recorded as failed.
    restarts : int
        How many times a successful solve is restarted from its own end point while that
        still lowers the value. Quasi-Newton methods sometimes stop short of a stationary
        point (a line search that fails, or a relative-reduction test met on a plateau);
        one restart with a fresh model costs a few evaluations and finishes the descent.
    scale : bool or None
        Solve in coordinates scaled to the unit box (``z = (x - lower) / width``), so that a
        unit step means the same in every direction when bound widths differ by orders of
        magnitude; points and values are reported in the user's coordinates, and the
        solver's tolerances apply to the scaled coordinates. ``None`` (default) scales when
        the widest bound is more than 10 times the narrowest. Problems with constraints are
        always solved in the user's coordinates.
    max_nfev : int, optional
        Evaluations one start may use (set by the driver from what is left of ``max_evals``);
        a solve that reaches it ends as failed with the best point it saw.
    """

    method: str = "L-BFGS-B"
    options: dict[str, Any] = field(default_factory=dict)
    tol: float | None = None
    start_timeout: float | None = None
    restarts: int = 1
    scale: bool | None = None
    max_nfev: int | None = None
