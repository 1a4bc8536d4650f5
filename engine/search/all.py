"""Solve every start of the plan: the user's points, then the sampled ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.options import LocalOptions, SearchOptions
from engine.search.registry import register
from engine.stop import StopReason

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session, StartPlan


@register("all")
class SolveAll:
    """A local solve from each of the ``n_starts`` starts (resumed ones are kept).

    The starts stream through the executor, so a million of them never sit in memory; the
    round rules (the Bayesian estimate) are asked after every run, as each is a round.

    Examples
    --------
    >>> SolveAll(SearchOptions()).name, SolveAll.polishes
    ('all', False)
    """

    polishes = False

    def __init__(self, search: SearchOptions) -> None:
        self.search = search

    def run(self, session: Session, plan: StartPlan, local: LocalOptions) -> StopReason:
        session.solve_within(iter(plan), local, 0.0, total=plan.total - len(session.runs),
                             per_run=session.has_round_rules, collect=False)
        return "n_starts"
