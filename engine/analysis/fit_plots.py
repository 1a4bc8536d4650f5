"""The residual plot of a fit: residuals against the data's x (or their index) and their
histogram beside the normal curve of the same spread.

Structure left in the residuals (a trend, a wave, a few large ones) says the model misses
something the noise does not explain. Written like every plot of :mod:`engine.analysis.plots`:
a PNG and an SVG at a path stem, matplotlib (the ``plots`` extra) drawn off screen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.analysis.plots import PathLike, _figure, _save
from engine.exceptions import ConfigError


def plot_residuals(fit: Any, path: PathLike, *, xdata: Any = None,
                   residuals: Callable[..., Any] | None = None) -> list[Path]:
    """Draw the residuals of the best fit; return the written files.

    Parameters
    ----------
    fit : CurveFit or MultistartResult
        An :func:`engine.curve_fit` answer (its weighted residuals are drawn), or the result
        of :func:`engine.least_squares` together with ``residuals``.
    path : str or Path
        Path stem of the files (``.png`` and ``.svg`` are written).
    xdata : array_like, optional
        1-D positions of the data points for the horizontal axis (default: their index).
    residuals : callable, optional
        ``residuals(x)`` of a :func:`engine.least_squares` run, evaluated at its best ``x``.

    Examples
    --------
    >>> import numpy as np, engine
    >>> t = np.linspace(0, 1, 20)
    >>> fit = engine.curve_fit(lambda t, a: a * t, t, 2 * t + 0.01 * np.sin(9 * t),
    ...                        bounds=([0], [5]), n_starts=2, seed=0, client="serial")
    >>> [p.suffix for p in plot_residuals(fit, "/tmp/residuals", xdata=t)]  # doctest: +SKIP
    ['.png', '.svg']
    """
    if hasattr(fit, "residuals") and hasattr(fit, "popt"):
        values = np.asarray(fit.residuals, dtype=float)
        label = "residual / sigma" if fit.weighted else "residual"
    elif residuals is not None and getattr(fit, "x", None) is not None:
        values = np.asarray(residuals(np.asarray(fit.x, dtype=float)), dtype=float).ravel()
        label = "residual"
    else:
        raise ConfigError("plot_residuals needs a CurveFit, or a least_squares result with "
                          "residuals=<the residual function>")
    positions = np.arange(values.size) if xdata is None else np.asarray(xdata, dtype=float)
    if positions.shape != values.shape:
        raise ConfigError(f"xdata has shape {positions.shape} but there are {values.size} "
                          "residuals; give one position per data point (1-D)")
    spread = float(np.std(values)) or 1.0
    fig = _figure((9.0, 4.0))
    along, hist = fig.subplots(1, 2, width_ratios=(3, 1))
    along.axhline(0.0, color="#555555", linewidth=0.8)
    along.axhspan(-spread, spread, color="#1f77b4", alpha=0.08, label=f"±1 sd ({spread:.3g})")
    along.plot(positions, values, "o", markersize=3, color="#1f77b4")
    along.set_xlabel("x" if xdata is not None else "data point")
    along.set_ylabel(label)
    along.legend(loc="upper right", fontsize="small")
    along.set_title(f"{values.size} residuals, sum of squares {float(values @ values):.4g}")
    hist.hist(values, bins=max(5, min(30, values.size // 5)), orientation="horizontal",
              density=True, color="#1f77b4", alpha=0.6)
    grid = np.linspace(values.min(), values.max(), 200)
    hist.plot(np.exp(-0.5 * (grid / spread) ** 2) / (spread * np.sqrt(2 * np.pi)), grid,
              color="#d62728", linewidth=1.0, label="normal")
    hist.set_xlabel("density")
    hist.legend(loc="upper right", fontsize="small")
    hist.sharey(along)
    return _save(fig, path)
