"""The ``problem:`` section of a least-squares config (``kind: least_squares``).

Two forms: ``residuals: module:function`` (a residual vector, as for
:func:`engine.least_squares`), or a data fit, ``model: module:function`` with ``data:`` a CSV
file whose header names the columns ``x`` (or ``x1``, ``x2``, ... for several inputs), ``y``
and optionally ``sigma`` (as for :func:`engine.curve_fit`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.exceptions import ProblemError
from engine.fitting.residuals import ModelResiduals, Residuals, check_loss
from engine.problem import Problem, load_callable

#: Keys of a least-squares ``problem:`` section besides ``kind``, ``bounds`` and ``args``.
LEAST_SQUARES_KEYS = ("residuals", "model", "data", "jac", "loss", "f_scale", "symmetries",
                      "bounded")


def read_data(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(xdata, y, sigma)`` from a CSV file with a header row.

    ``xdata`` is 1-D for one ``x`` column, ``(k, m)`` for columns ``x1 .. xk``.

    Raises
    ------
    ProblemError
        A missing file or column, text where numbers belong, NaN/inf, or no rows.
    """
    if not path.is_file():
        raise ProblemError(f"problem.data: file {str(path)!r} not found")
    try:
        table = np.genfromtxt(path, delimiter=",", names=True, dtype=float, encoding="utf-8")
    except ValueError as exc:
        raise ProblemError(f"problem.data: {path} is not a CSV of numbers with a header row "
                           f"({exc})") from None
    names = table.dtype.names or ()
    xs = ["x"] if "x" in names else sorted((n for n in names if n[:1] == "x" and n[1:].isdigit()),
                                           key=lambda n: int(n[1:]))
    missing = [c for c in ("y",) if c not in names] + ([] if xs else ["x"])
    if missing:
        raise ProblemError(f"problem.data: {path} has columns {list(names)}; it needs "
                           f"{' and '.join(missing)} (a header row x,y[,sigma], or x1,x2,...,y)")
    table = np.atleast_1d(table)
    columns = [*xs, "y", *(["sigma"] if "sigma" in names else [])]
    for column in columns:
        bad = np.flatnonzero(~np.isfinite(table[column]))
        if bad.size:
            raise ProblemError(f"problem.data: column {column!r} of {path} holds a missing or "
                               f"non-numeric value in data row {int(bad[0]) + 1}; fix or drop "
                               "that row")
    if "sigma" in names and (table["sigma"] <= 0).any():
        raise ProblemError(f"problem.data: column 'sigma' of {path} holds values <= 0; every "
                           "uncertainty must be positive")
    xdata = table[xs[0]] if len(xs) == 1 else np.vstack([table[c] for c in xs])
    sigma = np.asarray(table["sigma"], dtype=float) if "sigma" in names else None
    return np.asarray(xdata, dtype=float), np.asarray(table["y"], dtype=float), sigma


def least_squares_problem(spec: dict[str, Any], base_dir: Path) -> Problem:
    """The :class:`~engine.problem.Problem` of a ``kind: least_squares`` section."""
    problems = check_loss(spec.get("loss", "linear"), spec.get("f_scale", 1.0))
    if problems:
        raise ProblemError("; ".join(f"problem.{p}" for p in problems))
    jac = spec.get("jac") or "2-point"
    if isinstance(jac, str) and ":" in jac:
        jac = load_callable(jac, base_dir, key="problem.jac")
    if "residuals" in spec:
        fun = load_callable(spec["residuals"], base_dir, key="problem.residuals")
    else:
        model = load_callable(spec["model"], base_dir, key="problem.model")
        xdata, y, sigma = read_data(data_path(spec["data"], base_dir))
        fun = ModelResiduals(model, xdata, y, sigma, jac if callable(jac) else None)
        if callable(jac):
            jac = fun.jacobian
    residuals = Residuals(fun, jac=jac, loss=spec.get("loss", "linear"),
                          f_scale=float(spec.get("f_scale", 1.0)),
                          bounded=bool(spec.get("bounded", True)))
    return Problem.create(residuals, spec["bounds"], args=tuple(spec.get("args") or ()),
                          symmetries=spec.get("symmetries"))


def data_path(value: str, base_dir: Path) -> Path:
    """The data file a config names: beside the config when it is there, else as given."""
    path = Path(value)
    if not path.is_absolute() and (base_dir / path).exists():
        return base_dir / path
    return path
