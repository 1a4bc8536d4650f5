"""What one ``cluster: kind:`` of a YAML config is: its keys, its checks, how it starts.

Each kind is a :class:`ClusterKind`; :mod:`engine.parallel.clusters` holds them in a registry
and everything that depends on the kind (config validation, ``open_executor``, the MPI
start-up every rank runs, ``multistart check``'s job script) asks the registry.
"""

from __future__ import annotations

import difflib
from typing import Any

#: What :meth:`ClusterKind.start` returns: what runs the solves (a ``distributed.Client``, a
#: ``concurrent.futures.Executor`` or an :class:`~engine.parallel.base.Executor`), and the
#: other things to close when the run ends.
Started = tuple[Any, list[Any]]


class ClusterKind:
    """One kind of cluster a config can name.

    Subclasses set ``name`` and ``keys`` and define :meth:`start`; they add :meth:`check`
    for rules on the values, :meth:`prepare` for work every process of a launch must do
    first, and :meth:`describe_job` for what ``multistart check`` prints.

    Examples
    --------
    >>> class Nowhere(ClusterKind):
    ...     name, keys = "nowhere", ("size",)
    ...     def start(self, body):
    ...         return "serial", []
    >>> Nowhere().validate({"kind": "nowhere", "sise": 2})
    ["unknown key cluster.sise (did you mean 'size'?) for cluster.kind='nowhere'; allowed: size"]
    """

    name: str = ""
    #: The YAML keys a ``cluster:`` block of this kind accepts, besides ``kind``.
    keys: tuple[str, ...] = ()

    def validate(self, body: dict[str, Any]) -> list[str]:
        """Problems in a ``cluster:`` mapping of this kind, as messages (empty when valid)."""
        return unknown_keys(body, self.name, self.keys) + self.check(body)

    def check(self, body: dict[str, Any]) -> list[str]:
        """Problems with the values of known keys (the keys themselves are checked already)."""
        return []

    def start(self, body: dict[str, Any]) -> Started:
        """Start (or connect to) the cluster; returns what runs the solves and what to close.

        The first item is closed too when the run ends (``close()``, or ``shutdown()`` for a
        ``concurrent.futures`` pool).
        """
        raise NotImplementedError

    def prepare(self, body: dict[str, Any]) -> None:
        """Run before anything else in every process that runs the command. Most kinds need
        nothing; under ``mpirun`` every rank but the driver's serves the cluster and exits."""

    def describe_job(self, body: dict[str, Any]) -> str | None:
        """The batch script each worker job would be submitted with, for kinds that submit
        jobs (nothing is submitted); None for the others."""
        return None

    def dry_run(self, body: dict[str, Any], script: str) -> tuple[bool | None, str] | None:
        """Ask the batch system whether it would take a worker job with ``script``, without
        submitting it: (accepted, its message), accepted None when it could not be asked;
        None where no dry run is possible."""
        return None


def unknown_keys(body: dict[str, Any], kind: str, allowed: tuple[str, ...]) -> list[str]:
    """A message for every key of ``body`` that a cluster of ``kind`` does not accept.

    Examples
    --------
    >>> unknown_keys({"kind": "local", "n_worker": 2}, "local", ("n_workers",))
    ["unknown key cluster.n_worker (did you mean 'n_workers'?) for cluster.kind='local'; allowed: n_workers"]
    """  # noqa: E501
    errors = []
    for key in body:
        if key != "kind" and key not in allowed:
            errors.append(
                f"unknown key cluster.{key}{did_you_mean(str(key), allowed)} for "
                f"cluster.kind={kind!r}; allowed: {', '.join(allowed) or 'no other keys'}"
            )
    return errors


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string.

    Examples
    --------
    >>> did_you_mean("slurn", ["slurm", "pbs"])
    " (did you mean 'slurm'?)"
    """
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def positive_int_errors(body: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """A message for each of ``keys`` present in ``body`` that is not an integer >= 1.

    Examples
    --------
    >>> positive_int_errors({"jobs": 0, "cores": 2}, ("jobs", "cores"))
    ['cluster.jobs=0 is not allowed; use an integer >= 1']
    """
    errors = []
    for key in keys:
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            errors.append(f"cluster.{key}={value!r} is not allowed; use an integer >= 1")
    return errors
