"""Batch-system cluster kinds through dask-jobqueue: ``slurm``, ``pbs``, ``sge``, ``lsf``,
``htcondor``.

The driver and the Dask scheduler run where the command runs; workers are batch jobs.
dask-jobqueue is an optional extra (``pip install 'multistart-engine[hpc]'``), imported only
when such a cluster is made.
"""

from __future__ import annotations

import contextlib
import re
import weakref
from typing import Any

from engine.exceptions import ClusterError
from engine.parallel.cluster_kind import ClusterKind, Started, positive_int_errors
from engine.parallel.security import jobqueue_security, security_errors

#: The dask-jobqueue cluster class of each kind.
CLASSES = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
}
# Keyword arguments of dask-jobqueue's JobQueueCluster and its subclasses (0.9.0); every one is
# a YAML key of the same name.
JOBQUEUE_KEYS = (
    "cores", "memory", "processes", "queue", "account", "project", "walltime", "name",
    "job_name", "interface", "nanny", "local_directory", "death_timeout", "worker_command",
    "worker_extra_args", "job_extra_directives", "job_directives_skip", "job_script_prologue",
    "log_directory", "shebang", "python", "config_name", "env_extra", "header_skip",
    "resource_spec", "job_mem", "job_cpu", "ncpus", "mem", "use_stdin", "submit_command_extra",
    "cancel_command_extra", "disk", "scheduler_options", "security", "shared_temp_directory",
    "silence_logs",
)
# Keys of a cluster: block that are the engine's own, not dask-jobqueue keyword arguments.
ENGINE_KEYS = ("jobs", "adapt", "lifetime", "lifetime_stagger", "wait_for_workers",
               "worker_timeout")
_REQUIRED = ("cores", "memory", "walltime")


def walltime_seconds(walltime: Any) -> int | None:
    """Seconds in a walltime such as ``"01:30:00"``, ``"90:00"``, ``"2-00:00:00"`` or ``60``.

    Bare numbers are minutes (as SLURM reads them). Returns None when it cannot be parsed.

    Examples
    --------
    >>> walltime_seconds("01:30:00"), walltime_seconds("10:00"), walltime_seconds(5)
    (5400, 600, 300)
    >>> walltime_seconds("1-00:00:00")
    86400
    """
    if isinstance(walltime, (int, float)) and not isinstance(walltime, bool):
        return int(walltime * 60)
    if not isinstance(walltime, str):
        return None
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", walltime.strip())
    if not match:
        return None
    days, a, b, c = match.groups()
    parts = [int(p) for p in (a, b, c) if p is not None]
    if len(parts) == 3:
        seconds = parts[0] * 3600 + parts[1] * 60 + parts[2]
    elif len(parts) == 2:
        seconds = parts[0] * 60 + parts[1]
    else:
        seconds = parts[0] * 60
    return seconds + int(days or 0) * 86400


