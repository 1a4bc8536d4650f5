"""The public entry points: :func:`minimize` (Python) and :func:`run_config` (YAML)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.config import (
    RunConfig,
    check_run_options,
    check_search_options,
    check_starts,
    config_hash,
    describe,
    load_config,
)
from engine.exceptions import ConfigError
from engine.local.methods import canonical_method, check_method_requirements
from engine.options import DedupOptions, LocalOptions, SearchOptions, StopOptions
from engine.parallel.clusters import open_executor
from engine.problem import BoundsLike, Problem, load_callable
from engine.progress import RunState
from engine.results.journal import Journal
from engine.results.types import MultistartResult

DEFAULT_N_STARTS = 128


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
    args: tuple[Any, ...] = (),
    jac: Any = None,
    hess: Any = None,
    constraints: Any = (),
    options: dict[str, Any] | None = None,
    tol: float | None = None,
    xtol: float = 1e-4,
    ftol: float = 1e-6,
    max_evals: int | None = None,
    max_time: float | None = None,
    target: float | None = None,
    journal: str | Path | None = None,
    progress: bool | Callable[..., None] = False,
    callback: Callable[[RunState], Any] | None = None,
    start_timeout: float | None = None,
    restarts: int = 1,
    strategy: str = "auto",
    n_explore: int | None = None,
    vectorized: bool = False,
    hops: bool = True,
    global_phase: str | None = None,
    global_fraction: float = 0.2,
    polish: bool = True,
    max_discoveries: int | None = None,
    bayes: bool = False,
    noisy: bool = False,
    scale: bool | None = None,
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
        (SLSQP with constraints, trust-constr with a Hessian, Nelder-Mead or Powell when
        ``noisy=True``); ``res.method`` records the choice.
    sampler : {'sobol', 'halton', 'lhs', 'uniform', 'sobol-seq'} or array
        How starts are spread, or the start points themselves as an ``(n, d)`` array.
    x0 : array, optional
        One or more start points of your own, solved first.
    seed : int, optional
        Fixes every start; the same seed gives the same minima on any cluster.
    client : None, 'serial', distributed.Client or str
        ``None`` starts a temporary local Dask cluster sized to this machine; ``'serial'``
        runs here; a ``Client`` or an address ``'tcp://host:port'`` uses that cluster.
    maximize : bool
        Find maxima instead: ``fun`` is negated internally, values are reported as given.
    args, jac, hess, constraints, options, tol
        Passed to :func:`scipy.optimize.minimize` with their scipy meaning.
    xtol, ftol : float
        Two converged points are one minimum when within ``xtol`` in every coordinate of
        the box scaled to ``[0, 1]`` and their values agree to ``ftol * max(1, |f|)``.
    max_evals, max_time, target : optional
        Stop after this many objective evaluations, this many seconds, or once a value at
        least as good as ``target`` is found; ``res.stop_reason`` says which.
    journal : str or Path, optional
        JSONL file recording each finished run; an existing journal of the same problem is
        resumed (its starts are not solved again).
    progress : bool or callable
        ``True``: a live bar in a terminal or notebook, a plain line every 10 s otherwise;
        or a callable ``display(state, final=False)``.
    callback : callable, optional
        ``callback(state)`` after each finished start; returning ``True`` stops the run.
    start_timeout : float, optional
        Wall seconds allowed per start.
    restarts : int
        Restarts of a converged solve from its end point while that still improves it.
    strategy : {'auto', 'mlsl', 'tiktak', 'all'}
        ``'all'`` solves from every start. ``'mlsl'`` evaluates a space-filling sample in
        rounds and solves only from points no better sample point or known minimum covers
        (Multi-Level Single Linkage), with basin-hopping moves around the best minima.
        ``'tiktak'`` solves from the best tenth of the sample, pulled toward the best
        minimum. ``'auto'``: ``'mlsl'`` when only ``max_evals`` is given, else ``'all'``.
    n_explore : int, optional
        Sample points evaluated per exploration round (default from ``max_evals``).
    vectorized : bool
        ``fun`` accepts a ``(d, n)`` array and returns ``n`` values (scipy's convention):
        the exploration sample is evaluated in one call per batch.
    hops : bool
        Basin-hopping perturbations of the best minima in ``'mlsl'``/``'tiktak'``.
    global_phase : {'differential_evolution', 'dual_annealing', 'direct', 'shgo'}, optional
        Run that scipy global optimizer first on ``global_fraction`` of ``max_evals`` and
        solve locally from its best point.
    polish : bool
        Solve the best minima again with ``tol=1e-12`` at the end (``'mlsl'``/``'tiktak'``).
    max_discoveries : int, optional
        Stop once the best minimum has been reached this many times.
    bayes : bool
        Stop once Boender and Rinnooy Kan's estimate of the number of minima is within 0.5
        of the number found (``res.estimated_n_minima``, ``res.coverage``).
    noisy : bool
        The objective is noisy: ``method="auto"`` picks a derivative-free method.
    scale : bool, optional
        Solve in coordinates scaled to the unit box, so bounds of very different widths do
        not slow the solver; results are in your coordinates. Default: scale when the
        widest bound is more than 10 times the narrowest.

    Returns
    -------
    MultistartResult
        ``x``, ``fun`` (the best), ``minima``, ``runs``, ``nfev``, ``stop_reason``, ...

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
    problem = Problem.create(fun, bounds, args=args, jac=jac, hess=hess,
                             constraints=constraints, maximize=maximize)
    method = canonical_method(method)
    errors = check_run_options(xtol=xtol, ftol=ftol, max_evals=max_evals, max_time=max_time,
                               target=target, tol=tol, options=options,
                               start_timeout=start_timeout, restarts=restarts)
    errors += check_search_options(
        strategy=strategy, n_explore=n_explore, vectorized=vectorized, hops=hops,
        global_phase=global_phase, global_fraction=global_fraction, polish=polish,
        max_discoveries=max_discoveries, bayes=bayes, noisy=noisy, scale=scale)
    if n_starts is not None and (isinstance(n_starts, bool) or not isinstance(n_starts, int)
                                 or n_starts < 0):
        errors.append(f"n_starts={n_starts!r} is not allowed; use an integer >= 0")
    if callback is not None and not callable(callback):
        errors.append(f"callback={callback!r} is not callable; pass a function "
                      "callback(state) (return True from it to stop the run) or None")
    if not (isinstance(progress, bool) or callable(progress)):
        errors.append(f"progress={progress!r} is not allowed; use True, False or a callable "
                      "display(state, final=False)")
    options = dict(options or {}) if isinstance(options, dict) else options
    if isinstance(options, dict) and "initial_simplex" in options:
        simplex, problem_text = _checked_simplex(options["initial_simplex"], problem.dim)
        if problem_text:
            errors.append(problem_text)
        else:
            options["initial_simplex"] = simplex  # lists: results stay JSON-serializable
    if errors:
        raise ConfigError(errors)
    search = SearchOptions(
        strategy=resolve_strategy(strategy, n_starts_given=n_starts is not None,
                                  points_given=not isinstance(sampler, str),
                                  max_evals=max_evals),
        n_explore=n_explore, vectorized=vectorized, hops=hops, global_phase=global_phase,
        global_fraction=float(global_fraction), polish=polish)
    if n_starts is None:
        # With only an evaluation budget, keep starting until the budget is spent.
        n_starts = max(DEFAULT_N_STARTS, max_evals or 0) if max_evals else DEFAULT_N_STARTS
    starts = check_starts(n_starts, sampler, seed, x0, problem.dim)
    local = LocalOptions(method=method, options=dict(options or {}), tol=tol,
                         start_timeout=start_timeout, restarts=restarts, scale=scale)
    if method != "auto":
        check_method_requirements(method, problem)
    dedup = DedupOptions(xtol=float(xtol), ftol=float(ftol))
    stop = StopOptions(max_evals=max_evals, max_time=max_time, target=target,
                       max_discoveries=max_discoveries, bayes=bayes)
    fingerprint = config_hash({
        "fun": f"{getattr(fun, '__module__', '')}:{problem.name}",
        "bounds": [problem.lower, problem.upper], "maximize": maximize,
        "starts": [starts.n_starts, starts.sampler, starts.seed, starts.x0, starts.points],
        "local": [method, local.options, tol, restarts, scale, noisy], "dedup": [xtol, ftol],
        "search": [search.strategy, n_explore, hops, global_phase, global_fraction, polish,
                   max_evals if search.strategy != "all" else None],
    })
    from engine.driver import run_multistart

    with contextlib.ExitStack() as stack:
        run_journal = None
        if journal is not None:
            run_journal = stack.enter_context(Journal(journal, fingerprint, resume=True))
        executor = stack.enter_context(open_executor(client))
        return run_multistart(
            problem, starts, local, dedup, stop, executor, search=search, noisy=noisy,
            journal=run_journal, progress=progress, callback=callback,
            provenance={"fingerprint": fingerprint},
        )


def _checked_simplex(value: Any, dim: int) -> tuple[list[list[float]] | None, str | None]:
    """Nelder-Mead's ``initial_simplex`` as nested lists, or the reason it is refused."""
    import numpy as np

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


