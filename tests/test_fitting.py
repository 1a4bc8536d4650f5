"""Known-answer tests of the fitting entry points: engine.least_squares and engine.curve_fit."""

from __future__ import annotations

import numpy as np
import pytest
from fitting_problems import PROBLEMS, kowalik, meyer
from scipy.optimize import curve_fit as scipy_curve_fit
from scipy.optimize import least_squares as scipy_least_squares

import engine
from engine.exceptions import ConfigError, ProblemError

T = np.linspace(0.0, 5.0, 40)
DECAY = 2.0 * np.exp(-0.5 * T) + 1.0 * np.exp(-3.0 * T)
DECAY_BOX = [(0, 5), (0, 10), (0, 5), (0, 10)]


def decay_residuals(p):
    return p[0] * np.exp(-p[1] * T) + p[2] * np.exp(-p[3] * T) - DECAY


def decay_jacobian(p):
    return np.column_stack([np.exp(-p[1] * T), -p[0] * T * np.exp(-p[1] * T),
                            np.exp(-p[3] * T), -p[2] * T * np.exp(-p[3] * T)])


def canonical_decay(x):
    """(amplitude, rate) pairs sorted by amplitude: the engine's canonical order."""
    pairs = np.asarray(x).reshape(2, 2)
    return pairs[np.argsort(pairs[:, 0])].ravel()


# ----------------------------------------------------------------------- two exponentials


def test_two_exponential_decay_has_two_labelled_optima_without_symmetries():
    res = engine.least_squares(decay_residuals, DECAY_BOX, n_starts=24, seed=1, client="serial")
    assert res.method == "trf"
    optima = [m for m in res.minima if m.fun < 1e-20]
    assert len(optima) == 2  # (2, 0.5, 1, 3) and (1, 3, 2, 0.5): the same curve
    found = sorted(tuple(np.round(m.x, 7)) for m in optima)
    assert found == [(1.0, 3.0, 2.0, 0.5), (2.0, 0.5, 1.0, 3.0)]
    assert res.fun == pytest.approx(0.0, abs=1e-20)


def test_symmetries_report_each_relabelling_once_with_a_note():
    res = engine.least_squares(decay_residuals, DECAY_BOX, n_starts=24, seed=1, client="serial",
                               symmetries=[[0, 1], [2, 3]])
    optima = [m for m in res.minima if m.fun < 1e-20]
    assert len(optima) == 1
    np.testing.assert_allclose(optima[0].x, [1.0, 3.0, 2.0, 0.5], rtol=1e-8)
    assert "relabelled copy" in optima[0].note and "[0, 1] <-> [2, 3]" in optima[0].note
    copies = int(optima[0].note.split("symmetric: ")[1].split(" of")[0])
    assert 0 < copies < optima[0].n_hits  # both labellings were reached, one reported


def test_a_jacobian_gives_the_same_fit_with_fewer_evaluations():
    plain = engine.least_squares(decay_residuals, DECAY_BOX, n_starts=16, seed=2,
                                 client="serial", symmetries=[[0, 1], [2, 3]])
    exact = engine.least_squares(decay_residuals, DECAY_BOX, n_starts=16, seed=2,
                                 client="serial", symmetries=[[0, 1], [2, 3]],
                                 jac=decay_jacobian)
    np.testing.assert_allclose(exact.x, plain.x, rtol=1e-8)
    # A 2-point Jacobian costs d = 4 residual calls per iteration, counted in nfev.
    assert exact.nfev < 0.5 * plain.nfev


def test_nfev_counts_every_residual_call_finite_differences_included():
    calls = []

    def counted(p):
        calls.append(1)
        return decay_residuals(p)

    res = engine.least_squares(counted, DECAY_BOX, max_evals=1500, seed=3, client="serial",
                               search={"strategy": "mlsl"})
    merge = res.provenance.get("merge", {}).get("evaluations", 0)
    assert len(calls) == res.nfev + merge  # the merge's checks are counted apart
    assert res.nfev <= 1500 + 60  # one solve may finish its Jacobian past the budget
    assert res.stop_reason == "max_evals"
    assert canonical_decay(res.x) == pytest.approx([1.0, 3.0, 2.0, 0.5], rel=1e-6)


