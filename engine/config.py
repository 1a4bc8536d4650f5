"""YAML configs: the same option groups :func:`engine.minimize` builds, from a file.

:func:`load_config` reads a YAML file and checks every key, collecting **all** problems into
one :class:`~engine.exceptions.ConfigError`, each naming the key, the bad value, what is
allowed and the fix. The allowed keys and their checks are the declarations of
:mod:`engine.options` (sections ``starts``, ``local``, ``search``, ``dedup``, ``stop``,
``output``), plus ``problem`` (what :func:`engine.problem.Problem.create` takes) and
``cluster`` (checked by the cluster kind named in it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.exceptions import ConfigError, ProblemError
from engine.fitting.config import data_path, read_data
from engine.options import (
    GROUPS,
    Check,
    DedupOptions,
    LocalOptions,
    OptionGroup,
    OutputOptions,
    SearchOptions,
    StartOptions,
    StopOptions,
    boolean,
    config_hash,
    did_you_mean,
    json_default,
    text,
)
from engine.parallel.clusters import validate_cluster
from engine.problem import load_callable, normalize_bounds


def _any(key: str, value: Any) -> None:
    return None  # checked with the problem (normalize_bounds)


def _list(key: str, value: Any) -> str | None:
    return None if isinstance(value, list) else f"{key}={value!r}: use a list"


def _optional_list(key: str, value: Any) -> str | None:
    return None if value is None else _list(key, value)


def _jac(key: str, value: Any) -> str | None:
    if value is None or isinstance(value, (bool, str)):
        return None
    return f"{key}={value!r}: use true, false, '2-point', '3-point' or 'module:function'"


def _hess(key: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return None
    return f"{key}={value!r}: use '2-point', '3-point', 'module:function' or null"


def _kind(key: str, value: Any) -> str | None:
    if value in PROBLEM_KINDS:
        return None
    return f"{key}={value!r}: use one of {', '.join(PROBLEM_KINDS)}"


def _number(key: str, value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return None
    return f"{key}={value!r}: use a positive number"


#: What a ``problem:`` section describes: a scalar objective, or residuals (a fit).
PROBLEM_KINDS = ("minimize", "least_squares")
#: The ``problem:`` section: the arguments of :meth:`engine.problem.Problem.create`, and for
#: ``kind: least_squares`` those of :func:`engine.least_squares` (or a model and data).
PROBLEM_KEYS: dict[str, Check] = {
    "kind": _kind, "objective": text, "bounds": _any, "maximize": boolean(), "args": _list,
    "jac": _jac, "hess": _hess, "symmetries": _optional_list,
    "residuals": text, "model": text, "data": text, "loss": text, "f_scale": _number,
    "bounded": boolean(),
}
#: Keys that belong to one kind only.
_KIND_KEYS = {"minimize": ("objective", "maximize", "hess"),
              "least_squares": ("residuals", "model", "data", "loss", "f_scale", "bounded")}
_REQUIRED = ("bounds",)
SECTIONS = ("problem", *(group.section for group in GROUPS), "cluster")


@dataclass(frozen=True)
class RunConfig:
    """A whole validated YAML config: the problem's keys, the option groups, the cluster."""

    problem: dict[str, Any]
    starts: StartOptions
    local: LocalOptions
    search: SearchOptions
    dedup: DedupOptions
    stop: StopOptions
    output: OutputOptions
    cluster: dict[str, Any]
    source: Path | None = None
    raw: dict[str, Any] | None = None

    @property
    def base_dir(self) -> Path:
        """Directory relative paths in the config are resolved against."""
        return self.source.parent if self.source else Path.cwd()

    def groups(self) -> dict[str, OptionGroup]:
        """The option groups by section name."""
        return {group.section: getattr(self, group.section) for group in GROUPS}


