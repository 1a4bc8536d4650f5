"""Plain multistart on a budget: independent descents from the start sequence, then a polish.

Like ``'all'``, every start is solved in order (the user's points, then the sampler's), with
no exploration sample and no hops; unlike it, the run is shaped by ``max_evals``: a reserve
of the budget is kept back for polishing the best minima, and the starts stop when only the
reserve is left. A baseline for the exploring strategies at an equal budget, and the right
choice when every descent is cheap and the basins are many and small.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from engine.options import LocalOptions, SearchOptions
from engine.search.polish import polish_reserve
from engine.search.registry import register
from engine.stop import StopReason

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session, Start, StartPlan


@register("descents")
class Descents:
    """Descents from the plan's starts until the budget (less the polish reserve) is spent.

    Examples
    --------
    >>> import engine
    >>> def himmelblau(x):
    ...     return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
    >>> res = engine.minimize(himmelblau, [(-5, 5), (-5, 5)], strategy="descents",
    ...                       max_evals=1500, seed=0, client="serial")
    >>> len(res.minima), res.stop_reason, res.nfev <= 1500
    (4, 'max_evals', True)
    """

    polishes = True

    def __init__(self, search: SearchOptions) -> None:
        self.search = search

    def run(self, session: Session, plan: StartPlan, local: LocalOptions) -> StopReason:
        reserve = (polish_reserve(session.stop.max_evals, session.problem.dim)
                   if self.search.polish else 0.0)
        session.solve_within(_while_affordable(session, plan, reserve), local, reserve,
                             total=plan.total - len(session.runs),
                             per_run=session.has_round_rules, collect=False)
        return "max_evals" if session.remaining_evals() - reserve < 1 else "n_starts"


def _while_affordable(session: Session, plan: StartPlan, reserve: float) -> Iterator[Start]:
    """The plan's starts while more than ``reserve`` evaluations are left.

    In this process the session stops at the reserve itself; on a cluster the starts are
    sent ahead of the results, so this is what keeps the stream from spending the reserve
    (the starts in flight when it is reached still finish).
    """
    for start in plan:
        if session.remaining_evals() - reserve < 1:
            return
        yield start