def resolve_strategy(strategy: str, *, n_starts_given: bool, points_given: bool,
                     max_evals: int | None) -> str:
    """What ``strategy="auto"`` means for these arguments.

    With only an evaluation budget the engine decides where to start (``'mlsl'``); when
    you fix the number of starts or give the start points, every start is solved.

    Examples
    --------
    >>> resolve_strategy("auto", n_starts_given=False, points_given=False, max_evals=1000)
    'mlsl'
    >>> resolve_strategy("auto", n_starts_given=True, points_given=False, max_evals=1000)
    'all'
    """
    if strategy != "auto":
        return strategy
    if max_evals is not None and not n_starts_given and not points_given:
        return "mlsl"
    return "all"


def problem_from_config(config: RunConfig) -> Problem:
    """Import the objective (and ``jac``/``hess`` given as ``module:function``) of a config."""
    spec = config.problem
    base = config.base_dir

    def maybe_callable(key: str) -> Any:
        value = spec.get(key)
        if isinstance(value, str) and ":" in value:
            return load_callable(value, base, key=f"problem.{key}")
        return value

    fun = load_callable(spec["objective"], base, key="problem.objective")
    return Problem.create(
        fun, spec["bounds"], args=tuple(spec.get("args") or ()), jac=maybe_callable("jac"),
        hess=maybe_callable("hess"), maximize=bool(spec.get("maximize", False)),
    )


