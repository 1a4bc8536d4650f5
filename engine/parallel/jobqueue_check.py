"""What a ``cluster:`` block of a batch-system kind may hold: its keys and their values.

Each batch system (``slurm``, ``pbs``, ``sge``, ``lsf``, ``htcondor``) accepts the keyword
arguments its dask-jobqueue class accepts (0.9.0) and no others: ``resource_spec`` is a PBS
and SGE key, refused for SLURM, as dask-jobqueue itself would refuse it only once jobs are
submitted. Deprecated dask-jobqueue names get the current name as the fix. Nothing here
imports dask-jobqueue, so ``multistart check`` works where it is not installed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from engine.parallel.cluster_kind import did_you_mean

#: Keyword arguments every dask-jobqueue cluster class takes (the scheduler's and a job's).
COMMON_KEYS = (
    "cores", "memory", "processes", "name", "job_name", "interface", "nanny",
    "local_directory", "death_timeout", "worker_command", "worker_extra_args",
    "job_extra_directives", "job_directives_skip", "job_script_prologue", "log_directory",
    "shebang", "python", "config_name", "scheduler_options", "security",
    "shared_temp_directory", "silence_logs",
)
#: The keyword arguments only one batch system's class takes.
KIND_KEYS = {
    "slurm": ("queue", "account", "project", "walltime", "job_cpu", "job_mem"),
    "pbs": ("queue", "account", "project", "walltime", "resource_spec"),
    "sge": ("queue", "project", "walltime", "resource_spec"),
    "lsf": ("queue", "project", "walltime", "ncpus", "mem", "lsf_units", "use_stdin"),
    "htcondor": ("disk", "submit_command_extra", "cancel_command_extra"),
}
#: Keys of a cluster: block that are the engine's own, not dask-jobqueue keyword arguments.
ENGINE_KEYS = ("jobs", "adapt", "lifetime", "lifetime_stagger", "wait_for_workers",
               "worker_timeout", "driver_timeout")
#: Deprecated dask-jobqueue names and the current name of each.
RENAMED = {"job_extra": "job_extra_directives", "env_extra": "job_script_prologue",
           "extra": "worker_extra_args", "header_skip": "job_directives_skip"}
#: The keys each kind cannot do without.
REQUIRED = {kind: ("cores", "memory", "disk" if kind == "htcondor" else "walltime")
            for kind in KIND_KEYS}
#: The walltime formats each batch system reads (as strings), for messages.
WALLTIME_FORMATS = {
    "slurm": "'HH:MM:SS', 'MM:SS', 'MM', 'D-HH', 'D-HH:MM' or 'D-HH:MM:SS'",
    "pbs": "'HH:MM:SS'",
    "sge": "'HH:MM:SS'",
    "lsf": "'HH:MM'",
}
_WALLTIME_PATTERNS = {
    "slurm": (r"\d+:[0-5]?\d:[0-5]?\d", r"\d+:[0-5]?\d", r"\d+",
              r"\d+-\d+", r"\d+-\d+:[0-5]?\d", r"\d+-\d+:[0-5]?\d:[0-5]?\d"),
    "pbs": (r"\d+:[0-5]?\d:[0-5]?\d",),
    "sge": (r"\d+:[0-5]?\d:[0-5]?\d",),
    "lsf": (r"\d+:[0-5]?\d",),
}


def kind_keys(kind: str) -> tuple[str, ...]:
    """Every YAML key a ``cluster:`` block of the batch system ``kind`` accepts.

    Examples
    --------
    >>> "resource_spec" in kind_keys("slurm"), "resource_spec" in kind_keys("pbs")
    (False, True)
    """
    return COMMON_KEYS + KIND_KEYS[kind] + ENGINE_KEYS


def walltime_error(kind: str, value: Any) -> str | None:
    """Why ``value`` is not a walltime the batch system ``kind`` reads, or None.

    Examples
    --------
    >>> walltime_error("slurm", "00:10:00") is None, walltime_error("slurm", "2-00:00:00")
    (True, None)
    >>> print(walltime_error("slurm", "1h"))
    cluster.walltime='1h' is not a walltime slurm reads; use 'HH:MM:SS', 'MM:SS', 'MM', 'D-HH', 'D-HH:MM' or 'D-HH:MM:SS' (e.g. walltime: '01:00:00')
    """  # noqa: E501
    formats = WALLTIME_FORMATS.get(kind)
    if formats is None:
        return None
    example = "'01:00'" if kind == "lsf" else "'01:00:00'"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (f"cluster.walltime={value!r} is a number; quote the walltime as a string in "
                f"{formats} (YAML reads an unquoted 1:00:00 as the number 3600), e.g. "
                f"walltime: {example}")
    if not isinstance(value, str) or not any(
            re.fullmatch(p, value.strip()) for p in _WALLTIME_PATTERNS[kind]):
        return (f"cluster.walltime={value!r} is not a walltime {kind} reads; use {formats} "
                f"(e.g. walltime: {example})")
    if not any(ch in "123456789" for ch in value):
        return f"cluster.walltime={value!r} is zero; give a positive time, e.g. {example}"
    return None


def short_walltime_error(seconds: int | None, has_lifetime: bool) -> str | None:
    """Why a walltime is too short for workers to leave before it, or None.

    Examples
    --------
    >>> short_walltime_error(20, False)[:40]
    'cluster.walltime is 20 s: too short for '
    """
    if seconds is None or seconds >= 30 or has_lifetime:
        return None
    return (f"cluster.walltime is {seconds} s: too short for a worker to start and leave "
            "(--lifetime) before the batch system kills it; use at least one minute, e.g. "
            "walltime: '00:01:00'")


def _memory(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    from dask.utils import parse_bytes  # dask is a dependency of every jobqueue kind

    try:
        return parse_bytes(value) > 0
    except (ValueError, TypeError):
        return False


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _texts(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _duration(value: Any) -> bool:
    if _positive_number(value):
        return True
    return isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?\s*(s|m|h|ms)?", value.strip()) \
        is not None


#: Value checks: key -> (accepts the value, what to use instead).
_VALUES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "cores": (_positive_int, "an integer >= 1, e.g. cores: 4"),
    "processes": (_positive_int, "an integer >= 1, e.g. processes: 1"),
    "job_cpu": (_positive_int, "an integer >= 1"),
    "ncpus": (_positive_int, "an integer >= 1"),
    "memory": (_memory, "a size with its unit, e.g. memory: 4GB or memory: 500MiB"),
    "job_mem": (lambda v: v is None or _memory(v), "a size with its unit, e.g. 4GB"),
    "mem": (lambda v: v is None or _positive_int(v) or _memory(v), "a size, e.g. 4GB"),
    "disk": (_memory, "a size with its unit, e.g. disk: 1GB"),
    "death_timeout": (lambda v: v is None or _positive_number(v),
                      "seconds > 0, e.g. death_timeout: 60"),
    "worker_timeout": (_positive_number, "seconds > 0, e.g. worker_timeout: 300"),
    "driver_timeout": (lambda v: _positive_number(v) and v >= 3,
                       "seconds >= 3, e.g. driver_timeout: 300"),
    "wait_for_workers": (lambda v: v is None or (_positive_int(v)),
                         "an integer >= 1 (workers to wait for before the run starts)"),
    "lifetime": (_duration, "a duration such as '50m' or '3000s'"),
    "lifetime_stagger": (_duration, "a duration such as '2m' or '120s'"),
    "nanny": (lambda v: isinstance(v, bool), "true or false"),
    "use_stdin": (lambda v: v is None or isinstance(v, bool), "true or false"),
    "scheduler_options": (lambda v: v is None or isinstance(v, dict),
                          "a mapping, e.g. scheduler_options: {interface: ib0}"),
    "worker_extra_args": (_texts, "a list of strings, e.g. ['--resources', 'GPU=1']"),
    "job_directives_skip": (_texts, "a list of strings"),
    "job_script_prologue": (_texts, "a list of shell lines, e.g. ['module load python']"),
    **{key: (_text, "a string") for key in (
        "queue", "account", "project", "resource_spec", "name", "job_name", "interface",
        "local_directory", "log_directory", "shebang", "python", "config_name",
        "worker_command", "shared_temp_directory")},
}


def jobqueue_problems(kind: str, body: dict[str, Any]) -> list[str]:
    """Problems with the keys and values of a ``cluster:`` block of a batch-system kind.

    Examples
    --------
    >>> body = {"kind": "slurm", "cores": "two", "memory": "lots", "walltime": "1h",
    ...         "job_extra": ["--exclusive"], "resource_spec": "x"}
    >>> for line in jobqueue_problems("slurm", body):
    ...     print(line.split(";")[0])
    cluster.job_extra is a deprecated dask-jobqueue name
    unknown key cluster.resource_spec for cluster.kind='slurm' (it is a key of pbs, sge)
    cluster.cores='two' is not allowed
    cluster.memory='lots' is not allowed
    cluster.walltime='1h' is not a walltime slurm reads
    """
    allowed = kind_keys(kind)
    errors = []
    for key in body:
        if key == "kind" or key in allowed:
            continue
        if key in RENAMED:
            errors.append(f"cluster.{key} is a deprecated dask-jobqueue name; use "
                          f"{RENAMED[key]} instead (same value)")
        else:
            elsewhere = [other for other, keys in KIND_KEYS.items() if key in keys]
            where = f" (it is a key of {', '.join(elsewhere)})" if elsewhere else ""
            hint = "" if elsewhere else did_you_mean(str(key), allowed)
            errors.append(f"unknown key cluster.{key}{hint} for cluster.kind={kind!r}{where}; "
                          f"allowed: {', '.join(allowed)}")
    for key, value in body.items():
        if key in _VALUES and key in allowed:
            accepts, use = _VALUES[key]
            if not accepts(value):
                errors.append(f"cluster.{key}={value!r} is not allowed; use {use}")
    if kind == "htcondor" and "job_extra_directives" in body and not isinstance(
            body["job_extra_directives"], (dict, type(None))):
        errors.append(f"cluster.job_extra_directives={body['job_extra_directives']!r} is not "
                      "allowed for htcondor; use a mapping of submit-file keys")
    elif kind != "htcondor" and not _texts(body.get("job_extra_directives")):
        errors.append(f"cluster.job_extra_directives={body['job_extra_directives']!r} is not "
                      "allowed; use a list of strings, e.g. ['--exclusive']")
    if "walltime" in body and "walltime" in allowed:
        message = walltime_error(kind, body["walltime"])
        if message:
            errors.append(message)
    for key in REQUIRED[kind]:
        if key not in body:
            errors.append(f"cluster.{key} is required for cluster.kind={kind!r} (e.g. cores: "
                          "1, memory: 2GB, " + ("disk: 1GB)" if key == "disk" else
                                                "walltime: '01:00:00')"))
    return errors
