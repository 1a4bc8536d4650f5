"""Solve every start of the plan: the user's points, then the sampled ones."""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

from engine.options import LocalOptions, SearchOptions
from engine.search.registry import register
from engine.search.rounds import affordable
from engine.stop import StopReason

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session, StartPlan


@register("all")
class SolveAll:
    """A local solve from each of the ``n_starts`` starts (resumed ones are kept).

    The starts stream through the executor, so a million of them never sit in memory; the
    round rules (the Bayesian estimate) are asked after every run, as each is a round. With
    ``max_evals`` on a cluster they go out in batches that share what is left of the budget,
    so that the starts in flight cannot overspend it.

    Examples
    --------
    >>> SolveAll(SearchOptions()).name, SolveAll.polishes
    ('all', False)
    """

    polishes = False

    def __init__(self, search: SearchOptions) -> None:
        self.search = search

    def run(self, session: Session, plan: StartPlan, local: LocalOptions) -> StopReason:
        per_run = session.has_round_rules
        budgeted = math.isfinite(session.remaining_evals())
        if not budgeted or getattr(session.executor, "kind", "") == "serial":
            # In this process each start gets exactly what is left when it begins.
            session.solve_within(iter(plan), local, 0.0, total=plan.total - len(session.runs),
                                 per_run=per_run, collect=False)
            return "n_starts"
        # On a cluster a stream runs ahead of its results: the tasks in flight would spend
        # the budget many times over (4958 evaluations for max_evals=300 on 2 workers).
        # Batches of half the starts the rest of the budget is expected to pay for, which
        # share it, keep the total within max_evals; the batches shrink as it runs out.
        starts = (start for start in plan if start[0] not in session.runs)  # resumed: done
        while session.remaining_evals() >= 1:
            size = max(1, affordable(session, 0.0, plan.total) // 2)
            batch = list(itertools.islice(starts, size))
            if not batch:
                return "n_starts"
            session.solve_within(batch, local, 0.0, per_run=per_run, collect=False)
        return "max_evals"
