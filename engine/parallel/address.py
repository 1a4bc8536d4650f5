"""The ``address`` cluster kind: a Dask scheduler that is already running.

``client="tcp://host:port"`` uses it too. ``distributed`` is imported where the connection is
made: it takes about a second to import and serial runs never need it.
"""

from __future__ import annotations

from typing import Any

from engine.exceptions import ClusterError
from engine.parallel.cluster_kind import ClusterKind, Started

#: How long to wait for the scheduler to answer.
CONNECT_TIMEOUT = "20s"


class AddressKind(ClusterKind):
    """``kind: address``: connect to a running scheduler; leave it running afterwards.

    Examples
    --------
    >>> AddressKind().validate({"kind": "address"})[0].startswith("cluster.kind='address' needs")
    True
    """

    name = "address"
    keys = ("address", "scheduler_file")

    def check(self, body: dict[str, Any]) -> list[str]:
        if body.get("address") or body.get("scheduler_file"):
            return []
        return ["cluster.kind='address' needs cluster.address ('tcp://host:8786') or "
                "cluster.scheduler_file (path to the scheduler's JSON file)"]

    def start(self, body: dict[str, Any]) -> Started:
        from distributed import Client

        target = body.get("address") or body.get("scheduler_file")
        try:
            if body.get("address"):
                client = Client(body["address"], timeout=CONNECT_TIMEOUT)
            else:
                client = Client(scheduler_file=body["scheduler_file"], timeout=CONNECT_TIMEOUT)
        except Exception as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {target!r} ({type(exc).__name__}: {exc}); "
                "check that it is running and the address (tcp://host:port) or scheduler_file"
            ) from exc
        # Closing the client disconnects; the scheduler and its workers keep running.
        return client, []
