"""Every run option, declared once.

Each option is one dataclass field of a frozen group (:class:`StartOptions`,
:class:`LocalOptions`, :class:`SearchOptions`, :class:`DedupOptions`, :class:`StopOptions`,
:class:`OutputOptions`). The field's name is the keyword argument and the YAML key (in the
section named by the group's ``section``); its metadata holds the check, the one-line doc and
whether it enters the run fingerprint. Everything else is derived from these declarations:
the checks run when a group is built (API and YAML alike), :mod:`engine.config` takes its
allowed keys from :func:`declarations`, ``docs/options.md`` is :func:`reference`, and the
journal's fingerprint is :func:`fingerprint`.

Examples
--------
>>> DedupOptions(xtol=1e-3).xtol
0.001
>>> try:
...     DedupOptions(xtol=2.0)
... except ConfigError as error:
...     print(error.problems[0])
dedup.xtol=2.0 is not allowed; use a finite number > 0 and < 1
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from engine.exceptions import ConfigError
from engine.local.methods import METHODS
from engine.sampling import SAMPLERS

#: ``check(key, value) -> None`` when the value is allowed, else the message naming the key,
#: the bad value, what is allowed and the fix.
Check = Callable[[str, Any], "str | None"]

GLOBAL_PHASES = ("differential_evolution", "dual_annealing", "direct", "shgo")


# ---------------------------------------------------------------- value checks


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def did_you_mean(word: str, choices: Any) -> str:
    """A ``" (did you mean 'x'?)"`` hint for a misspelt name, or ``""``."""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def integer(minimum: int = 1, optional: bool = False) -> Check:
    """An integer ``>= minimum`` (numpy integers and integral floats such as ``1e4`` too)."""

    def check(key: str, value: Any) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            integral = True  # (float() of a huge int overflows)
        else:
            integral = (_is_number(value) and math.isfinite(float(value))
                        and float(value).is_integer())
        if not integral or value < minimum:
            extra = " or null" if optional else ""
            return f"{key}={value!r} is not allowed; use an integer >= {minimum}{extra}"
        return None

    return check


def number(low: float | None = None, high: float | None = None, optional: bool = False,
           strict_low: bool = True) -> Check:
    """A finite number in ``(low, high)`` (``[low, high)`` when not ``strict_low``)."""

    def check(key: str, value: Any) -> str | None:
        if value is None and optional:
            return None
        bad = not _is_number(value) or not math.isfinite(float(value))
        if not bad and low is not None:
            bad = value <= low if strict_low else value < low
        if not bad and high is not None:
            bad = value >= high
        if not bad:
            return None
        parts = []
        if low is not None:
            parts.append(f"{'>' if strict_low else '>='} {low:g}")
        if high is not None:
            parts.append(f"< {high:g}")
        rng = " and ".join(parts)
        return (f"{key}={value!r} is not allowed; use a finite number"
                f"{' ' + rng if rng else ''}{' or null' if optional else ''}")

    return check


def one_of(allowed: tuple[str, ...], case_insensitive: bool = False,
           optional: bool = False) -> Check:
    """One of the names ``allowed``."""

    def check(key: str, value: Any) -> str | None:
        if value is None and optional:
            return None
        names = [a.lower() for a in allowed] if case_insensitive else list(allowed)
        probe = value.lower() if case_insensitive and isinstance(value, str) else value
        if not isinstance(probe, str) or probe not in names:
            extra = " or null" if optional else ""
            return (f"{key}={value!r} is unknown; allowed: {', '.join(allowed)}{extra}"
                    f"{did_you_mean(str(value), allowed)}")
        return None

    return check


def boolean(optional: bool = False) -> Check:
    """``True`` or ``False`` (and ``None`` when optional)."""

    def check(key: str, value: Any) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, (bool, np.bool_)):
            return f"{key}={value!r} is not allowed; use true or false{' or null' * optional}"
        return None

    return check


def mapping(key: str, value: Any) -> str | None:
    """A mapping of names to values (or None)."""
    if value is not None and not isinstance(value, Mapping):
        return f"{key}={value!r} is not allowed; use a mapping of option names to values"
    return None


def text(key: str, value: Any) -> str | None:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        return f"{key}={value!r} is not allowed; use a non-empty string"
    return None


def sampler_check(key: str, value: Any) -> str | None:
    """A sampler name, or (from Python) an array of start points, checked with the problem."""
    if isinstance(value, str):
        return one_of(tuple(SAMPLERS))(key, value)
    if value is None:
        return f"{key}=None is not allowed; use one of {', '.join(SAMPLERS)} or an (n, d) array"
    return points_check(key, value)


def _builtin_strategies() -> tuple[str, ...]:
    return ("all", "mlsl", "tiktak", "descents")


#: Where ``search.strategy`` names come from: :mod:`engine.search` installs its registry here
#: when imported, so a registered strategy is accepted without an edit of this module.
_strategy_names: Callable[[], tuple[str, ...]] = _builtin_strategies


def use_strategy_registry(names: Callable[[], tuple[str, ...]]) -> None:
    """Take the allowed ``search.strategy`` names from ``names()`` (the strategy registry)."""
    global _strategy_names
    _strategy_names = names


def strategy_check(key: str, value: Any) -> str | None:
    """``'auto'`` or the name of a registered strategy."""
    return one_of(("auto", *_strategy_names()))(key, value)


def points_check(key: str, value: Any) -> str | None:
    """A list of points (their length is checked against the bounds later) or null."""
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return f"{key}={value!r} is not numeric; give a point or a list of points"
    if arr.ndim not in (1, 2) or not np.all(np.isfinite(arr)):
        return f"{key} must be one point or a list of points of finite numbers"
    return None


# ---------------------------------------------------------------- declarations


def option(default: Any, check: Check, doc: str, *, fingerprint: bool = True,
           flat: bool = False, factory: Callable[[], Any] | None = None) -> Any:
    """Declare one option: a dataclass field carrying its check and doc.

    Parameters
    ----------
    default : object
        The default value (for a mutable default, pass ``factory`` instead).
    check : callable
        ``check(key, value)`` returning None or the error message.
    doc : str
        One line for ``docs/options.md`` and ``multistart check``.
    fingerprint : bool
        Whether the value decides the runs' outcomes (it enters the journal fingerprint).
    flat : bool
        Also a top-level keyword of :func:`engine.minimize` (the scipy-like names).
    """
    meta = {"check": check, "doc": doc, "fingerprint": fingerprint, "flat": flat}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def internal(default: Any = None) -> Any:
    """A field the engine sets for itself (not an option a user gives)."""
    return field(default=default, metadata={"internal": True})


@dataclass(frozen=True)
class OptionGroup:
    """Base of the option groups: checks every option when built, collecting all problems."""

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigError(problems)
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            # numpy scalars and integral floats (YAML's 1e4) become plain Python numbers, so
            # results and fingerprints hold the same value whatever way it was given.
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, float) and _is_int_option(spec) and value.is_integer():
                value = int(value)
            object.__setattr__(self, spec.name, value)

    def problems(self, prefix: str | None = None) -> list[str]:
        """Every problem with the values of this group, keys named ``section.key``."""
        prefix = self.section if prefix is None else prefix
        out = []
        for spec in option_fields(type(self)):
            key = f"{prefix}.{spec.name}" if prefix else spec.name
            message = spec.metadata["check"](key, getattr(self, spec.name))
            if message is not None:
                out.append(message)
        return out

    @classmethod
    def gather(cls, argument: str, given: Any,
               flat: Mapping[str, Any] | None = None) -> tuple[Any, list[str]]:
        """Build the group from a keyword argument and the flat keywords that belong to it.

        ``given`` is an instance, a mapping of the group's keys, or None; ``flat`` holds the
        plain keywords of this group that the caller set (``method=``, ``max_evals=``, ...).
        Returns ``(group, [])``, or ``(None, problems)`` naming each key as it was written:
        ``argument.key`` inside the group, the bare name for a flat keyword.

        Examples
        --------
        >>> group, problems = LocalOptions.gather("local", {"restarts": -1}, {"tol": 0})
        >>> group is None, [p.split(" is ")[0] for p in problems]
        (True, ['local.restarts=-1', 'tol=0'])
        """
        names = [f.name for f in option_fields(cls)]
        if given is None:
            values: dict[str, Any] = {}
        elif isinstance(given, cls):
            values = {name: getattr(given, name) for name in names}
        elif isinstance(given, Mapping):
            values = dict(given)
        else:
            return None, [f"{argument}={given!r} is not allowed; pass a {cls.__name__} or a "
                          f"dict of its keys ({', '.join(names)})"]
        problems = [f"unknown key {argument}.{k}{did_you_mean(str(k), names)}; allowed in "
                    f"{argument}: {', '.join(names)}" for k in values if k not in names]
        for key, value in (flat or {}).items():
            if key in values and isinstance(given, Mapping):
                problems.append(f"{key}= and {argument}[{key!r}] are both given; give it once")
            values[key] = value
        checks = {f.name: f.metadata["check"] for f in option_fields(cls)}
        for key, value in values.items():
            if key in checks:
                shown = key if key in (flat or {}) else f"{argument}.{key}"
                if (message := checks[key](shown, value)) is not None:
                    problems.append(message)
        return (None, problems) if problems else (cls(**values), [])

    def to_dict(self) -> dict[str, Any]:
        """The options (not the engine's internal fields) as plain data."""
        return {f.name: plain_data(getattr(self, f.name)) for f in option_fields(type(self))}


def _is_int_option(spec: dataclasses.Field) -> bool:
    return "int" in str(spec.type) and "float" not in str(spec.type)


def option_fields(group: type) -> list[dataclasses.Field]:
    """The declared options of a group (its internal fields left out)."""
    return [f for f in dataclasses.fields(group) if "check" in f.metadata]


@dataclass(frozen=True)
class StartOptions(OptionGroup):
    """Where local solves start: the user's ``x0`` points first, then ``n_starts`` sampled ones.

    Examples
    --------
    >>> StartOptions(n_starts=16, seed=1).n_starts
    16
    """

    section: ClassVar[str] = "starts"
    n_starts: int | None = option(
        None, integer(0, optional=True), "local solves from sampled starts, after x0 "
        "(default 128; with only stop.max_evals: keep starting until the budget is spent)",
        flat=True)
    sampler: Any = option(
        "sobol", sampler_check, "how starts are spread: sobol, halton, lhs, lhs-cd, uniform, "
        "sobol-seq (from Python also an (n, d) array of start points)", flat=True)
    seed: int | None = option(
        None, integer(0, optional=True), "fixes every start (null: fresh entropy, recorded "
        "in the result)", flat=True)
    x0: Any = option(None, points_check, "start points of your own, solved first", flat=True)

    @property
    def points(self) -> np.ndarray | None:
        """The start points when ``sampler`` is an array of them, else None."""
        return None if isinstance(self.sampler, str) else np.asarray(self.sampler, dtype=float)


@dataclass(frozen=True)
class LocalOptions(OptionGroup):
    """How each local solve is run (:func:`scipy.optimize.minimize` and what wraps it).

    ``max_nfev`` is set by the engine from what is left of ``max_evals``: a solve that reaches
    it ends as failed with the best point it saw. ``known_minima`` too, when the strategy asks
    (:attr:`engine.session.Session.join_radius`): a solve on its way back to one of them ends.

    Examples
    --------
    >>> LocalOptions(method="Nelder-Mead", restarts=0).restarts
    0
    """

    section: ClassVar[str] = "local"
    method: str = option(
        "auto", one_of(("auto", *METHODS), case_insensitive=True),
        "any scipy.optimize.minimize method (or for a least-squares problem trf, dogbox, lm), "
        "or auto: L-BFGS-B (SLSQP with constraints, trust-constr with a Hessian, Nelder-Mead "
        "or Powell when noisy; trf for least squares)", flat=True)
    options: dict[str, Any] = option(
        None, mapping, "passed as options= to scipy (maxiter, ftol, gtol, ...)", flat=True,
        factory=dict)
    tol: float | None = option(
        None, number(0.0, optional=True), "passed as tol= to scipy", flat=True)
    start_timeout: float | None = option(
        None, number(0.0, optional=True), "wall seconds one start may take before it is "
        "recorded as failed; on a Dask cluster a call still blocked after start_timeout + "
        "max(2 s, start_timeout) gets its worker restarted", fingerprint=False, flat=True)
    restarts: int = option(
        1, integer(0), "restarts of a converged solve from its end point while that still "
        "lowers f (a quasi-Newton method can stop short of a stationary point)")
    scale: bool | None = option(
        None, boolean(optional=True), "solve in coordinates scaled to the unit box (null: "
        "decided per problem: when bound widths differ more than 10x, by comparing the "
        "curvature along each axis in both coordinates; else for gradient methods on boxes "
        "wider than 20)")
    noisy: bool = option(
        False, boolean(), "the objective is noisy: auto picks a derivative-free method, the "
        "noise is measured (40 evaluations, not counted) and the solver and dedup tolerances "
        "left at their defaults are set from it")
    max_nfev: int | None = internal()
    # Minima a solve may stop at on its way down (engine.local.known.KnownMinima), or None.
    known_minima: Any = internal()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.options is None:
            object.__setattr__(self, "options", {})
        elif not isinstance(self.options, dict):
            object.__setattr__(self, "options", dict(self.options))


@dataclass(frozen=True)
class SearchOptions(OptionGroup):
    """How the budget is spent between exploring the box and local solves.

    Examples
    --------
    >>> SearchOptions(strategy="tiktak").polish
    True
    """

    section: ClassVar[str] = "search"
    strategy: str = option(
        "auto", strategy_check, "all: solve from every start; mlsl: sample in rounds "
        "and solve only from points no better point or minimum covers; tiktak: from the best "
        "tenth of the sample, pulled toward the best minimum; descents: independent descents "
        "until the budget is spent; portfolio: mlsl, a quadratic model of the funnel, basin "
        "hopping, tiktak, descents, differential evolution and a DIRECT-style partition on one "
        "budget, which moves to the searches that improve (res.portfolio shows the split); "
        "auto: portfolio with only max_evals, else all")
    n_explore: int | None = option(
        None, integer(1, optional=True), "sample points evaluated per exploration round "
        "(null: 10% of max_evals, between 20 per variable and 20000)")
    vectorized: bool = option(
        False, boolean(), "the objective takes a (d, n) array and returns n values",
        fingerprint=False)
    hops: bool = option(True, boolean(), "basin-hopping moves and coordinate sweeps around "
                        "the best minima (mlsl, tiktak, portfolio)")
    global_phase: str | None = option(
        None, one_of(GLOBAL_PHASES, optional=True), "run this scipy global optimizer first "
        "and solve from its best point")
    global_fraction: float = option(
        0.2, number(0.0, 1.0), "share of max_evals given to the global phase")
    polish: bool = option(True, boolean(), "solve the best minima again with tol=1e-12 at the "
                          "end (mlsl, tiktak, portfolio)")


@dataclass(frozen=True)
class DedupOptions(OptionGroup):
    """When two converged points are the same minimum (decided in the unit box).

    Examples
    --------
    >>> DedupOptions().ftol
    1e-06
    """

    section: ClassVar[str] = "dedup"
    xtol: float = option(
        1e-4, number(0.0, 1.0), "largest distance in any coordinate, as a fraction of that "
        "bound's width, between two points of one minimum")
    ftol: float = option(
        1e-6, number(0.0, strict_low=False), "largest value difference, relative to "
        "max(1, |f|), between two points of one minimum")
    segment_check: bool = option(
        True, boolean(), "join minima of (nearly) equal value with no barrier on the segment "
        "between them (5 evaluations a pair, counted apart); one spread along a flat "
        "direction is noted as degenerate")


@dataclass(frozen=True)
class StopOptions(OptionGroup):
    """Rules that end a run before every start is solved (see :mod:`engine.stop`).

    Examples
    --------
    >>> StopOptions(max_evals=1e4).max_evals
    10000
    """

    section: ClassVar[str] = "stop"
    max_evals: int | None = option(
        None, integer(1, optional=True), "stop after this many objective evaluations (all "
        "workers together)", flat=True)
    max_time: float | None = option(
        None, number(0.0, optional=True), "stop after this many seconds", fingerprint=False,
        flat=True)
    target: float | None = option(
        None, number(optional=True), "stop once a value at least this good is found",
        fingerprint=False, flat=True)
    max_discoveries: int | None = option(
        None, integer(1, optional=True), "stop once the best minimum was reached this many "
        "times", fingerprint=False)
    bayes: bool = option(
        False, boolean(), "stop once Boender and Rinnooy Kan's estimate of the number of minima "
        "is within 0.5 of the number found", fingerprint=False)
    max_evals_without_improvement: int | None = option(
        None, integer(1, optional=True), "stop once this many evaluations passed since the "
        "best value last improved", fingerprint=False)


@dataclass(frozen=True)
class OutputOptions(OptionGroup):
    """Where a batch run writes its files (YAML ``output:``; the API writes nothing)."""

    section: ClassVar[str] = "output"
    dir: str = option("results", text, "folder for result.json, minima.csv, runs.csv and "
                      "journal.jsonl", fingerprint=False)
    runs_csv: bool = option(True, boolean(), "also write runs.csv with every local run",
                            fingerprint=False)


#: The groups in YAML order; ``minimize`` takes each as a keyword of its section's name.
GROUPS: tuple[type[OptionGroup], ...] = (
    StartOptions, LocalOptions, SearchOptions, DedupOptions, StopOptions, OutputOptions)


def declarations() -> Iterator[tuple[type[OptionGroup], dataclasses.Field]]:
    """Every declared option with its group, in declaration order.

    Examples
    --------
    >>> sorted({g.section for g, _ in declarations()})
    ['dedup', 'local', 'output', 'search', 'starts', 'stop']
    """
    for group in GROUPS:
        for spec in option_fields(group):
            yield group, spec


def default_of(spec: dataclasses.Field) -> Any:
    """A declared option's default value."""
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


def reference() -> str:
    """Every option as a Markdown reference (``docs/options.md`` is this text).

    Examples
    --------
    >>> "| `dedup.xtol` | `0.0001` |" in reference()
    True
    """
    lines = ["# Options", "",
             "Generated from `engine/options.py` (`engine.options.reference()`); each key is",
             "a YAML key of its section and a key of the `minimize` keyword of the same name",
             "(`search=`, `stop=`, `dedup=`, `local=`; `starts` keys are plain keywords).",
             "Keys marked *flat* are also plain `minimize` keywords, as in scipy.", ""]
    for group in GROUPS:
        lines += [f"## `{group.section}`", "", "| key | default | meaning |", "|---|---|---|"]
        for spec in option_fields(group):
            flat = " (*flat*)" if spec.metadata["flat"] else ""
            default = json.dumps(plain_data(default_of(spec)))
            lines.append(f"| `{group.section}.{spec.name}` | `{default}` | "
                         f"{spec.metadata['doc']}{flat} |")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- plain data and hashes


def plain_data(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python numbers and lists (JSON).

    Examples
    --------
    >>> plain_data({"maxiter": np.int64(5), "eps": np.array([1e-8])})
    {'maxiter': 5, 'eps': [1e-08]}
    """
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def config_hash(data: Any) -> str:
    """SHA-256 (hex, 16 chars) of ``data`` as canonical JSON.

    Examples
    --------
    >>> len(config_hash({"a": 1})), config_hash([1, 2]) == config_hash([1, 2])
    (16, True)
    """
    text_ = json.dumps(data, sort_keys=True, default=json_default, separators=(",", ":"))
    return hashlib.sha256(text_.encode()).hexdigest()[:16]


def json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.size <= 64 or value.dtype.kind not in "biufc":
            return value.tolist()
        # A sampler's points (a million starts, say) are hashed as bytes: as JSON text they
        # would take longer than many runs.
        data = np.ascontiguousarray(value)
        return {"dtype": data.dtype.str, "shape": list(data.shape),
                "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return repr(value)


def fingerprint(problem_identity: Mapping[str, Any], groups: Mapping[str, OptionGroup],
                budget_decides: bool) -> str:
    """Hash of everything that decides the runs' outcomes: the problem and the options
    declared with ``fingerprint=True``.

    Two runs with the same fingerprint produce the same run for every start, so a journal
    written under one can be resumed under the other (on more workers, with another
    ``max_time``, ...). ``stop.max_evals`` enters only where the budget decides where solves
    start (``budget_decides``: every strategy but ``all``).

    Examples
    --------
    >>> a = fingerprint({"fun": "m:f"}, {"dedup": DedupOptions()}, False)
    >>> a == fingerprint({"fun": "m:f"}, {"dedup": DedupOptions(xtol=1e-3)}, False)
    False
    """
    data: dict[str, Any] = {"problem": dict(problem_identity)}
    for name, group in groups.items():
        data[name] = {f.name: getattr(group, f.name) for f in option_fields(type(group))
                      if f.metadata["fingerprint"]}
        if isinstance(group, StopOptions) and budget_decides:
            data[name]["max_evals"] = group.max_evals
    return config_hash(data)
