"""Pictures of a multistart run: the landscape with starts and minima, basins, convergence.

Every function takes a :class:`~engine.results.MultistartResult` (and, where the landscape is
drawn, the objective ``fun``), writes a PNG and an SVG next to each other at a path stem
(``plots/basins`` gives ``plots/basins.png`` and ``plots/basins.svg``) and returns the written
paths. Figures are drawn off screen with matplotlib's Agg canvas, without ``pyplot``, so they
neither need a display nor touch the backend of a notebook.

matplotlib is an optional extra: ``pip install 'multistart-engine[plots]'``.

Colours follow the minimum each start reached: start, path and minimum of rank ``k`` share
the ``k``-th colour (grey past rank 10); failed starts are red crosses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.analysis.settings import RunSettings
from engine.exceptions import ConfigError
from engine.local.solve import solve_one
from engine.problem import Problem
from engine.results.types import MultistartResult

PathLike = str | Path
BoundsLike = Sequence[Sequence[float]] | None

_SUFFIXES = (".png", ".svg", ".pdf")
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
            "#bcbd22", "#7f7f7f", "#393b79")
_OTHER = "#9a9a9a"
_FAILED = "#d62728"


# ------------------------------------------------------------------ shared helpers


def _figure(figsize: tuple[float, float] = (7.0, 5.5)) -> Any:
    """A new Agg-backed figure, independent of pyplot's global state."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "engine.analysis.plots needs matplotlib: pip install 'multistart-engine[plots]'"
        ) from None
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _stem(path: PathLike) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix.lower() in _SUFFIXES else path


