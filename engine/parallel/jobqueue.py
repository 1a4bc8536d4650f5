"""Batch-system cluster kinds through dask-jobqueue: ``slurm``, ``pbs``, ``sge``, ``lsf``,
``htcondor``.

The driver and the Dask scheduler run where the command runs; workers are batch jobs.
dask-jobqueue is an optional extra (``pip install 'multistart-engine[hpc]'``), imported only
when such a cluster is made.
"""

from __future__ import annotations

import _thread
import contextlib
import logging
import re
import signal
import socket
import sys
import threading
import time
import weakref
from typing import Any

from engine.exceptions import ClusterError
from engine.parallel.batch_jobs import (
    DRIVER_TIMEOUT_S,
    JobRegistry,
    dry_run_submit,
    hopeless,
    queue_summary,
    tracked_job_class,
)
from engine.parallel.cluster_kind import ClusterKind, Started, positive_int_errors
from engine.parallel.jobqueue_check import (
    ENGINE_KEYS,
    jobqueue_problems,
    kind_keys,
    short_walltime_error,
    walltime_error,
)
from engine.parallel.security import jobqueue_security, security_errors

#: The dask-jobqueue cluster class of each kind.
CLASSES = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
}
#: Seconds between two lines on the worker jobs while the run waits for its first workers.
REPORT_EVERY_S = 10.0
#: Seconds a run waits for its first workers when ``worker_timeout`` is not given.
WORKER_TIMEOUT_S = 300.0


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


def job_walltime_seconds(body: dict[str, Any]) -> int | None:
    """Seconds in the walltime of a ``cluster:`` block, read as its batch system reads it.

    Examples
    --------
    >>> job_walltime_seconds({"kind": "lsf", "walltime": "01:30"})
    5400
    >>> job_walltime_seconds({"kind": "slurm", "walltime": "01:30"})
    90
    """
    walltime = body.get("walltime")
    if body.get("kind") == "lsf" and isinstance(walltime, str) and walltime.count(":") == 1:
        walltime += ":00"  # LSF reads HH:MM
    return walltime_seconds(walltime)


