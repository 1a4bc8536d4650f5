"""Executors from what ``client=`` or a config's ``cluster:`` block names, through a registry.

Every cluster kind (``serial``, ``local``, ``address``, ``slurm``, ``pbs``, ``sge``, ``lsf``,
``htcondor``, ``mpi``) is one :class:`~engine.parallel.cluster_kind.ClusterKind` in
:data:`CLUSTER_KINDS`: its YAML keys, its checks, how it starts, what every process of a
launch runs first. Config validation, :func:`open_executor`, :func:`prepare_process` and
``multistart check`` all ask the registry; adding a kind is one module defining a
``ClusterKind`` and one :func:`register_kind` call.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
from collections.abc import Iterator
from typing import Any

from engine.exceptions import ClusterError
from engine.parallel.address import AddressKind
from engine.parallel.base import Executor
from engine.parallel.cluster_kind import ClusterKind, did_you_mean
from engine.parallel.dask_executor import DaskExecutor
from engine.parallel.futures import FuturesExecutor
from engine.parallel.jobqueue import CLASSES, JOBQUEUE_CLUSTER_KINDS
from engine.parallel.local import (
    LOCAL_CLUSTER_CONFIG,
    LocalKind,
    default_worker_count,
    local_client,
    place_scheduler,
)
from engine.parallel.mpi import MpiKind
from engine.parallel.serial import SerialExecutor, SerialKind

__all__ = [
    "CLUSTER_KINDS",
    "JOBQUEUE_KINDS",
    "KINDS",
    "LOCAL_CLUSTER_CONFIG",
    "allowed_keys",
    "as_executor",
    "cluster_kind",
    "default_worker_count",
    "local_client",
    "open_executor",
    "prepare_process",
    "register_kind",
    "validate_cluster",
]

#: Every cluster kind by name, in the order error messages list them.
CLUSTER_KINDS: dict[str, ClusterKind] = {}


def register_kind(kind: ClusterKind) -> ClusterKind:
    """Add (or replace) a cluster kind; configs may name it from then on.

    Examples
    --------
    >>> class Here(ClusterKind):
    ...     name = "here"
    ...     def start(self, body):
    ...         return "serial", []
    >>> _ = register_kind(Here())
    >>> with open_executor({"kind": "here"}) as ex:
    ...     ex.kind
    'serial'
    >>> del CLUSTER_KINDS["here"]
    """
    if not kind.name:
        raise ValueError("a cluster kind needs a name")
    CLUSTER_KINDS[kind.name] = kind
    return kind


for _kind in (LocalKind(), SerialKind(), AddressKind(), *JOBQUEUE_CLUSTER_KINDS, MpiKind()):
    register_kind(_kind)

#: The names of the batch-system kinds (workers are jobs submitted through dask-jobqueue).
JOBQUEUE_KINDS = tuple(CLASSES)
#: The names of the kinds the engine comes with.
KINDS = tuple(CLUSTER_KINDS)


def cluster_kind(name: Any) -> ClusterKind:
    """The registered kind called ``name``, or a ClusterError listing the known ones.

    Examples
    --------
    >>> cluster_kind("slurm").describe_job is not None
    True
    >>> cluster_kind("slurn")
    Traceback (most recent call last):
    ...
    engine.exceptions.ClusterError: cluster.kind='slurn' is unknown (did you mean 'slurm'?); allowed: local, serial, address, slurm, pbs, sge, lsf, htcondor, mpi
    """  # noqa: E501
    kind = CLUSTER_KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ClusterError(_unknown_kind(name))
    return kind


def _unknown_kind(name: Any) -> str:
    return (f"cluster.kind={name!r} is unknown{did_you_mean(str(name), list(CLUSTER_KINDS))}; "
            f"allowed: {', '.join(CLUSTER_KINDS)}")


def allowed_keys(kind: str) -> tuple[str, ...]:
    """The YAML keys a ``cluster:`` block of this kind accepts (besides ``kind``).

    Examples
    --------
    >>> allowed_keys("address")
    ('address', 'scheduler_file', 'security')
    """
    known = CLUSTER_KINDS.get(kind)
    return known.keys if known is not None else ()


def validate_cluster(body: dict[str, Any]) -> list[str]:
    """Problems in a ``cluster:`` mapping, as messages (empty when valid).

    Examples
    --------
    >>> validate_cluster({"kind": "local", "n_workers": 2})
    []
    >>> validate_cluster({"kind": "cloud"})
    ["cluster.kind='cloud' is unknown; allowed: local, serial, address, slurm, pbs, sge, lsf, htcondor, mpi"]
    """  # noqa: E501
    name = body.get("kind", "local")
    if not isinstance(name, str) or name not in CLUSTER_KINDS:
        return [_unknown_kind(name)]
    return CLUSTER_KINDS[name].validate(body)


def prepare_process(spec: Any) -> None:
    """What the cluster of ``spec`` needs done first in every process running the command.

    ``spec`` is what :func:`open_executor` takes. Call it before anything else (before files
    are written): a no-op for every kind but ``mpi``, where every rank of the ``mpirun``
    launch runs the command and all but the driver's rank serve the cluster and exit here.

    Examples
    --------
    >>> prepare_process({"kind": "local"}), prepare_process("serial"), prepare_process(None)
    (None, None, None)
    """
    if isinstance(spec, dict) and isinstance(spec.get("kind", "local"), str):
        kind = CLUSTER_KINDS.get(spec.get("kind", "local"))
        if kind is not None:  # an unknown kind is reported by open_executor
            kind.prepare(spec)


def as_executor(target: Any) -> Executor:
    """The executor for a started cluster or a ``client=`` object (used, never closed here).

    ``target`` is an :class:`~engine.parallel.base.Executor` (returned as it is),
    ``"serial"``, a ``distributed.Client`` or a ``concurrent.futures.Executor``.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     as_executor(pool).describe()
    {'kind': 'futures', 'pool': 'ThreadPoolExecutor', 'n_workers': 2, 'n_threads': 2}
    """
    if isinstance(target, Executor):
        return target
    if isinstance(target, str) and target == "serial":
        return SerialExecutor()
    if hasattr(target, "submit") and hasattr(target, "scatter"):  # distributed.Client
        return DaskExecutor(target)
    if isinstance(target, cf.Executor):
        return FuturesExecutor(target)
    raise ClusterError(
        f"client={target!r} is not allowed; use None (temporary local cluster), 'serial', a "
        "scheduler address like 'tcp://host:8786', a distributed.Client or a "
        "concurrent.futures.Executor (e.g. ProcessPoolExecutor)"
    )


def _as_cluster_body(spec: Any) -> dict[str, Any] | None:
    """The ``cluster:`` mapping ``spec`` stands for; None for an object to use as it is."""
    if spec is None:
        return {"kind": "local"}
    if isinstance(spec, dict):
        return spec
    if not isinstance(spec, str):
        return None
    if spec == "serial":
        return {"kind": "serial"}
    if "://" in spec:
        return {"kind": "address", "address": spec}
    raise ClusterError(
        f"client={spec!r} is not allowed; use None (temporary local cluster), 'serial', a "
        "scheduler address like 'tcp://host:8786', a distributed.Client or a "
        "concurrent.futures.Executor"
    )


@contextlib.contextmanager
def open_executor(spec: Any, planned_runs: int | None = None) -> Iterator[Executor]:
    """An executor for ``spec``, closing whatever it started on exit.

    ``spec`` is ``None`` (a temporary local cluster), ``"serial"``, a ``distributed.Client``
    or any ``concurrent.futures.Executor`` (used, not closed), a scheduler address
    ``"tcp://host:port"``, a ``cluster:`` mapping from a config (``{"kind": "local",
    "n_workers": 2}``), or an :class:`~engine.parallel.base.Executor` (used as it is).
    ``planned_runs``, the starts the run plans, places a local cluster's scheduler
    (:func:`~engine.parallel.local.place_scheduler`).

    Examples
    --------
    >>> with open_executor("serial") as ex:
    ...     ex.kind
    'serial'
    """
    body = _as_cluster_body(spec)
    if body is None:
        yield as_executor(spec)
        return
    body = place_scheduler(body, planned_runs)
    target, closers = cluster_kind(body.get("kind", "local")).start(body)
    try:
        executor = as_executor(target)
    except ClusterError:
        _release([target, *closers])
        raise
    try:
        yield executor
    finally:
        _release([executor, *([] if target is executor else [target]), *closers])


def _release(things: list[Any]) -> None:
    """Close each of ``things`` (``shutdown`` for a pool), whatever the others do."""
    for thing in things:
        with contextlib.suppress(Exception):
            if isinstance(thing, cf.Executor):
                thing.shutdown(cancel_futures=True)
            else:
                thing.close()
