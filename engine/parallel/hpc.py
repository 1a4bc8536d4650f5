"""The HPC cluster kinds in one import: batch systems (:mod:`engine.parallel.jobqueue`) and
``mpirun`` (:mod:`engine.parallel.mpi`).

Examples
--------
>>> walltime_seconds("00:10:00")
600
"""

from engine.parallel.jobqueue import (
    JOBQUEUE_KEYS,
    job_script,
    jobqueue_kwargs,
    make_jobqueue_cluster,
    start_jobqueue_cluster,
    walltime_seconds,
    worker_lifetime,
)
from engine.parallel.mpi import mpi_initialize, mpi_initialize_once, start_mpi_client

__all__ = [
    "JOBQUEUE_KEYS",
    "job_script",
    "jobqueue_kwargs",
    "make_jobqueue_cluster",
    "mpi_initialize",
    "mpi_initialize_once",
    "start_jobqueue_cluster",
    "start_mpi_client",
    "walltime_seconds",
    "worker_lifetime",
]
