"""Search strategies by name: the protocol they follow, the registry, and what "auto" means.

A strategy decides where local solves start and how the budget is spent; the driver builds
the session, looks the strategy up here, and calls its ``run``. A new strategy is one class
in one module, decorated with :func:`register` and imported by :mod:`engine.search`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

from engine.exceptions import ConfigError
from engine.options import LocalOptions, SearchOptions, use_strategy_registry
from engine.stop import StopReason

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session, StartPlan


class Strategy(Protocol):
    """Where local solves start: what the driver calls, for every strategy.

    Attributes
    ----------
    name : str
        The ``strategy=`` value that selects it (set by :func:`register`).
    polishes : bool
        The driver solves the best minima once more with tight tolerances when the strategy
        ends (if ``search.polish``); the strategy keeps evaluations back for it.

    Examples
    --------
    >>> @register("center-only")
    ... class CenterOnly:
    ...     polishes = False
    ...     def __init__(self, search):
    ...         self.search = search
    ...     def run(self, session, plan, local):
    ...         centre = (session.problem.lower + session.problem.upper) / 2
    ...         session.solve([(0, centre)], local)
    ...         return "n_starts"
    >>> "center-only" in strategy_names()
    True
    >>> _ = STRATEGIES.pop("center-only")
    """

    name: ClassVar[str]
    polishes: ClassVar[bool]

    def __init__(self, search: SearchOptions) -> None: ...

    def run(self, session: Session, plan: StartPlan, local: LocalOptions) -> StopReason:
        """Solve starts on ``session`` until done; why it ended.

        A stop rule may also end it by raising :class:`engine.stop.StopRun`.
        """
        ...


STRATEGIES: dict[str, type[Strategy]] = {}


_Class = TypeVar("_Class", bound=type)


def register(name: str) -> Callable[[_Class], _Class]:
    """Class decorator: make the class the strategy called ``name``."""

    def add(cls: _Class) -> _Class:
        if name in STRATEGIES and STRATEGIES[name] is not cls:
            raise ValueError(f"strategy {name!r} is already registered ({STRATEGIES[name]})")
        cls.name = name
        STRATEGIES[name] = cls
        return cls

    return add


def strategy_names() -> tuple[str, ...]:
    """The registered strategies (``'auto'`` is not one: see :func:`resolve_strategy`).

    Examples
    --------
    >>> {"all", "mlsl", "tiktak"} <= set(strategy_names())
    True
    """
    return tuple(STRATEGIES)


def make_strategy(name: str, search: SearchOptions) -> Strategy:
    """The strategy ``name`` set up with ``search``."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ConfigError(f"strategy={name!r} is unknown; allowed: "
                          f"{', '.join(('auto', *strategy_names()))}") from None
    return cls(search)


def resolve_strategy(strategy: str, *, n_starts_given: bool, points_given: bool,
                     max_evals: int | None) -> str:
    """What ``strategy="auto"`` means for these arguments (other names are kept).

    With only an evaluation budget the engine decides where to start (``'portfolio'``:
    measured better than any one search by ``scripts/bench-quality``); when you fix the
    number of starts or give the start points, every start is solved.

    Examples
    --------
    >>> resolve_strategy("auto", n_starts_given=False, points_given=False, max_evals=1000)
    'portfolio'
    >>> resolve_strategy("auto", n_starts_given=True, points_given=False, max_evals=1000)
    'all'
    >>> resolve_strategy("tiktak", n_starts_given=True, points_given=False, max_evals=None)
    'tiktak'
    """
    if strategy != "auto":
        return strategy
    if max_evals is not None and not n_starts_given and not points_given:
        return "portfolio"
    return "all"


# Option checks accept every name registered here (engine.options cannot import this).
use_strategy_registry(strategy_names)
