"""Executors from a cluster description: serial, local, an address, or an HPC scheduler.

This module and :mod:`engine.parallel.executors` are the only ones that import Dask. Each
cluster kind is one function returning a ``distributed.Client`` (and what must be
closed after); adding a backend means adding one function and its allowed keys.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from engine.exceptions import ClusterError
from engine.parallel.executors import DaskExecutor, SerialExecutor

JOBQUEUE_KINDS = ("slurm", "pbs", "sge", "lsf", "htcondor")
KINDS = ("local", "serial", "address", *JOBQUEUE_KINDS, "mpi")

_LOCAL_KEYS = ("n_workers", "threads_per_worker", "memory_limit", "processes",
               "dashboard_address")
_ADDRESS_KEYS = ("address", "scheduler_file")
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
_JOBQUEUE_EXTRA = ("jobs", "adapt", "lifetime", "lifetime_stagger", "wait_for_workers",
                   "worker_timeout")
_MPI_KEYS = ("nthreads", "memory_limit", "local_directory", "interface", "dashboard",
             "protocol")


def allowed_keys(kind: str) -> tuple[str, ...]:
    """The YAML keys a ``cluster:`` block of this kind accepts (besides ``kind``)."""
    if kind == "local":
        return _LOCAL_KEYS
    if kind == "address":
        return _ADDRESS_KEYS
    if kind in JOBQUEUE_KINDS:
        return JOBQUEUE_KEYS + _JOBQUEUE_EXTRA
    if kind == "mpi":
        return _MPI_KEYS
    return ()


def validate_cluster(body: dict[str, Any]) -> list[str]:
    """Problems in a ``cluster:`` mapping, as messages (empty when valid)."""
    import difflib

    kind = body.get("kind", "local")
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return [f"cluster.kind={kind!r} is unknown{hint}; allowed: {', '.join(KINDS)}"]
    errors = []
    allowed = allowed_keys(kind)
    for key in body:
        if key != "kind" and key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(
                f"unknown key cluster.{key}{hint} for cluster.kind={kind!r}; allowed: "
                f"{', '.join(allowed) or 'no other keys'}"
            )
    if kind == "local":
        for key in ("n_workers", "threads_per_worker"):
            value = body.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                errors.append(f"cluster.{key}={value!r} is not allowed; use an integer >= 1")
    if kind == "address" and not (body.get("address") or body.get("scheduler_file")):
        errors.append("cluster.kind='address' needs cluster.address ('tcp://host:8786') or "
                      "cluster.scheduler_file (path to the scheduler's JSON file)")
    if kind in JOBQUEUE_KINDS:
        errors.extend(_validate_jobqueue(body))
    return errors


def _validate_jobqueue(body: dict[str, Any]) -> list[str]:
    errors = []
    jobs, adapt = body.get("jobs"), body.get("adapt")
    if jobs is not None and adapt is not None:
        errors.append("cluster.jobs and cluster.adapt are exclusive: give a fixed number of "
                      "jobs, or adapt: {minimum: m, maximum: n}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        errors.append(f"cluster.jobs={jobs!r} is not allowed; use an integer >= 1")
    if adapt is not None:
        if not isinstance(adapt, dict) or set(adapt) - {"minimum", "maximum"}:
            errors.append(f"cluster.adapt={adapt!r} is not allowed; use "
                          "{minimum: <jobs>, maximum: <jobs>}")
        elif adapt.get("minimum", 0) > adapt.get("maximum", adapt.get("minimum", 0)):
            errors.append(f"cluster.adapt={adapt!r}: minimum must not exceed maximum")
    for key in ("cores", "memory", "walltime"):
        if key not in body:
            errors.append(f"cluster.{key} is required for cluster.kind={body['kind']!r} "
                          "(e.g. cores: 1, memory: 2GB, walltime: '01:00:00')")
    return errors


# ------------------------------------------------------------------ starting clients


def _spawned_child_guard() -> None:
    """Refuse to start a cluster from inside a worker process that is importing ``__main__``.

    Worker processes are started with *spawn*, which re-imports the user's script; a script
    that calls the engine at top level would then start clusters recursively.
    """
    if multiprocessing.parent_process() is not None and "__mp_main__" in sys.modules:
        raise ClusterError(_SPAWN_HELP)


_SPAWN_HELP = (
    "a local Dask cluster starts its workers as new Python processes, which re-import your "
    "script; put the code that calls engine.minimize under\n"
    "    if __name__ == \"__main__\":\n"
    "or pass client='serial' to run in this process (code typed on stdin cannot start worker "
    "processes: save it to a file first)"
)


def default_worker_count() -> int:
    """Worker processes for a local cluster: one per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


