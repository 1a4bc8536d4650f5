"""When a run ends: the stop rules, and the Bayesian estimates some of them read.

Every rule is a class here with a ``check(session, run)`` that names its reason or gives
None; :func:`rules_from` builds the rules a run's options ask for. The session asks them at
four checkpoints (see :data:`Checkpoint`), so a new rule is one class: decorate it with
:func:`register_rule`, give it a ``from_options`` and add its reason to :data:`StopReason`.

Boender and Rinnooy Kan's estimates: after ``n`` local solves (from starts spread uniformly
over the region) that found ``w`` distinct minima, the posterior expectation of the total
number of minima is

    N_est = w (n - 1) / (n - w - 2)                        (valid for n > w + 2)

and the expected fraction of the region covered by the basins of the minima found is

    coverage = (n - w - 1) (n + w) / (n (n - 1))

(Boender and Rinnooy Kan, "Bayesian stopping rules for multistart global optimization
methods", Math. Programming 37, 1987). The Bayes rule stops once ``N_est < w + 0.5``,
that is once the estimate says that no minimum is left to find.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from engine.options import StopOptions

if TYPE_CHECKING:  # annotations only: the session imports this module
    from engine.results.types import LocalRun
    from engine.session import Session

StopReason = Literal[
    "n_starts",           # every planned start was solved
    "max_evals",          # the evaluation budget is spent
    "max_time",           # the wall-time limit passed
    "target",             # a run converged at least as low (high, maximizing) as the target
    "max_discoveries",    # the best minimum was reached that many times
    "bayes",              # the Bayesian estimate says no minimum is left to find
    "callback",           # the user's callback returned True
    "explored",           # the exploration sample reached its share and nothing is left to start
    "interrupted",        # KeyboardInterrupt (Ctrl-C)
    "terminated",         # SIGTERM (scancel, a walltime, kill): set by `multistart run`
    "max_evals_without_improvement",  # that many evaluations without a better value
]

# When the session asks a rule:
#   "report": once per run as it arrives in this session (not for resumed runs), with the display
#   "run":    after each recorded run (also each resumed one)
#   "budget": after each recorded run and after every batch of sample evaluations
#   "round":  after each round of starts (after each run when a strategy has no rounds)
Checkpoint = Literal["report", "run", "budget", "round"]
CHECKPOINTS: tuple[Checkpoint, ...] = ("report", "run", "budget", "round")


class StopRun(Exception):
    """Raised anywhere inside a run to end it; the driver catches it and keeps ``reason``.

    Examples
    --------
    >>> try:
    ...     raise StopRun("max_evals")
    ... except StopRun as stop:
    ...     stop.reason
    'max_evals'
    """

    def __init__(self, reason: StopReason, note: str | None = None) -> None:
        super().__init__(reason)
        self.reason: StopReason = reason
        #: What ended the run, in words, for the result's message (e.g. the callback's error).
        self.note = note


class StopRule:
    """A rule that ends a run: subclasses set the class attributes and :meth:`met`.

    Attributes
    ----------
    reason : StopReason
        What the result's ``stop_reason`` says when this rule ended the run.
    at : Checkpoint
        When the session asks the rule.
    each_run : bool
        The verdict depends on the run itself, not only on the session's totals: it is asked
        for every run of a batch recorded at once (the others only after the batch's first).
    polish_after : bool
        The best minima are still worth polishing when this rule ended the run (not when
        the user asked for the run to end now: time, target, callback).

    Examples
    --------
    >>> class AfterTenRuns(StopRule):
    ...     reason, at = "n_starts", "run"
    ...     def met(self, session, run):
    ...         return len(session.runs) >= 10
    >>> AfterTenRuns().at
    'run'
    """

    reason: ClassVar[StopReason]
    at: ClassVar[Checkpoint]
    each_run: ClassVar[bool] = False
    polish_after: ClassVar[bool] = False

    @classmethod
    def from_options(cls, stop: StopOptions,
                     callback: Callable[..., Any] | None) -> StopRule | None:
        """The rule these options ask for, or None."""
        return None

    def met(self, session: Session, run: LocalRun | None) -> bool:
        raise NotImplementedError

    def check(self, session: Session, run: LocalRun | None = None) -> StopReason | None:
        """This rule's reason if it says to stop now, else None."""
        return self.reason if self.met(session, run) else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# Every rule class, in the order the session asks the rules of one checkpoint.
RULES: list[type[StopRule]] = []


def register_rule(cls: type[StopRule]) -> type[StopRule]:
    """Class decorator: make ``cls`` one of the rules :func:`rules_from` builds."""
    RULES.append(cls)
    return cls


def rules_from(stop: StopOptions, callback: Callable[..., Any] | None = None) -> tuple[
        StopRule, ...]:
    """The rules that ``stop`` and ``callback`` ask for, in the order they are asked.

    Examples
    --------
    >>> rules_from(StopOptions(max_evals=100, target=0.0))
    (Target(0.0), MaxEvals(100))
    """
    made = (cls.from_options(stop, callback) for cls in RULES)
    return tuple(rule for rule in made if rule is not None)


def worth_polishing(reason: StopReason) -> bool:
    """Whether the best minima are worth polishing after a run ended for ``reason``.

    Examples
    --------
    >>> worth_polishing("max_evals"), worth_polishing("max_time")
    (True, False)
    """
    return reason in {"n_starts", "explored"} or any(
        cls.reason == reason and cls.polish_after for cls in RULES)


def better_than(f_new: float, f_old: float, ftol: float) -> bool:
    """``f_new`` lower than ``f_old`` (minimized sign) by more than the dedup tolerance.

    Examples
    --------
    >>> better_than(1.0, 2.0, 1e-6), better_than(1.0 - 1e-9, 1.0, 1e-6)
    (True, False)
    """
    if not math.isfinite(f_new):
        return False
    if not math.isfinite(f_old):
        return True
    return f_new < f_old - ftol * max(1.0, abs(f_old))


@register_rule
class Target(StopRule):
    """A run converged at least as low (as high, maximizing) as ``target``.

    Examples
    --------
    >>> Target(0.5)
    Target(0.5)
    """

    reason = "target"
    at = "run"
    each_run = True

    def __init__(self, target: float) -> None:
        self.target = float(target)

    @classmethod
    def from_options(cls, stop: StopOptions, callback: Callable[..., Any] | None) -> Target | None:
        return None if stop.target is None else cls(stop.target)

    def met(self, session: Session, run: LocalRun | None) -> bool:
        sign = session.problem.sign  # the run holds the user's sign
        return run is not None and run.success and sign * run.fun <= sign * self.target

    def __repr__(self) -> str:
        return f"Target({self.target!r})"


@register_rule
class MaxDiscoveries(StopRule):
    """The best minimum so far was reached from ``k`` starts.

    Examples
    --------
    >>> MaxDiscoveries(3)
    MaxDiscoveries(3)
    """

    reason = "max_discoveries"
    at = "run"
    polish_after = True

    def __init__(self, k: int) -> None:
        self.k = int(k)

    @classmethod
    def from_options(cls, stop: StopOptions,
                     callback: Callable[..., Any] | None) -> MaxDiscoveries | None:
        return None if stop.max_discoveries is None else cls(stop.max_discoveries)

    def met(self, session: Session, run: LocalRun | None) -> bool:
        online = session.online
        return bool(len(online)) and len(online.best().members) >= self.k

    def __repr__(self) -> str:
        return f"MaxDiscoveries({self.k})"


@register_rule
class MaxEvals(StopRule):
    """``max_evals`` objective evaluations were spent (solves, sample and global phase).

    Examples
    --------
    >>> MaxEvals(1000)
    MaxEvals(1000)
    """

    reason = "max_evals"
    at = "budget"
    polish_after = True

    def __init__(self, max_evals: int) -> None:
        self.max_evals = int(max_evals)

    @classmethod
    def from_options(cls, stop: StopOptions,
                     callback: Callable[..., Any] | None) -> MaxEvals | None:
        return None if stop.max_evals is None else cls(stop.max_evals)

    def met(self, session: Session, run: LocalRun | None) -> bool:
        return session.nfev >= self.max_evals

    def __repr__(self) -> str:
        return f"MaxEvals({self.max_evals})"


@register_rule
class MaxTime(StopRule):
    """``max_time`` seconds passed since the session started.

    Examples
    --------
    >>> MaxTime(60.0)
    MaxTime(60.0)
    """

    reason = "max_time"
    at = "budget"

    def __init__(self, max_time: float) -> None:
        self.max_time = float(max_time)

    @classmethod
    def from_options(cls, stop: StopOptions,
                     callback: Callable[..., Any] | None) -> MaxTime | None:
        return None if stop.max_time is None else cls(stop.max_time)

    def met(self, session: Session, run: LocalRun | None) -> bool:
        return session.elapsed() >= self.max_time

    def __repr__(self) -> str:
        return f"MaxTime({self.max_time!r})"


@register_rule
class MaxEvalsWithoutImprovement(StopRule):
    """``n`` evaluations passed since the best value last improved by more than ``ftol``.

    The best value is the lowest converged minimum, or the lowest point evaluated anywhere
    where the session keeps one (no constraints, no noise); ``ftol`` is the dedup tolerance
    (relative, at least absolute), so an improvement too small to tell two minima apart
    does not count. The rule notices an improvement when it is asked, after each run or
    batch, so the count starts from the end of the batch that improved.

    Examples
    --------
    >>> MaxEvalsWithoutImprovement(500)
    MaxEvalsWithoutImprovement(500)
    """

    reason = "max_evals_without_improvement"
    at = "budget"
    polish_after = True

    def __init__(self, n: int) -> None:
        self.n = int(n)
        self.best = math.inf   # the best value when it last improved (minimized sign)
        self.since = 0         # the session's nfev then

    @classmethod
    def from_options(cls, stop: StopOptions,
                     callback: Callable[..., Any] | None) -> MaxEvalsWithoutImprovement | None:
        n = stop.max_evals_without_improvement
        return None if n is None else cls(n)

    def met(self, session: Session, run: LocalRun | None) -> bool:
        best = min(session.best, session.best_seen_f)
        if better_than(best, self.best, session.dedup.ftol):
            self.best, self.since = best, session.nfev
        return session.nfev - self.since >= self.n

    def __repr__(self) -> str:
        return f"MaxEvalsWithoutImprovement({self.n})"


@register_rule
class Bayes(StopRule):
    """Boender and Rinnooy Kan's estimate says no minimum is left to find.

    Examples
    --------
    >>> Bayes().at
    'round'
    """

    reason = "bayes"
    at = "round"
    polish_after = True

    @classmethod
    def from_options(cls, stop: StopOptions, callback: Callable[..., Any] | None) -> Bayes | None:
        return cls() if stop.bayes else None

    def met(self, session: Session, run: LocalRun | None) -> bool:
        return bayes_says_stop(session.n_success, len(session.online))


@register_rule
class Callback(StopRule):
    """The user's ``callback(state)`` returned True (exactly ``True``: not any truthy value).

    Examples
    --------
    >>> Callback(print).at
    'report'
    """

    reason = "callback"
    at = "report"
    each_run = True

    def __init__(self, callback: Callable[..., Any]) -> None:
        self.callback = callback

    @classmethod
    def from_options(cls, stop: StopOptions,
                     callback: Callable[..., Any] | None) -> Callback | None:
        return None if callback is None else cls(callback)

    def met(self, session: Session, run: LocalRun | None) -> bool:
        return run is not None and self.callback(session.state(run)) is True

    def __repr__(self) -> str:
        return f"Callback({self.callback!r})"


def estimated_n_minima(n_solves: int, n_found: int) -> float:
    """Posterior expected number of minima; ``inf`` while too few solves to tell.

    Examples
    --------
    >>> estimated_n_minima(100, 4)
    4.212765957446808
    >>> estimated_n_minima(5, 4)
    inf
    """
    n, w = int(n_solves), int(n_found)
    if w == 0:
        return math.inf if n == 0 else 0.0
    if n <= w + 2:
        return math.inf
    return w * (n - 1) / (n - w - 2)


def estimated_coverage(n_solves: int, n_found: int) -> float:
    """Posterior expected fraction of the region in the basins of the minima found.

    Examples
    --------
    >>> round(estimated_coverage(100, 4), 4)
    0.998
    >>> estimated_coverage(1, 1)
    0.0
    """
    n, w = int(n_solves), int(n_found)
    if n < 2 or n <= w + 1:
        return 0.0
    return (n - w - 1) * (n + w) / (n * (n - 1))


def bayes_says_stop(n_solves: int, n_found: int) -> bool:
    """True once the estimated number of minima is within 0.5 of the number found.

    Examples
    --------
    >>> bayes_says_stop(100, 4), bayes_says_stop(20, 4)
    (True, False)
    """
    return n_found > 0 and estimated_n_minima(n_solves, n_found) < n_found + 0.5
