"""The columnar run store: same runs back as stored, ordered by index, cheap in memory."""

from __future__ import annotations

import collections.abc
import sys

import numpy as np
import pytest

import engine
from engine.results.store import RunStore
from engine.results.types import LocalRun


def make_run(index: int, dim: int = 3, success: bool = True, error: str | None = None,
             message: str = "CONVERGENCE") -> LocalRun:
    rng = np.random.default_rng(index)
    return LocalRun(index=index, x0=rng.uniform(-1, 1, dim), x=rng.uniform(-1, 1, dim),
                    fun=float(rng.normal()), nfev=int(rng.integers(1, 100)),
                    nit=int(rng.integers(0, 20)), success=success, message=message,
                    error=error, time=float(rng.uniform(0, 1)), in_bounds=bool(index % 5))


def same_run(a: LocalRun, b: LocalRun) -> bool:
    return a.to_dict() == b.to_dict() and a.x.dtype == b.x.dtype


def test_is_a_sequence_of_local_runs_ordered_by_index_whatever_the_arrival_order():
    runs = [make_run(i, success=i % 3 != 0, error="ValueError: bad" if i % 3 == 0 else None)
            for i in range(50)]
    shuffled = list(runs)
    np.random.default_rng(0).shuffle(shuffled)
    store = RunStore(block=7)  # small blocks: growth happens many times
    assert store.extend(shuffled) == 50
    assert isinstance(store, collections.abc.Sequence)
    assert len(store) == 50
    assert all(same_run(a, b) for a, b in zip(store, runs, strict=True))
    assert same_run(store[0], runs[0]) and same_run(store[-1], runs[-1])
    assert [r.index for r in store[10:13]] == [10, 11, 12]
    assert same_run(store.get(17), runs[17]) and store.get(99) is None


def test_appending_in_index_order_after_reading_keeps_the_order():
    store = RunStore(block=2)
    for i in range(5):
        store.append(make_run(i))
        assert [r.index for r in store] == list(range(i + 1))
    store.append(make_run(10))
    store.append(make_run(7))  # out of order from here on
    assert list(store.indices) == [0, 1, 2, 3, 4, 7, 10]


def test_a_start_index_is_stored_once_first_result_kept():
    store = RunStore()
    first = make_run(4)
    assert store.append(first) is True
    assert store.append(make_run(4, success=False, error="KilledWorker: x")) is False
    assert len(store) == 1 and store.n_failed == 0 and store.nfev == first.nfev
    assert same_run(store[0], first)


def test_contains_takes_a_start_index_or_a_run():
    store = RunStore.from_runs([make_run(i) for i in (0, 2, 5)])
    assert 2 in store and 5 in store and np.int64(0) in store
    assert 1 not in store and 6 not in store and 10**9 not in store and -1 not in store
    assert make_run(5) in store and make_run(3) not in store
    assert "2" not in store and True not in store


def test_aggregates_match_the_runs():
    runs = [make_run(i, success=i % 4 != 1) for i in range(30)]
    store = RunStore.from_runs(reversed(runs))
    assert store.nfev == sum(r.nfev for r in runs)
    assert store.nit == sum(r.nit for r in runs)
    assert store.n_failed == sum(not r.success for r in runs)
    assert store.n_success + store.n_failed == len(store)
    np.testing.assert_array_equal(store.x, [r.x for r in runs])
    np.testing.assert_array_equal(store.x0, [r.x0 for r in runs])
    np.testing.assert_array_equal(store.fun, [r.fun for r in runs])
    np.testing.assert_array_equal(store.success, [r.success for r in runs])
    np.testing.assert_array_equal(store.nfevs, [r.nfev for r in runs])
    indices, x, fun = store.successful()
    ok = [r for r in runs if r.success]
    assert indices.tolist() == [r.index for r in ok]
    np.testing.assert_array_equal(x, [r.x for r in ok])
    np.testing.assert_array_equal(fun, [r.fun for r in ok])


def test_failures_count_like_the_result_does():
    runs = [make_run(0, success=False, error="ZeroDivisionError: x"),
            make_run(1, success=False, error="ZeroDivisionError: y"),
            make_run(2, success=False, message="ABNORMAL_TERMINATION_IN_LNSRCH"),
            make_run(3)]
    store = RunStore.from_runs(runs)
    assert store.failures() == {"ZeroDivisionError": 2, "ABNORMAL_TERMINATION_IN_LNSRCH": 1}


def test_non_finite_values_and_none_error_round_trip():
    run = LocalRun(index=0, x0=np.array([0.5]), x=np.array([np.nan]), fun=float("nan"),
                   nfev=0, nit=0, success=False, message="failed: ValueError: nan",
                   error="ValueError: nan")
    back = RunStore.from_runs([run, make_run(1, dim=1)])[0]
    assert np.isnan(back.fun) and np.isnan(back.x[0]) and back.error == "ValueError: nan"
    assert RunStore.from_runs([make_run(1, dim=1)])[0].error is None


