"""Plain multistart on a budget: independent descents from the start sequence, then a polish.

Like ``'all'``, the starts are solved in order (the user's points, then the sampler's), with
no exploration sample and no hops; unlike it, the run is shaped by ``max_evals``: a reserve
of the budget is kept back for polishing the best minima, and the starts go out in small
batches that share what is left, so that the budget holds on a cluster too (a stream of
starts runs ahead of the results). A baseline for the exploring strategies at an equal
budget, and a fair choice when descents are cheap and the basins many and small.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from engine.options import LocalOptions, SearchOptions
from engine.search.polish import polish_reserve
from engine.search.registry import register
from engine.search.rounds import affordable
from engine.stop import StopReason

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session, StartPlan

# Starts per batch at most. Fixed, not taken from the cluster's size, so that the same seed
# gives the same batches (and the same per-start caps) on any cluster.
BATCH = 16


@register("descents")
class Descents:
    """Descents from the plan's starts until the budget (less the polish reserve) is spent.

    Without ``max_evals`` every start is solved, streamed as ``'all'`` does.

    Examples
    --------
    >>> import engine
    >>> def himmelblau(x):
    ...     return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
    >>> res = engine.minimize(himmelblau, [(-5, 5), (-5, 5)], search={"strategy": "descents"},
    ...                       max_evals=1500, seed=0, client="serial")
    >>> len(res.minima), res.stop_reason, res.nfev <= 1500
    (4, 'max_evals', True)
    """

    polishes = True

    def __init__(self, search: SearchOptions) -> None:
        self.search = search

    def run(self, session: Session, plan: StartPlan, local: LocalOptions) -> StopReason:
        per_run = session.has_round_rules
        if session.stop.max_evals is None:
            session.solve(iter(plan), local, total=plan.total - len(session.runs),
                          per_run=per_run, collect=False)
            return "n_starts"
        reserve = (polish_reserve(session.stop.max_evals, session.problem.dim)
                   if self.search.polish else 0.0)
        starts = (start for start in plan if start[0] not in session.runs)  # resumed: done
        while session.remaining_evals() - reserve >= 1:
            batch = list(itertools.islice(starts, affordable(session, reserve, BATCH)))
            if not batch:
                return "n_starts"
            session.solve_within(batch, local, reserve, per_run=per_run, collect=False)
        return "max_evals"
