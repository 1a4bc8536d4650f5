"""The ``mpi`` cluster kind: one ``mpirun`` launch becomes scheduler, driver and workers.

Every rank runs the same command. :meth:`MpiKind.prepare` (reached through
:func:`engine.parallel.clusters.prepare_process`) runs first in each: rank 0 becomes the Dask
scheduler and ranks 2+ its workers, and those ranks leave the process there when the run
ends; only rank 1, the driver, returns and goes on. dask-mpi and mpi4py are optional extras
(``pip install 'multistart-engine[mpi]'``), imported only for this kind.

TLS: ``dask_mpi.initialize`` takes no ``security=`` argument, but its scheduler, workers and
the driver's client each build their ``Security()`` from Dask's configuration. So, with
``security: auto`` (the default), rank 0 makes temporary credentials, sends them to the
other ranks over MPI (the launch's own channel, not a socket others can reach), and every
rank puts them in its Dask configuration before ``initialize``; the cluster then speaks
``tls://``. ``security: {tls_ca_file, tls_cert, tls_key}`` does the same with the site's
files, ``security: none`` leaves plain TCP.
"""

from __future__ import annotations

from typing import Any

from engine.exceptions import ClusterError
from engine.parallel.cluster_kind import ClusterKind, Started
from engine.parallel.security import (
    make_security,
    security_config,
    security_errors,
    security_fields,
)

#: Keys of a ``kind: mpi`` block: keyword arguments of ``dask_mpi.initialize``.
MPI_KEYS = ("nthreads", "memory_limit", "local_directory", "interface", "dashboard",
            "dashboard_address", "protocol")
#: Where the scheduler's dashboard (``dashboard: true``) listens unless asked otherwise: the
#: host of rank 0 only, on a free port.
DEFAULT_DASHBOARD = "127.0.0.1:0"
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
    options.setdefault("dashboard_address", DEFAULT_DASHBOARD)
    if str(options["dashboard_address"]).rpartition(":")[0] in ("127.0.0.1", "localhost"):
        import dask

        # The link names the scheduler's host; a page on its loopback only is reached there
        # (from the driver's rank when it shares the node, or through an SSH tunnel).
        dask.config.set({"distributed.dashboard.link": "{scheme}://127.0.0.1:{port}/status"})
    if share_credentials(MPI.COMM_WORLD, body.get("security", "auto")):
        options["protocol"] = "tls"
    dask_mpi.initialize(exit=True, **options)


def share_credentials(comm: Any, security: Any) -> bool:
    """Put the same TLS credentials in the Dask configuration of every rank of ``comm``.

    Rank 0 makes them (temporary ones for ``'auto'``) and broadcasts them; a failure there
    is raised on every rank, so that no rank waits for the others. Returns False for
    ``'none'`` (nothing to share).
    """
    import dask

    if security == "none":
        return False
    fields: dict[str, str] | str | None = None
    if comm.Get_rank() == 0:
        try:
            fields = security_fields(make_security(security, "mpi"))
        except ClusterError as exc:
            fields = str(exc)
    fields = comm.bcast(fields, root=0)
    if isinstance(fields, str) or not fields:
        raise ClusterError(fields or "cluster.security: rank 0 made no TLS credentials")
    dask.config.set(security_config(fields))
    return True


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
    keys = (*MPI_KEYS, "security")

    def check(self, body: dict[str, Any]) -> list[str]:
        errors = security_errors(body.get("security"), self.name)
        protocol = body.get("protocol")
        if body.get("security", "auto") != "none" and protocol not in (None, "tls", "tls://"):
            errors.append(f"cluster.protocol={protocol!r} is not allowed with TLS (cluster."
                          "security, default 'auto'); leave protocol out (tls is used), or set "
                          "security: none for unencrypted traffic")
        return errors

    def prepare(self, body: dict[str, Any]) -> None:
        mpi_initialize_once(body)

    def start(self, body: dict[str, Any]) -> Started:
        return start_mpi_client(body)
