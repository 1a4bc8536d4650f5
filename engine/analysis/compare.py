"""Which local method suits a problem? :func:`compare_methods` runs each from the same starts.

Examples
--------
>>> from engine.analysis.compare import compare_methods
>>> f = lambda x: float((x[0] ** 2 - 1) ** 2 + x[1] ** 2)
>>> table = compare_methods(f, [(-2, 2), (-1, 1)], methods=("L-BFGS-B", "Powell"), n_starts=8)
>>> [row.method for row in table.rows], [round(row.best, 6) for row in table.rows]
(['L-BFGS-B', 'Powell'], [0.0, 0.0])
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.api import minimize
from engine.exceptions import ConfigError
from engine.local.methods import canonical_method
from engine.parallel.clusters import open_executor
from engine.problem import normalize_bounds
from engine.results.types import MultistartResult
from engine.sampling import sample_starts

_COLUMNS = (
    ("method", "method", "{}"),
    ("success_rate", "success", "{:.0%}"),
    ("nfev_mean", "nfev/start", "{:.1f}"),
    ("nfev_total", "nfev total", "{:d}"),
    ("best", "best f", "{:.10g}"),
    ("n_minima", "minima", "{:d}"),
    ("wall_time", "wall s", "{:.3f}"),
)


@dataclass(frozen=True)
class MethodRow:
    """One method's outcome from the shared starts.

    Attributes
    ----------
    method : str
        The :func:`scipy.optimize.minimize` method.
    success_rate : float
        Share of starts whose local solve succeeded (0 to 1).
    nfev_mean, nfev_total : float, int
        Objective evaluations per start and in all.
    best : float
        Best value found (NaN when no run succeeded).
    n_minima : int
        Distinct minima found.
    wall_time : float
        Seconds the whole multistart run took.
    """

    method: str
    success_rate: float
    nfev_mean: float
    nfev_total: int
    best: float
    n_minima: int
    wall_time: float

    def to_dict(self) -> dict[str, Any]:
        """The row as a plain dict."""
        return {name: getattr(self, name) for name, _, _ in _COLUMNS}


@dataclass(frozen=True)
class ComparisonTable:
    """Rows of :func:`compare_methods`, in the order the methods were given.

    Attributes
    ----------
    rows : tuple of MethodRow
        One per method.
    results : dict
        Method name -> the full :class:`~engine.results.MultistartResult`.
    n_starts : int
        Starts shared by every method.
    """

    rows: tuple[MethodRow, ...]
    results: dict[str, MultistartResult] = field(default_factory=dict)
    n_starts: int = 0

    def to_frame(self) -> Any:
        """A pandas DataFrame with one row per method (needs the ``pandas`` extra)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "to_frame() needs pandas: pip install 'multistart-engine[pandas]'"
            ) from None
        return pd.DataFrame([row.to_dict() for row in self.rows])

    def __str__(self) -> str:
        header = [title for _, title, _ in _COLUMNS]
        body = []
        for row in self.rows:
            cells = []
            for name, _, fmt in _COLUMNS:
                value = getattr(row, name)
                cells.append("nan" if isinstance(value, float) and math.isnan(value)
                             else fmt.format(value))
            body.append(cells)
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        lines = [f"{self.n_starts} shared starts per method"]
        for cells in [header, *body]:
            lines.append("  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip())
        return "\n".join(lines)


@contextlib.contextmanager
def _shared_client(client: Any) -> Iterator[Any]:
    """One temporary local cluster for all methods when ``client`` is None."""
    if client is not None:
        yield client
        return
    with open_executor(None) as executor:
        yield executor


def compare_methods(
    fun: Callable[..., Any],
    bounds: Any,
    methods: Sequence[str] = ("L-BFGS-B", "Nelder-Mead", "Powell"),
    n_starts: int = 64,
    seed: int | None = 0,
    client: Any = "serial",
    **kwargs: Any,
) -> ComparisonTable:
    """Run :func:`engine.minimize` once per method from the same start points.

    The starts are sampled once (``sampler``, default Sobol, with ``seed``) and passed to
    every run as an array, so differences come from the methods alone.

    Parameters
    ----------
    fun, bounds
        As for :func:`engine.minimize`.
    methods : sequence of str
        :func:`scipy.optimize.minimize` methods to compare.
    n_starts : int
        Start points shared by all methods.
    seed : int, optional
        Fixes the start points.
    client : 'serial', None, distributed.Client or str
        Where to run (see :func:`engine.minimize`); ``None`` starts one temporary local
        cluster used for every method.
    **kwargs
        Further :func:`engine.minimize` arguments (``args``, ``jac``, ``options``, ``tol``,
        ``xtol``, ``ftol``, ``maximize``, ``sampler`` as a name, ...).

    Returns
    -------
    ComparisonTable
        ``rows`` (success rate, evaluations, best value, distinct minima, wall time per
        method), ``str()`` an aligned table, ``to_frame()`` a DataFrame.

    Examples
    --------
    >>> f = lambda x: float((x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2)
    >>> table = compare_methods(f, [(-5, 5), (-5, 5)], methods=("L-BFGS-B", "Nelder-Mead"),
    ...                         n_starts=16)
    >>> [(row.method, row.success_rate, row.n_minima) for row in table.rows]
    [('L-BFGS-B', 1.0, 4), ('Nelder-Mead', 1.0, 4)]
    >>> print(str(table).splitlines()[0])
    16 shared starts per method
    """
    names = [canonical_method(m) for m in methods]  # fail on a typo before any work
    given = sorted(k for k in ("x0", "method") if k in kwargs)
    if given:
        raise ConfigError(f"compare_methods got {', '.join(given)}: it runs every method in "
                          "methods= from the same sampled starts; drop those keyword "
                          "arguments (use methods=[...], n_starts=, seed=, sampler=)")
    sampler = kwargs.pop("sampler", "sobol")
    if not isinstance(sampler, str):
        starts = np.asarray(sampler, dtype=float)
    else:
        lower, upper = normalize_bounds(bounds)
        starts = sample_starts(sampler, n_starts, lower, upper, seed=seed)
    rows, results = [], {}
    with _shared_client(client) as shared:
        for method in names:
            res = minimize(fun, bounds, method=method, sampler=starts, seed=seed,
                           client=shared, **kwargs)
            n = max(res.n_starts, 1)
            rows.append(MethodRow(
                method=method,
                success_rate=(res.n_starts - res.n_failed) / n,
                nfev_mean=res.nfev / n,
                nfev_total=res.nfev,
                best=float(res.fun),
                n_minima=len(res.minima),
                wall_time=res.wall_time,
            ))
            results[method] = res
    return ComparisonTable(rows=tuple(rows), results=results, n_starts=len(starts))
