"""Run configuration: frozen option objects, built and checked in one place.

:func:`load_config` reads a YAML file, checks every key and collects **all** problems into one
:class:`~engine.exceptions.ConfigError`, each naming the key, the bad value, what is allowed and
the fix. :func:`engine.minimize` builds the same option objects from keyword arguments, so the
API and the batch route accept exactly the same values.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.exceptions import ConfigError, EngineError
from engine.local.methods import METHODS
from engine.options import (
    GLOBAL_PHASES,
    DedupOptions,
    LocalOptions,
    OutputOptions,
    SearchOptions,
    StartOptions,
    StopOptions,
)
from engine.sampling import SAMPLERS
from engine.search.selection import STRATEGIES

Check = Callable[[str, Any], "str | None"]


@dataclass(frozen=True)
class RunConfig:
    """A whole validated YAML config."""

    problem: dict[str, Any]
    starts: StartOptions
    local: LocalOptions
    dedup: DedupOptions
    stop: StopOptions
    cluster: dict[str, Any]
    output: OutputOptions
    search: SearchOptions = field(default_factory=SearchOptions)
    noisy: bool = False
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """Directory relative paths in the config are resolved against."""
        return self.source.parent if self.source else Path.cwd()

    def fingerprint(self) -> str:
        """Hash of everything that decides the runs' outcomes (not cluster, stop or output).

        Two configs with the same fingerprint produce the same run for every start, so a
        journal written under one can be resumed under the other (e.g. on more workers).
        """
        return config_hash({k: self.raw.get(k)
                            for k in ("problem", "starts", "local", "dedup", "search")})


def config_hash(data: Any) -> str:
    """SHA-256 (hex, 16 chars) of ``data`` as canonical JSON."""
    text = json.dumps(data, sort_keys=True, default=_json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _json_default(value: Any) -> Any:
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


# ---------------------------------------------------------------- value checks


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def positive_int(minimum: int = 1, optional: bool = False) -> Check:
    def check(key: str, value: Any) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            extra = " or null" if optional else ""
            return f"{key}={value!r} is not allowed; use an integer >= {minimum}{extra}"
        return None

    return check


def number(low: float | None = None, high: float | None = None, optional: bool = False,
           strict_low: bool = True) -> Check:
    def check(key: str, value: Any) -> str | None:
        if value is None and optional:
            return None
        bad = not _is_number(value) or not math.isfinite(float(value))
        if not bad and low is not None:
            bad = value <= low if strict_low else value < low
        if not bad and high is not None:
            bad = value >= high
        if bad:
            parts = []
            if low is not None:
                parts.append(f"{'>' if strict_low else '>='} {low}")
            if high is not None:
                parts.append(f"< {high}")
            rng = " and ".join(parts)
            return (f"{key}={value!r} is not allowed; use a finite number"
                    f"{' ' + rng if rng else ''}{' or null' if optional else ''}")
        return None

    return check


def one_of(allowed: tuple[str, ...], case_insensitive: bool = False) -> Check:
    def check(key: str, value: Any) -> str | None:
        names = [a.lower() for a in allowed] if case_insensitive else list(allowed)
        probe = value.lower() if case_insensitive and isinstance(value, str) else value
        if probe not in names:
            hint = _did_you_mean(str(value), allowed)
            return f"{key}={value!r} is unknown; allowed: {', '.join(allowed)}{hint}"
        return None

    return check


def boolean(key: str, value: Any) -> str | None:
    if not isinstance(value, bool):
        return f"{key}={value!r} is not allowed; use true or false"
    return None


def mapping(key: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, dict):
        return f"{key}={value!r} is not allowed; use a mapping of option names to values"
    return None


def text(key: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return f"{key}={value!r} is not allowed; use a non-empty string"
    return None


def optional_text(key: str, value: Any) -> str | None:
    return None if value is None else text(key, value)


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------- API argument checks


# Samplers that make all their points at once, and the most points they are asked for.
EAGER_SAMPLERS = ("lhs", "sobol-seq")
EAGER_LIMIT = 10_000_000


def check_starts(n_starts: Any, sampler: Any, seed: Any, x0: Any, dim: int) -> StartOptions:
    """Validate the start options of :func:`engine.minimize`; raise one ConfigError."""
    errors: list[str] = []
    points = None
    if isinstance(sampler, str):
        if (msg := one_of(SAMPLERS)("sampler", sampler)) is not None:
            errors.append(msg + " (or pass an array of start points)")
        if (msg := positive_int(0)("n_starts", n_starts)) is not None:
            errors.append(msg)
        elif sampler in EAGER_SAMPLERS and n_starts > EAGER_LIMIT:
            errors.append(
                f"n_starts={n_starts} with sampler={sampler!r}: that sampler builds every point "
                f"up front; use n_starts <= {EAGER_LIMIT:,} or sampler='sobol' (drawn lazily)")
    else:
        points = _points("sampler", sampler, dim, errors)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        errors.append(f"seed={seed!r} is not allowed; use a non-negative integer or None")
    x0_arr = None if x0 is None else _points("x0", x0, dim, errors)
    if errors:
        raise ConfigError(errors)
    if points is not None:
        n_starts, sampler = len(points), "points"
    return StartOptions(n_starts=int(n_starts), sampler=sampler,
                        seed=None if seed is None else int(seed), x0=x0_arr, points=points)


def _points(key: str, value: Any, dim: int, errors: list[str]) -> np.ndarray | None:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        errors.append(f"{key}={value!r} is not numeric; give points as a (n, {dim}) array")
        return None
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != dim:
        errors.append(
            f"{key} has shape {np.shape(value)} but the problem has {dim} variables; "
            f"give one point of length {dim}, or an array of shape (n, {dim})"
        )
        return None
    if not np.all(np.isfinite(arr)):
        errors.append(f"{key} contains NaN or infinite values; every start must be finite")
        return None
    return arr


def check_search_options(
    *, strategy: Any = "auto", n_explore: Any = None, vectorized: Any = False, hops: Any = True,
    global_phase: Any = None, global_fraction: Any = 0.2, polish: Any = True,
    max_discoveries: Any = None, bayes: Any = False, noisy: Any = False, scale: Any = None,
) -> list[str]:
    """Return the problems found in the search and stopping options (empty when valid)."""
    checks: list[tuple[str, Any, Check]] = [
        ("strategy", strategy, one_of(("auto", *STRATEGIES))),
        ("n_explore", n_explore, positive_int(1, optional=True)),
        ("vectorized", vectorized, boolean),
        ("hops", hops, boolean),
        ("global_fraction", global_fraction, number(0.0, 1.0)),
        ("polish", polish, boolean),
        ("max_discoveries", max_discoveries, positive_int(1, optional=True)),
        ("bayes", bayes, boolean),
        ("noisy", noisy, boolean),
    ]
    if scale is not None:
        checks.append(("scale", scale, boolean))
    if global_phase is not None:
        checks.append(("global_phase", global_phase, one_of(GLOBAL_PHASES)))
    return [msg for key, value, check in checks if (msg := check(key, value)) is not None]


def check_run_options(
    *, xtol: Any, ftol: Any, max_evals: Any, max_time: Any, target: Any, tol: Any,
    options: Any, start_timeout: Any = None, restarts: Any = 1,
) -> list[str]:
    """Return the problems found in the scalar run options (empty when all are valid)."""
    checks: list[tuple[str, Any, Check]] = [
        ("xtol", xtol, number(0.0, 1.0)),
        ("ftol", ftol, number(0.0, strict_low=False)),
        ("max_evals", max_evals, positive_int(1, optional=True)),
        ("max_time", max_time, number(0.0, optional=True)),
        ("target", target, number(optional=True)),
        ("tol", tol, number(0.0, optional=True)),
        ("options", options, mapping),
        ("start_timeout", start_timeout, number(0.0, optional=True)),
        ("restarts", restarts, positive_int(0)),
    ]
    return [msg for key, value, check in checks if (msg := check(key, value)) is not None]


# ---------------------------------------------------------------- YAML configs

_SECTIONS: dict[str, dict[str, Check]] = {
    "problem": {
        "objective": text,
        "bounds": lambda k, v: None,  # checked with the problem (normalize_bounds)
        "maximize": boolean,
        "args": lambda k, v: None if isinstance(v, list) else f"{k}={v!r}: use a list",
        "jac": lambda k, v: None if v is None or isinstance(v, (bool, str)) else (
            f"{k}={v!r}: use true, false, '2-point', '3-point' or 'module:function'"),
        "hess": lambda k, v: None if v is None or isinstance(v, str) else (
            f"{k}={v!r}: use '2-point', '3-point', 'module:function' or null"),
    },
    "starts": {
        "n_starts": positive_int(1),
        "sampler": one_of(SAMPLERS),
        "seed": positive_int(0, optional=True),
        "x0": lambda k, v: None if v is None or isinstance(v, list) else (
            f"{k}={v!r}: use a list of points (each a list of numbers) or null"),
    },
    "local": {
        "method": one_of(("auto", *METHODS), case_insensitive=True),
        "options": mapping,
        "tol": number(0.0, optional=True),
        "start_timeout": number(0.0, optional=True),
        "restarts": positive_int(0),
        "noisy": boolean,
        "scale": lambda k, v: None if v is None else boolean(k, v),
    },
    "search": {
        "strategy": one_of(("auto", *STRATEGIES)),
        "n_explore": positive_int(1, optional=True),
        "vectorized": boolean,
        "hops": boolean,
        "global_phase": lambda k, v: None if v is None else one_of(GLOBAL_PHASES)(k, v),
        "global_fraction": number(0.0, 1.0),
        "polish": boolean,
    },
    "dedup": {"xtol": number(0.0, 1.0), "ftol": number(0.0, strict_low=False)},
    "stop": {
        "max_evals": positive_int(1, optional=True),
        "max_time": number(0.0, optional=True),
        "target": number(optional=True),
        "max_discoveries": positive_int(1, optional=True),
        "bayes": boolean,
    },
    "output": {"dir": text, "runs_csv": boolean},
}
_REQUIRED = {("problem", "objective"), ("problem", "bounds")}


def validate_config_dict(raw: Any, source: str | None = None) -> list[str]:
    """Every problem in a config mapping, as messages; empty when it is valid."""
    from engine.parallel.clusters import validate_cluster

    if not isinstance(raw, dict):
        return [f"the file must hold a mapping of sections ({', '.join(_SECTIONS)}, cluster), "
                f"not {type(raw).__name__}"]
    errors: list[str] = []
    known = (*_SECTIONS, "cluster")
    for section, body in raw.items():
        if section not in known:
            errors.append(f"unknown section {section!r}{_did_you_mean(str(section), known)}; "
                          f"allowed sections: {', '.join(known)}")
            continue
        if body is None:
            continue
        if not isinstance(body, dict):
            errors.append(f"section {section!r} must be a mapping of keys, not {body!r}")
            continue
        if section == "cluster":
            errors.extend(validate_cluster(body))
            continue
        checks = _SECTIONS[section]
        for key, value in body.items():
            if key not in checks:
                errors.append(
                    f"unknown key {section}.{key}{_did_you_mean(str(key), checks)}; "
                    f"allowed in {section}: {', '.join(checks)}"
                )
            elif (msg := checks[key](f"{section}.{key}", value)) is not None:
                errors.append(msg)
    for section, key in sorted(_REQUIRED):
        if not isinstance(raw.get(section), dict) or key not in raw[section]:
            errors.append(f"{section}.{key} is required (see configs/quickstart.yaml)")
    return errors


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
    >>> cfg.local.method  # doctest: +SKIP
    'L-BFGS-B'
    """
    import yaml

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
    errors = validate_config_dict(raw, str(path))
    config = None
    if not errors:
        try:
            config = _build(raw, path)
        except EngineError as exc:
            errors.extend(getattr(exc, "problems", [str(exc)]))
    if errors:
        raise ConfigError(errors, source=str(path))
    assert config is not None
    return config


