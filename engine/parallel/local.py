"""The ``local`` cluster kind: a Dask cluster of worker processes on this machine.

It is what ``client=None`` starts. Dask is imported where a cluster starts: it takes about
a second to import and serial runs never need it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from typing import Any

from engine.exceptions import ClusterError
from engine.parallel.cluster_kind import ClusterKind, Started, positive_int_errors
from engine.parallel.scheduler_process import client_on_cluster_apart
from engine.parallel.security import make_security, security_config, security_errors

_SPAWN_HELP = (
    "a local Dask cluster starts its workers as new Python processes, which re-import your "
    "script; put the code that calls engine.minimize under\n"
    "    if __name__ == \"__main__\":\n"
    "or pass client='serial' to run in this process (code typed on stdin cannot start worker "
    "processes: save it to a file first)"
)

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


def default_worker_count() -> int:
    """Worker processes for a local cluster: one per available core.

    Examples
    --------
    >>> default_worker_count() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def spawned_child_guard() -> None:
    """Refuse to start a cluster from inside a worker process that is importing ``__main__``.

    Worker processes are started with *spawn*, which re-imports the user's script; a script
    that calls the engine at top level would then start clusters recursively.
    """
    if multiprocessing.parent_process() is not None and "__mp_main__" in sys.modules:
        raise ClusterError(_SPAWN_HELP)


#: Where a local cluster's scheduler may run (``cluster.scheduler``, ``local_client(scheduler=)``).
SCHEDULER_PLACES = ("auto", "process", "driver")


def scheduler_errors(value: Any, processes: Any, key: str) -> list[str]:
    """Why ``value`` cannot place a local cluster's scheduler (empty when it can).

    Examples
    --------
    >>> scheduler_errors("process", True, "cluster.scheduler")
    []
    >>> scheduler_errors("thread", True, "cluster.scheduler")
    ["cluster.scheduler='thread' is not allowed; use one of 'auto', 'process', 'driver'"]
    """
    if value not in SCHEDULER_PLACES:
        allowed = ", ".join(repr(place) for place in SCHEDULER_PLACES)
        return [f"{key}={value!r} is not allowed; use one of {allowed}"]
    if value == "process" and processes is False:
        return [f"{key}='process' needs worker processes (processes=False runs the workers as "
                f"threads of this process, which reach their scheduler in memory); use "
                f"{key}='driver' or 'auto', or processes=True"]
    return []


#: Under ``scheduler: auto`` a run planned at up to this many starts keeps its local cluster's
#: scheduler in the driver's process: what the scheduler leaves on the driver's heap (about 40
#: bytes a start, measured) stays under 4 MB there, and a scheduler process costs about a
#: second more at start-up (``scripts/bench-throughput --only fixed``: ``client=None``).
SCHEDULER_APART_ABOVE = 100_000


def place_scheduler(body: dict[str, Any], planned_runs: int | None) -> dict[str, Any]:
    """``body`` (a ``cluster:`` mapping) with ``scheduler: auto`` decided for a run of
    ``planned_runs`` starts: ``'process'`` above :data:`SCHEDULER_APART_ABOVE`, ``'driver'``
    up to it; other kinds, other places and an unknown size are left as they are
    (:func:`local_client` then runs the scheduler apart).

    Examples
    --------
    >>> place_scheduler({"kind": "local"}, 64)
    {'kind': 'local', 'scheduler': 'driver'}
    >>> place_scheduler({"kind": "local", "n_workers": 2}, 10**7)["scheduler"]
    'process'
    >>> place_scheduler({"kind": "local", "scheduler": "process"}, 64)["scheduler"]
    'process'
    """
    if (body.get("kind", "local") != "local" or body.get("scheduler", "auto") != "auto"
            or planned_runs is None):
        return body
    apart = planned_runs > SCHEDULER_APART_ABOVE and body.get("processes", True) is not False
    return {**body, "scheduler": "process" if apart else "driver"}


#: Where a local cluster's dashboard listens unless asked otherwise: this machine only, on a
#: free port (``":8787"`` would serve it to every host that can reach this one).
DEFAULT_DASHBOARD = "127.0.0.1:0"


