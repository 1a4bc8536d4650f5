"""Shared fixtures: a real two-worker Dask LocalCluster, started once per test session."""

from __future__ import annotations

import logging
import os

import pytest

# Local solves run thousands of tiny BLAS calls; threads only slow them (see engine.local.solve).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def dask_client():
    """A ``distributed.Client`` on a real LocalCluster with 2 single-threaded worker processes."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()