def test_messages_are_interned_not_stored_per_run():
    store = RunStore.from_runs([make_run(i, message="CONVERGENCE: NORM OF PROJECTED GRADIENT")
                                for i in range(1000)])
    assert len(store._strings.values) == 1
    assert store[999].message == "CONVERGENCE: NORM OF PROJECTED GRADIENT"


def test_errors_that_embed_the_point_stay_bounded_and_readable():
    """A million failures whose error texts embed x must not hold a million strings: past
    the budget the numbers of new texts are masked, the reason kept."""
    def failed(i: int) -> LocalRun:
        error = f"ValueError: objective returned nan at x=[{i * 0.001}, {-i * 1e-7}]"
        return make_run(i, success=False, error=error, message=f"failed: {error}")

    store = RunStore(message_budget=2000)
    store.extend(failed(i) for i in range(5000))
    assert len(store._strings.values) < 60  # the first ~2000 characters, then two masked
    assert store[3].error == "ValueError: objective returned nan at x=[0.003, -3e-07]"
    late = store[4999]
    assert late.error == ("ValueError: objective returned nan at x=[#, #] "
                          "(values dropped: message store full)")
    assert late.message.startswith("failed: ValueError: objective returned nan at x=[#, #]")
    assert store.failures() == {"ValueError": 5000}
    # an error's type keeps its name, digits and all
    store.append(make_run(5001, success=False, error="Py4JError: step 5", message="failed"))
    assert store[-1].error.startswith("Py4JError: step # (values dropped")
    # texts without numbers are never changed, however full the store
    store.append(make_run(6000, message="CONVERGENCE: REL_REDUCTION_OF_F"))
    assert store[-1].message == "CONVERGENCE: REL_REDUCTION_OF_F"


def test_wrong_dimension_and_negative_index_are_refused():
    store = RunStore.from_runs([make_run(0, dim=2)])
    with pytest.raises(ValueError, match="this store holds runs of 2 variables"):
        store.append(make_run(1, dim=3))
    with pytest.raises(ValueError, match="negative"):
        store.append(make_run(0).__class__(**{**make_run(0).__dict__, "index": -1}))


def test_empty_store():
    store = RunStore()
    assert len(store) == 0 and list(store) == [] and store.nfev == 0 and store.n_failed == 0
    assert store.x.shape == (0, 0) and store.fun.shape == (0,) and store.failures() == {}
    assert 0 not in store and store.dim is None
    with pytest.raises(IndexError):
        store[0]


def test_a_real_result_fits_in_a_store_unchanged():
    res = engine.minimize(lambda x: float((x[0] ** 2 - 1) ** 2 + x[1] ** 2), [(-2, 2), (-1, 1)],
                          n_starts=40, seed=1, client="serial")
    store = RunStore.from_runs(res.runs)
    assert [r.to_dict() for r in store] == [r.to_dict() for r in res.runs]
    assert store.nfev == res.nfev and store.n_failed == res.n_failed


def test_memory_per_run_is_a_fraction_of_local_run_objects():
    n, dim = 5_000, 2
    runs = [make_run(i, dim=dim) for i in range(n)]
    store = RunStore.from_runs(runs)
    # About 2 * dim * 8 + 60 bytes a row; spare rows of the last growth at most half again.
    rows = max(store._capacity, store._row_of.size)
    assert store.nbytes / rows <= 2 * dim * 8 + 60
    assert rows <= 1.5 * n + store.block
    one = runs[0]
    per_object = (sys.getsizeof(one) + sys.getsizeof(one.__dict__) + one.x0.nbytes
                  + one.x.nbytes + 2 * sys.getsizeof(one.x) + 3 * sys.getsizeof(1.0))
    assert store.nbytes / n * 3 < per_object


def test_run_batch_survives_pickling_with_every_field():
    """Runs travel from workers to the driver in columns; nothing may change on the way."""
    import pickle

    from engine.results.types import RunBatch

    rng = np.random.default_rng(0)
    runs = [LocalRun(index=int(i), x0=rng.normal(size=3), x=rng.normal(size=3),
                     fun=float("nan") if i % 5 == 0 else float(rng.normal()),
                     nfev=int(i) * 3, nit=int(i), success=i % 5 != 0,
                     message="failed: ValueError: bad" if i % 5 == 0 else "CONVERGENCE",
                     error="ValueError: bad" if i % 5 == 0 else None,
                     time=float(i) / 7, in_bounds=i % 7 != 0)
            for i in rng.permutation(40)]
    batch = RunBatch.pack(runs)
    assert isinstance(batch, RunBatch)
    back = pickle.loads(pickle.dumps(batch)).unpack()
    assert [r.to_dict() for r in back] == [r.to_dict() for r in runs]
    assert len(batch.texts) == 4  # two messages, one error and None: each sent once


def test_run_batch_keeps_runs_of_mixed_shapes_as_a_list():
    from engine.results.types import RunBatch

    runs = [LocalRun(0, np.zeros(2), np.zeros(2), 1.0, 1, 1, True, "ok"),
            LocalRun(1, np.zeros(3), np.zeros(3), 1.0, 1, 1, True, "ok")]
    assert RunBatch.pack(runs) == runs
    assert RunBatch.pack([]) == []