def local_client(n_workers: int | None = None, threads_per_worker: int = 1,
                 processes: bool = True, memory_limit: str | float = "auto",
                 dashboard_address: str | None = DEFAULT_DASHBOARD,
                 security: str | dict[str, str] | None = "auto",
                 scheduler: str = "auto") -> Any:
    """A ``distributed.Client`` on a new local cluster set up for multistart runs.

    The cluster has one single-threaded worker process per core by default and the settings
    of :data:`LOCAL_CLUSTER_CONFIG`; closing the client closes the cluster. Use it to run
    several :func:`engine.minimize` calls on one cluster (``client=None`` starts and stops a
    cluster per call). Scheduler and workers listen on 127.0.0.1 only, and, by default,
    speak TLS with credentials made for this cluster alone: other users of the machine can
    reach 127.0.0.1 too, and a scheduler that accepts them runs their code as you
    (``processes=False`` needs none: its threads talk in memory, over no socket).

    Parameters
    ----------
    n_workers : int, optional
        Worker processes; default one per available core.
    threads_per_worker, processes, memory_limit
        As for ``distributed.LocalCluster``.
    dashboard_address : str, optional
        Where the dashboard listens; default 127.0.0.1 on a free port (this machine only);
        ``None`` serves no dashboard.
    security : {'auto', 'none'} or dict
        ``'auto'``: TLS with temporary credentials made for this cluster (only this process
        holds them); ``'none'``: plain TCP; ``{'tls_ca_file': ..., 'tls_cert': ...,
        'tls_key': ...}``: TLS with your own PEM files.
    scheduler : {'auto', 'process', 'driver'}
        Where the Dask scheduler runs. ``'process'``: a process of its own, so the driver's
        memory stays flat over millions of tasks (the scheduler's churn fragments the heap of
        the process it runs in: see :mod:`engine.parallel.scheduler_process`); ``'driver'``:
        inside this process, as ``distributed.LocalCluster`` does (about a second quicker to
        start). ``'auto'``: ``'process'`` with worker processes (a client kept for several
        runs), ``'driver'`` with threads (``processes=False``, whose workers talk to the
        scheduler in memory). A run that starts its own cluster (``client=None``,
        ``cluster: {kind: local}``) decides ``'auto'`` by its size (:func:`place_scheduler`).

    Returns
    -------
    distributed.Client

    Raises
    ------
    ClusterError
        When called while a spawned worker process imports the user's script (the call
        belongs under ``if __name__ == "__main__":``), when ``security`` or ``scheduler`` is
        not allowed, or when the cluster does not start.

    Examples
    --------
    >>> import engine
    >>> with engine.local_client(n_workers=2, dashboard_address=None) as client:  # doctest: +SKIP
    ...     res = engine.minimize(lambda x: (x[0] ** 2 - 1) ** 2, [(-2, 2)], client=client)
    """
    spawned_child_guard()
    errors = scheduler_errors(scheduler, processes, "scheduler")
    if errors:
        raise ClusterError("; ".join(errors))
    import dask
    from distributed import Client

    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if processes and main_file is not None and not os.path.exists(main_file):
        # spawn re-runs __main__ from its file; code from stdin or '-c' has none to re-run.
        raise ClusterError(_SPAWN_HELP)
    # Threads of this process (processes=False) talk over inproc://, which no socket
    # exposes: 'auto' needs no certificates there.
    tls = None if not processes and security in (None, "auto") else make_security(
        security, "local")
    try:
        # The settings are read when each process starts, so setting them around the start
        # is enough (and leaves the user's own Dask configuration untouched afterwards).
        # The cluster Client starts builds its Security from Dask's configuration.
        with dask.config.set({**LOCAL_CLUSTER_CONFIG,
                              **(security_config(tls) if tls is not None else {})}):
            if processes and scheduler != "driver":
                return client_on_cluster_apart(
                    tls, n_workers=n_workers or default_worker_count(),
                    threads_per_worker=threads_per_worker, processes=True,
                    memory_limit=memory_limit, dashboard_address=dashboard_address,
                    silence_logs=logging.ERROR,
                    protocol="tls://" if tls is not None else None)
            return Client(
                n_workers=n_workers or default_worker_count(),
                threads_per_worker=threads_per_worker,
                processes=processes,
                memory_limit=memory_limit,
                dashboard_address=dashboard_address,
                silence_logs=logging.ERROR,
                security=tls,
                protocol="tls://" if tls is not None else None,
            )
    except Exception as exc:
        raise ClusterError(f"the local Dask cluster did not start ({exc}); {_SPAWN_HELP}") from exc


class LocalKind(ClusterKind):
    """``kind: local``: a Dask cluster on this machine, closed when the run ends.

    Examples
    --------
    >>> LocalKind().validate({"kind": "local", "n_workers": 0})
    ['cluster.n_workers=0 is not allowed; use an integer >= 1']
    """

    name = "local"
    keys = ("n_workers", "threads_per_worker", "memory_limit", "processes",
            "dashboard_address", "security", "scheduler")

    def check(self, body: dict[str, Any]) -> list[str]:
        return (positive_int_errors(body, ("n_workers", "threads_per_worker"))
                + security_errors(body.get("security"), self.name)
                + scheduler_errors(body.get("scheduler", "auto"), body.get("processes", True),
                                   "cluster.scheduler"))

    def start(self, body: dict[str, Any]) -> Started:
        client = local_client(
            n_workers=body.get("n_workers"),
            threads_per_worker=body.get("threads_per_worker", 1),
            processes=body.get("processes", True),
            memory_limit=body.get("memory_limit", "auto"),
            dashboard_address=body.get("dashboard_address", DEFAULT_DASHBOARD),
            security=body.get("security", "auto"),
            scheduler=body.get("scheduler", "auto"),
        )
        return client, []