def test_budget_stops_a_fit_on_a_cluster_and_a_journal_resumes_it(tmp_path, dask_client):
    journal = tmp_path / "fit.jsonl"
    stopped = []

    def stop_early(state):
        stopped.append(state.n_done)
        return state.n_done >= 10

    first = engine.least_squares(decay_residuals, DECAY_BOX, n_starts=30, seed=4,
                                 client=dask_client, journal=journal, callback=stop_early,
                                 symmetries=[[0, 1], [2, 3]])
    assert first.stop_reason == "callback" and first.n_starts < 30
    resumed = engine.least_squares(decay_residuals, DECAY_BOX, n_starts=30, seed=4,
                                   client=dask_client, journal=journal,
                                   symmetries=[[0, 1], [2, 3]])
    whole = engine.least_squares(decay_residuals, DECAY_BOX, n_starts=30, seed=4,
                                 client="serial", symmetries=[[0, 1], [2, 3]])
    assert resumed.n_starts == whole.n_starts
    np.testing.assert_allclose(resumed.x, whole.x, rtol=1e-9)
    assert [m.n_hits for m in resumed.minima] == [m.n_hits for m in whole.minima]


# ----------------------------------------------------------------------- certified fits


@pytest.mark.parametrize("problem", [p for p in PROBLEMS if p.name in
                                     ("kowalik_osborne", "meyer", "bard", "osborne1",
                                      "jennrich_sampson")], ids=lambda p: p.name)
def test_certified_sum_of_squares_to_the_published_digits(problem):
    res = engine.least_squares(problem.residuals, problem.box(), max_evals=10_000, seed=0,
                               client="serial")
    sum_of_squares = 2 * res.fun
    assert sum_of_squares == pytest.approx(problem.f_star, rel=0.6 * 10.0 ** (1 - problem.digits))
    # The polish: parameters to 6 significant digits of the certified point (Jennrich and
    # Sampson's optimum lies on its symmetry line x0 = x1, across which f is flat to 1e-14:
    # no value comparison can place x closer than about 1e-5 there).
    rtol = 2e-5 if problem.name == "jennrich_sampson" else 2e-6
    np.testing.assert_allclose(res.x, problem.x_star, rtol=rtol, atol=1e-9)


def test_polish_reaches_tighter_than_the_solver_defaults_on_meyer():
    box = next(p for p in PROBLEMS if p.name == "meyer").box()
    reference = scipy_least_squares(meyer, [0.0056, 6181.0, 345.0], xtol=1e-15, ftol=1e-15,
                                    gtol=1e-15, x_scale="jac")
    polished = engine.least_squares(meyer, box, n_starts=40, seed=1, client="serial")
    assert 2 * polished.fun == pytest.approx(2 * reference.cost, rel=1e-9)
    np.testing.assert_allclose(polished.x, reference.x, rtol=1e-7)


def test_rational_model_with_parameters_1e3_apart():
    x = np.linspace(0.1, 10, 25)
    vmax, km = 1500.0, 1.5  # Michaelis-Menten: parameters three orders of magnitude apart
    y = vmax * x / (km + x) + 5.0 * np.sin(7 * x)  # a deterministic misfit: f* > 0

    def model(x, v, k):
        return v * x / (k + x)

    fit = engine.curve_fit(model, x, y, bounds=([0, 0], [1e4, 10]), n_starts=16, seed=0,
                           client="serial")
    reference = scipy_least_squares(lambda p: model(x, *p) - y, [vmax, km], xtol=1e-15,
                                    ftol=1e-15, gtol=1e-15, x_scale="jac")
    np.testing.assert_allclose(fit.popt, reference.x, rtol=1e-9)
    assert fit.sum_of_squares == pytest.approx(2 * reference.cost, rel=1e-10)


# ----------------------------------------------------------------------- curve_fit


def two_gaussians(x, a1, c1, w1, a2, c2, w2):
    return (a1 * np.exp(-0.5 * ((x - c1) / w1) ** 2)
            + a2 * np.exp(-0.5 * ((x - c2) / w2) ** 2))


def test_two_gaussians_with_noise_match_scipy_curve_fit_started_at_the_optimum():
    x = np.linspace(0, 10, 120)
    true = (1.0, 3.0, 0.5, 0.6, 6.5, 0.8)
    y = two_gaussians(x, *true) + np.random.default_rng(5).normal(0, 0.02, x.size)
    box = ([0.1, 0, 0.1, 0.1, 0, 0.1], [2, 10, 2, 2, 10, 2])
    fit = engine.curve_fit(two_gaussians, x, y, bounds=box, symmetries=[[1, 0, 2], [4, 3, 5]],
                           n_starts=32, seed=0, client="serial")
    # Both peaks found, in canonical order (sorted by the first index of a group: the centre).
    np.testing.assert_allclose(fit.popt, true, atol=0.05)
    popt, pcov = scipy_curve_fit(two_gaussians, x, y, p0=fit.popt, bounds=box)
    np.testing.assert_allclose(fit.popt, popt, rtol=1e-6)
    np.testing.assert_allclose(fit.pcov, pcov, rtol=1e-3, atol=1e-12)
    np.testing.assert_allclose(fit.perr, np.sqrt(np.diag(pcov)), rtol=1e-3)
    best = fit.minima[0]
    assert "relabelled copy" in best.note
    # Unpacks like scipy's (popt, pcov).
    p, c = fit
    assert p is fit.popt and c is fit.pcov
    assert fit.dof == x.size - 6 and fit.reduced_chi_square == pytest.approx(
        fit.sum_of_squares / (x.size - 6))


