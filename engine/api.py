"""The public entry points: :func:`minimize` (Python) and :func:`run_config` (YAML).

Both normalise their input once into the same option groups (:mod:`engine.options`), resolve
the ``"auto"`` values into a :class:`~engine.results.types.RunSpec` (:func:`resolve_spec`) and
hand it to the driver.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import RunConfig, describe, load_config
from engine.driver import run_multistart
from engine.exceptions import ConfigError, EngineError
from engine.fitting.config import least_squares_problem
from engine.fitting.residuals import data_digest, user_callables
from engine.local.methods import (
    METHODS,
    canonical_method,
    check_method_requirements,
    choose_method,
)
from engine.local.noise import estimate_noise, noisy_dedup, noisy_options
from engine.local.scipy_options import option_problems
from engine.local.setup import uses_scaling
from engine.options import (
    DedupOptions,
    LocalOptions,
    OptionGroup,
    SearchOptions,
    StartOptions,
    StopOptions,
    config_hash,
    declarations,
    default_of,
    did_you_mean,
    fingerprint,
    option_fields,
)
from engine.parallel.clusters import open_executor, prepare_process
from engine.problem import BoundsLike, Problem, load_callable
from engine.progress import RunState
from engine.provenance import code_identity
from engine.results.outputs import check_writable, journal_bytes, write_result_dir
from engine.results.rundir import open_history, open_journal
from engine.results.types import MultistartResult, RunSpec
from engine.sampling import SAMPLERS, seed_sequence
from engine.search import resolve_strategy
from engine.session import StartPlan

DEFAULT_N_STARTS = 128
# Samplers that make all their points at once, and the most points they are asked for.
EAGER_SAMPLERS = ("lhs", "lhs-cd", "sobol-seq")
EAGER_LIMIT = 10_000_000

#: The option groups ``minimize`` takes as keywords (``starts`` keys are plain keywords).
_GROUPED = (LocalOptions, SearchOptions, StopOptions, DedupOptions)
_FLAT_GROUPS = (StartOptions, *_GROUPED)


def minimize(
    fun: Callable[..., Any],
    bounds: BoundsLike,
    *,
    n_starts: int | None = None,
    method: str = "auto",
    sampler: str | Sequence[Sequence[float]] = "sobol",
    x0: Sequence[float] | Sequence[Sequence[float]] | None = None,
    seed: int | None = None,
    client: Any = None,
    maximize: bool = False,
    args: Any = (),
    jac: Any = None,
    hess: Any = None,
    constraints: Any = (),
    options: dict[str, Any] | None = None,
    tol: float | None = None,
    max_evals: int | None = None,
    max_time: float | None = None,
    target: float | None = None,
    start_timeout: float | None = None,
    journal: str | Path | None = None,
    progress: bool | Callable[..., None] = False,
    callback: Callable[[RunState], Any] | None = None,
    local: LocalOptions | Mapping[str, Any] | None = None,
    search: SearchOptions | Mapping[str, Any] | None = None,
    stop: StopOptions | Mapping[str, Any] | None = None,
    dedup: DedupOptions | Mapping[str, Any] | None = None,
    symmetries: Any = None,
    **moved: Any,
) -> MultistartResult:
    """Find the distinct local minima of ``fun`` in a box from many starts.

    Starts are spread over the box (Sobol by default); a local
    :func:`scipy.optimize.minimize` runs from each, on a Dask cluster or in this process;
    converged points are merged into distinct minima and ranked, best first.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float`` as in scipy (``(f, gradient)`` with ``jac=True``).
    bounds : sequence of (low, high) or scipy.optimize.Bounds
        Finite bounds for every variable; starts are drawn inside them.
    n_starts : int, optional
        Local solves from sampled starts, after the ``x0`` points (default 128; unlimited
        while ``max_evals`` remains when only ``max_evals`` is given).
    method : str
        Any :func:`scipy.optimize.minimize` method, or ``"auto"`` (default): L-BFGS-B
        (SLSQP with constraints, trust-constr with a Hessian, Nelder-Mead or Powell for a
        noisy objective); ``res.method`` records the choice.
    sampler : {'sobol', 'halton', 'lhs', 'lhs-cd', 'uniform', 'sobol-seq'} or array
        How starts are spread, or the start points themselves as an ``(n, d)`` array.
    x0 : array, optional
        One or more start points of your own, solved first.
    seed : int, optional
        Fixes every start; the same seed gives the same minima on any cluster.
    client : None, 'serial', distributed.Client, str or concurrent.futures.Executor
        ``None`` starts a temporary local Dask cluster sized to this machine; ``'serial'``
        runs here; a ``Client``, an address ``'tcp://host:port'``, any
        ``concurrent.futures.Executor`` (a ``ProcessPoolExecutor``, mpi4py's
        ``MPIPoolExecutor``) or an :class:`~engine.parallel.base.Executor` runs there; what
        is passed in is used, never closed.
    maximize : bool
        Find maxima instead: ``fun`` is negated internally, values are reported as given.
    args, jac, hess, constraints, options, tol
        Passed to :func:`scipy.optimize.minimize` with their scipy meaning.
    max_evals, max_time, target : optional
        Stop after this many objective evaluations, this many seconds, or once a value at
        least as good as ``target`` is found; ``res.stop_reason`` says which.
    start_timeout : float, optional
        Wall seconds allowed per start.
    journal : str or Path, optional
        Where each finished run is recorded; an existing journal of the same problem is
        resumed (its starts are not solved again). A JSONL file, or a directory (one that
        exists, or a new path without a suffix) holding the run history as Parquet segments
        (with the ``runs`` extra): past 100,000 runs ``res.runs`` is then read from there,
        not held in memory, and ``engine.load(path)`` reads it back.
    progress : bool or callable
        ``True``: a live bar in a terminal or notebook, a plain line every 10 s otherwise;
        or a callable ``display(state, final=False)``.
    callback : callable, optional
        ``callback(state)`` after each finished start; returning ``True`` stops the run.
    local, search, stop, dedup : options object or dict, optional
        The other options, grouped as in a YAML config (``docs/options.md`` lists them):
        ``local={"restarts": 1, "scale": None, "noisy": False}``,
        ``search={"strategy": "mlsl", "hops": True, ...}``,
        ``stop={"max_discoveries": 5, "bayes": True, ...}``,
        ``dedup={"xtol": 1e-4, "ftol": 1e-6}``.
    symmetries : list, optional
        Groups of parameters ``fun`` does not tell apart, e.g. ``[[0, 1], [2, 3]]``: minima
        that differ only by swapping them are reported once, in canonical order, with a note.

    Returns
    -------
    MultistartResult
        ``x``, ``fun`` (the best), ``minima``, ``runs``, ``nfev``, ``stop_reason``, ``spec``.

    Examples
    --------
    >>> import engine
    >>> def himmelblau(x):
    ...     return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
    >>> res = engine.minimize(himmelblau, [(-5, 5), (-5, 5)], n_starts=64, seed=0,
    ...                       client="serial")
    >>> len(res.minima), round(res.fun, 8) == 0
    (4, True)
    """
    if moved:
        raise ConfigError([_moved_message(name) for name in moved])
    problem = Problem.create(fun, bounds, args=args, jac=jac, hess=hess,
                             constraints=constraints, maximize=maximize, symmetries=symmetries)
    flat = {"n_starts": n_starts, "method": method, "sampler": sampler, "x0": x0, "seed": seed,
            "options": options, "tol": tol, "max_evals": max_evals, "max_time": max_time,
            "target": target, "start_timeout": start_timeout}
    given = {"local": local, "search": search, "stop": stop, "dedup": dedup}
    identity = {"code": code_identity(fun, jac, hess),
                "fun": f"{getattr(fun, '__module__', '')}:{problem.name}",
                "bounds": [problem.lower, problem.upper], "maximize": problem.maximize,
                "symmetries": [list(map(list, g)) for g in problem.symmetries]}
    return solve_problem(problem, flat, given, identity, client=client, journal=journal,
                         progress=progress, callback=callback)


def solve_problem(problem: Problem, flat: Mapping[str, Any], given: Mapping[str, Any],
                  identity: Mapping[str, Any], *, client: Any = None,
                  journal: str | Path | None = None,
                  progress: bool | Callable[..., None] = False,
                  callback: Callable[[RunState], Any] | None = None,
                  problems: Sequence[str] = ()) -> MultistartResult:
    """Check the options of a Python call, resolve them and run: the common tail of
    :func:`minimize` and :func:`engine.least_squares`.

    ``flat`` holds the plain keywords, ``given`` the grouped ones (``local``, ``search``,
    ``stop``, ``dedup``); ``problems`` are the caller's own findings, reported with the rest
    in one :class:`ConfigError`.
    """
    groups, found = _gather(given, flat)
    found = [*problems, *found]
    if callback is not None and not callable(callback):
        found.append(f"callback={callback!r} is not callable; pass a function "
                     "callback(state) (return True from it to stop the run) or None")
    if not (isinstance(progress, bool) or callable(progress)):
        found.append(f"progress={progress!r} is not allowed; use True, False or a callable "
                     "display(state, final=False)")
    if found:
        raise ConfigError(found)
    spec = resolve_spec(problem, groups, identity)
    with contextlib.ExitStack() as stack:
        run_journal = None
        if journal is not None:
            run_journal = stack.enter_context(open_journal(journal, spec.fingerprint))
        executor = stack.enter_context(open_executor(client, planned_runs(problem, spec)))
        return run_multistart(problem, spec, executor, journal=run_journal, progress=progress,
                              callback=callback, provenance={"fingerprint": spec.fingerprint})


def planned_runs(problem: Problem, spec: RunSpec) -> int:
    """The most local runs ``spec`` plans: its starts and ``x0`` points, fewer when the
    evaluation budget cannot pay for them all (a start costs at least ``dim + 1``).

    Examples
    --------
    >>> problem = Problem.create(lambda x: float(x @ x), [(-1, 1)] * 2)
    >>> planned_runs(problem, resolve_spec(problem, {"starts": StartOptions(n_starts=64)}))
    64
    """
    n_runs = spec.starts.n_starts
    if spec.stop.max_evals is not None:
        n_runs = min(n_runs, spec.stop.max_evals // (problem.dim + 1) + 1)
    return n_runs + (0 if spec.starts.x0 is None else len(np.atleast_2d(spec.starts.x0)))


def _moved_message(name: str) -> str:
    """Why ``minimize`` refuses a keyword: the group that holds it now, or its spelling."""
    for group, spec in declarations():
        if spec.name == name and group in _GROUPED:
            value = default_of(spec)
            return (f"{name}= is an option of the {group.section!r} group: write "
                    f"{group.section}={{{name!r}: {value!r}}} (see docs/options.md)")
    keywords = [p for p in inspect.signature(minimize).parameters if p != "moved"]
    return (f"minimize() got an unexpected keyword argument {name!r}"
            f"{did_you_mean(name, keywords)}")


def _flat_given(value: Any, default: Any) -> bool:
    """Whether a flat keyword was set (differs from its declared default)."""
    if value is None:  # None where the default is not: refused by the check, never ignored
        return default is not None and not isinstance(default, dict)
    if isinstance(value, str) and isinstance(default, str):
        return value != default
    return True


def _gather(given: Mapping[str, Any],
            flat: Mapping[str, Any]) -> tuple[dict[str, OptionGroup], list[str]]:
    """The option groups from the grouped keywords and the flat ones; every problem found."""
    groups: dict[str, OptionGroup] = {}
    problems: list[str] = []
    for group in _FLAT_GROUPS:
        names = {spec.name: spec for spec in option_fields(group)}
        mine = {k: v for k, v in flat.items()
                if k in names and _flat_given(v, default_of(names[k]))}
        built, found = group.gather(group.section, given.get(group.section), mine)
        problems += found
        if built is not None:
            groups[group.section] = built
    return groups, problems


def _start_problems(starts: StartOptions, dim: int) -> list[str]:
    """Start points of the wrong shape, and eager samplers asked for too many points."""
    problems = []
    for key, value in (("sampler", starts.points), ("x0", starts.x0)):
        if value is None:
            continue
        arr = np.asarray(value, dtype=float)
        arr = arr.reshape(1, -1) if arr.ndim == 1 else arr
        if arr.ndim != 2 or arr.shape[1] != dim or not len(arr):
            problems.append(f"{key} has shape {np.shape(value)} but the problem has {dim} "
                            f"variables; give one point of length {dim}, or an array of shape "
                            f"(n, {dim})")
    if (isinstance(starts.sampler, str) and starts.sampler in EAGER_SAMPLERS
            and starts.n_starts is not None
            and starts.n_starts > EAGER_LIMIT):
        problems.append(
            f"n_starts={starts.n_starts} with sampler={starts.sampler!r}: that sampler builds "
            f"every point up front; use n_starts <= {EAGER_LIMIT:,} or sampler='sobol' "
            "(drawn lazily)")
    return problems


def _checked_simplex(value: Any, dim: int) -> tuple[list[list[float]] | None, str | None]:
    """Nelder-Mead's ``initial_simplex`` as nested lists, or the reason it is refused."""
    try:
        simplex = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        simplex = None
    if simplex is None or simplex.shape != (dim + 1, dim) or not np.all(np.isfinite(simplex)):
        shape = getattr(simplex, "shape", "not numeric")
        return None, (f"options['initial_simplex'] has shape {shape}; it must be {dim + 1} "
                      f"finite points of length {dim} (shape ({dim + 1}, {dim})): the first "
                      "vertex is moved to each start, the others keep their offsets")
    return simplex.tolist(), None


