"""Where solves run: executors (serial, Dask, concurrent.futures) and cluster kinds.

The only package of the engine that imports dask and distributed (and the optional
dask-jobqueue, dask-mpi and mpi4py), each where it is first needed.

Modules
-------
base
    The :class:`~engine.parallel.base.Executor` protocol the driver relies on.
serial, dask_executor, futures
    The executors: this process, a ``distributed.Client``, a ``concurrent.futures`` pool.
window, chunking, tasks
    What the pool executors share: the window of tasks in flight and its quarantine of
    starts lost with their workers, chunk sizing, and the tasks that run on workers.
hangs
    On Dask: starts stuck inside one objective call past ``start_timeout``, ended by
    restarting their workers.
cluster_kind, local, address, jobqueue, mpi
    The cluster kinds a config's ``cluster:`` block can name.
clusters
    The registry of kinds: ``validate_cluster``, ``prepare_process``, ``open_executor``.
executors, hpc
    Older import paths, re-exporting the modules above.
"""