#: Dask settings for a local cluster the engine starts (``client=None``, ``kind: local``,
#: :func:`local_client`). Dask's defaults suit interactive dashboards; a multistart run that
#: gives every core to a worker pays for their background work in lost solve time. Measured on
#: a 2-core machine, an idle 2-worker cluster took 12% of a core with the defaults (event-loop
#: watchdog ticks every 20 ms, memory polling every 100 ms, the workers' statistical profiler
#: every 10 ms) and 1-2% with these; ``scripts/bench-throughput`` compares the two.
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def local_client(n_workers: int | None = None, threads_per_worker: int = 1,
                 processes: bool = True, memory_limit: str | float = "auto",
                 dashboard_address: str | None = ":0") -> Any:
    """A ``distributed.Client`` on a new local cluster set up for multistart runs.

    The cluster has one single-threaded worker process per core by default and the settings
    of :data:`LOCAL_CLUSTER_CONFIG`; closing the client closes the cluster. Use it to run
    several :func:`engine.minimize` calls on one cluster (``client=None`` starts and stops a
    cluster per call).

    Parameters
    ----------
    n_workers : int, optional
        Worker processes; default one per available core.
    threads_per_worker, processes, memory_limit, dashboard_address
        As for ``distributed.LocalCluster``; ``dashboard_address=None`` serves no dashboard.

    Returns
    -------
    distributed.Client

    Raises
    ------
    ClusterError
        When called while a spawned worker process imports the user's script (the call
        belongs under ``if __name__ == "__main__":``), or when the cluster does not start.

    Examples
    --------
    >>> import engine
    >>> with engine.local_client(n_workers=2, dashboard_address=None) as client:  # doctest: +SKIP
    ...     res = engine.minimize(lambda x: (x[0] ** 2 - 1) ** 2, [(-2, 2)], client=client)
    """
    _spawned_child_guard()
    import logging

    import dask
    from distributed import Client

    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if processes and main_file is not None and not os.path.exists(main_file):
        # spawn re-runs __main__ from its file; code from stdin or '-c' has none to re-run.
        raise ClusterError(_SPAWN_HELP)
    try:
        # The settings are read when each process starts, so setting them around the start
        # is enough (and leaves the user's own Dask configuration untouched afterwards).
        with dask.config.set(LOCAL_CLUSTER_CONFIG):
            return Client(
                n_workers=n_workers or default_worker_count(),
                threads_per_worker=threads_per_worker,
                processes=processes,
                memory_limit=memory_limit,
                dashboard_address=dashboard_address,
                silence_logs=logging.ERROR,
            )
    except Exception as exc:
        raise ClusterError(f"the local Dask cluster did not start ({exc}); {_SPAWN_HELP}") from exc


def _local_client(body: dict[str, Any]) -> tuple[Any, list[Any]]:
    client = local_client(
        n_workers=body.get("n_workers"),
        threads_per_worker=body.get("threads_per_worker", 1),
        processes=body.get("processes", True),
        memory_limit=body.get("memory_limit", "auto"),
        dashboard_address=body.get("dashboard_address", ":0"),
    )
    return client, []


def _address_client(body: dict[str, Any]) -> tuple[Any, list[Any]]:
    from distributed import Client

    target = body.get("address") or body.get("scheduler_file")
    try:
        if body.get("address"):
            client = Client(body["address"], timeout="20s")
        else:
            client = Client(scheduler_file=body["scheduler_file"], timeout="20s")
    except Exception as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {target!r} ({type(exc).__name__}: {exc}); "
            "check that it is running and the address (tcp://host:port) or scheduler_file"
        ) from exc
    return client, []


def _jobqueue_client(body: dict[str, Any]) -> tuple[Any, list[Any]]:
    from engine.parallel.hpc import start_jobqueue_cluster

    return start_jobqueue_cluster(body)


def _mpi_client(body: dict[str, Any]) -> tuple[Any, list[Any]]:
    from engine.parallel.hpc import start_mpi_client

    return start_mpi_client(body)


_FACTORIES: dict[str, Callable[[dict[str, Any]], tuple[Any, list[Any]]]] = {
    "local": _local_client,
    "address": _address_client,
    **dict.fromkeys(JOBQUEUE_KINDS, _jobqueue_client),
    "mpi": _mpi_client,
}


@contextlib.contextmanager
def open_executor(spec: Any) -> Iterator[SerialExecutor | DaskExecutor]:
    """An executor for ``spec``, closing whatever it started on exit.

    ``spec`` is ``None`` (a temporary local cluster), ``"serial"``, a ``distributed.Client``
    (used, not closed), a scheduler address ``"tcp://host:port"``, or a ``cluster:`` mapping
    from a config (``{"kind": "local", "n_workers": 2}``).

    Examples
    --------
    >>> with open_executor("serial") as ex:
    ...     ex.kind
    'serial'
    """
    if spec == "serial" or (isinstance(spec, dict) and spec.get("kind") == "serial"):
        yield SerialExecutor()
        return
    if spec is None:
        spec = {"kind": "local"}
    elif isinstance(spec, str):
        if "://" not in spec:
            raise ClusterError(
                f"client={spec!r} is not allowed; use None (temporary local cluster), "
                "'serial', a scheduler address like 'tcp://host:8786', or a distributed.Client"
            )
        spec = {"kind": "address", "address": spec}
    elif not isinstance(spec, dict):
        if not hasattr(spec, "submit") or not hasattr(spec, "scatter"):
            raise ClusterError(
                f"client={spec!r} is not a distributed.Client; use None, 'serial', an address "
                "or a Client"
            )
        yield DaskExecutor(spec)
        return
    kind = spec.get("kind", "local")
    if kind not in _FACTORIES:
        raise ClusterError(f"cluster.kind={kind!r} is unknown; allowed: {', '.join(KINDS)}")
    client, to_close = _FACTORIES[kind](spec)
    try:
        yield DaskExecutor(client)
    finally:
        with contextlib.suppress(Exception):
            client.close()
        for thing in to_close:
            with contextlib.suppress(Exception):
                thing.close()
