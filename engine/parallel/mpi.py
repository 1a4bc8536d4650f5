"""The ``mpi`` cluster kind: one ``mpirun`` launch becomes scheduler, driver and workers.

Every rank runs the same command. :meth:`MpiKind.prepare` (reached through
:func:`engine.parallel.clusters.prepare_process`) runs first in each: rank 0 becomes the Dask
scheduler and ranks 2+ its workers, and those ranks leave the process there when the run
ends; only rank 1, the driver, returns and goes on. dask-mpi and mpi4py are optional extras
(``pip install 'multistart-engine[mpi]'``), imported only for this kind.
"""

from __future__ import annotations

from typing import Any

from engine.exceptions import ClusterError
from engine.parallel.cluster_kind import ClusterKind, Started

#: Keys of a ``kind: mpi`` block: keyword arguments of ``dask_mpi.initialize``.
MPI_KEYS = ("nthreads", "memory_limit", "local_directory", "interface", "dashboard",
            "protocol")
_MIN_RANKS = 3  # scheduler, driver, one worker


def mpi_initialize(body: dict[str, Any]) -> None:
    """Under ``mpirun``: rank 0 becomes the scheduler, ranks 2+ workers; only rank 1 returns.

    Must run before anything writes files, since every rank runs the same command.
    """
    try:
        import dask_mpi  # optional extra: only for this kind
    except ImportError:
        raise ClusterError(
            "cluster.kind='mpi' needs dask-mpi and mpi4py: pip install "
            "'multistart-engine[mpi]', then run under mpirun -n N (N >= 3)"
        ) from None
    from mpi4py import MPI  # optional extra, installed with dask-mpi's [mpi] extra

    size = MPI.COMM_WORLD.Get_size()
    if size < _MIN_RANKS:
        raise ClusterError(
            f"cluster.kind='mpi' runs under mpirun with at least 3 ranks (scheduler, driver, "
            f"one or more workers), but this run has {size}; use e.g. "
            "`mpirun -n 4 multistart run CONFIG`"
        )
    options = {k: body[k] for k in MPI_KEYS if k in body}
    options.setdefault("nthreads", 1)
    options.setdefault("dashboard", False)
    dask_mpi.initialize(exit=True, **options)


_MPI_READY = False


def mpi_initialize_once(body: dict[str, Any]) -> None:
    """Call :func:`mpi_initialize` the first time only (later calls are on the driver)."""
    global _MPI_READY
    if not _MPI_READY:
        mpi_initialize(body)
        _MPI_READY = True


def start_mpi_client(body: dict[str, Any]) -> Started:
    """The client on rank 1, connected to the scheduler of rank 0."""
    from distributed import Client  # about a second to import: only when a cluster starts

    mpi_initialize_once(body)
    client = Client()  # dask_mpi.initialize set the scheduler address in Dask's config
    client.wait_for_workers(1, timeout=120)
    return client, []


class MpiKind(ClusterKind):
    """``kind: mpi``: the cluster is the ranks of the ``mpirun`` launch running this command.

    Examples
    --------
    >>> MpiKind().validate({"kind": "mpi", "nthreads": 2})
    []
    """

    name = "mpi"
    keys = MPI_KEYS

    def prepare(self, body: dict[str, Any]) -> None:
        mpi_initialize_once(body)

    def start(self, body: dict[str, Any]) -> Started:
        return start_mpi_client(body)