def _problem_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return [f"section 'problem' must be a mapping of keys, not {body!r}"]
    errors = []
    for key, value in body.items():
        if key not in PROBLEM_KEYS:
            errors.append(f"unknown key problem.{key}{did_you_mean(str(key), PROBLEM_KEYS)}; "
                          f"allowed in problem: {', '.join(PROBLEM_KEYS)}")
        elif (message := PROBLEM_KEYS[key](f"problem.{key}", value)) is not None:
            errors.append(message)
    errors += [f"problem.{key} is required (see configs/quickstart.yaml)"
               for key in _REQUIRED if key not in body]
    kind = body.get("kind", "minimize")
    if kind not in PROBLEM_KINDS:
        return errors
    other = next(k for k in PROBLEM_KINDS if k != kind)
    errors += [f"problem.{key} belongs to kind: {other}, but this problem is kind: {kind}; "
               f"remove it, or set problem.kind: {other}"
               for key in _KIND_KEYS[other] if key in body]
    if kind == "minimize" and "objective" not in body:
        errors.append("problem.objective is required (see configs/quickstart.yaml)")
    if kind == "least_squares":
        has_model = "model" in body or "data" in body
        if "residuals" in body and has_model:
            errors.append("problem: give residuals, or model and data, not both")
        elif "residuals" not in body and not ("model" in body and "data" in body):
            errors.append("problem.kind: least_squares needs residuals: 'file.py:function' "
                          "(returning the residual vector), or model: 'file.py:function' "
                          "with data: a CSV file with x,y[,sigma] columns (see "
                          "configs/fit.yaml)")
    return errors


def _problem_value_problems(body: dict[str, Any], base_dir: Path) -> list[str]:
    """Bounds and the objective's import, checked with the option keys so that one
    ``multistart check`` lists every problem of a config."""
    errors = []
    if "bounds" in body:
        try:
            normalize_bounds(body["bounds"], "problem.bounds")
        except ProblemError as exc:
            errors.append(str(exc))
    for key in ("objective", "residuals", "model"):
        if isinstance(body.get(key), str):
            try:
                load_callable(body[key], base_dir, key=f"problem.{key}")
            except ProblemError as exc:
                errors.append(str(exc))
    if isinstance(body.get("data"), str):
        try:
            read_data(data_path(body["data"], base_dir))
        except ProblemError as exc:
            errors.append(str(exc))
    return errors


def parse_config(raw: Any, source: Path | None = None) -> tuple[RunConfig | None, list[str]]:
    """A config mapping as a :class:`RunConfig`, or None and every problem found in it."""
    if not isinstance(raw, dict):
        return None, [f"the file must hold a mapping of sections ({', '.join(SECTIONS)}), "
                      f"not {type(raw).__name__}"]
    errors = [f"unknown section {name!r}{did_you_mean(str(name), SECTIONS)}; allowed "
              f"sections: {', '.join(SECTIONS)}" for name in raw if name not in SECTIONS]
    errors += _problem_problems(raw.get("problem"))
    if isinstance(raw.get("problem"), dict):
        errors += _problem_value_problems(raw["problem"],
                                          source.parent if source else Path.cwd())
    cluster = raw.get("cluster") or {"kind": "local"}
    if not isinstance(cluster, dict):
        errors.append(f"section 'cluster' must be a mapping of keys, not {cluster!r}")
    else:
        errors += validate_cluster(cluster)
    groups: dict[str, Any] = {}
    for group in GROUPS:
        body = raw.get(group.section)
        if body is not None and not isinstance(body, dict):
            errors.append(f"section {group.section!r} must be a mapping of keys, not {body!r}")
            continue
        groups[group.section], problems = group.gather(group.section, body)
        errors += problems
    if errors:
        return None, errors
    return RunConfig(problem=dict(raw["problem"]), cluster=dict(cluster), source=source,
                     raw=json.loads(json.dumps(raw, default=json_default)), **groups), []


def load_config(path: str | Path, overrides: dict[str, dict[str, Any]] | None = None) -> RunConfig:
    """Read and validate a YAML config; raise one :class:`ConfigError` listing every problem.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    overrides : dict, optional
        ``{section: {key: value}}`` applied on top of the file (e.g. ``--out``).

    Examples
    --------
    >>> cfg = load_config("configs/quickstart.yaml")  # doctest: +SKIP
    >>> cfg.starts.n_starts  # doctest: +SKIP
    64
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=str(path)) from None
    raw = {} if raw is None else raw
    for section, values in (overrides or {}).items():
        if isinstance(raw, dict):
            raw.setdefault(section, {}).update(values)
    config, errors = parse_config(raw, path.resolve())
    if errors:
        raise ConfigError(errors, source=str(path))
    assert config is not None
    return config


def describe(config: RunConfig) -> dict[str, Any]:
    """The config as plain data (for provenance): every option, defaults filled in."""
    return {"problem": config.problem, "cluster": config.cluster,
            **{name: group.to_dict() for name, group in config.groups().items()}}


__all__ = ["PROBLEM_KEYS", "SECTIONS", "RunConfig", "config_hash", "describe", "load_config",
           "parse_config"]
