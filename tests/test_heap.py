"""The driver hands freed heap back to the OS during a cluster run (engine.parallel.heap)."""

from __future__ import annotations

import platform

import numpy as np
import pytest

import engine
import engine.parallel.heap as heap


def test_the_trimmer_trims_when_due_and_not_before(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "_TRIM", calls.append)
    due, waiting = heap.HeapTrimmer(every=0.0), heap.HeapTrimmer(every=3600.0)
    assert due.maybe_trim() and due.maybe_trim()
    assert not waiting.maybe_trim()
    assert calls == [0, 0]  # malloc_trim(0): keep no padding at the top of the heap


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's; elsewhere the trimmer is a no-op")
def test_glibc_malloc_trim_is_found():
    assert heap._TRIM is not None


def test_a_cluster_run_trims_the_driver_heap_and_gives_the_same_minima(monkeypatch,
                                                                       dask_client):
    calls = []
    monkeypatch.setattr(heap, "_TRIM", calls.append)
    monkeypatch.setattr(heap, "TRIM_EVERY", 0.0)

    def himmelblau(x):
        return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2

    res = engine.minimize(himmelblau, [(-5, 5), (-5, 5)], n_starts=64, seed=3,
                          client=dask_client)
    assert len(calls) >= 1
    assert len(res.minima) == 4 and all(m.fun < 1e-8 for m in res.minima)
    np.testing.assert_allclose(sorted(m.x[0] for m in res.minima),
                               [-3.779310, -2.805118, 3.0, 3.584428], atol=1e-5)
