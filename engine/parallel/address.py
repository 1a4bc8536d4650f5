"""The ``address`` cluster kind: a Dask scheduler that is already running.

``client="tcp://host:port"`` (or ``"tls://host:port"``) uses it too. A ``tls://`` scheduler
takes the credentials of ``security: {tls_ca_file, tls_cert, tls_key}`` or, without it,
those of Dask's own configuration (``distributed.comm.tls.*``). ``distributed`` is imported
where the connection is made: it takes about a second to import and serial runs never need
it.
"""

from __future__ import annotations

from typing import Any

from engine.exceptions import ClusterError
from engine.parallel.cluster_kind import ClusterKind, Started
from engine.parallel.security import security_errors, site_security

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
    keys = ("address", "scheduler_file", "security")

    def check(self, body: dict[str, Any]) -> list[str]:
        errors = security_errors(body.get("security"), self.name)
        address = body.get("address")
        if isinstance(body.get("security"), dict) and isinstance(address, str) \
                and not address.startswith("tls://"):
            errors.append(f"cluster.address={address!r} is not a TLS address, but "
                          "cluster.security names certificates; write it as "
                          f"'tls://{address.split('://')[-1]}' (or drop security)")
        if not (address or body.get("scheduler_file")):
            errors.append("cluster.kind='address' needs cluster.address ('tcp://host:8786' or "
                          "'tls://host:8786') or cluster.scheduler_file (path to the "
                          "scheduler's JSON file)")
        return errors

    def start(self, body: dict[str, Any]) -> Started:
        from distributed import Client

        target = body.get("address") or body.get("scheduler_file")
        # 'auto' and 'none': Dask's configuration decides (the scheduler, not started here,
        # decides whether TLS is needed); a mapping: the site's certificate files.
        files = body.get("security")
        security = site_security(files) if isinstance(files, dict) else None
        if isinstance(target, str) and target.startswith("tls://") and security is None:
            import dask

            if not dask.config.get("distributed.comm.tls.ca-file", None):
                raise ClusterError(
                    f"cluster.address={target!r} is a TLS scheduler, but no credentials are "
                    "given; add cluster.security: {tls_ca_file: ca.pem, tls_cert: cert.pem, "
                    "tls_key: key.pem} (files the scheduler's certificate authority signed), "
                    "or set distributed.comm.tls.* in Dask's configuration"
                )
        try:
            if body.get("address"):
                client = Client(body["address"], timeout=CONNECT_TIMEOUT, security=security)
            else:
                client = Client(scheduler_file=body["scheduler_file"], timeout=CONNECT_TIMEOUT,
                                security=security)
        except Exception as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {target!r} ({type(exc).__name__}: {exc}); "
                "check that it is running, the address (tcp://host:port, or tls://host:port with "
                "cluster.security) or scheduler_file, and the certificates"
            ) from exc
        # Closing the client disconnects; the scheduler and its workers keep running.
        return client, []
