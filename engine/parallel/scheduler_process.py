"""A local cluster's Dask scheduler in a process of its own.

``distributed.LocalCluster`` runs its scheduler inside the process that starts it: for a
multistart run, the driver. Each task the scheduler handles allocates and frees small objects
among the driver's long-lived ones, and the freed memory is not given back: measured on a
2-worker cluster over a million starts, the driver's resident memory grew by about 40 bytes a
start more with the scheduler inside than with it apart (``scripts/bench-memory`` has the
ten-million-start run). With the scheduler in its own process the driver's memory follows
what the engine keeps, and the scheduler no longer shares the driver's interpreter lock.

:class:`SchedulerProcess` is the scheduler part of a ``SpecCluster``: it starts
``python -c`` with :data:`_CHILD_CODE` (not ``-m engine...``, which would import the engine,
numpy and scipy into the scheduler for nothing), hands over the driver's Dask configuration
(the same way ``distributed`` hands it to spawned workers) and reads the address the child
prints. The child closes itself when the driver's process goes away, so a killed run leaves
no scheduler behind.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import os
import sys
from typing import Any

#: What the scheduler process runs: start a ``distributed.Scheduler`` with the options in
#: ``argv[1]``, print its address (the one line on stdout the driver reads), and serve until
#: it is closed (the cluster's ``terminate``) or the process ``argv[2]`` (the driver) is gone.
#: It ignores SIGINT and SIGTERM: Ctrl-C, ``kill -TERM -PGID`` and a batch system's cancel
#: reach the whole process group, and the driver, which handles them by winding the run down
#: (its finished work saved), needs its scheduler until it closes it.
_CHILD_CODE = """
import asyncio, json, os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
from distributed import Scheduler

async def close_without_driver(scheduler, driver_pid):
    while os.getppid() == driver_pid:
        await asyncio.sleep(0.5)
    await scheduler.close()

async def serve(options, driver_pid):
    async with Scheduler(**options) as scheduler:
        print(scheduler.address, flush=True)
        watch = asyncio.ensure_future(close_without_driver(scheduler, driver_pid))
        await scheduler.finished()
        watch.cancel()

asyncio.run(serve(json.loads(sys.argv[1]), int(sys.argv[2])))
sys.stdout.flush()
os._exit(0)  # nothing is left to save: skip the interpreter's tear-down of distributed
"""

#: The ``distributed.Scheduler`` options that travel to the child. The rest of what
#: ``LocalCluster`` passes is either empty there (services, handlers) or rebuilt by the child
#: from the Dask configuration it inherits (``security``: see ``security_config``).
SCHEDULER_OPTIONS = ("host", "port", "protocol", "interface", "dashboard", "dashboard_address")

#: Lines of the child's stderr kept to explain a start that fails.
_STDERR_LINES = 40


def scheduler_options(options: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready part of ``LocalCluster``'s scheduler options.

    Examples
    --------
    >>> scheduler_options({"host": "127.0.0.1", "port": 0, "services": {}, "security": object(),
    ...                    "protocol": "tcp://", "interface": None})
    {'host': '127.0.0.1', 'port': 0, 'protocol': 'tcp://'}
    """
    return {key: options[key] for key in SCHEDULER_OPTIONS if options.get(key) is not None}


def scheduler_process_class() -> type:
    """The ``SpecCluster`` scheduler class that runs the scheduler in a child process.

    Examples
    --------
    >>> scheduler_process_class().__name__
    'SchedulerProcess'
    """
    return _classes()[0]


def client_on_cluster_apart(security: Any, **cluster_options: Any) -> Any:
    """A client on a new :class:`LocalClusterApart`; closing the client closes the cluster.

    Parameters
    ----------
    security : distributed.security.Security or None
        The cluster's and the client's credentials (None: plain TCP).
    **cluster_options
        ``distributed.LocalCluster`` arguments.
    """
    _, cluster_class, client_class = _classes()
    cluster = cluster_class(security=security, **cluster_options)
    try:
        return client_class(cluster, security=security)
    except BaseException:
        cluster.close()
        raise


