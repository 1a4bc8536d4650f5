"""Shared fixtures and settings.

* ``dask_client``: a real two-worker Dask LocalCluster, started once per test session.
* Hypothesis: with the environment variable ``CI`` set, the ``ci`` profile is loaded, so
  property tests draw the same examples on every run (``derandomize``), keep no example
  database between runs, and print the blob that reproduces a failure.
* ``REQUIRE_HPC=1`` (set by ``.ci/run``): a test marked ``slurm`` or ``mpi`` that skips is
  reported as failed, with the reason it skipped: there the HPC components must be running.
"""

from __future__ import annotations

import logging
import os

import pytest
from hypothesis import settings

# Local solves run thousands of tiny BLAS calls; threads only slow them (see engine.local.solve).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    # Loaded here, before the test modules are imported: their settings(...) objects take
    # the defaults they do not set from the profile active when they are made.
    settings.load_profile("ci")

HPC_MARKERS = ("slurm", "mpi")


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


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(
        longrepr)  # (path, line, "Skipped: why")
    return text.removeprefix("Skipped: ")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """With ``REQUIRE_HPC=1``, a skipped ``slurm``/``mpi`` test is a failure."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("REQUIRE_HPC") != "1" or not report.skipped or hasattr(report, "wasxfail"):
        return
    markers = [name for name in HPC_MARKERS if item.get_closest_marker(name) is not None]
    if not markers:
        return
    report.outcome = "failed"
    report.longrepr = (f"REQUIRE_HPC=1 but this {'/'.join(markers)} test was skipped: "
                       f"{_skip_reason(report)}")
