"""Input checks on problems: every bad value gives a clear EngineError naming it."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.optimize import Bounds, rosen, rosen_der, rosen_hess

import engine
from engine.exceptions import ConfigError, EngineError, ProblemError
from engine.problem import load_callable, normalize_bounds


def quad(x):
    return float(np.sum(x**2))


@pytest.mark.parametrize(
    ("bounds", "needle"),
    [
        ([(1, -1)], "low >= high"),
        ([(0, 1), (2, 2)], "bounds[1]=(2.0, 2.0) has low >= high"),
        ([(0, float("nan"))], "not finite"),
        ([(-np.inf, 1)], "not finite"),
        ([(0, 1, 2)], "expected (n_variables, 2)"),
        ([], "empty"),
        (None, "bounds is required"),
        ([("a", 1)], "not a sequence of numeric"),
    ],
)
def test_bad_bounds_are_refused_with_the_reason(bounds, needle):
    with pytest.raises(ProblemError) as info:
        engine.minimize(quad, bounds, client="serial")
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_scipy_bounds_object_is_accepted():
    lo, hi = normalize_bounds(Bounds([-1, -2], [1, 2]))
    assert lo.tolist() == [-1, -2] and hi.tolist() == [1, 2]


def test_wrong_x0_dimension_names_both_sizes():
    with pytest.raises(ConfigError, match=r"x0 has shape \(3,\) but the problem has 2"):
        engine.minimize(quad, [(-1, 1), (-1, 1)], x0=[0, 0, 0], client="serial")


def test_x0_outside_bounds_is_refused():
    with pytest.raises(ProblemError, match=r"x0\[0\]=\[5.0, 0.0\] lies outside the bounds"):
        engine.minimize(quad, [(-1, 1), (-1, 1)], x0=[5, 0], client="serial")


def test_unknown_method_lists_the_allowed_ones():
    with pytest.raises(ConfigError) as info:
        engine.minimize(quad, [(-1, 1)], method="LBFGS", client="serial")
    assert "method='LBFGS' is unknown" in str(info.value)
    assert "L-BFGS-B" in str(info.value) and "trust-krylov" in str(info.value)


def test_unknown_sampler_lists_the_allowed_ones():
    with pytest.raises(ConfigError, match="sampler='sobel' is unknown; allowed: sobol"):
        engine.minimize(quad, [(-1, 1)], sampler="sobel", client="serial")


@pytest.mark.parametrize("method", ["Newton-CG", "dogleg", "trust-ncg", "trust-exact",
                                    "trust-krylov"])
def test_method_needing_jac_without_it_fails_before_any_work(method):
    calls = []

    def counted(x):
        calls.append(1)
        return rosen(x)

    with pytest.raises(ProblemError, match=f"method='{method}' needs the gradient: pass jac="):
        engine.minimize(counted, [(-2, 2), (-2, 2)], method=method, client="serial")
    assert calls == []


def test_method_needing_hess_without_it_says_so():
    with pytest.raises(ProblemError, match="method='dogleg' needs the Hessian"):
        engine.minimize(rosen, [(-2, 2)] * 2, method="dogleg", jac=rosen_der, client="serial")


def test_constraints_with_a_method_that_cannot_take_them():
    con = {"type": "ineq", "fun": lambda x: 1 - x[0]}
    with pytest.raises(ProblemError, match="cannot handle constraints; use one of: COBYLA"):
        engine.minimize(quad, [(-1, 1)], constraints=con, method="BFGS", client="serial")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"n_starts": -1}, "n_starts=-1"),
        ({"dedup": {"xtol": 0}}, "dedup.xtol=0"),
        ({"dedup": {"ftol": -1}}, "dedup.ftol=-1"),
        ({"max_evals": 0}, "max_evals=0"),
        ({"max_time": -2}, "max_time=-2"),
        ({"seed": -3}, "seed=-3"),
        ({"seed": 1.5}, "seed=1.5"),
        ({"options": [1]}, "options=[1]"),
    ],
)
def test_bad_scalar_options_name_the_argument(kwargs, needle):
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        engine.minimize(quad, [(-1, 1)], client="serial", **kwargs)


def test_several_bad_options_are_reported_together():
    with pytest.raises(ConfigError) as info:
        engine.minimize(quad, [(-1, 1)], max_evals=0, client="serial", dedup={"xtol": 2})
    assert len(info.value.problems) == 2


def test_fun_not_callable():
    with pytest.raises(ProblemError, match="fun=3 is not callable"):
        engine.minimize(3, [(-1, 1)], client="serial")


def test_bad_client_value():
    with pytest.raises(EngineError, match="client='local' is not allowed"):
        engine.minimize(quad, [(-1, 1)], client="local")


def test_load_callable_forms_and_errors(tmp_path):
    assert load_callable("math:sqrt")(4.0) == 2.0
    mod = tmp_path / "objs.py"
    mod.write_text("def f(x):\n    return float(x[0] ** 2)\n")
    assert load_callable("objs.py:f", base_dir=tmp_path)(np.array([3.0])) == 9.0
    with pytest.raises(ProblemError, match="is not of the form"):
        load_callable("objs.py")
    with pytest.raises(ProblemError, match="has no attribute 'g'; it defines: f"):
        load_callable("objs.py:g", base_dir=tmp_path)
    with pytest.raises(ProblemError, match=r"file 'missing\.py' not found"):
        load_callable("missing.py:f", base_dir=tmp_path)
    with pytest.raises(ProblemError, match="module 'no_such_mod_xyz' cannot be imported"):
        load_callable("no_such_mod_xyz:f")


def test_newton_and_trust_methods_run_with_jac_and_hess():
    for method in ["Newton-CG", "dogleg", "trust-ncg", "trust-exact", "trust-krylov"]:
        res = engine.minimize(rosen, [(-2, 2), (-2, 2)], method=method, jac=rosen_der,
                              hess=rosen_hess, n_starts=4, seed=0, client="serial")
        assert res.fun == pytest.approx(0.0, abs=1e-8), method


# ---------------------------------------------------------------- what a config may import


def marker_module(folder, name: str, body: str = "def f(x):\n    return float(x[0] ** 2)\n"):
    """A module that leaves ``<name>.imported`` behind when it is imported."""
    (folder / f"{name}.py").write_text(
        "from pathlib import Path\n"
        f"Path(__file__).with_name({name + '.imported'!r}).touch()\n" + body)


def test_config_imports_its_objective_file_and_nothing_beside_it(tmp_path):
    import sys

    import yaml

    marker_module(tmp_path, "objectives")
    for shadow in ("json", "numpy_helpers", "evil"):  # would shadow or tempt an import
        marker_module(tmp_path, shadow)
    config = {"problem": {"objective": "objectives.py:f", "bounds": [[-1, 1]],
                          "args": [], "jac": "2-point"},
              "starts": {"n_starts": 2, "sampler": "sobol"},
              "cluster": {"kind": "serial"}, "output": {"dir": str(tmp_path / "out")}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    before = list(sys.path)
    problem = engine.api.check_config(engine.load_config(path))
    assert problem.fun(np.array([3.0])) == 9.0
    assert (tmp_path / "objectives.imported").exists()
    assert sorted(p.name for p in tmp_path.glob("*.imported")) == ["objectives.imported"]
    assert sys.path == before  # the config's folder is not made importable


def test_module_name_is_not_looked_up_in_the_config_folder(tmp_path):
    marker_module(tmp_path, "localobjs")
    with pytest.raises(ProblemError, match="module 'localobjs' cannot be imported"):
        load_callable("localobjs:f", base_dir=tmp_path)
    assert not (tmp_path / "localobjs.imported").exists()
    # Named as a path, the same file is what the user asked for.
    assert load_callable("localobjs.py:f", base_dir=tmp_path)(np.array([2.0])) == 4.0


@pytest.mark.parametrize(("spec", "needle"), [
    ("math:__class__", "'__class__' is not allowed in the attribute path"),
    ("math:sqrt.__self__", "'__self__' is not allowed"),
    ("os:_exit", "'_exit' is not allowed"),
    (".relative:f", "'.relative' is not a module name"),
    ("a b:f", "'a b' is not a module name"),
    ("math:sq rt", "'sq rt' is not allowed"),
    ("math:pi", "names float object, not a callable"),
])
def test_specs_reaching_past_a_public_function_are_refused(spec, needle):
    with pytest.raises(ProblemError, match=re.escape(needle)):
        load_callable(spec, key="problem.objective")


def test_module_failing_on_import_is_a_problem_error_naming_it(tmp_path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('no licence server')\n")
    with pytest.raises(ProblemError, match=r"importing .*broken\.py failed with RuntimeError"):
        load_callable("broken.py:f", base_dir=tmp_path)


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"bounds": [(-1e308, 1e308)]}, "wider than the largest float"),
    ({"bounds": Bounds(np.zeros((1, 2)), np.ones((1, 2)))}, "must be 1-D"),
    ({"bounds": [(0, 10**400)]}, "not a sequence of numeric"),
    ({"maximize": "false"}, "maximize='false' is not allowed"),
    ({"jac": np.array([1.0, 2.0])}, "jac=array"),
    ({"jac": 1}, "jac=1 is not allowed"),
    ({"constraints": np.array([1, 2])}, "constraints=array"),
])
def test_problem_create_refuses_values_numpy_would_choke_on(kwargs, needle):
    args = {"bounds": [(-1, 1), (-1, 1)], **kwargs}
    bounds = args.pop("bounds")
    with pytest.raises(ProblemError, match=re.escape(needle)):
        engine.problem.Problem.create(quad, bounds, **args)


def test_two_objective_files_of_the_same_name_stay_apart(tmp_path):
    # Same file name, same last folders, different places: each config gets its own module.
    paths = []
    for root, value in (("a", 1.0), ("b", 2.0)):
        folder = tmp_path / root / "x" / "y"
        folder.mkdir(parents=True)
        (folder / "obj.py").write_text(f"def f(x):\n    return {value}\n")
        paths.append(folder / "obj.py")
    first, second = (load_callable(f"{p}:f") for p in paths)
    assert first([0.0]) == 1.0 and second([0.0]) == 2.0