def test_absolute_sigma_gives_the_unscaled_covariance():
    x = np.linspace(0, 1, 30)
    y = 2.0 * x + 1.0 + 0.05 * np.cos(40 * x)
    sigma = np.full(x.size, 0.05)
    fit = engine.curve_fit(lambda x, a, b: a * x + b, x, y, bounds=([-5, -5], [5, 5]),
                           sigma=sigma, absolute_sigma=True, n_starts=4, seed=0,
                           client="serial")
    design = np.column_stack([x, np.ones_like(x)]) / sigma[:, None]
    np.testing.assert_allclose(fit.pcov, np.linalg.inv(design.T @ design), rtol=1e-5)


def test_rank_deficient_fit_names_the_parameters_it_cannot_identify():
    x = np.linspace(0, 1, 20)
    y = 6.0 * x  # only the product a * b is fixed by the data

    fit = engine.curve_fit(lambda x, a, b, c: a * b * x + c, x, y,
                           bounds=([1, 1, -1], [5, 5, 1]), n_starts=8, seed=0, client="serial")
    assert fit.popt[0] * fit.popt[1] == pytest.approx(6.0, rel=1e-8)
    ident = fit.identifiability
    assert ident.rank == 2 and ident.unidentifiable == (0, 1)
    assert "x[0], x[1] not identifiable" in ident.describe()


def test_robust_loss_ignores_an_outlier_and_reports_scipys_cost():
    x = np.linspace(0, 1, 21)
    y = 3.0 * x + 1.0
    y[10] += 5.0  # one outlier

    def residuals(p):
        return p[0] * x + p[1] - y

    res = engine.least_squares(residuals, [(-10, 10), (-10, 10)], loss="soft_l1",
                               f_scale=0.1, n_starts=8, seed=0, client="serial")
    np.testing.assert_allclose(res.x, [3.0, 1.0], atol=0.02)  # linear loss: b off by 0.24
    ref = scipy_least_squares(residuals, res.x, loss="soft_l1", f_scale=0.1, max_nfev=1)
    assert res.fun == pytest.approx(ref.cost, rel=1e-9)


# ----------------------------------------------------------------------- errors


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"method": "lm"}, "method='lm' takes no bounds"),
    ({"method": "lm", "bounded": False, "loss": "huber"}, "method='lm' supports only loss"),
    ({"method": "L-BFGS-B"}, "method='L-BFGS-B' is not a least_squares method"),
    ({"loss": "squared"}, "loss='squared' is not allowed; use one of linear, soft_l1"),
    ({"f_scale": 0}, "f_scale=0 is not allowed; use a positive number"),
    ({"jac": "4-point"}, "jac='4-point' is not allowed"),
    ({"search": {"vectorized": True}}, "vectorized=True is not available for least_squares"),
    ({"options": {"loss": "huber"}}, "options['loss'] is not an option of method='trf'"),
])
def test_bad_arguments_are_named_with_the_fix(kwargs, needle):
    with pytest.raises((ConfigError, ProblemError)) as info:
        engine.least_squares(decay_residuals, DECAY_BOX, n_starts=2, client="serial", **kwargs)
    assert needle in str(info.value)


def test_lm_runs_unbounded_when_asked_and_fails_runs_that_leave_the_box():
    res = engine.least_squares(kowalik, PROBLEMS[0].box(), method="lm", bounded=False,
                               n_starts=16, seed=0, client="serial")
    assert 2 * res.fun == pytest.approx(3.07505e-4, rel=1e-5)
    outside = [r for r in res.runs if not r.in_bounds]
    assert all(not r.success and "outside the bounds" in r.message for r in outside)


def test_a_least_squares_method_in_minimize_points_to_least_squares():
    with pytest.raises(ProblemError, match=r"call engine\.least_squares"):
        engine.minimize(lambda x: float(x @ x), [(-1, 1)] * 2, method="trf", client="serial")