def worker_lifetime(body: dict[str, Any]) -> tuple[str, str] | None:
    """``(--lifetime, --lifetime-stagger)`` so workers leave before their job's walltime.

    A worker killed by the batch system loses its running task; one that leaves on its own
    hands its work back first, and an adaptive cluster submits a replacement job. Default
    lifetime: the walltime less 10% (at least one minute; a third of a walltime under three
    minutes), staggered by 5% so that jobs started together do not all leave at once.

    Examples
    --------
    >>> worker_lifetime({"walltime": "01:00:00"})
    ('3240s', '180s')
    >>> worker_lifetime({"walltime": "00:01:00"})
    ('40s', '3s')
    >>> worker_lifetime({"kind": "lsf", "walltime": "01:00"})
    ('3240s', '180s')
    """
    if body.get("lifetime") is not None:
        return str(body["lifetime"]), str(body.get("lifetime_stagger", "0s"))
    seconds = job_walltime_seconds(body)
    if seconds is None or seconds < 30:
        return None
    margin = max(min(60, seconds // 3), seconds // 10)
    return f"{seconds - margin}s", f"{max(1, seconds // 20)}s"


def scheduler_host() -> str:
    """The address of this host's outward interface (where workers on other nodes reach it).

    The interface of the default route, else the address the host name resolves to, else
    127.0.0.1. No packet is sent.
    """
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET: only picks the route's interface
        address = probe.getsockname()[0]
        if address and not address.startswith("0."):
            return address
    with contextlib.suppress(OSError):
        return socket.gethostbyname(socket.gethostname())
    return "127.0.0.1"


def scheduler_options(body: dict[str, Any]) -> dict[str, Any]:
    """The scheduler's options: bound to one interface, never to every one (0.0.0.0).

    The config's ``interface`` or ``scheduler_options: {host | interface}`` wins; else the
    host's outward address. The dashboard listens on 127.0.0.1 (reach it through an SSH
    tunnel) unless ``scheduler_options: {dashboard_address: ...}`` says otherwise.

    Examples
    --------
    >>> scheduler_options({"scheduler_options": {"host": "127.0.0.1"}})
    {'host': '127.0.0.1', 'dashboard_address': '127.0.0.1:0'}
    >>> scheduler_options({"interface": "lo"})
    {'dashboard_address': '127.0.0.1:0'}
    """
    options = dict(body.get("scheduler_options") or {})
    if not (body.get("interface") or options.get("host") or options.get("interface")):
        options["host"] = scheduler_host()
    options.setdefault("dashboard_address", "127.0.0.1:0")
    return options


def jobqueue_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for the dask-jobqueue cluster class, lifetime flags included.

    Examples
    --------
    >>> kwargs = jobqueue_kwargs({"kind": "slurm", "cores": 1, "walltime": "00:10:00"})
    >>> kwargs["worker_extra_args"], "kind" in kwargs
    (['--lifetime', '540s', '--lifetime-stagger', '30s'], False)
    >>> kwargs["death_timeout"], kwargs["scheduler_options"]["dashboard_address"]
    (60, '127.0.0.1:0')
    """
    kwargs = {k: v for k, v in body.items() if k != "kind" and k not in ENGINE_KEYS}
    lifetime = worker_lifetime(body)
    extra = list(kwargs.get("worker_extra_args") or [])
    if lifetime is not None and "--lifetime" not in extra:
        extra += ["--lifetime", lifetime[0], "--lifetime-stagger", lifetime[1]]
    if extra:
        kwargs["worker_extra_args"] = extra
    # A worker whose scheduler is gone (the driver died) leaves after this many seconds,
    # ending its job, instead of holding the allocation until the walltime.
    kwargs.setdefault("death_timeout", 60)
    kwargs["scheduler_options"] = scheduler_options(body)
    return kwargs


def _cluster_class(kind: str) -> Any:
    # Importing dask_jobqueue installs a SIGINT handler calling sys.exit() (its runner
    # module): Ctrl-C would then end a run with status 0 and no result. Keep the handler the
    # caller had.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    try:
        import dask_jobqueue  # optional extra: only for these kinds
    except ImportError:
        raise ClusterError(
            f"cluster.kind={kind!r} needs dask-jobqueue: pip install "
            "'multistart-engine[hpc]' (or pip install dask-jobqueue)"
        ) from None
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGINT, previous)
    return getattr(dask_jobqueue, CLASSES[kind])


#: Where the scheduler's dashboard listens unless ``scheduler_options`` says otherwise: the
#: host running the command only, on a free port (reach it through an SSH tunnel).
DEFAULT_DASHBOARD = "127.0.0.1:0"


def make_jobqueue_cluster(body: dict[str, Any], closers: list[Any] | None = None,
                          registry: JobRegistry | None = None) -> Any:
    """The dask-jobqueue cluster object for a ``cluster:`` block (no jobs submitted yet).

    TLS as ``security`` says (temporary credentials by default); what must be closed after
    the cluster (the folder of the workers' credentials) is appended to ``closers``. With
    ``registry``, every job submitted (or refused) is reported to it.
    """
    cls = _cluster_class(body["kind"])
    kwargs, folder = jobqueue_security(body["kind"], jobqueue_kwargs(body))
    kwargs["scheduler_options"] = {"dashboard_address": DEFAULT_DASHBOARD,
                                   **(kwargs.get("scheduler_options") or {})}
    if registry is not None:
        kwargs["job_cls"] = tracked_job_class(cls.job_cls, registry)
    try:
        cluster = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if folder is not None:
            folder.close()
        raise ClusterError(
            f"cluster: {cls.__name__} refused the options ({exc}); every key besides "
            f"kind, {', '.join(ENGINE_KEYS)} is passed to {cls.__name__} as a keyword argument"
        ) from None
    if folder is not None:
        folder.owner = cluster
        weakref.finalize(cluster, folder.close)  # at the latest when the cluster is collected
        if closers is not None:
            closers.append(folder)
    return cluster


def job_script(body: dict[str, Any]) -> str:
    """The batch script one worker job would be submitted with (nothing is submitted)."""
    closers: list[Any] = []
    cluster = make_jobqueue_cluster(body, closers)
    try:
        return cluster.job_script()
    finally:
        for thing in (cluster, *closers):
            with contextlib.suppress(Exception):
                thing.close()


def _say(line: str) -> None:
    print(f"multistart: {line}", file=sys.stderr, flush=True)


def wait_for_first_workers(client: Any, body: dict[str, Any], registry: JobRegistry,
                           say: Any = _say) -> None:
    """Wait until ``wait_for_workers`` (default 1) workers joined; fail instead of hanging.

    Raises a ClusterError with the batch system's message as soon as it refuses a worker job,
    when every job is pending for a reason no wait cures, or after ``worker_timeout``
    seconds (default 300). Says where the jobs are every :data:`REPORT_EVERY_S` seconds.
    """
    kind, queue = body["kind"], body.get("queue")
    wanted = int(body.get("wait_for_workers") or 1)
    timeout = float(body.get("worker_timeout", WORKER_TIMEOUT_S))
    start = time.monotonic()
    next_report = start + min(REPORT_EVERY_S, timeout / 2)
    while True:
        if len(client.nthreads()) >= wanted:
            return
        waited = time.monotonic() - start
        if registry.errors:
            raise ClusterError(
                f"cluster.kind={kind!r}: the batch system refused the worker job: "
                f"{registry.errors[0]}; fix the cluster: block (`multistart check CONFIG` "
                "shows the job script and asks the batch system whether it would take it)")
        reason = hopeless(kind, registry.job_ids) if waited > 2 else None
        if reason:
            raise ClusterError(
                f"cluster.kind={kind!r}: the worker jobs {', '.join(registry.job_ids)} cannot "
                f"start (pending: {reason}); fix the cluster: block (queue, walltime, "
                "account, memory) and run again")
        if waited > timeout:
            raise ClusterError(
                f"cluster.kind={kind!r}: no worker joined within {timeout:g} s "
                f"({queue_summary(kind, registry.job_ids, queue)}); raise "
                "cluster.worker_timeout to wait longer, or ask for fewer resources")
        if time.monotonic() >= next_report:
            next_report += REPORT_EVERY_S
            say(f"waiting for workers: {queue_summary(kind, registry.job_ids, queue)} "
                f"({len(client.nthreads())}/{wanted} joined, {waited:.0f} s of "
                f"{timeout:g} s)")
        time.sleep(0.25)


def start_jobqueue_cluster(body: dict[str, Any]) -> Started:
    """Start the scheduler here and worker jobs through the batch system.

    ``jobs: n`` keeps ``n`` jobs running (an adaptive cluster pinned to ``n``, so a job that
    ends, e.g. at its walltime, is replaced); ``adapt: {minimum, maximum}`` lets the number of
    jobs follow the work. Returns once the first worker joined (see
    :func:`wait_for_first_workers`); every job submitted is cancelled when the run ends,
    however it ends.
    """
    from distributed import Client  # about a second to import: only when a cluster starts

    cls = _cluster_class(body["kind"])
    registry = JobRegistry(cls.job_cls.cancel_command,
                           frozen_s=float(body.get("driver_timeout", DRIVER_TIMEOUT_S)))
    closers: list[Any] = []  # the folder of the workers' TLS credentials, if any
    try:
        cluster = make_jobqueue_cluster(body, closers, registry)
    except BaseException:
        registry.close()
        raise
    client = None
    try:
        adapt = body.get("adapt")
        if adapt is not None:
            minimum = int(adapt.get("minimum", 0))
            maximum = int(adapt.get("maximum", adapt.get("minimum", 1)))
        else:
            minimum = maximum = int(body.get("jobs", 1))
        # At least the jobs of the workers waited for, so that a job the batch system
        # refuses is seen before the run starts (an adaptive cluster with minimum 0 would
        # submit nothing until there is work, then wait for it forever).
        wanted = int(body.get("wait_for_workers") or 1)
        cluster.adapt(minimum_jobs=min(max(minimum, wanted), maximum), maximum_jobs=maximum)
        client = Client(cluster)
        with _quiet_submission_errors():
            wait_for_first_workers(client, body, registry)
        if minimum < wanted:
            cluster.adapt(minimum_jobs=minimum, maximum_jobs=maximum)
    except ClusterError:
        _close_quietly(client, cluster, registry, closers)
        raise
    except Exception as exc:
        _close_quietly(client, cluster, registry, closers)
        raise ClusterError(
            f"cluster.kind={body['kind']!r}: could not start worker jobs "
            f"({type(exc).__name__}: {exc}); check the batch system is reachable from this "
            "host (e.g. `sbatch --version`) and `multistart check CONFIG` for the job script"
        ) from exc
    except BaseException:  # Ctrl-C or SIGTERM while waiting: leave no job behind
        _close_quietly(client, cluster, registry, closers)
        raise
    watch = WorkerWatch(client, body, registry)
    return client, [watch, ClusterCloser(cluster, registry), *closers]


class ClusterCloser:
    """Closes a dask-jobqueue cluster: its jobs cancelled through the registry, then the
    cluster itself without waiting on them.

    dask-jobqueue's jobs never report themselves closed, and a job the batch system refused
    stays "created": closing the cluster then fails (an assertion) and distributed's exit
    hook waits on it for seconds. Every job is cancelled first (``scancel``, ...), so none
    is left behind.
    """

    def __init__(self, cluster: Any, registry: JobRegistry) -> None:
        self.cluster, self.registry = cluster, registry

    def close(self) -> None:
        from distributed.core import Status

        self.registry.close()  # cancels every job submitted
        for job in list(getattr(self.cluster, "_created", ())):
            job.status = Status.closed
        with _quiet_submission_errors():
            self.cluster.close()


class WorkerWatch:
    """While a run goes on: stop it when it has no worker and no worker job can start.

    Jobs end (walltime, ``--lifetime``) and the cluster submits replacements; while none has
    joined, a line every :data:`REPORT_EVERY_S` seconds says where they are. When the batch
    system refuses a replacement, or SLURM keeps every one pending for a reason no wait
    cures, the run would wait forever: the watch says why and interrupts the driver as
    Ctrl-C does (finished starts journaled, partial result; ``--resume`` continues).
    """

    def __init__(self, client: Any, body: dict[str, Any], registry: JobRegistry,
                 say: Any = _say, poll_s: float = 1.0) -> None:
        self.client, self.body, self.registry, self.say = client, body, registry, say
        self.poll_s = poll_s
        self.reason: str | None = None
        self._errors_before = len(registry.errors)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="multistart-worker-watch",
                                        daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        kind = self.body["kind"]
        without_since: float | None = None
        next_report = 0.0
        while not self._stop.wait(self.poll_s):
            try:
                n_workers = len(self.client.nthreads())
            except Exception:  # the client is closing: the run is over
                return
            if n_workers:
                without_since = None
                continue
            now = time.monotonic()
            if without_since is None:
                without_since, next_report = now, now + REPORT_EVERY_S
            fresh = self.registry.errors[self._errors_before:]
            reason = (f"the batch system refused the replacement worker job: {fresh[-1]}"
                      if fresh else None)
            pending = hopeless(kind, self._recent())
            if reason is None and pending:
                reason = f"the replacement worker jobs cannot start (pending: {pending})"
            if reason is not None:
                self.reason = reason
                self.say(f"cluster.kind={kind!r}: no worker left and {reason}; stopping the "
                         "run (finished starts are in the journal: fix the cluster: block, "
                         "then run again with --resume)")
                _thread.interrupt_main()
                return
            if now >= next_report:
                next_report = now + REPORT_EVERY_S
                where = queue_summary(kind, self._recent(), self.body.get("queue"))
                self.say(f"no worker for {now - without_since:.0f} s: {where}")

    def _recent(self) -> list[str]:
        """The IDs of the jobs submitted last, as many as the cluster keeps at most."""
        adapt = self.body.get("adapt")
        most = int(adapt.get("maximum", adapt.get("minimum", 1))) if adapt else int(
            self.body.get("jobs", 1))
        return self.registry.job_ids[-max(1, most):]

    def close(self) -> None:
        """Stop watching (the run is over)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


@contextlib.contextmanager
def _quiet_submission_errors() -> Any:
    """dask-jobqueue logs a traceback for every refused submission (one a second while it
    retries); the run reports the batch system's message once instead."""
    names = ("distributed.deploy.adaptive_core", "distributed.deploy.adaptive", "asyncio",
             "tornado.application",
             "distributed.deploy.spec", "distributed.deploy.cluster")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _close_quietly(client: Any, cluster: Any, registry: JobRegistry,
                   closers: list[Any]) -> None:
    """Close what a failed start made: the client, every job, the cluster, the rest."""
    with contextlib.suppress(Exception):
        if client is not None:
            client.close()
    for thing in (ClusterCloser(cluster, registry), *closers):
        with contextlib.suppress(Exception):
            thing.close()


class JobqueueKind(ClusterKind):
    """A batch system whose jobs run the Dask workers (one instance per system).

    Examples
    --------
    >>> JobqueueKind("slurm").validate({"kind": "slurm", "cores": 1, "memory": "1GB"})
    ["cluster.walltime is required for cluster.kind='slurm' (e.g. cores: 1, memory: 2GB, walltime: '01:00:00')"]
    """  # noqa: E501

    def __init__(self, name: str) -> None:
        self.name = name
        self.keys = kind_keys(name)

    def validate(self, body: dict[str, Any]) -> list[str]:
        return jobqueue_problems(self.name, body) + self.check(body)

    def check(self, body: dict[str, Any]) -> list[str]:
        errors = []
        jobs, adapt = body.get("jobs"), body.get("adapt")
        if jobs is not None and adapt is not None:
            errors.append("cluster.jobs and cluster.adapt are exclusive: give a fixed number of "
                          "jobs, or adapt: {minimum: m, maximum: n}")
        errors += positive_int_errors(body, ("jobs",))
        errors += security_errors(body.get("security"), self.name)
        if not walltime_error(self.name, body.get("walltime", "1")):
            short = short_walltime_error(job_walltime_seconds(body),
                                         body.get("lifetime") is not None)
            errors += [short] if short else []
        if adapt is not None:
            if not isinstance(adapt, dict) or set(adapt) - {"minimum", "maximum"}:
                errors.append(f"cluster.adapt={adapt!r} is not allowed; use "
                              "{minimum: <jobs>, maximum: <jobs>}")
            elif adapt.get("minimum", 0) > adapt.get("maximum", adapt.get("minimum", 0)):
                errors.append(f"cluster.adapt={adapt!r}: minimum must not exceed maximum")
        return errors

    def start(self, body: dict[str, Any]) -> Started:
        return start_jobqueue_cluster(body)

    def describe_job(self, body: dict[str, Any]) -> str | None:
        return job_script(body)

    def dry_run(self, body: dict[str, Any], script: str) -> tuple[bool | None, str] | None:
        return dry_run_submit(self.name, script)


#: One kind per batch system dask-jobqueue supports.
JOBQUEUE_CLUSTER_KINDS = tuple(JobqueueKind(name) for name in CLASSES)