def _build(raw: dict[str, Any], path: Path) -> RunConfig:
    from engine.local.methods import canonical_method

    section = lambda name: raw.get(name) or {}  # noqa: E731
    starts = section("starts")
    local = section("local")
    dedup = section("dedup")
    stop = section("stop")
    output = section("output")
    search = section("search")
    x0 = starts.get("x0")
    max_evals = stop.get("max_evals")
    n_starts_given = "n_starts" in starts
    strategy = search.get("strategy", "auto")
    if strategy == "auto":  # as engine.api.resolve_strategy
        strategy = "mlsl" if max_evals is not None and not n_starts_given else "all"
    search = {**search, "strategy": strategy}
    default_n = max(128, max_evals) if (max_evals and not n_starts_given) else 128
    return RunConfig(
        problem=dict(section("problem")),
        starts=StartOptions(
            n_starts=starts.get("n_starts", default_n),
            sampler=starts.get("sampler", "sobol"),
            seed=starts.get("seed"),
            x0=None if not x0 else np.asarray(x0, dtype=float),
        ),
        local=LocalOptions(
            method=canonical_method(local.get("method", "auto")),
            options=dict(local.get("options") or {}),
            tol=local.get("tol"),
            start_timeout=local.get("start_timeout"),
            restarts=local.get("restarts", 1),
            scale=local.get("scale"),
        ),
        search=SearchOptions(**search),
        noisy=bool(local.get("noisy", False)),
        dedup=DedupOptions(**{k: float(v) for k, v in dedup.items()}),
        stop=StopOptions(**stop),
        cluster=dict(section("cluster")) or {"kind": "local"},
        output=OutputOptions(**output),
        source=path.resolve(),
        raw=json.loads(json.dumps(raw, default=_json_default)),
    )


def describe(config: RunConfig) -> dict[str, Any]:
    """The config as plain data (for provenance)."""
    return {
        "problem": config.problem,
        "starts": {k: v for k, v in asdict(config.starts).items() if k != "points"},
        "local": asdict(config.local),
        "dedup": asdict(config.dedup),
        "stop": asdict(config.stop),
        "search": asdict(config.search),
        "cluster": config.cluster,
        "output": asdict(config.output),
    }
