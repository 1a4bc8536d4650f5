"""Every option is declared once, and everything else is derived from that declaration."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import numpy as np
import pytest
import yaml

import engine
from engine.api import _moved_message
from engine.config import parse_config
from engine.exceptions import ConfigError
from engine.options import (
    GROUPS,
    DedupOptions,
    LocalOptions,
    SearchOptions,
    StartOptions,
    StopOptions,
    declarations,
    default_of,
    fingerprint,
    reference,
)
from engine.search import STRATEGIES, register

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"

#: One value per option that its check must refuse (the declaration test fails for an option
#: added without a bad value here: a new option needs its check shown to work).
BAD_VALUES = {
    "n_starts": -1, "sampler": "sobool", "seed": -3, "x0": "here", "method": "LBFGS",
    "options": [1, 2], "tol": -1.0, "start_timeout": 0, "restarts": -1, "scale": "yes",
    "noisy": 1, "strategy": "mlls", "n_explore": 0, "vectorized": "no", "hops": None,
    "global_phase": "annealing", "global_fraction": 1.5, "polish": 2, "xtol": 1.0,
    "ftol": -1e-6, "max_evals": 0, "max_time": -5, "target": float("nan"),
    "max_discoveries": 0, "bayes": "true", "max_evals_without_improvement": 2.5, "dir": "",
    "runs_csv": "yes", "segment_check": "no",
}


def _all() -> list[tuple[type, dataclasses.Field]]:
    return list(declarations())


@pytest.mark.parametrize(("group", "spec"), _all(), ids=lambda v: getattr(v, "name", ""))
def test_each_option_has_doc_default_and_a_check_that_refuses_a_bad_value(group, spec):
    assert spec.metadata["doc"].strip(), f"{group.section}.{spec.name} has no doc line"
    assert spec.metadata["check"](spec.name, default_of(spec)) is None, "default refused"
    bad = BAD_VALUES[spec.name]
    message = spec.metadata["check"](f"{group.section}.{spec.name}", bad)
    assert message is not None and f"{group.section}.{spec.name}=" in message
    with pytest.raises(ConfigError, match=rf"{group.section}\.{spec.name}="):
        group(**{spec.name: bad})


@pytest.mark.parametrize(("group", "spec"), _all(), ids=lambda v: getattr(v, "name", ""))
def test_each_option_is_a_yaml_key_of_its_section_in_the_documented_config(group, spec):
    raw = yaml.safe_load(QUICKSTART.read_text())
    assert spec.name in (raw.get(group.section) or {}), (
        f"configs/quickstart.yaml does not document {group.section}.{spec.name}")
    text = QUICKSTART.read_text()
    block = text.split(f"\n{group.section}:\n", 1)[1].split(f"\n  {spec.name}:", 1)[0]
    comment = block.rsplit("\n\n", 1)[-1]
    assert "Default" in comment or "default" in comment, (
        f"the comment above {group.section}.{spec.name} does not give its default")


def test_a_bad_yaml_value_is_refused_with_its_section_and_key():
    for group, spec in declarations():
        raw = {"problem": {"objective": "m:f", "bounds": [[0, 1]]},
               group.section: {spec.name: BAD_VALUES[spec.name]}}
        config, problems = parse_config(raw)
        assert config is None
        assert any(f"{group.section}.{spec.name}=" in p for p in problems), problems


def test_minimize_keywords_are_scipy_names_flat_and_the_rest_grouped():
    params = inspect.signature(engine.minimize).parameters
    flat = {spec.name for _, spec in declarations() if spec.metadata["flat"]}
    assert flat <= set(params)
    grouped = {spec.name for g, spec in declarations()
               if not spec.metadata["flat"] and g.section != "output"}
    assert not grouped & set(params), "a grouped option is also a flat keyword"
    assert {"local", "search", "stop", "dedup"} <= set(params)
    scipy_names = {"fun", "bounds", "method", "jac", "hess", "constraints", "options", "tol",
                   "args", "x0", "maximize"}
    assert scipy_names <= set(params)
    assert len(params) <= 28


@pytest.mark.parametrize("name", ["restarts", "xtol", "strategy", "bayes", "noisy"])
def test_an_old_flat_keyword_is_refused_naming_its_new_home(name):
    section = next(g.section for g, s in declarations() if s.name == name)
    with pytest.raises(ConfigError, match=rf"{section}=\{{'{name}'"):
        engine.minimize(lambda x: float(x[0] ** 2), [(-1, 1)], client="serial",
                        **{name: 1})


def test_a_misspelt_keyword_gets_a_hint():
    assert "did you mean 'n_starts'" in _moved_message("n_start")


def test_grouped_options_accept_a_dict_or_an_object_and_give_the_same_run():
    fun = engine.minimize
    common = {"n_starts": 8, "seed": 3, "client": "serial"}
    a = fun(lambda x: float((x[0] ** 2 - 1) ** 2), [(-2, 2)], local={"restarts": 0},
            dedup={"xtol": 1e-3}, **common)
    b = fun(lambda x: float((x[0] ** 2 - 1) ** 2), [(-2, 2)],
            local=LocalOptions(restarts=0), dedup=DedupOptions(xtol=1e-3), **common)
    assert a.spec.local.restarts == b.spec.local.restarts == 0
    assert a.spec.dedup.xtol == b.spec.dedup.xtol == 1e-3
    assert [m.n_hits for m in a.minima] == [m.n_hits for m in b.minima]
    assert a.nfev == b.nfev


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        engine.minimize(lambda x: 0.0, [(0, 1)], n_starts=-1, max_evals=0,
                        search={"strategy": "x", "hops": 3}, dedup={"xtol": 9},
                        client="serial")
    keys = ["n_starts=", "max_evals=", "search.strategy=", "search.hops=", "dedup.xtol="]
    assert all(any(k in p for p in info.value.problems) for k in keys), info.value.problems
    assert len(info.value.problems) == 5


def test_numpy_integers_and_integral_floats_are_plain_ints():
    opts = StartOptions(n_starts=np.int64(5))
    assert opts.n_starts == 5 and type(opts.n_starts) is int
    assert StopOptions(max_evals=1e4).max_evals == 10000
    assert type(StopOptions(max_evals=1e4).max_evals) is int
    with pytest.raises(ConfigError, match=r"max_evals=2\.5"):
        StopOptions(max_evals=2.5)


def test_documented_reference_is_generated_from_the_declarations():
    path = ROOT / "docs" / "options.md"
    assert path.read_text() == reference() + "\n", (
        "docs/options.md is stale: python -c 'import engine.options as o; "
        "print(o.reference())' > docs/options.md")


def test_fingerprint_follows_declared_outcome_options_only():
    base = {g.section: g() for g in GROUPS if g.section != "output"}
    ref = fingerprint({"fun": "m:f"}, base, budget_decides=False)
    for group, spec in declarations():
        if group.section == "output":
            continue
        changed = dict(base)
        changed[group.section] = group(**{spec.name: _other_value(spec)})
        moved = fingerprint({"fun": "m:f"}, changed, budget_decides=False) != ref
        assert moved == spec.metadata["fingerprint"], f"{group.section}.{spec.name}"


def _other_value(spec: dataclasses.Field):
    others = {"n_starts": 7, "sampler": "halton", "seed": 11, "x0": [[0.5]], "method": "TNC",
              "options": {"maxiter": 5}, "tol": 1e-3, "start_timeout": 9.0, "restarts": 3,
              "scale": True, "noisy": True, "strategy": "tiktak", "n_explore": 99,
              "vectorized": True, "hops": False, "global_phase": "direct",
              "global_fraction": 0.5, "polish": False, "xtol": 1e-3, "ftol": 1e-3,
              "max_evals": 500, "max_time": 3.0, "target": -1.0, "max_discoveries": 4,
              "bayes": True, "max_evals_without_improvement": 100,
              "segment_check": False}
    return others[spec.name]


def test_a_registered_strategy_is_an_allowed_value_without_other_edits():
    with pytest.raises(ConfigError, match=r"search\.strategy='corners'"):
        SearchOptions(strategy="corners")

    @register("corners")
    class Corners:
        polishes = False

        def __init__(self, search):
            self.search = search

        def run(self, session, plan, local):
            session.solve([(0, session.problem.lower)], local)
            return "n_starts"

    try:
        assert SearchOptions(strategy="corners").strategy == "corners"
        res = engine.minimize(lambda x: float(x @ x), [(-1, 1)], search={"strategy": "corners"},
                              client="serial")
        assert res.strategy == "corners" and res.n_starts == 1
        assert np.allclose(res.x, [0.0], atol=1e-6)
    finally:
        del STRATEGIES["corners"]


def test_search_stop_and_dedup_are_sections_of_the_yaml_with_the_same_keys():
    for group in (SearchOptions, StopOptions, DedupOptions, LocalOptions):
        assert group.section in yaml.safe_load(QUICKSTART.read_text())