def _budget_problems(max_evals: int | None, method: str, problem: Problem) -> list[str]:
    """A ``max_evals`` too small for one local solve (else the run ends at once, no error)."""
    has_jac = callable(problem.jac) or problem.jac is True
    # A simplex (or a first finite-difference gradient) costs d + 1 values; with a gradient
    # a solve needs at least its first point and one step.
    need = 2 if has_jac and METHODS[method].uses_jac else problem.dim + 1
    if max_evals is None or max_evals >= need:
        return []
    return [f"max_evals={max_evals} cannot pay for one local solve of a {problem.dim}-variable "
            f"problem with method={method!r} (at least {need} evaluations); raise it to a few "
            f"hundred per variable, e.g. max_evals={200 * problem.dim}"]


def resolve_spec(problem: Problem, groups: Mapping[str, OptionGroup] | None = None,
                 identity: Mapping[str, Any] | None = None) -> RunSpec:
    """Resolve every ``"auto"`` value once, check what needs the problem, and fingerprint.

    ``groups`` maps sections (``starts``, ``local``, ``search``, ``dedup``, ``stop``) to
    their options (a missing one takes its defaults); ``identity`` names the problem in the
    fingerprint.

    Examples
    --------
    >>> p = Problem.create(lambda x: float(x @ x), [(-1, 1)] * 2)
    >>> spec = resolve_spec(p, {"stop": StopOptions(max_evals=500)})
    >>> spec.method, spec.strategy, spec.starts.n_starts
    ('L-BFGS-B', 'portfolio', 500)

    Raises
    ------
    ConfigError
        Start points of the wrong shape or outside the bounds, a bad ``initial_simplex``,
        solver options the method does not take or of the wrong type.
    ProblemError
        A method without what it needs (a gradient, a Hessian, constraint support).
    """
    groups = {g.section: (groups or {}).get(g.section) or g() for g in _FLAT_GROUPS}
    starts: StartOptions = groups["starts"]  # type: ignore[assignment]
    local: LocalOptions = groups["local"]  # type: ignore[assignment]
    search: SearchOptions = groups["search"]  # type: ignore[assignment]
    stop: StopOptions = groups["stop"]  # type: ignore[assignment]
    problems = _start_problems(starts, problem.dim)
    options = dict(local.options)
    if "initial_simplex" in options:
        options["initial_simplex"], message = _checked_simplex(options["initial_simplex"],
                                                               problem.dim)
        problems += [message] if message else []
    method, reason = canonical_method(local.method), "chosen by the user"
    if method == "auto":
        method, reason = choose_method(problem, local.noisy)
    # Checked against the method that runs (auto's pick too): scipy would only warn about
    # an unknown option, or fail every start on a wrongly typed one.
    problems += option_problems(method, options)
    if search.vectorized and (message := problem.vectorized_problem()) is not None:
        problems.append(message)
    problems += _budget_problems(stop.max_evals, method, problem)
    if problems:
        raise ConfigError(problems)
    points = starts.points
    strategy = resolve_strategy(search.strategy, n_starts_given=starts.n_starts is not None,
                                points_given=points is not None, max_evals=stop.max_evals)
    n_starts = starts.n_starts
    if points is not None:
        n_starts = len(points)
    elif n_starts is None:
        # With only an evaluation budget, keep starting until the budget is spent.
        n_starts = max(DEFAULT_N_STARTS, stop.max_evals) if stop.max_evals else (
            DEFAULT_N_STARTS)
    check_method_requirements(method, problem)
    run_local = dataclasses.replace(local, method=method, options=options)
    dedup: DedupOptions = groups["dedup"]  # type: ignore[assignment]
    # Decided once here (it may measure the objective): the driver sends it to the workers.
    scaled = uses_scaling(problem, run_local)
    if local.noisy:
        run_local, dedup, reason = _noise_settings(problem, run_local, dedup, reason,
                                                   search.vectorized, scaled)
    # A fresh seed is drawn here, once: the spec records the entropy the starts come from.
    seed = int(seed_sequence(starts.seed).entropy) if starts.seed is None else starts.seed
    run_starts = dataclasses.replace(starts, n_starts=n_starts, seed=seed)
    StartPlan(problem, run_starts)  # refuses start points outside the bounds
    return RunSpec(
        lower=problem.lower, upper=problem.upper, maximize=problem.maximize,
        starts=run_starts, local=run_local, search=dataclasses.replace(search, strategy=strategy),
        dedup=dedup, stop=stop,
        method_reason=reason, scaled=scaled,
        seed=seed,
        fingerprint=fingerprint(identity or {"bounds": [problem.lower, problem.upper]}, groups,
                                budget_decides=strategy != "all"))


