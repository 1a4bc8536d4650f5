"""HPC cluster kinds: dask-jobqueue (SLURM, PBS, SGE, LSF, HTCondor) and dask-mpi.

Imported lazily by :mod:`engine.parallel.clusters`; dask-jobqueue and dask-mpi are optional extras
(``pip install 'multistart-engine[hpc]'``).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from engine.exceptions import ClusterError

_CLASSES = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
}
# Keys of a cluster: block that are the engine's own, not dask-jobqueue keyword arguments.
_ENGINE_KEYS = ("kind", "jobs", "adapt", "lifetime", "lifetime_stagger", "wait_for_workers",
                "worker_timeout")


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
    """
    if body.get("lifetime") is not None:
        return str(body["lifetime"]), str(body.get("lifetime_stagger", "0s"))
    seconds = walltime_seconds(body.get("walltime"))
    if seconds is None or seconds < 180:
        return None
    margin = max(60, seconds // 10)
    return f"{seconds - margin}s", f"{max(1, seconds // 20)}s"


def jobqueue_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for the dask-jobqueue cluster class, lifetime flags included."""
    kwargs = {k: v for k, v in body.items() if k not in _ENGINE_KEYS}
    lifetime = worker_lifetime(body)
    extra = list(kwargs.get("worker_extra_args") or [])
    if lifetime is not None and "--lifetime" not in extra:
        extra += ["--lifetime", lifetime[0], "--lifetime-stagger", lifetime[1]]
    if extra:
        kwargs["worker_extra_args"] = extra
    return kwargs


def _cluster_class(kind: str) -> Any:
    try:
        import dask_jobqueue
    except ImportError:
        raise ClusterError(
            f"cluster.kind={kind!r} needs dask-jobqueue: pip install "
            "'multistart-engine[hpc]' (or pip install dask-jobqueue)"
        ) from None
    return getattr(dask_jobqueue, _CLASSES[kind])


def make_jobqueue_cluster(body: dict[str, Any]) -> Any:
    """The dask-jobqueue cluster object for a ``cluster:`` block (no jobs submitted yet)."""
    kind = body["kind"]
    cls = _cluster_class(kind)
    try:
        return cls(**jobqueue_kwargs(body))
    except TypeError as exc:
        raise ClusterError(
            f"cluster: {cls.__name__} refused the options ({exc}); every key besides "
            f"{', '.join(_ENGINE_KEYS)} is passed to {cls.__name__} as a keyword argument"
        ) from None


def job_script(body: dict[str, Any]) -> str:
    """The batch script one worker job would be submitted with (nothing is submitted)."""
    cluster = make_jobqueue_cluster(body)
    try:
        return cluster.job_script()
    finally:
        with contextlib.suppress(Exception):
            cluster.close()


def start_jobqueue_cluster(body: dict[str, Any]) -> tuple[Any, list[Any]]:
    """Start the scheduler here and worker jobs through the batch system.

    ``jobs: n`` keeps ``n`` jobs running (an adaptive cluster pinned to ``n``, so a job that
    ends, e.g. at its walltime, is replaced); ``adapt: {minimum, maximum}`` lets the number of
    jobs follow the work.
    """
    from distributed import Client

    cluster = make_jobqueue_cluster(body)
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
        with contextlib.suppress(Exception):
            cluster.close()
        raise ClusterError(
            f"cluster.kind={body['kind']!r}: could not start worker jobs "
            f"({type(exc).__name__}: {exc}); check the batch system is reachable from this "
            "host (e.g. `sbatch --version`) and `multistart check CONFIG` for the job script"
        ) from exc
    return client, [cluster]


def mpi_initialize(body: dict[str, Any]) -> None:
    """Under ``mpirun``: rank 0 becomes the scheduler, ranks 2+ workers; only rank 1 returns.

    Must run before anything writes files, since every rank runs the same command.
    """
    try:
        import dask_mpi
    except ImportError:
        raise ClusterError(
            "cluster.kind='mpi' needs dask-mpi and mpi4py: pip install "
            "'multistart-engine[mpi]', then run under mpirun -n N (N >= 3)"
        ) from None
    from mpi4py import MPI

    size = MPI.COMM_WORLD.Get_size()
    if size < 3:
        raise ClusterError(
            f"cluster.kind='mpi' runs under mpirun with at least 3 ranks (scheduler, driver, "
            f"one or more workers), but this run has {size}; use e.g. "
            "`mpirun -n 4 multistart run CONFIG`"
        )
    options = {k: body[k] for k in ("nthreads", "memory_limit", "local_directory", "interface",
                                    "dashboard", "protocol") if k in body}
    options.setdefault("nthreads", 1)
    options.setdefault("dashboard", False)
    dask_mpi.initialize(exit=True, **options)


def start_mpi_client(body: dict[str, Any]) -> tuple[Any, list[Any]]:
    """The client on rank 1 after :func:`mpi_initialize`."""
    from distributed import Client

    mpi_initialize_once(body)
    client = Client()
    client.wait_for_workers(1, timeout=120)
    return client, []


_MPI_READY = False


def mpi_initialize_once(body: dict[str, Any]) -> None:
    """Call :func:`mpi_initialize` the first time only."""
    global _MPI_READY
    if not _MPI_READY:
        mpi_initialize(body)
        _MPI_READY = True