def _save(fig: Any, path: PathLike) -> list[Path]:
    import matplotlib

    stem = _stem(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    # SVG text stays text (searchable, editable), not glyph outlines.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        for suffix in (".png", ".svg"):
            target = stem.with_name(stem.name + suffix)
            fig.savefig(target, dpi=120)
            written.append(target)
    return written


def _bounds(result: MultistartResult, bounds: BoundsLike) -> np.ndarray:
    if bounds is None:
        bounds = RunSettings.of(result).bounds
    if bounds is None:
        raise ConfigError(
            "no bounds: the result has no spec to read them from; pass "
            "bounds=[(low, high), ...]")
    arr = np.asarray(bounds, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ConfigError(f"bounds must be (low, high) pairs, got an array of shape {arr.shape};"
                          " pass bounds=[(low, high), ...] with one pair per variable")
    return arr


def _dim(result: MultistartResult, bounds: np.ndarray | None = None) -> int:
    if bounds is not None:
        return len(bounds)
    if result.runs:
        return int(np.asarray(result.runs[0].x0).size)
    known = RunSettings.of(result).bounds
    return 0 if known is None else len(known)


def _kind(result: MultistartResult) -> str:
    return "maximum" if result.maximize else "minimum"


def _kinds(result: MultistartResult) -> str:
    return "maxima" if result.maximize else "minima"


def _rank_of_start(result: MultistartResult) -> dict[int, int]:
    """Start index -> rank (0-based) of the distinct minimum its run belongs to."""
    return {s: k for k, m in enumerate(result.minima) for s in m.starts}


def _colour(rank: int | None) -> str:
    if rank is None:
        return _FAILED
    return _PALETTE[rank] if rank < len(_PALETTE) else _OTHER


def _problem(result: MultistartResult, fun: Callable[..., Any], box: np.ndarray,
             args: tuple[Any, ...] = (), jac: Any = None) -> Problem:
    """The objective on the plotted box, evaluated (NaN where it has no value) and solved
    through the engine's own checked paths."""
    return Problem.create(fun, box, args=tuple(args), jac=jac, maximize=result.maximize)


def _label_minima(ax: Any, points: list[tuple[float, float]], colours: list[str],
                  max_labels: int, kind: str) -> None:
    """Rank numbers next to the minima; in the SVG each is a group ``id="minimum-<rank>"``."""
    from matplotlib import patheffects

    outline = [patheffects.withStroke(linewidth=3, foreground="white")]
    for k, ((px, py), colour) in enumerate(zip(points, colours, strict=True)):
        if k >= max_labels:
            break
        ax.annotate(str(k + 1), (px, py), xytext=(6, 6), textcoords="offset points",
                    fontsize=10, fontweight="bold", color=colour, path_effects=outline,
                    zorder=6, gid=f"{kind}-{k + 1}")


def _counts_line(result: MultistartResult) -> str:
    return (f"{result.n_starts} starts, {result.n_failed} failed, "
            f"{len(result.minima)} distinct {_kinds(result)}, {result.nfev} evaluations")


def _section(problem: Problem, dims: tuple[int, int], fixed: np.ndarray, resolution: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The objective on a grid over coordinates ``dims``, the others held at ``fixed``;
    ``z[r, c]`` is the value at ``(gx[c], gy[r])``."""
    i, j = dims
    gx = np.linspace(problem.lower[i], problem.upper[i], resolution)
    gy = np.linspace(problem.lower[j], problem.upper[j], resolution)
    points = np.tile(np.asarray(fixed, dtype=float), (resolution * resolution, 1))
    across, down = np.meshgrid(gx, gy)
    points[:, i], points[:, j] = across.ravel(), down.ravel()
    return gx, gy, problem.evaluate_many(points).reshape(resolution, resolution)


def _contour(ax: Any, fig: Any, gx: np.ndarray, gy: np.ndarray, z: np.ndarray) -> None:
    """Filled contours, light at low values, with levels at quantiles of the values: each
    shade covers about the same area, so the structure near the minima shows even where the
    function spans orders of magnitude."""
    from matplotlib.colors import BoundaryNorm, LinearSegmentedColormap

    finite = z[np.isfinite(z)]
    if finite.size == 0:
        ax.text(0.5, 0.5, "objective not finite on this section", ha="center",
                transform=ax.transAxes)
        return
    levels = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, 25)))
    if levels.size < 2:  # a constant section
        levels = np.array([finite.min() - 0.5, finite.min() + 0.5])
    cmap = LinearSegmentedColormap.from_list("engine_light", ["#fdfdf4", "#c9d3dc", "#58697a"])
    norm = BoundaryNorm(levels, ncolors=cmap.N)
    masked = np.ma.masked_invalid(z)
    filled = ax.contourf(gx, gy, masked, levels=levels, cmap=cmap, norm=norm, zorder=0)
    ax.contour(gx, gy, masked, levels=levels, colors="#46505a", linewidths=0.35, alpha=0.6,
               zorder=1)
    bar = fig.colorbar(filled, ax=ax, format="%.3g")
    bar.set_label("f(x) (shades at quantiles of f)")


def _legend(fig: Any, result: MultistartResult, path_label: str) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", ls="", color=_PALETTE[0], mfc="white", label="start"),
        Line2D([], [], color=_PALETTE[0], lw=1, label=path_label),
        Line2D([], [], marker="*", ls="", color=_PALETTE[0], mec="black", ms=12,
               label=f"distinct {_kind(result)} (number = rank)"),
    ]
    if result.n_failed:
        handles.insert(1, Line2D([], [], marker="x", ls="", color=_FAILED, label="failed start"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8,
               frameon=False)


def _value_limits(ax: Any, values: np.ndarray, result: MultistartResult) -> None:
    """Do not zoom the value axis below the dedup ``ftol``: values that agree to it are one
    minimum, and a finer axis would only show rounding noise."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return
    lo, hi = float(finite.min()), float(finite.max())
    ftol = RunSettings.of(result).ftol
    least = 20 * ftol * max(1.0, abs(lo), abs(hi))
    if hi - lo < least:
        mid = 0.5 * (lo + hi)
        ax.set_ylim(mid - least / 2, mid + least / 2)
    ax.ticklabel_format(axis="y", useOffset=False)


# ------------------------------------------------------------------ landscapes


def plot_landscape_1d(
    result: MultistartResult,
    fun: Callable[..., Any],
    path: PathLike,
    *,
    args: tuple[Any, ...] = (),
    jac: Any = None,
    bounds: BoundsLike = None,
    resolution: int = 1000,
    max_labels: int = 20,
) -> list[Path]:
    """The objective curve of a 1-D problem with every start and the minimum it reached.

    Each start is drawn on the curve, joined by a line to the distinct minimum its run ended
    in (same colour); the minima are stars numbered by rank (1 = best).

    Parameters
    ----------
    result : MultistartResult
        A run of a one-variable problem.
    fun : callable
        The objective ``fun(x, *args)`` the run minimized (or maximized).
    path : str or Path
        Path stem; ``.png`` and ``.svg`` are written (a ``.png``/``.svg`` suffix is dropped).
    args : tuple
        Extra arguments of ``fun``.
    jac : optional
        ``True`` when ``fun`` returns ``(f, gradient)`` (the value is drawn).
    bounds : sequence of (low, high), optional
        Plot range; default ``result.spec.bounds``.
    resolution : int
        Points on the curve.
    max_labels : int
        Number the best ``max_labels`` minima only.

    Returns
    -------
    list of Path
        The PNG and the SVG.

    Examples
    --------
    >>> import os, tempfile, engine
    >>> f = lambda x: float((x[0] ** 2 - 1) ** 2 + 0.3 * x[0])
    >>> res = engine.minimize(f, [(-2, 2)], n_starts=8, seed=0, client="serial")
    >>> [p.name for p in plot_landscape_1d(res, f, os.path.join(tempfile.mkdtemp(), "l1"))]
    ['l1.png', 'l1.svg']
    """
    box = _bounds(result, bounds)
    if len(box) != 1:
        raise ConfigError(f"plot_landscape_1d needs a 1-D problem; this one has {len(box)} "
                         "variables: use plot_landscape_2d")
    problem = _problem(result, fun, box, args, jac)
    fig = _figure()
    ax = fig.add_subplot()
    grid = np.linspace(box[0, 0], box[0, 1], resolution)
    curve = problem.evaluate_many(grid[:, None])
    ax.plot(grid, curve, color="black", lw=1.2, label="f(x)", zorder=2)
    rank = _rank_of_start(result)
    minima_pts = [(float(m.x[0]), float(m.fun)) for m in result.minima]
    start_values = problem.evaluate_many(np.array([float(r.x0[0]) for r in result.runs])[:, None])
    for run, f0 in zip(result.runs, start_values, strict=True):
        x0 = float(run.x0[0])
        k = rank.get(run.index)
        if k is None:
            ax.plot([x0], [f0], "x", color=_FAILED, ms=7, zorder=4)
            continue
        colour = _colour(k)
        mx, mf = minima_pts[k]
        ax.plot([x0, mx], [f0, mf], color=colour, lw=0.8, alpha=0.6, zorder=3)
        ax.plot([x0], [f0], "o", color=colour, mfc="white", ms=5, zorder=4)
    colours = [_colour(k) for k in range(len(minima_pts))]
    if minima_pts:
        ax.scatter([p[0] for p in minima_pts], [p[1] for p in minima_pts], marker="*", s=180,
                   c=colours, edgecolors="black", linewidths=0.7, zorder=5)
    _label_minima(ax, minima_pts, colours, max_labels, _kind(result))
    _legend(fig, result, f"start → the {_kind(result)} it reached")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.set_xlim(box[0, 0], box[0, 1])
    ax.set_title(f"Landscape with starts and distinct {_kinds(result)} by rank\n"
                 f"{_counts_line(result)}", fontsize=10)
    return _save(fig, path)


def plot_landscape_2d(
    result: MultistartResult,
    fun: Callable[..., Any],
    path: PathLike,
    dims: tuple[int, int] = (0, 1),
    *,
    args: tuple[Any, ...] = (),
    jac: Any = None,
    bounds: BoundsLike = None,
    resolution: int = 150,
    max_labels: int = 20,
) -> list[Path]:
    """Filled contours of ``fun`` with every start, the path to where it ended, and the minima.

    For more than two variables the picture is the section through the best minimum: the two
    coordinates ``dims`` vary, the others are held at ``result.x``; starts and end points are
    projected onto that plane.

    Parameters
    ----------
    result : MultistartResult
        The run to draw.
    fun : callable
        The objective ``fun(x, *args)``.
    path : str or Path
        Path stem; ``.png`` and ``.svg`` are written.
    dims : (int, int)
        The two coordinates on the axes.
    args : tuple
        Extra arguments of ``fun``.
    jac : optional
        ``True`` when ``fun`` returns ``(f, gradient)`` (the value is drawn).
    bounds : sequence of (low, high), optional
        Default ``result.spec.bounds``.
    resolution : int
        Grid points per axis (``fun`` is called ``resolution**2`` times).
    max_labels : int
        Number the best ``max_labels`` minima only.

    Returns
    -------
    list of Path
        The PNG and the SVG.

    Examples
    --------
    >>> import os, tempfile, engine
    >>> f = lambda x: float((x[0] ** 2 - 1) ** 2 + x[1] ** 2)
    >>> res = engine.minimize(f, [(-2, 2), (-1, 1)], n_starts=8, seed=0, client="serial")
    >>> out = os.path.join(tempfile.mkdtemp(), "l2")
    >>> [p.suffix for p in plot_landscape_2d(res, f, out, resolution=40)]
    ['.png', '.svg']
    """
    box = _bounds(result, bounds)
    i, j = _check_dims(dims, len(box))
    fixed = _fixed_point(result, box)
    fig = _figure((7.5, 6.0))
    ax = fig.add_subplot()
    gx, gy, z = _section(_problem(result, fun, box, args, jac), (i, j), fixed, resolution)
    _contour(ax, fig, gx, gy, z)
    rank = _rank_of_start(result)
    for run in result.runs:
        k = rank.get(run.index)
        sx, sy = float(run.x0[i]), float(run.x0[j])
        if k is None:
            ax.plot([sx, run.x[i]], [sy, run.x[j]], color=_FAILED, lw=0.6, ls="--",
                    alpha=0.7, zorder=2)
            ax.plot([sx], [sy], "x", color=_FAILED, ms=7, zorder=4)
            continue
        colour = _colour(k)
        ax.plot([sx, run.x[i]], [sy, run.x[j]], color=colour, lw=0.9, alpha=0.8, zorder=2)
        ax.plot([sx], [sy], "o", color=colour, mfc="white", ms=4.5, zorder=3)
    pts = [(float(m.x[i]), float(m.x[j])) for m in result.minima]
    colours = [_colour(k) for k in range(len(pts))]
    if pts:
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker="*", s=220, c=colours,
                   edgecolors="black", linewidths=0.8, zorder=5)
    _label_minima(ax, pts, colours, max_labels, _kind(result))
    _legend(fig, result, "start → where its run ended")
    ax.set_xlim(box[i, 0], box[i, 1])
    ax.set_ylim(box[j, 0], box[j, 1])
    ax.set_xlabel(f"x{i}")
    ax.set_ylabel(f"x{j}")
    title = f"Landscape with starts and distinct {_kinds(result)} by rank"
    if len(box) > 2:
        title += f"\nsection through the best {_kind(result)} (other coordinates fixed there)"
    ax.set_title(f"{title}\n{_counts_line(result)}", fontsize=10)
    return _save(fig, path)


def _check_dims(dims: Sequence[int], n: int) -> tuple[int, int]:
    if n < 2:
        raise ConfigError(f"a 2-D picture needs at least 2 variables; this problem has {n}: "
                         "use plot_landscape_1d")
    i, j = (int(d) for d in dims)
    if i == j or not (0 <= i < n and 0 <= j < n):
        raise ConfigError(f"dims={tuple(dims)!r}: use two different coordinates in 0..{n - 1}")
    return i, j


def _fixed_point(result: MultistartResult, box: np.ndarray) -> np.ndarray:
    if result.x is not None and np.all(np.isfinite(result.x)):
        return np.array(result.x, dtype=float)
    return box.mean(axis=1)


# ------------------------------------------------------------------ statistics of the run


def plot_basins(result: MultistartResult, path: PathLike, *, max_minima: int = 50) -> list[Path]:
    """Bar chart of how many starts reached each distinct minimum (rank on the x axis).

    A well-sampled problem shows every minimum hit several times; many minima hit once
    suggest a flat region or too few starts.

    Examples
    --------
    >>> import os, tempfile, engine
    >>> res = engine.minimize(lambda x: float((x[0] ** 2 - 1) ** 2), [(-2, 2)], n_starts=8,
    ...                       seed=0, client="serial")
    >>> [p.name for p in plot_basins(res, os.path.join(tempfile.mkdtemp(), "basins"))]
    ['basins.png', 'basins.svg']
    """
    fig = _figure((7.0, 4.5))
    ax = fig.add_subplot()
    shown = result.minima[:max_minima]
    ranks = np.arange(1, len(shown) + 1)
    hits = [m.n_hits for m in shown]
    bars = ax.bar(ranks, hits, color=[_colour(k) for k in range(len(shown))],
                  edgecolor="black", linewidth=0.5)
    if len(shown) <= 20:
        labels = [f"{m.fun:.4g}" for m in shown]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=2, rotation=90 if
                     len(shown) > 8 else 0)
    if not shown:
        ax.text(0.5, 0.5, "no local run succeeded", ha="center", transform=ax.transAxes)
    labelled = "; bar label: f" if 0 < len(shown) <= 20 else ""
    ax.set_xlabel(f"rank of distinct {_kind(result)} (1 = best{labelled})")
    ax.set_ylabel("starts that reached it")
    ax.set_xticks(ranks if len(ranks) <= 30 else ranks[:: max(1, len(ranks) // 15)])
    ax.margins(y=0.15)
    more = f" (best {max_minima} of {len(result.minima)} shown)" if len(
        result.minima) > max_minima else ""
    ax.set_title(f"Hits per distinct {_kind(result)}{more}\n{_counts_line(result)}",
                 fontsize=10)
    return _save(fig, path)


def plot_waterfall(result: MultistartResult, path: PathLike) -> list[Path]:
    """Final values of all successful runs, best first: repeated minima show as plateaus.

    Examples
    --------
    >>> import os, tempfile, engine
    >>> res = engine.minimize(lambda x: float((x[0] ** 2 - 1) ** 2 + 0.3 * x[0]), [(-2, 2)],
    ...                       n_starts=8, seed=0, client="serial")
    >>> len(plot_waterfall(res, os.path.join(tempfile.mkdtemp(), "waterfall")))
    2
    """
    fig = _figure((7.0, 4.5))
    ax = fig.add_subplot()
    values = np.array([r.fun for r in result.runs if r.success and math.isfinite(r.fun)])
    values = np.sort(values)[::-1] if result.maximize else np.sort(values)
    rank = _rank_of_start(result)
    ordered = sorted((r for r in result.runs if r.success and math.isfinite(r.fun)),
                     key=lambda r: (-r.fun if result.maximize else r.fun, r.index))
    colours = [_colour(rank.get(r.index)) for r in ordered]
    order = np.arange(1, len(values) + 1)
    ax.step(order, values, where="mid", color="black", lw=0.8, zorder=1)
    ax.scatter(order, values, c=colours, s=16, edgecolors="black", linewidths=0.3, zorder=2)
    for k, m in enumerate(result.minima[:10]):
        ax.axhline(m.fun, color=_colour(k), lw=0.6, ls=":", zorder=0)
    if not len(values):
        ax.text(0.5, 0.5, "no local run succeeded", ha="center", transform=ax.transAxes)
    _value_limits(ax, values, result)
    ax.set_xlabel("successful runs, sorted by final value (best first)")
    ax.set_ylabel("final f")
    ax.set_title(f"Waterfall of final values (plateaus = one {_kind(result)} hit repeatedly)"
                 f"\n{_counts_line(result)}", fontsize=10)
    return _save(fig, path)


def convergence_curves(result: MultistartResult) -> dict[str, np.ndarray]:
    """Best value so far after each run, in start-index order, against evaluations and time.

    Returns arrays with one entry per run: ``nfev`` (cumulative evaluations, after those of
    any exploration sample), ``time`` (cumulative solver seconds: the sum of ``run.time``, as
    if on one core), ``wall`` (the wall time at which the run would have finished: ``time``
    scaled to the run's ``wall_time``, i.e. spread evenly over the workers), ``fun`` (the
    run's final value, NaN when it failed) and ``best`` (best successful value so far, NaN
    before the first success).

    Examples
    --------
    >>> import engine
    >>> res = engine.minimize(lambda x: float(x[0] ** 2), [(-1, 1)], n_starts=4, seed=0,
    ...                       client="serial")
    >>> c = convergence_curves(res)
    >>> bool(c["nfev"][-1] == res.nfev), bool(abs(c["best"][-1]) < 1e-8)
    (True, True)
    """
    runs = sorted(result.runs, key=lambda r: r.index)
    explored = int(getattr(result, "n_explore", 0) or 0)
    nfev = explored + np.cumsum([r.nfev for r in runs]).astype(float)
    seconds = np.cumsum([r.time for r in runs]).astype(float)
    total = float(seconds[-1]) if len(seconds) else 0.0
    wall = seconds * (result.wall_time / total) if total > 0 and result.wall_time > 0 \
        else seconds.copy()
    finals = np.array([r.fun if r.success else np.nan for r in runs], dtype=float)
    best = np.full(len(runs), np.nan)
    current = math.nan
    for n, value in enumerate(finals):
        if math.isfinite(value):
            better = value > current if result.maximize else value < current
            if math.isnan(current) or better:
                current = value
        best[n] = current
    return {"nfev": nfev, "time": seconds, "wall": wall, "fun": finals, "best": best}


def _new_minimum_found(best: np.ndarray, ftol: float) -> np.ndarray:
    """Runs that improved the best value by more than the dedup ``ftol`` (a better minimum,
    not the same one polished in its last digits)."""
    found = np.zeros(best.size, dtype=bool)
    reference = math.nan
    for n, value in enumerate(best):
        if not math.isfinite(value):
            continue
        if math.isnan(reference) or abs(value - reference) > ftol * max(1.0, abs(reference)):
            found[n] = True
            reference = value
    return found


def plot_convergence(result: MultistartResult, path: PathLike) -> list[Path]:
    """Best value so far against evaluations and against wall time.

    Runs are taken in start-index order (the order a serial run would solve them). The line
    is the best value so far; orange dots mark the runs that found a better minimum (by more
    than the dedup ``ftol``); grey dots are each successful run's final value; the dotted
    vertical line marks where the best minimum was first reached. Wall time is estimated:
    each run's solver time, spread over the run's wall time in start order.

    Examples
    --------
    >>> import os, tempfile, engine
    >>> res = engine.minimize(lambda x: float((x[0] ** 2 - 1) ** 2 + 0.3 * x[0]), [(-2, 2)],
    ...                       n_starts=8, seed=0, client="serial")
    >>> len(plot_convergence(res, os.path.join(tempfile.mkdtemp(), "conv")))
    2
    """
    from matplotlib.lines import Line2D

    curves = convergence_curves(result)
    fig = _figure((9.0, 4.8))
    axes = fig.subplots(1, 2, sharey=True)
    best, finals = curves["best"], curves["fun"]
    ftol = RunSettings.of(result).ftol
    improved = _new_minimum_found(best, ftol)
    reached = None
    if result.minima:
        target = result.minima[0].fun
        close = np.isfinite(best) & (np.abs(best - target) <= ftol * max(1.0, abs(target)))
        reached = int(np.argmax(close)) if close.any() else None
    explored = int(getattr(result, "n_explore", 0) or 0)
    evals_label = "objective evaluations so far"
    if explored:
        evals_label += f" (from {explored} exploration evaluations)"
    for ax, key, label in ((axes[0], "nfev", evals_label),
                           (axes[1], "wall", "wall time so far [s] (estimated from run times)")):
        x = curves[key]
        ax.plot(x, finals, "o", color=_OTHER, ms=2.5, alpha=0.6, zorder=1)
        ax.step(x, best, where="post", color=_PALETTE[0], lw=2.0, zorder=2)
        ax.plot(x[improved], best[improved], "o", color=_PALETTE[1], mec="black", mew=0.5,
                ms=7, zorder=3)
        if reached is not None:
            ax.axvline(x[reached], color="black", lw=0.8, ls=":", zorder=0)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    if reached is not None:
        # The note goes on the side of the line with more room, so it stays inside the axes.
        late = reached + 1 > 0.6 * len(best)
        axes[0].annotate(f"best {_kind(result)} first reached\nby run {reached + 1} of "
                         f"{len(best)}", (curves["nfev"][reached], 0.5),
                         xycoords=("data", "axes fraction"), xytext=(-5 if late else 5, 0),
                         textcoords="offset points", fontsize=8, va="center",
                         ha="right" if late else "left")
    _value_limits(axes[0], np.r_[finals, best], result)
    axes[0].set_ylabel(f"f ({'highest' if result.maximize else 'lowest'} so far: line)")
    handles = [
        Line2D([], [], color=_PALETTE[0], lw=2.0, label="best so far"),
        Line2D([], [], marker="o", ls="", color=_PALETTE[1], mec="black",
               label=f"a better {_kind(result)} found"),
        Line2D([], [], marker="o", ls="", color=_OTHER, ms=4, label="final value of a run"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8,
               frameon=False)
    fig.suptitle(f"Convergence: best value against work, runs in start order\n"
                 f"{_counts_line(result)}", fontsize=10)
    return _save(fig, path)


# ------------------------------------------------------------------ solver paths


#: Moves shorter than this share of the box width (in every coordinate) are left out of a
#: trace: finite-difference probes around an iterate (steps of 1.5e-8 to 6e-6 relative), not
#: steps of the solver.
TRACE_MIN_STEP = 1e-5


def trace_run(
    result: MultistartResult,
    fun: Callable[..., Any],
    start: int,
    *,
    args: tuple[Any, ...] = (),
    jac: Any = None,
    bounds: BoundsLike = None,
) -> np.ndarray:
    """The path of one local solve, re-run from ``result.runs[start].x0``.

    The start is solved again by the engine's own :func:`~engine.local.solve.solve_one` with
    the run's method, ``options``, ``tol`` and coordinates (from the result's spec), so it ends
    where the run ended. The path is the start, then every evaluated point that was lower
    than all before it (the solver's progress; moves under :data:`TRACE_MIN_STEP` of the box
    are left out), then the end point.

    Parameters
    ----------
    result : MultistartResult
        The run; its spec gives method, options, ``tol`` and bounds.
    fun : callable
        The objective ``fun(x, *args)`` (``(f, gradient)`` with ``jac=True``).
    start : int
        Start index of the run to repeat.
    args : tuple
        Extra arguments of ``fun`` and ``jac``.
    jac : callable or True, optional
        The gradient, as given to :func:`engine.minimize`.
    bounds : sequence of (low, high), optional
        Default ``result.spec.bounds``.

    Returns
    -------
    numpy.ndarray
        ``(k, d)`` array: the start, each new best point, the end point.

    Examples
    --------
    >>> import engine
    >>> f = lambda x: float((x[0] - 1) ** 2 + (x[1] + 2) ** 2)
    >>> res = engine.minimize(f, [(-5, 5), (-5, 5)], n_starts=2, seed=0, client="serial")
    >>> path = trace_run(res, f, 0)
    >>> path.shape[1], bool(abs(path[-1] - [1, -2]).max() < 1e-4)
    (2, True)
    """
    run = _run_by_index(result, start)
    box = _bounds(result, bounds)
    evaluated: list[tuple[np.ndarray, float]] = []

    def record(x: np.ndarray, value: float) -> None:
        evaluated.append((np.array(x, dtype=float), value))

    again = solve_one(_problem(result, fun, box, args, jac), np.asarray(run.x0, dtype=float),
                      run.index, RunSettings.of(result).local_options(), callback=record)
    return _descent_path(np.asarray(run.x0, dtype=float), evaluated, again.x,
                         box[:, 1] - box[:, 0])


def _descent_path(x0: np.ndarray, evaluated: Sequence[tuple[np.ndarray, float]],
                  end: np.ndarray, width: np.ndarray) -> np.ndarray:
    """``x0``, each evaluated point lower than all before it, and ``end``.

    Values are compared as the solver saw them (minimized sign), so a maximization's path
    climbs. A new best point within :data:`TRACE_MIN_STEP` of the box of the last point on
    the path is not added (the best value still moves to it).
    """
    path = [x0]
    best = math.inf
    for x, value in evaluated:
        if value < best:
            best = value
            if np.max(np.abs(x - path[-1]) / width) > TRACE_MIN_STEP:
                path.append(x)
    end = np.asarray(end, dtype=float)
    if not np.allclose(end, path[-1], rtol=0.0, atol=1e-12 * float(np.max(width))):
        path.append(end)
    return np.array(path)


def _run_by_index(result: MultistartResult, index: int) -> Any:
    for run in result.runs:
        if run.index == index:
            return run
    raise ConfigError(f"no run with start index {index}; indices run from 0 to "
                      f"{max((r.index for r in result.runs), default=-1)}: pick one of those")


def default_trace_starts(result: MultistartResult, n: int = 3) -> list[int]:
    """The first start that reached each of the best ``n`` minima (one path per minimum).

    Examples
    --------
    >>> import engine
    >>> res = engine.minimize(lambda x: float((x[0] ** 2 - 1) ** 2), [(-2, 2)], n_starts=8,
    ...                       seed=0, client="serial")
    >>> default_trace_starts(res) == [m.starts[0] for m in res.minima[:3]]
    True
    """
    return [m.starts[0] for m in result.minima[:n] if m.starts]


def plot_traces(
    result: MultistartResult,
    fun: Callable[..., Any],
    path: PathLike,
    starts: Sequence[int] | None = None,
    *,
    dims: tuple[int, int] = (0, 1),
    args: tuple[Any, ...] = (),
    jac: Any = None,
    bounds: BoundsLike = None,
    resolution: int = 150,
) -> list[Path]:
    """Solver paths of chosen starts, iterate by iterate, over the landscape.

    Each chosen start is solved again with the run's method and options (see
    :func:`trace_run`) while recording its iterates; the paths are drawn on the contour plot
    (2-D, or the section through the best minimum for more variables) or on the curve (1-D).
    Methods that report iterates to the callback (all of scipy's) show every step.

    Parameters
    ----------
    starts : sequence of int, optional
        Start indices; default: the first start of each of the best three minima.

    Examples
    --------
    >>> import os, tempfile, engine
    >>> f = lambda x: float((x[0] ** 2 - 1) ** 2 + x[1] ** 2)
    >>> res = engine.minimize(f, [(-2, 2), (-1, 1)], n_starts=8, seed=0, client="serial")
    >>> out = os.path.join(tempfile.mkdtemp(), "traces")
    >>> len(plot_traces(res, f, out, starts=[0, 1], resolution=40))
    2
    """
    box = _bounds(result, bounds)
    chosen = list(default_trace_starts(result) if starts is None else starts)
    if not chosen:
        raise ConfigError("no start to trace: pass starts=[...] (no run succeeded)")
    traces = [(s, trace_run(result, fun, s, args=args, jac=jac, bounds=box)) for s in chosen]
    method = RunSettings.of(result).method or "L-BFGS-B"
    fig = _figure((7.5, 6.0))
    ax = fig.add_subplot()
    problem = _problem(result, fun, box, args, jac)
    if len(box) == 1:
        grid = np.linspace(box[0, 0], box[0, 1], 1000)
        ax.plot(grid, problem.evaluate_many(grid[:, None]), color="black", lw=1.0)
        xs = [(p[:, 0], problem.evaluate_many(p)) for _, p in traces]
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
        ax.set_xlim(box[0, 0], box[0, 1])
    else:
        i, j = _check_dims(dims, len(box))
        gx, gy, z = _section(problem, (i, j), _fixed_point(result, box), resolution)
        _contour(ax, fig, gx, gy, z)
        xs = [(p[:, i], p[:, j]) for _, p in traces]
        ax.set_xlabel(f"x{i}")
        ax.set_ylabel(f"x{j}")
        ax.set_xlim(box[i, 0], box[i, 1])
        ax.set_ylim(box[j, 0], box[j, 1])
    rank = _rank_of_start(result)
    # Colour by the minimum reached when that tells the paths apart, else one colour each.
    by_minimum = len({rank.get(s) for s in chosen}) == len(chosen)
    for n, ((s, p), (px, py)) in enumerate(zip(traces, xs, strict=True)):
        k = rank.get(s)
        colour = _colour(k) if by_minimum else _PALETTE[n % len(_PALETTE)]
        where = f"{_kind(result)} {k + 1}" if k is not None else "failed"
        ax.plot(px, py, "-o", color=colour, ms=3.5, lw=1.3, mec="black", mew=0.3, zorder=4,
                label=f"start {s}: {len(p) - 1} steps → {where}")
        ax.plot(px[:1], py[:1], "s", color=colour, mec="black", ms=8, zorder=5)
        ax.plot(px[-1:], py[-1:], "*", color=colour, mec="black", ms=15, zorder=5)
    # Below the axes, not on them: a legend inside would hide a start or an end.
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center",
               ncols=min(3, len(traces)), fontsize=8, frameon=False,
               title="square: start, star: end", title_fontsize=8)
    ax.set_title(f"Solver paths ({method}, each point a new best of its solve)\n"
                 f"{_counts_line(result)}", fontsize=10)
    return _save(fig, path)


# ------------------------------------------------------------------ everything at once


def plot_all(
    result: MultistartResult,
    fun: Callable[..., Any] | None,
    directory: PathLike,
    *,
    args: tuple[Any, ...] = (),
    jac: Any = None,
    bounds: BoundsLike = None,
    dims: tuple[int, int] = (0, 1),
    trace_starts: Sequence[int] | None = None,
    resolution: int = 150,
) -> dict[str, list[Path]]:
    """Every plot that applies to ``result``, written into ``directory``.

    ``landscape`` (1-D curve or 2-D contours, chosen by dimension) and ``traces`` need
    ``fun`` and are left out without it; ``basins``, ``waterfall`` and ``convergence`` need
    only the result. Plots with nothing to show (no successful run) are left out.

    Parameters
    ----------
    result : MultistartResult
        The run to draw.
    fun : callable or None
        The objective ``fun(x, *args)``; None draws only the plots that do not evaluate it.
    directory : str or Path
        Folder for the files (created when missing).
    args, jac, bounds
        As for :func:`plot_landscape_2d` and :func:`trace_run`.
    dims : (int, int)
        Coordinates on the axes of the landscape and traces of a problem with more than two
        variables.
    trace_starts : sequence of int, optional
        Starts whose solver paths are drawn (default :func:`default_trace_starts`).
    resolution : int
        Grid points per axis of the landscape.

    Returns
    -------
    dict
        Plot name -> written paths, e.g. ``{"landscape": [.../landscape.png, ...svg], ...}``.

    Examples
    --------
    >>> import tempfile, engine
    >>> f = lambda x: float((x[0] ** 2 - 1) ** 2 + 0.3 * x[0])
    >>> res = engine.minimize(f, [(-2, 2)], n_starts=8, seed=0, client="serial")
    >>> sorted(plot_all(res, f, tempfile.mkdtemp()))
    ['basins', 'convergence', 'landscape', 'traces', 'waterfall']
    """
    out = Path(directory)
    written: dict[str, list[Path]] = {}
    box = None
    if fun is not None:
        box = _bounds(result, bounds)
        if len(box) == 1:
            written["landscape"] = plot_landscape_1d(result, fun, out / "landscape", args=args,
                                                     jac=jac, bounds=box)
        else:
            written["landscape"] = plot_landscape_2d(result, fun, out / "landscape", dims,
                                                     args=args, jac=jac, bounds=box,
                                                     resolution=resolution)
    if result.minima:
        written["basins"] = plot_basins(result, out / "basins")
        written["waterfall"] = plot_waterfall(result, out / "waterfall")
        written["convergence"] = plot_convergence(result, out / "convergence")
        if fun is not None:
            written["traces"] = plot_traces(result, fun, out / "traces", trace_starts,
                                            dims=dims, args=args, jac=jac, bounds=box,
                                            resolution=resolution)
    return written