def check_config(config: RunConfig) -> Problem:
    """Everything about a config that can be checked without compute; returns its problem."""
    from engine.driver import StartPlan

    try:
        problem = problem_from_config(config)
        if config.local.method != "auto":
            check_method_requirements(config.local.method, problem)
        StartPlan(problem, check_starts(config.starts.n_starts, config.starts.sampler,
                                        config.starts.seed, config.starts.x0, problem.dim))
    except ConfigError:
        raise
    except Exception as exc:  # ProblemError and friends: report as config problems
        raise ConfigError(str(exc), source=str(config.source)) from None
    return problem


def run_config(
    config: str | Path | RunConfig,
    *,
    resume: bool = False,
    force: bool = False,
    out: str | Path | None = None,
    progress: bool = False,
    client: Any = None,
) -> MultistartResult:
    """Run a YAML config (or a loaded :class:`RunConfig`) and write its output files.

    Writes ``result.json``, ``minima.csv`` (and ``runs.csv``) into ``output.dir`` (or
    ``out``), with a ``journal.jsonl`` of every finished run; ``resume=True`` continues from
    that journal.

    Examples
    --------
    >>> res = run_config("configs/quickstart.yaml")  # doctest: +SKIP
    """
    from engine.driver import run_multistart
    from engine.results.outputs import check_writable, journal_bytes, write_result_dir

    if not isinstance(config, RunConfig):
        config = load_config(config, {"output": {"dir": str(out)}} if out else None)
    if client is None and config.cluster.get("kind") == "mpi":
        # Every MPI rank runs this function: the scheduler and worker ranks must leave here,
        # before anything below writes files that belong to the driver alone.
        from engine.parallel.hpc import mpi_initialize_once

        mpi_initialize_once(config.cluster)
    problem = check_config(config)
    out_dir = Path(out or config.output.dir)
    if not out_dir.is_absolute() and config.source is not None and out is None:
        out_dir = Path.cwd() / out_dir
    n_runs = config.starts.n_starts
    if config.stop.max_evals is not None:  # a start costs at least dim + 1 evaluations
        n_runs = min(n_runs, config.stop.max_evals // (problem.dim + 1) + 1)
    n_runs += 0 if config.starts.x0 is None else len(config.starts.x0)
    check_writable(out_dir, needed_bytes=journal_bytes(n_runs, problem.dim))
    fingerprint = config.fingerprint()
    provenance = {"config": describe(config), "config_hash": config_hash(config.raw),
                  "fingerprint": fingerprint,
                  "config_file": None if config.source is None else str(config.source)}
    with contextlib.ExitStack() as stack:
        journal = stack.enter_context(
            Journal(out_dir / "journal.jsonl", fingerprint, resume=resume, force=force,
                    meta={"config_hash": provenance["config_hash"]}))
        executor = stack.enter_context(open_executor(client or config.cluster))
        result = run_multistart(
            problem, config.starts, config.local, config.dedup, config.stop, executor,
            search=config.search, noisy=config.noisy, journal=journal, progress=progress,
            provenance=provenance,
        )
    write_result_dir(result, out_dir, runs_csv=config.output.runs_csv)
    return result