def worker_lifetime(body: dict[str, Any]) -> tuple[str, str] | None:
    """``(--lifetime, --lifetime-stagger)`` so workers leave before their job's walltime.

    A worker killed by the batch system loses its running task; one that leaves on its own
    hands its work back first, and an adaptive cluster submits a replacement job. Default
    lifetime: the walltime less 10% (at least one minute), staggered by 5% so that jobs
    started together do not all leave at once.

    Examples
    --------
    >>> worker_lifetime({"walltime": "01:00:00"})
    ('3240s', '180s')
    """
    if body.get("lifetime") is not None:
        return str(body["lifetime"]), str(body.get("lifetime_stagger", "0s"))
    seconds = walltime_seconds(body.get("walltime"))
    if seconds is None or seconds < 180:
        return None
    margin = max(60, seconds // 10)
    return f"{seconds - margin}s", f"{max(1, seconds // 20)}s"


def jobqueue_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for the dask-jobqueue cluster class, lifetime flags included.

    Examples
    --------
    >>> kwargs = jobqueue_kwargs({"kind": "slurm", "cores": 1, "walltime": "00:10:00"})
    >>> kwargs["worker_extra_args"], "kind" in kwargs
    (['--lifetime', '540s', '--lifetime-stagger', '30s'], False)
    """
    kwargs = {k: v for k, v in body.items() if k != "kind" and k not in ENGINE_KEYS}
    lifetime = worker_lifetime(body)
    extra = list(kwargs.get("worker_extra_args") or [])
    if lifetime is not None and "--lifetime" not in extra:
        extra += ["--lifetime", lifetime[0], "--lifetime-stagger", lifetime[1]]
    if extra:
        kwargs["worker_extra_args"] = extra
    return kwargs


def _cluster_class(kind: str) -> Any:
    try:
        import dask_jobqueue  # optional extra: only for these kinds
    except ImportError:
        raise ClusterError(
            f"cluster.kind={kind!r} needs dask-jobqueue: pip install "
            "'multistart-engine[hpc]' (or pip install dask-jobqueue)"
        ) from None
    return getattr(dask_jobqueue, CLASSES[kind])


#: Where the scheduler's dashboard listens unless ``scheduler_options`` says otherwise: the
#: host running the command only, on a free port (reach it through an SSH tunnel).
DEFAULT_DASHBOARD = "127.0.0.1:0"


def make_jobqueue_cluster(body: dict[str, Any], closers: list[Any] | None = None) -> Any:
    """The dask-jobqueue cluster object for a ``cluster:`` block (no jobs submitted yet).

    TLS as ``security`` says (temporary credentials by default); what must be closed after
    the cluster (the folder of the workers' credentials) is appended to ``closers``.
    """
    cls = _cluster_class(body["kind"])
    kwargs, folder = jobqueue_security(body["kind"], jobqueue_kwargs(body))
    kwargs["scheduler_options"] = {"dashboard_address": DEFAULT_DASHBOARD,
                                   **(kwargs.get("scheduler_options") or {})}
    try:
        cluster = cls(**kwargs)
    except TypeError as exc:
        if folder is not None:
            folder.close()
        raise ClusterError(
            f"cluster: {cls.__name__} refused the options ({exc}); every key besides "
            f"kind, {', '.join(ENGINE_KEYS)} is passed to {cls.__name__} as a keyword argument"
        ) from None
    if folder is not None:
        folder.owner = cluster
        weakref.finalize(cluster, folder.close)  # at the latest when the cluster is collected
        if closers is not None:
            closers.append(folder)
    return cluster


def job_script(body: dict[str, Any]) -> str:
    """The batch script one worker job would be submitted with (nothing is submitted)."""
    closers: list[Any] = []
    cluster = make_jobqueue_cluster(body, closers)
    try:
        return cluster.job_script()
    finally:
        for thing in (cluster, *closers):
            with contextlib.suppress(Exception):
                thing.close()


def start_jobqueue_cluster(body: dict[str, Any]) -> Started:
    """Start the scheduler here and worker jobs through the batch system.

    ``jobs: n`` keeps ``n`` jobs running (an adaptive cluster pinned to ``n``, so a job that
    ends, e.g. at its walltime, is replaced); ``adapt: {minimum, maximum}`` lets the number of
    jobs follow the work.
    """
    from distributed import Client  # about a second to import: only when a cluster starts

    closers: list[Any] = []
    cluster = make_jobqueue_cluster(body, closers)
    try:
        adapt = body.get("adapt")
        if adapt is not None:
            cluster.adapt(minimum_jobs=adapt.get("minimum", 0),
                          maximum_jobs=adapt.get("maximum", adapt.get("minimum", 1)))
        else:
            jobs = int(body.get("jobs", 1))
            cluster.adapt(minimum_jobs=jobs, maximum_jobs=jobs)
        client = Client(cluster)
        wait = body.get("wait_for_workers")
        if wait:
            client.wait_for_workers(int(wait), timeout=body.get("worker_timeout", 300))
    except Exception as exc:
        for thing in (cluster, *closers):
            with contextlib.suppress(Exception):
                thing.close()
        raise ClusterError(
            f"cluster.kind={body['kind']!r}: could not start worker jobs "
            f"({type(exc).__name__}: {exc}); check the batch system is reachable from this "
            "host (e.g. `sbatch --version`) and `multistart check CONFIG` for the job script"
        ) from exc
    return client, [cluster, *closers]


class JobqueueKind(ClusterKind):
    """A batch system whose jobs run the Dask workers (one instance per system).

    Examples
    --------
    >>> JobqueueKind("slurm").validate({"kind": "slurm", "cores": 1, "memory": "1GB"})
    ["cluster.walltime is required for cluster.kind='slurm' (e.g. cores: 1, memory: 2GB, walltime: '01:00:00')"]
    """  # noqa: E501

    keys = JOBQUEUE_KEYS + ENGINE_KEYS

    def __init__(self, name: str) -> None:
        self.name = name

    def check(self, body: dict[str, Any]) -> list[str]:
        errors = []
        jobs, adapt = body.get("jobs"), body.get("adapt")
        if jobs is not None and adapt is not None:
            errors.append("cluster.jobs and cluster.adapt are exclusive: give a fixed number of "
                          "jobs, or adapt: {minimum: m, maximum: n}")
        errors += positive_int_errors(body, ("jobs",))
        errors += security_errors(body.get("security"), self.name)
        if adapt is not None:
            if not isinstance(adapt, dict) or set(adapt) - {"minimum", "maximum"}:
                errors.append(f"cluster.adapt={adapt!r} is not allowed; use "
                              "{minimum: <jobs>, maximum: <jobs>}")
            elif adapt.get("minimum", 0) > adapt.get("maximum", adapt.get("minimum", 0)):
                errors.append(f"cluster.adapt={adapt!r}: minimum must not exceed maximum")
        for key in _REQUIRED:
            if key not in body:
                errors.append(f"cluster.{key} is required for cluster.kind={self.name!r} "
                              "(e.g. cores: 1, memory: 2GB, walltime: '01:00:00')")
        return errors

    def start(self, body: dict[str, Any]) -> Started:
        return start_jobqueue_cluster(body)

    def describe_job(self, body: dict[str, Any]) -> str | None:
        return job_script(body)


#: One kind per batch system dask-jobqueue supports.
JOBQUEUE_CLUSTER_KINDS = tuple(JobqueueKind(name) for name in CLASSES)
