"""diagnose(): failure causes, scaling, flat regions, gradient and tolerance checks, with
known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from functions import get

import engine
from engine.analysis.compare import compare_methods
from engine.analysis.diagnostics import Diagnosis, diagnose
from engine.options import LocalOptions
from engine.results.types import LocalRun, MultistartResult, RunSpec

HIMMELBLAU = get("himmelblau")
CAMEL = get("six_hump_camel")


@pytest.fixture(scope="module")
def himmelblau_result() -> MultistartResult:
    return engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=32, seed=0,
                           client="serial")


def only(diagnosis: Diagnosis, kind: str):
    found = diagnosis.find(kind)
    assert len(found) == 1, (kind, str(diagnosis))
    return found[0]


# ------------------------------------------------------------------ failure causes


def test_nelder_mead_hitting_maxiter_is_warnflag_2_for_every_run():
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=16, seed=0,
                          client="serial", method="Nelder-Mead", options={"maxiter": 5})
    d = diagnose(res)
    flag = only(d, "warnflag")
    assert flag.severity == "warning"
    counts = {k: flag.data[k] for k in ("warnflag_0", "warnflag_1", "warnflag_2")}
    assert counts == {"warnflag_0": 0, "warnflag_1": 0, "warnflag_2": 16}
    assert "warnflag 2 (maxiter reached) at 16 (iter 5, funcalls" in flag.message
    # fmin's iter and funcalls of the runs, and the limits and tolerances they ran with
    assert flag.data["iter_2"] == [5, 5]
    lo, hi = flag.data["funcalls_2"]
    assert lo == min(r.nfev for r in res.runs) and hi == max(r.nfev for r in res.runs)
    assert flag.data["maxiter"] == 5 and flag.data["maxfev"] is None
    assert flag.data["xatol"] == flag.data["fatol"] == 1e-4  # scipy's defaults
    assert "xtol (xatol)=0.0001, ftol (fatol)=0.0001, maxiter=5" in flag.message
    limit = only(d, "max_iterations")
    assert limit.severity == "warning" and limit.data["count"] == 16
    assert limit.data["max_nit"] == 5
    assert "'maxiter': 50" in limit.fix and "(now 5)" in limit.fix
    assert d.n_failed == 16 and d.method == "Nelder-Mead"


def test_nelder_mead_hitting_maxfev_is_warnflag_1_and_counts_the_converged_rest():
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=16, seed=0,
                          client="serial", method="Nelder-Mead", options={"maxfev": 60})
    n_hit = sum("function evaluations" in r.message for r in res.runs)
    assert 0 < n_hit < 16  # the limit stops some runs but not all
    flag = only(diagnose(res), "warnflag")
    counts = {k: flag.data[k] for k in ("warnflag_0", "warnflag_1", "warnflag_2")}
    assert counts == {"warnflag_0": 16 - n_hit, "warnflag_1": n_hit, "warnflag_2": 0}
    assert flag.data["funcalls_1"][1] <= 60 + 3  # the limit, plus the last simplex step
    assert only(diagnose(res), "max_evaluations").data["count"] == n_hit


def test_nelder_mead_tolerances_come_from_tol_and_a_clean_run_is_a_note():
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=8, seed=0,
                          client="serial", method="Nelder-Mead", tol=1e-6)
    flag = only(diagnose(res), "warnflag")
    assert flag.severity == "info" and flag.fix == ""
    assert flag.data["warnflag_0"] == 8 and flag.data["warnflag_1"] == 0
    assert flag.data["xatol"] == flag.data["fatol"] == 1e-6
    assert flag.data["maxiter"] == flag.data["maxfev"] == 400  # 200 * n, n = 2
    assert flag.data["iter_0"][0] >= 1


def test_nelder_mead_run_that_never_left_its_start_points_to_initial_simplex():
    import dataclasses

    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=4, seed=0,
                          client="serial", method="Nelder-Mead")
    # A run that "converged" where it began, as a tiny first simplex on noise makes it.
    first = res.runs[0]
    stuck = dataclasses.replace(first, x=first.x0.copy(), fun=first.fun + 50.0)
    flag = only(diagnose(dataclasses.replace(res, runs=(stuck, *res.runs[1:]))), "warnflag")
    assert flag.severity == "warning"
    assert flag.data["stuck_at_start"] == [first.index]
    assert "initial_simplex" in flag.fix


def test_lbfgsb_evaluation_limit_names_its_own_option():
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=8, seed=0,
                          client="serial", options={"maxfun": 3})
    d = diagnose(res)
    found = only(d, "max_evaluations")
    assert found.data["count"] == 8
    assert "'maxfun': 30" in found.fix
    assert d.find("warnflag") == []  # fmin's warnflag belongs to Nelder-Mead only


def _raising(x: np.ndarray) -> float:
    # x[1] never moves (the slope is along x[0] only), so each start's fate is known.
    if x[1] > 0.5:
        raise ZeroDivisionError("boom")
    if x[1] < -0.5:
        return float("nan")
    return float(x[0])


def test_exceptions_and_nan_are_counted_by_cause():
    res = engine.minimize(_raising, [(-1, 1), (-1, 1)], n_starts=32, seed=0, client="serial")
    x1 = np.array([r.x0[1] for r in res.runs])
    d = diagnose(res)
    raised = only(d, "exception")
    assert raised.data["type"] == "ZeroDivisionError"
    assert raised.data["count"] == int(np.sum(x1 > 0.5)) > 0
    nan = only(d, "nonfinite")
    assert nan.data["count"] == int(np.sum(x1 < -0.5)) > 0
    assert res.n_failed == raised.data["count"] + nan.data["count"]


def test_points_outside_the_bounds_are_blamed_on_the_method():
    res = engine.minimize(lambda x: float((x[0] - 5.0) ** 2), [(-1, 1)], n_starts=6, seed=0,
                          client="serial", method="BFGS")
    found = only(diagnose(res), "outside_bounds")
    assert found.data["count"] == 6 and "BFGS does not keep iterates" in found.message


def test_every_failure_message_lands_in_its_group():
    def run(i: int, message: str, error: str | None = None, in_bounds: bool = True) -> LocalRun:
        return LocalRun(index=i, x0=np.zeros(2), x=np.zeros(2), fun=np.nan, nfev=7, nit=3,
                        success=False, message=message, error=error, time=2.5,
                        in_bounds=in_bounds)

    runs = (
        run(0, "ABNORMAL_TERMINATION_IN_LNSRCH"),
        run(1, "Desired error not necessarily achieved due to precision loss."),
        run(2, "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT"),
        run(3, "Iteration limit reached"),
        run(4, "failed: TimeoutError: start_timeout reached", "TimeoutError: start_timeout "
            "reached"),
        run(5, "failed: ValueError: objective returned inf at x=[0, 0]",
            "ValueError: objective returned inf at x=[0, 0]"),
        run(6, "failed: KeyError: 'a'", "KeyError: 'a'"),
        run(7, "failed: KeyError: 'b'", "KeyError: 'b'"),
        run(8, "converged outside the bounds (Optimization terminated successfully.)",
            in_bounds=False),
        run(9, "Inequality constraints incompatible"),
    )
    res = MultistartResult(x=None, fun=np.nan, minima=(), runs=runs, n_starts=10, nfev=70,
                           n_failed=10, wall_time=1.0, stop_reason="n_starts", success=False,
                           message="",
                           spec=RunSpec(lower=np.zeros(2), upper=np.ones(2),
                                        local=LocalOptions(method="SLSQP")))
    counts = {(f.kind, f.data.get("type")): f.data["count"] for f in diagnose(res).findings}
    assert counts == {
        ("line_search", None): 2, ("max_evaluations", None): 1, ("max_iterations", None): 1,
        ("timeout", None): 1, ("nonfinite", None): 1, ("exception", "KeyError"): 2,
        ("outside_bounds", None): 1, ("other_failure", None): 1,
    }
    assert sum(counts.values()) == res.n_failed


# ------------------------------------------------------------------ scaling and flatness


def test_bounds_a_thousand_fold_apart_are_badly_scaled(himmelblau_result):
    import dataclasses

    res = engine.minimize(lambda x: float((x[0] - 5e-4) ** 2 * 1e6 + (x[1] - 3) ** 2),
                          [(0, 1e-3), (0, 10)], n_starts=8, seed=0, client="serial")
    # Solved in the user's units by choice: a warning with the fix.
    raw = dataclasses.replace(res, spec=dataclasses.replace(
        res.spec, scaled=False, local=dataclasses.replace(res.spec.local, scale=False)))
    found = only(diagnose(raw), "badly_scaled")
    assert found.severity == "warning"
    assert found.data["ratio"] == pytest.approx(1e4)
    assert "x0 spans 0.001, x1 spans 10" in found.message
    assert "local={'scale': True}" in found.fix
    # Solved in the unit box: noted, nothing to do.
    unit = dataclasses.replace(res, spec=dataclasses.replace(res.spec, scaled=True))
    note = only(diagnose(unit), "badly_scaled")
    assert note.severity == "info" and note.fix == ""
    assert diagnose(himmelblau_result).find("badly_scaled") == []
    # Left to the engine, which measured the unit box worse: a note, with what to compare.
    auto = dataclasses.replace(res, spec=dataclasses.replace(res.spec, scaled=False))
    kept = only(diagnose(auto), "badly_scaled")
    assert kept.severity == "info" and "local={'scale': True}" in kept.fix


def _arctan(x: np.ndarray) -> float:
    return float(np.arctan(x[0]))


@pytest.fixture(scope="module")
def plateau_result() -> MultistartResult:
    # Far out, the slope 1/(1 + x^2) is below L-BFGS-B's tolerance: runs stop where they start
    # (in the user's units; the unit box, the default for a box this wide, sees a slope 2000
    # times steeper).
    return engine.minimize(_arctan, [(-1000, 1000)], n_starts=32, seed=0, client="serial",
                           local={"scale": False})


def test_arctan_plateau_is_flagged_as_flat(plateau_result):
    found = only(diagnose(plateau_result), "flat_region")
    assert found.severity == "warning"
    assert found.data["evidence"] == "unrepeated_ends"
    assert found.data["share"] > 0.9


def test_arctan_plateau_with_fun_finds_the_slope_the_solver_missed(plateau_result):
    found = only(diagnose(plateau_result, fun=_arctan), "flat_region")
    assert found.severity == "warning"
    assert found.data["probe_slope"] == 10  # every probed end point can still descend
    assert "stopped on a slope" in found.message


def _flat_disk(x: np.ndarray) -> float:
    return float(max(0.0, x @ x - 1.0) ** 2)


def test_a_disk_of_equal_minima_is_one_flat_region_when_fun_confirms_it():
    # The minima as the solver left them (the segment check would report them as one
    # degenerate minimum, see test_a_disk_of_equal_minima_is_one_degenerate_minimum).
    res = engine.minimize(_flat_disk, [(-3, 3), (-3, 3)], n_starts=32, seed=0,
                          client="serial", dedup={"segment_check": False})
    found = [f for f in diagnose(res, fun=_flat_disk).findings if f.kind == "flat_region"]
    equal = [f for f in found if f.data["evidence"] == "equal_minima"]
    assert len(equal) == 1 and equal[0].severity == "warning"
    assert equal[0].data["midpoints_flat"] == equal[0].data["midpoints_checked"] > 0


def test_a_disk_of_equal_minima_is_one_degenerate_minimum():
    res = engine.minimize(_flat_disk, [(-3, 3), (-3, 3)], n_starts=32, seed=0,
                          client="serial")
    assert len(res.minima) == 1 and res.minima[0].note.startswith("degenerate")
    assert res.minima[0].n_hits == res.n_starts - res.n_failed


def test_symmetric_minima_are_not_a_plateau_once_fun_is_known(himmelblau_result):
    assert len(himmelblau_result.minima) == 4  # four minima with f = 0
    without = only(diagnose(himmelblau_result), "flat_region")
    assert without.severity == "info" and without.data["count"] == 4
    assert diagnose(himmelblau_result, fun=HIMMELBLAU.fun).find("flat_region") == []


def test_many_genuine_minima_are_told_apart_from_a_plateau():
    prob = get("rastrigin")
    res = engine.minimize(prob.fun, prob.bounds, n_starts=64, seed=0, client="serial")
    found = only(diagnose(res, fun=prob.fun), "flat_region")
    assert found.severity == "info"
    assert found.data["probe_slope"] == 0 and found.data["probe_rise"] == 10
    assert "more starts" in found.fix


# ------------------------------------------------------------------ checks that call fun


def test_a_wrong_gradient_is_flagged_and_the_right_one_is_not(himmelblau_result):
    right = only(diagnose(himmelblau_result, fun=HIMMELBLAU.fun, jac=HIMMELBLAU.jac),
                 "gradient_check")
    assert right.severity == "info" and right.data["relative_error"] < 1e-5

    def doubled_first_component(x: np.ndarray) -> np.ndarray:
        return HIMMELBLAU.jac(x) * np.array([2.0, 1.0])

    wrong = only(diagnose(himmelblau_result, fun=HIMMELBLAU.fun, jac=doubled_first_component),
                 "gradient_check")
    assert wrong.severity == "warning"
    assert 0.1 < wrong.data["relative_error"] < 1.0
    assert "disagrees" in wrong.message


def test_gradient_returned_with_the_value_is_checked_too(himmelblau_result):
    def fun_and_bad_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        return HIMMELBLAU.fun(x), -HIMMELBLAU.jac(x)

    found = only(diagnose(himmelblau_result, fun=fun_and_bad_grad, jac=True), "gradient_check")
    assert found.severity == "warning"
    assert found.data["relative_error"] == pytest.approx(2.0, rel=1e-4)  # |g - (-g)| = 2|g|


def test_loose_solves_move_when_tightened_and_tight_ones_do_not(himmelblau_result):
    tight = only(diagnose(himmelblau_result, fun=HIMMELBLAU.fun), "tolerance")
    assert tight.severity == "info"
    assert max(m["dx"] for m in tight.data["moves"]) < 1e-6
    loose = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=16, seed=0,
                            client="serial", method="Nelder-Mead",
                            options={"xatol": 1e-2, "fatol": 1e-2})
    found = only(diagnose(loose, fun=HIMMELBLAU.fun), "tolerance")
    assert found.severity == "warning"
    assert max(m["dx"] for m in found.data["moves"]) > found.data["xtol"] == 1e-4


def test_solver_step_tolerance_looser_than_dedup_xtol_is_flagged():
    # Nelder-Mead stopping on steps of 0.5 (5% of the box) ends each run somewhere in a
    # 0.5-wide patch: dedup at xtol=1e-4 then splits Himmelblau's 4 minima into many.
    loose = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=16, seed=0,
                            client="serial", method="Nelder-Mead", options={"xatol": 0.5},
                            dedup={"segment_check": False})
    assert len(loose.minima) > 4
    found = only(diagnose(loose, fun=HIMMELBLAU.fun), "tolerance")
    assert found.severity == "warning" and "xatol" in found.message
    assert found.data["solver_xtol"] == pytest.approx(0.05)
    assert "loosen the dedup xtol" in found.fix


@pytest.mark.parametrize("method", ["Powell", "Nelder-Mead", "L-BFGS-B"])
def test_resolving_converged_minima_keeps_them_in_place(method):
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=16, seed=0,
                          client="serial", method=method)
    found = only(diagnose(res, fun=HIMMELBLAU.fun), "tolerance")
    assert found.severity == "info", found.message


def test_resolving_with_an_initial_simplex_starts_at_each_minimum():
    # scipy ignores x0 when given initial_simplex: re-solving every minimum from the user's
    # simplex as given would send them all to one point and report false moves.
    simplex = [[-4.5, -4.5], [-4.0, -4.5], [-4.5, -4.0]]
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=16, seed=0,
                          client="serial", method="Nelder-Mead",
                          options={"initial_simplex": simplex})
    assert len(res.minima) == 4
    found = only(diagnose(res, fun=HIMMELBLAU.fun), "tolerance")
    assert max(m["dx"] for m in found.data["moves"]) < 1e-2, found.data["moves"]


# ------------------------------------------------------------------ the report itself


def test_report_text_dict_and_the_result_method_agree(himmelblau_result):
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=16, seed=0,
                          client="serial", method="Nelder-Mead", options={"maxiter": 5})
    d = diagnose(res)
    text = str(d)
    assert text.splitlines()[0] == ("Diagnosis of 16 runs (Nelder-Mead, 16 failed): "
                                    "2 warnings, 0 notes")
    assert "[warning] warnflag:" in text and "    fix: raise" in text
    data = json.loads(json.dumps(d.to_dict()))
    assert [f["kind"] for f in data["findings"]] == d.kinds
    assert engine.diagnose(res).kinds == d.kinds
    loaded = MultistartResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert diagnose(loaded).to_dict() == d.to_dict()
    assert str(diagnose(himmelblau_result, fun=HIMMELBLAU.fun)).count("[warning]") == 0


# ------------------------------------------------------------------ compare_methods


def test_compare_methods_same_starts_same_best_different_costs():
    table = compare_methods(CAMEL.fun, CAMEL.bounds, methods=("L-BFGS-B", "Nelder-Mead"),
                            n_starts=32, seed=0)
    lbfgsb, nm = table.rows
    assert (lbfgsb.method, nm.method) == ("L-BFGS-B", "Nelder-Mead")
    assert round(lbfgsb.best, 4) == round(nm.best, 4) == -1.0316
    assert lbfgsb.nfev_total > 0 and nm.nfev_total > 0
    assert lbfgsb.nfev_total != nm.nfev_total
    assert lbfgsb.nfev_mean == pytest.approx(lbfgsb.nfev_total / 32)
    starts = [np.array([r.x0 for r in table.results[m].runs]) for m in ("L-BFGS-B",
                                                                          "Nelder-Mead")]
    assert np.array_equal(starts[0], starts[1])
    frame = table.to_frame()
    assert list(frame["method"]) == ["L-BFGS-B", "Nelder-Mead"]
    lines = str(table).splitlines()
    assert lines[1].split()[:3] == ["method", "success", "nfev/start"]
    assert len({len(line) for line in lines[1:]}) == 1  # aligned columns
    with pytest.raises(engine.ProblemError, match="not a scipy"):
        compare_methods(CAMEL.fun, CAMEL.bounds, methods=("L-BFGS-B", "nope"))
    with pytest.raises(engine.ConfigError, match="x0") as bad:
        compare_methods(CAMEL.fun, CAMEL.bounds, x0=[0.0, 0.0])
    assert "drop those keyword arguments" in str(bad.value)


def test_powell_minimum_on_a_bound_resolves_in_place():
    def on_edge(x):
        return float(np.sum(x) + 0.1 * np.sum((x - 0.5) ** 2))

    res = engine.minimize(on_edge, [(0, 1), (0, 1)], n_starts=8, seed=0, client="serial",
                          method="Powell")
    found = only(diagnose(res, fun=on_edge), "tolerance")
    # The re-solve stays at the corner (it does not run off past the bound).
    assert max(m["dx"] for m in found.data["moves"]) < 1e-3, found.message
    assert all(np.all((m["x"] >= 0) & (m["x"] <= 1)) for m in found.data["moves"])


def test_a_maximization_with_the_gradient_returned_with_the_value_resolves_in_place():
    def negated_pair(x: np.ndarray) -> tuple[float, np.ndarray]:
        return -HIMMELBLAU.fun(x), -HIMMELBLAU.jac(x)

    res = engine.minimize(negated_pair, HIMMELBLAU.bounds, jac=True, maximize=True,
                          n_starts=16, seed=0, client="serial")
    assert res.n_failed == 0 and len(res.minima) == 4
    d = diagnose(res, fun=negated_pair, jac=True)
    assert only(d, "gradient_check").severity == "info"
    found = only(d, "tolerance")
    assert found.severity == "info", found.message
    assert max(m["dx"] for m in found.data["moves"]) < 1e-6
    assert all(m["f"] == pytest.approx(0.0, abs=1e-9) for m in found.data["moves"])


def test_a_re_solve_that_fails_says_why():
    res = engine.minimize(HIMMELBLAU.fun, HIMMELBLAU.bounds, n_starts=8, seed=0,
                          client="serial")

    def none_near_the_minima(x: np.ndarray):
        return None if HIMMELBLAU.fun(x) < 1.0 else HIMMELBLAU.fun(x)

    found = only(diagnose(res, fun=none_near_the_minima), "tolerance")
    assert found.message == ("could not re-solve minimum 1: ValueError: objective returned "
                             "None, not a scalar")
