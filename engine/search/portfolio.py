"""A portfolio of searches sharing one budget and one set of minima, the budget moved online
to the searches that are paying off.

No single search wins on every landscape: MLSL on well-separated basins, a model of the
funnel where the landscape is a rugged bowl (:mod:`engine.search.funnel`), basin hopping
where good minima lie next to each other, coordinate sweeps where the variables barely
interact, TikTak where good sample points cluster, plain descents on many small basins, a
population method on needles and deceptive funnels, a space partition where the minimum
hides in a corner (:mod:`engine.search.arms`). The portfolio
runs them side by side on one :class:`~engine.session.Session` (so a minimum one finds, the
others see and skip), one step at a time. Which search takes the next step is decided by a
bandit rule on the searches' records: each has a target share of the evaluations, its prior
share (:data:`PRIOR`) times how often its steps lowered the best value or found a new minimum
(:func:`target_shares`), and the search furthest below its share goes next
(:func:`next_arm`): the budget moves to the searches that pay off, and none starves (each
keeps at least a third of its prior share, and the searches of :data:`CORE` take their first
step as soon as there is something to step from). Every evaluation of every search counts
against ``max_evals``; ``res.portfolio`` says how the budget was split.

Each step is decided from the results of the steps before it only, so the same seed gives the
same run on any number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from engine.options import LocalOptions, SearchOptions
from engine.search.arms import (
    Steps,
    descent_steps,
    hopping_steps,
    partition_steps,
    population_steps,
    sweep_steps,
)
from engine.search.funnel import LowestPoints, funnel_steps
from engine.search.mlsl import MLSL
from engine.search.polish import polish_reserve
from engine.search.registry import register
from engine.search.rounds import StartIndices
from engine.search.tiktak import TikTak
from engine.stop import StopReason

if TYPE_CHECKING:  # annotations only: the session imports engine.search
    from engine.session import Session, StartPlan

#: Reward of a step that found a new minimum without lowering the best value.
NEW_MINIMUM = 0.25


@dataclass
class Arm:
    """One search of the portfolio and what its steps brought.

    Attributes
    ----------
    name : str
        The search.
    evaluations : int
        Evaluations its steps spent (exploration and local solves).
    improvements : int
        Steps that lowered the best value of the run.
    new_minima : int
        Distinct minima its steps added.
    steps : int
        Steps taken.
    reward : float
        Improvements, plus :data:`NEW_MINIMUM` per step that only found a new minimum.
    done : str or None
        Why it stopped before the run did (its own end), or None.
    """

    name: str
    steps_iter: Steps = field(repr=False)
    evaluations: int = 0
    improvements: int = 0
    new_minima: int = 0
    steps: int = 0
    reward: float = 0.0
    done: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"evaluations": self.evaluations, "improvements": self.improvements,
                "new_minima": self.new_minima, "steps": self.steps,
                "ended": self.done}


#: Each search's share of the budget before any has shown what it finds: MLSL, the engine's
#: best single search on average, leads; the funnel, basin hopping and coordinate sweeps,
#: which win where MLSL loses at small budgets, follow; the others get a fair try. Set on
#: ``scripts/bench-quality`` (at 1e3 and 1e4 evaluations, within 0.02 of the best contender
#: per problem; the same targets met with hopping at 0.25 to 0.3 and sweeps at 0.1 to 0.2).
PRIOR = {"mlsl": 0.6, "funnel": 0.3, "hopping": 0.3, "sweeps": 0.15, "tiktak": 0.1,
         "descents": 0.05, "population": 0.15, "partition": 0.1}
#: Searches that keep their whole prior share at small budgets: each step is one descent from
#: what the others found (a sample, a minimum), so a fair try costs a few descents.
CORE = ("mlsl", "funnel", "hopping", "sweeps")

#: A descent that comes this close (unit box, every coordinate) to a minimum found before its
#: batch began, still above it, ends there as another hit of it: small budgets are not spent
#: finding a minimum again (measured on ``scripts/bench-quality``: 0.02 gains 1 to 2 points of
#: success rate at 1e3 and 1e4 evaluations, 0.05 cuts descents bound elsewhere too early).
JOIN_RADIUS = 0.02
#: ... at budgets up to this. Beyond, finding every minimum matters more than the evaluations
#: saved: on Shubert's function (18 global minima, in pairs 0.03 of the box apart, among some
#: 760 local ones) the default found 13 of the 18 with 30,000 evaluations and 17 with 1e5
#: when descents joined, 18 without; 12 either way with 10,000.
JOIN_BUDGET = 10_000
#: Weight of the prior against a search's record (in steps).
PRIOR_STEPS = 2.0
#: Budgets below this lean on the searches of :data:`CORE`: a fair try of each other search
#: (a population, a partition, a sample of its own) would cost a large part of them (their
#: prior shares shrink in proportion).
FULL_PORTFOLIO_EVALS = 30_000


def budget_weight(max_evals: int | None) -> float:
    """How much of their prior share the searches outside :data:`CORE` get at this budget.

    Examples
    --------
    >>> budget_weight(3000), budget_weight(50_000), budget_weight(None)
    (0.1, 1.0, 1.0)
    """
    return 1.0 if max_evals is None else min(1.0, max_evals / FULL_PORTFOLIO_EVALS)


def target_shares(arms: list[Arm], weight: float = 1.0) -> dict[str, float]:
    """The share of the evaluations each live search should have had by now.

    A search's weight is its prior share times ``0.5 + rate``, ``rate`` being its smoothed
    fraction of steps that improved (the prior counts as :data:`PRIOR_STEPS` steps at 0.5),
    so a search that keeps improving gains budget and one that does not keeps a floor of a
    third of its prior share. ``weight`` (:func:`budget_weight`) scales the prior shares of
    the searches outside :data:`CORE`.

    Examples
    --------
    >>> a, b = Arm("mlsl", iter(())), Arm("partition", iter(()))
    >>> a.steps, a.reward, b.steps = 10, 8.0, 10
    >>> {k: round(v, 2) for k, v in target_shares([a, b]).items()}
    {'mlsl': 0.93, 'partition': 0.07}
    """
    live = [arm for arm in arms if arm.done is None]
    weights = {}
    for arm in live:
        rate = (arm.reward + 0.5 * PRIOR_STEPS) / (arm.steps + PRIOR_STEPS)
        prior = PRIOR.get(arm.name, 0.1) * (1.0 if arm.name in CORE else weight)
        weights[arm.name] = prior * (0.5 + min(rate, 1.0))
    total = sum(weights.values()) or 1.0
    return {name: weight / total for name, weight in weights.items()}


def next_arm(arms: list[Arm], weight: float = 1.0, first_step: float = 100.0) -> Arm:
    """The search to step next: of those whose next step fits what they are owed, the one
    furthest below its target share of the evaluations spent.

    A search is owed ``share * spent - its evaluations``; its next step is expected to cost
    what its steps cost on average (``first_step`` before its first). MLSL, the backbone, may
    always step, and the other searches of :data:`CORE` may take their first step at once,
    so a small budget is not spent on steps that would overrun a small share.

    Examples
    --------
    >>> a, b = Arm("mlsl", iter(())), Arm("partition", iter(()))
    >>> a.evaluations, a.steps, b.evaluations, b.steps = 900, 3, 0, 0
    >>> next_arm([a, b], first_step=50).name  # partition is owed 0.1 * 900 >= 50
    'partition'
    >>> next_arm([a, b], first_step=500).name  # its first step would overrun its share
    'mlsl'
    """
    shares = target_shares(arms, weight)
    live = [arm for arm in arms if arm.done is None]
    spent = sum(arm.evaluations for arm in live)

    def owed(arm: Arm) -> float:
        return shares[arm.name] * spent - arm.evaluations

    def fits(arm: Arm) -> bool:
        if arm.name == "mlsl" or (arm.name in CORE and not arm.steps):
            return True  # the backbone, and a first try of the searches the others feed
        cost = arm.evaluations / arm.steps if arm.steps else first_step
        return owed(arm) >= cost

    eligible = [arm for arm in live if fits(arm)] or live
    return max(eligible, key=lambda arm: owed(arm) / max(spent, 1))


@register("portfolio")
class Portfolio:
    """Several searches on one budget and one set of minima, stepped by a bandit rule.

    The searches: ``mlsl`` and ``tiktak`` (exploration rounds, each with its own sample and
    half the exploration allowance; a fresh sample is a step of its own), ``funnel`` (a
    descent from the bottom of a quadratic fitted to the lowest points every search has
    evaluated), ``hopping`` (monotonic basin hopping from the best minimum), ``sweeps``
    (coordinate sweeps from the best minimum; neither with ``hops=False``), ``descents``
    (plain descents from a space-filling stream), ``population`` (differential evolution,
    DE/rand/1/bin, whose best member is descended from when it improves) and ``partition``
    (DIRECT-style trisection of the box, descending from the best new centre). See the module
    docstring for the rule.

    Examples
    --------
    >>> import engine
    >>> def himmelblau(x):
    ...     return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
    >>> res = engine.minimize(himmelblau, [(-5, 5), (-5, 5)], max_evals=3000, seed=0,
    ...                       client="serial", search={"strategy": "portfolio"})
    >>> len(res.minima), sorted(res.portfolio)[:4]
    (4, ['descents', 'funnel', 'hopping', 'mlsl'])
    >>> sum(arm["evaluations"] for arm in res.portfolio.values()) <= 3000
    True
    """

    polishes: ClassVar[bool] = True

    def __init__(self, search: SearchOptions) -> None:
        self.search = search
        self.arms: list[Arm] = []

    def report(self) -> dict[str, dict[str, Any]]:
        """Evaluations, improvements, new minima and steps of each search."""
        return {arm.name: arm.to_dict() for arm in self.arms}

    def run(self, session: Session, plan: StartPlan, local: LocalOptions) -> StopReason:
        max_evals = session.stop.max_evals
        reserve = polish_reserve(max_evals, session.problem.dim) if self.search.polish else 0.0
        indices = StartIndices(len(plan.fixed), plan.total)
        seen = LowestPoints(session.problem.dim)  # what the searches evaluate, for the funnel
        session.evaluated = seen
        small = max_evals is not None and max_evals <= JOIN_BUDGET
        session.join_radius = JOIN_RADIUS if small else None
        searches = {
            # MLSL, the backbone, explores the plan's own stream with the whole allowance; its
            # first step solves the user's points and runs the global phase if one is asked.
            "mlsl": MLSL(self.search).steps(session, plan, local, indices, alone=False),
            "tiktak": TikTak(self.search).steps(session, plan, local, indices,
                                                first_starts=False, alone=False,
                                                sample_share=PRIOR["tiktak"] + 0.1,
                                                stream_key=2),
            "funnel": funnel_steps(session, plan, local, indices, reserve, seen, self.search),
            "hopping": hopping_steps(session, plan, local, indices, reserve),
            "sweeps": sweep_steps(session, plan, local, indices, reserve, self.search),
            "descents": descent_steps(session, plan, local, indices, reserve),
            "population": population_steps(session, plan, local, indices, reserve, self.search),
            "partition": partition_steps(session, local, indices, reserve, self.search),
        }
        if not self.search.hops:  # no moves around the best minima: MLSL's, nor these
            del searches["hopping"], searches["sweeps"]
        self.arms = [Arm(name, steps) for name, steps in searches.items()]
        weight = budget_weight(max_evals)
        first_step = 30.0 * (session.problem.dim + 1)  # a local solve, as `affordable` assumes
        try:
            while True:
                if session.remaining_evals() - reserve < 1:
                    return "max_evals"
                if indices.left <= 0:
                    return "n_starts"
                if all(arm.done is not None for arm in self.arms):
                    return "explored"
                self._step(session, next_arm(self.arms, weight, first_step))
        finally:
            session.evaluated = None
            session.join_radius = None

    def _step(self, session: Session, arm: Arm) -> None:
        """One step of ``arm``, credited with what it spent and brought."""
        nfev, best, n_minima = session.nfev, _best(session), len(session.online)
        try:
            next(arm.steps_iter)
        except StopIteration as end:
            arm.done = str(end.value or "done")
        finally:
            arm.steps += 1
            arm.evaluations += session.nfev - nfev
            improved = _best(session) < best - session.dedup.ftol * max(1.0, abs(best))
            found = len(session.online) > n_minima
            arm.improvements += improved
            arm.new_minima += max(0, len(session.online) - n_minima)
            arm.reward += 1.0 if improved else (NEW_MINIMUM if found else 0.0)


def _best(session: Session) -> float:
    """The best value so far (minimized sign): a minimum's or a point evaluated."""
    return min(session.best, session.best_seen_f)