def test_residuals_of_the_wrong_shape_fail_each_start_with_the_reason():
    res = engine.least_squares(lambda p: np.ones((3, 2)) * p[0], [(0, 1)] * 2, n_starts=4,
                               seed=0, client="serial")
    assert res.n_failed == 4 and not res.minima
    assert "residuals have shape (3, 2); return a 1-D array" in res.runs[0].message


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"sigma": np.ones(3)}, "sigma has shape (3,) but ydata has (10,)"),
    ({"sigma": -np.ones(10)}, "sigma holds values <= 0"),
    ({"bounds": ([0, 0, 0], [1, 1, 1])}, "bounds give 3 parameters but the model takes 2"),
])
def test_curve_fit_input_errors(kwargs, needle):
    x = np.linspace(0, 1, 10)
    args = {"bounds": ([0, 0], [1, 1]), **kwargs}
    with pytest.raises(ProblemError) as info:
        engine.curve_fit(lambda x, a, b: a * x + b, x, 2 * x, n_starts=2, client="serial",
                         **args)
    assert needle in str(info.value)


def test_curve_fit_reads_scipy_bounds_and_engine_pairs_alike():
    x = np.linspace(0, 1, 10)
    y = 0.5 * x + 0.25 * x ** 2 + 0.1

    def quad(x, a, b, c):
        return a * x + b * x ** 2 + c

    scipy_form = engine.curve_fit(quad, x, y, bounds=(0, [1, 1, 1]), n_starts=4, seed=0,
                                  client="serial")
    pairs = engine.curve_fit(quad, x, y, bounds=[(0, 1)] * 3, n_starts=4, seed=0,
                             client="serial")
    np.testing.assert_allclose(scipy_form.popt, [0.5, 0.25, 0.1], atol=1e-9)
    np.testing.assert_allclose(pairs.popt, scipy_form.popt, atol=1e-12)
    assert scipy_form.result.spec.lower.tolist() == [0, 0, 0]


# ----------------------------------------------------------------------- diagnostics


def test_diagnose_a_fit_names_unidentifiable_parameters_and_standard_errors():
    x = np.linspace(0, 1, 20)

    def product(p):
        return p[0] * p[1] * x + p[2] - 6.0 * x

    res = engine.least_squares(product, [(1, 5), (1, 5), (-1, 1)], n_starts=8, seed=0,
                               client="serial")
    (fit,) = engine.diagnose(res, product).find("fit")
    assert fit.severity == "warning" and fit.data["unidentifiable"] == [0, 1]
    assert "x[0], x[1] are not identifiable" in fit.message

    y = DECAY + 0.01 * np.cos(5 * T)

    def noisy(p):
        return decay_residuals(p) + DECAY - y

    res = engine.least_squares(noisy, DECAY_BOX, n_starts=16, seed=0, client="serial",
                               symmetries=[[0, 1], [2, 3]])
    (fit,) = engine.diagnose(res, noisy).find("fit")
    assert fit.severity == "info" and fit.data["rank"] == 4
    reference = engine.curve_fit(
        lambda t, a, k, b, q: a * np.exp(-k * t) + b * np.exp(-q * t), T, y,
        bounds=DECAY_BOX, p0=res.x, n_starts=0, client="serial")
    np.testing.assert_allclose(fit.data["standard_errors"], reference.perr, rtol=1e-4)


def test_residual_plot_draws_the_weighted_residuals(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    from engine.analysis.fit_plots import plot_residuals

    x = np.linspace(0, 1, 40)
    fit = engine.curve_fit(lambda x, a, b: a * x + b, x, 2 * x + 0.05 * np.sin(9 * x),
                           bounds=([0, -1], [5, 1]), sigma=np.full(x.size, 0.05),
                           n_starts=2, seed=0, client="serial")
    written = plot_residuals(fit, tmp_path / "residuals", xdata=x)
    assert [p.name for p in written] == ["residuals.png", "residuals.svg"]
    assert imread(written[0]).shape[:2] == (480, 1080)
    svg = written[1].read_text()
    assert "residual / sigma" in svg and f"{x.size} residuals" in svg
    with pytest.raises(ConfigError, match="xdata has shape"):
        plot_residuals(fit, tmp_path / "bad", xdata=x[:5])


def test_args_reach_residuals_and_jacobian_and_x_scale_reaches_the_solver():
    seen = []

    def residuals(p, t, y):
        return p[0] * np.exp(-p[1] * t) - y

    def jacobian(p, t, y):
        seen.append(len(t))
        return np.column_stack([np.exp(-p[1] * t), -p[0] * t * np.exp(-p[1] * t)])

    t = np.linspace(0, 2, 15)
    y = 4.0 * np.exp(-1.25 * t)
    res = engine.least_squares(residuals, [(0, 10), (0, 5)], args=(t, y), jac=jacobian,
                               x_scale=[1.0, 0.5], n_starts=6, seed=0, client="serial")
    np.testing.assert_allclose(res.x, [4.0, 1.25], rtol=1e-10)
    assert seen and set(seen) == {15}
    assert res.spec.local.options["x_scale"] == [1.0, 0.5]
