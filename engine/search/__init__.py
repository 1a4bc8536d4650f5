"""Search strategies: where local solves start, and how the budget is spent.

Every strategy follows :class:`Strategy` and is found by name in :data:`STRATEGIES`:

* ``'all'`` (:mod:`engine.search.all`): a local solve from every start.
* ``'mlsl'`` (:mod:`engine.search.mlsl`) and ``'tiktak'`` (:mod:`engine.search.tiktak`):
  rounds of exploration (:mod:`engine.search.rounds`) that pick starts from a growing
  sample, plus hops from the best minima (:mod:`engine.search.hops`).
* ``'descents'`` (:mod:`engine.search.descents`): every start, until the budget is spent.
* ``'portfolio'`` (:mod:`engine.search.portfolio`): MLSL, a model of the funnel
  (:mod:`engine.search.funnel`), basin hopping, coordinate sweeps, TikTak, descents, a
  population and a space partition (:mod:`engine.search.arms`) on one budget, stepped by a
  bandit rule.

``'auto'`` is resolved by :func:`resolve_strategy`: the portfolio with only a budget, every
start otherwise.
"""

from engine.search import all as _all  # noqa: F401 (registers the strategy)
from engine.search import descents as _descents  # noqa: F401
from engine.search import mlsl as _mlsl  # noqa: F401
from engine.search import portfolio as _portfolio  # noqa: F401
from engine.search import tiktak as _tiktak  # noqa: F401
from engine.search.registry import (
    STRATEGIES,
    Strategy,
    make_strategy,
    register,
    resolve_strategy,
    strategy_names,
)

__all__ = [
    "STRATEGIES",
    "Strategy",
    "make_strategy",
    "register",
    "resolve_strategy",
    "strategy_names",
]
