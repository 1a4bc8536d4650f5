"""The end of a search: the best minima solved once more with tight tolerances."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from engine.local.methods import is_least_squares
from engine.options import LocalOptions

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session


def polish_reserve(max_evals: int | None, dim: int) -> float:
    """Evaluations a strategy keeps back for :func:`polish` (none without a budget).

    Examples
    --------
    >>> polish_reserve(3000, 5), polish_reserve(None, 5)
    (120.0, 0.0)
    """
    if max_evals is None:
        return 0.0
    return float(min(0.1 * max_evals, max(0.03 * max_evals, 20 * (dim + 1))))


def polish(session: Session, local: LocalOptions) -> None:
    """Solve the best minima once more with tight tolerances, from where they are.

    A point evaluated lower than every minimum (a sample point, or a solve the budget cut
    short) is descended from first: it is where the best minimum probably lies.
    """
    leaders = session.online.leaders(3)
    points = [x for x, _ in leaders]
    best_known = leaders[0][1] if leaders else math.inf
    if session.best_seen_x is not None and session.best_seen_f < best_known - 1e-12 * (
            1.0 + abs(session.best_seen_f)):
        points = [session.best_seen_x, *points[:2]]
    if not points:
        return
    left = session.remaining_evals()
    if left <= 0:
        return
    # Right after the last start the strategy asked for (resumed ones included): a resumed
    # run finds its polish in the journal under these indices instead of adding another.
    first = session.last_requested + 1 if session.last_requested >= 0 else session.next_index()
    session.solve_within([(first + k, x) for k, x in enumerate(points)], tight_options(local),
                         0.0)


#: Tolerances of a least-squares polish: the solver stops where rounding does, so fits with a
#: certified answer agree with it to the digits the data allow.
LEAST_SQUARES_TOL = 1e-15


def tight_options(local: LocalOptions) -> LocalOptions:
    """``local`` with the tolerances of a polish: ``tol=1e-12``; for a least-squares method
    ``ftol = xtol = gtol = 1e-15`` and ``x_scale='jac'`` (unless the user chose an
    ``x_scale``).

    Examples
    --------
    >>> tight_options(LocalOptions(method="trf")).options["x_scale"]
    'jac'
    """
    if is_least_squares(local.method):
        tight = {"x_scale": "jac", **local.options, "ftol": LEAST_SQUARES_TOL,
                 "xtol": LEAST_SQUARES_TOL, "gtol": LEAST_SQUARES_TOL}
        return replace(local, tol=None, restarts=max(local.restarts, 1), options=tight)
    return replace(local, tol=min(local.tol or 1e-12, 1e-12), restarts=max(local.restarts, 1))