def _noise_settings(problem: Problem, local: LocalOptions, dedup: DedupOptions, reason: str,
                    vectorized: bool, scaled: bool) -> tuple[LocalOptions, DedupOptions, str]:
    """Solver and merge tolerances at the noise level of a ``noisy`` objective.

    The noise sigma is measured here (:func:`engine.local.noise.estimate_noise`: 40
    evaluations before the run, not counted in its ``nfev``) and recorded in
    ``method_reason``; the options the user left at their defaults are set from it (none
    when sigma is 0, a deterministic objective).
    """
    sigma = estimate_noise(problem, vectorized)
    reason = f"{reason}; noise sigma {sigma:.3g} (median spread of repeated evaluations)"
    if sigma <= 0:
        return local, dedup, reason
    box = 1.0 if scaled else float(np.min(problem.width))
    options = noisy_options(local.method, local.options, local.tol, sigma, problem.dim, box)
    fields = {spec.name: spec for spec in option_fields(DedupOptions)}
    xtol, ftol = noisy_dedup(sigma, dedup.xtol, dedup.ftol, default_of(fields["xtol"]),
                             default_of(fields["ftol"]))
    return (dataclasses.replace(local, options=options),
            dataclasses.replace(dedup, xtol=xtol, ftol=ftol), reason)


