"""Multi-Level Single Linkage: start only where no better sample point or minimum is close.

Rinnooy Kan and Timmer, Math. Programming 39, 1987; the selection itself is
:func:`engine.search.selection.mlsl_select`, the rounds :mod:`engine.search.rounds`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from engine.search.registry import register
from engine.search.rounds import ExplorationRounds, Sample
from engine.search.selection import critical_distance, mlsl_select

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session


@register("mlsl")
class MLSL(ExplorationRounds):
    """Starts from sample points that no better point within the critical distance covers,
    skipping those close to a better known minimum; plus hops from the best minima.

    Examples
    --------
    >>> from engine.options import SearchOptions
    >>> MLSL(SearchOptions()).name
    'mlsl'
    """

    def pick(self, session: Session, sample: Sample) -> tuple[list[np.ndarray], list[int]]:
        minima_units, minima_values = session.minima_units()
        selection = mlsl_select(sample.units, sample.values, sample.used, minima_units,
                                minima_values,
                                critical_distance(len(sample.values), session.problem.dim))
        session.n_skipped += selection.n_skipped
        rows = [int(r) for r in selection.rows]
        return [sample.units[r] for r in rows], rows

    def still_worth(self, session: Session, pending: list[np.ndarray], rows: list[int],
                    sample: Sample) -> tuple[list[np.ndarray], list[int]]:
        """Drop picked starts that a minimum found since lies close to and below."""
        if not pending:
            return pending, rows
        minima_units, minima_values = session.minima_units()
        if not len(minima_units):
            return pending, rows
        radius = critical_distance(len(sample.values), session.problem.dim)
        tree = cKDTree(minima_units)
        keep_points, keep_rows = [], []
        for point, row in zip(pending, rows, strict=True):
            close = tree.query_ball_point(point, radius)
            if any(minima_values[m] <= sample.values[row] for m in close):
                session.n_skipped += 1
                continue
            keep_points.append(point)
            keep_rows.append(row)
        return keep_points, keep_rows