@functools.cache
def _classes() -> tuple[type, type, type]:
    # Built on first use: distributed takes about a second to import and is imported where a
    # cluster starts (see engine.parallel.local).
    from distributed import Client, LocalCluster
    from distributed.deploy.spec import ProcessInterface

    class SchedulerProcess(ProcessInterface):
        """A ``distributed.Scheduler`` in a child process (a ``SpecCluster`` scheduler).

        Parameters
        ----------
        options : dict
            ``distributed.Scheduler`` keyword arguments that JSON can carry
            (:func:`scheduler_options`).
        start_timeout : float
            Seconds to wait for the child to print its address.
        """

        def __init__(self, options: dict[str, Any], start_timeout: float = 60.0) -> None:
            super().__init__()
            self.options = options
            self.start_timeout = start_timeout
            self.process: asyncio.subprocess.Process | None = None
            self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
            self._drain: asyncio.Task | None = None

        async def start(self) -> None:
            import dask.config

            # The child reads this variable when it imports Dask, as spawned workers do:
            # the cluster's settings (and TLS credentials) reach the scheduler with it. Its
            # logs are kept to errors, as LocalCluster's silence_logs does for the driver.
            with dask.config.set({"logging.distributed": "error"}):
                inherited = dask.config.serialize(dask.config.global_config)
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _CHILD_CODE, json.dumps(self.options), str(os.getpid()),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                stdin=asyncio.subprocess.DEVNULL,
                env={**os.environ, "DASK_INTERNAL_INHERIT_CONFIG": inherited})
            # Read stderr as it comes, or a chatty child would block on a full pipe.
            self._drain = asyncio.ensure_future(self._keep_stderr())
            try:
                line = await asyncio.wait_for(self.process.stdout.readline(),
                                              self.start_timeout)
            except asyncio.TimeoutError:
                await self._stop()
                raise RuntimeError(f"the scheduler process printed no address within "
                                   f"{self.start_timeout:g} s{self._stderr_tail()}") from None
            if not line:
                await self._stop()
                raise RuntimeError(f"the scheduler process exited with code "
                                   f"{self.process.returncode}{self._stderr_tail()}")
            self.address = line.decode().strip()
            await super().start()

        async def _keep_stderr(self) -> None:
            assert self.process is not None and self.process.stderr is not None
            async for raw in self.process.stderr:
                self._stderr.append(raw.decode(errors="replace").rstrip())

        def _stderr_tail(self) -> str:
            return (":\n" + "\n".join(self._stderr)) if self._stderr else ""

        async def _stop(self, grace: float = 0.0) -> None:
            process = self.process
            if process is not None and process.returncode is None:
                try:
                    await asyncio.wait_for(process.wait(), grace)
                except asyncio.TimeoutError:
                    process.kill()
                    await process.wait()
            if self._drain is not None:
                # Let the reader take the child's last words before it stops.
                try:
                    await asyncio.wait_for(self._drain, 1.0)
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    self._drain.cancel()

        async def close(self) -> None:
            # The cluster has asked the scheduler to terminate; give it time to do so.
            await self._stop(grace=5.0)
            await super().close()

    class LocalClusterApart(LocalCluster):
        """A ``distributed.LocalCluster`` whose scheduler runs in a process of its own.

        Takes ``LocalCluster``'s arguments; its workers are the same nannies, started once the
        scheduler process has printed its address. ``processes=False`` has no use for it (its
        threads talk in memory, inside one process): use ``LocalCluster`` there.
        """

        async def _start(self) -> None:
            # LocalCluster has built its in-process scheduler's spec; run the same options in a
            # child instead (SpecCluster._start reads the spec, so replacing it here is enough).
            self.scheduler_spec = {"cls": SchedulerProcess, "options": {
                "options": scheduler_options(self.scheduler_spec.get("options", {}))}}
            await super()._start()

    class LocalRunClient(Client):
        """A ``distributed.Client`` that closes the cluster it was given when it closes.

        ``Client(n_workers=...)`` closes the cluster it starts itself; a client made on a cluster
        built apart (:class:`LocalClusterApart`) leaves it running unless told, so this one is.
        """

        def close(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().close(*args, **kwargs)
            finally:
                if self.cluster is not None:
                    self.cluster.close()

    return SchedulerProcess, LocalClusterApart, LocalRunClient