def problem_from_config(config: RunConfig) -> Problem:
    """Import the objective (and ``jac``/``hess`` given as ``module:function``) of a config."""
    spec = config.problem
    base = config.base_dir
    if spec.get("kind") == "least_squares":
        return least_squares_problem(spec, base)

    def maybe_callable(key: str) -> Any:
        value = spec.get(key)
        if isinstance(value, str) and ":" in value:
            return load_callable(value, base, key=f"problem.{key}")
        return value

    fun = load_callable(spec["objective"], base, key="problem.objective")
    return Problem.create(
        fun, spec["bounds"], args=tuple(spec.get("args") or ()), jac=maybe_callable("jac"),
        hess=maybe_callable("hess"), maximize=bool(spec.get("maximize", False)),
        symmetries=spec.get("symmetries"),
    )


def config_spec(config: RunConfig) -> tuple[Problem, RunSpec]:
    """Everything about a config that can be checked without compute: its problem and spec."""
    try:
        problem = problem_from_config(config)
        identity = {"problem": config.problem,
                    "code": code_identity(*user_callables(problem))}
        if (digest := data_digest(problem)) is not None:
            identity["data"] = digest  # the CSV's content, not only its name
        spec = resolve_spec(problem, config.groups(), identity)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=str(config.source)) from None
    except EngineError as exc:  # ProblemError and friends: report as config problems
        raise ConfigError(str(exc), source=str(config.source)) from None
    return problem, spec


def check_config(config: RunConfig) -> Problem:
    """The problem of a config whose every part was checked (see :func:`config_spec`)."""
    return config_spec(config)[0]


def run_config(
    config: str | Path | RunConfig,
    *,
    resume: bool = False,
    force: bool = False,
    out: str | Path | None = None,
    progress: bool = False,
    client: Any = None,
    prepared: tuple[Problem, RunSpec] | None = None,
) -> MultistartResult:
    """Run a YAML config (or a loaded :class:`RunConfig`) and write its output files.

    Writes ``result.json``, ``minima.csv`` (and ``runs.csv``) into ``output.dir`` (or
    ``out``), with the history of every finished run (Parquet segments in ``runs/`` where
    pyarrow is installed, else ``journal.jsonl``); ``resume=True`` continues from it.

    Examples
    --------
    >>> res = run_config("configs/quickstart.yaml")  # doctest: +SKIP
    """
    if not isinstance(config, RunConfig):
        config = load_config(config, {"output": {"dir": str(out)}} if out else None)
    # Some cluster kinds run this very function in every process of the job (MPI ranks): the
    # processes that are not the driver leave here, before any file is written.
    prepare_process(client or config.cluster)
    # ``prepared``: what :func:`config_spec` gave for this config already (the command line
    # checks it before a cluster starts); resolving again would measure the objective again.
    problem, spec = prepared if prepared is not None else config_spec(config)
    out_dir = Path(out or config.output.dir)
    if not out_dir.is_absolute() and config.source is not None and out is None:
        out_dir = Path.cwd() / out_dir
    n_runs = planned_runs(problem, spec)
    check_writable(out_dir, needed_bytes=journal_bytes(n_runs, problem.dim))
    provenance = {"config": describe(config), "config_hash": config_hash(config.raw),
                  "fingerprint": spec.fingerprint,
                  "config_file": None if config.source is None else str(config.source),
                  "code": code_identity(problem.fun, problem.jac, problem.hess)}
    with contextlib.ExitStack() as stack:
        journal = stack.enter_context(
            open_history(out_dir, spec.fingerprint, resume=resume, force=force,
                         meta={"config_hash": provenance["config_hash"]}))
        executor = stack.enter_context(open_executor(client or config.cluster, n_runs))
        result = run_multistart(problem, spec, executor, journal=journal, progress=progress,
                                provenance=provenance)
    write_result_dir(result, out_dir, runs_csv=config.output.runs_csv)
    return result


__all__ = ["SAMPLERS", "check_config", "minimize", "problem_from_config", "resolve_spec",
           "run_config", "solve_problem"]
