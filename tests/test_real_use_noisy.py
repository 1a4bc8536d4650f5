"""``local={"noisy": True}`` alone on a noisy objective: tolerances at the noise level."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from examples.noisy_objective import BOUNDS, NoisyHimmelblau

HIMMELBLAU_MINIMA = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186],
                              [3.584428, -1.848126]])


def himmelblau(x):
    return float((x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2)


def assert_four_minima(res, atol):
    found = np.array([m.x for m in res.minima])
    assert len(found) == 4, found
    for known in HIMMELBLAU_MINIMA:
        assert np.min(np.max(np.abs(found - known), axis=1)) < atol, (known, found)


@pytest.mark.parametrize("seed", [0, 1])
def test_noisy_himmelblau_finds_the_four_minima_with_noisy_alone(seed):
    res = engine.minimize(NoisyHimmelblau(seed=seed), BOUNDS, n_starts=48, seed=seed,
                          client="serial", local={"noisy": True})
    assert res.method == "Nelder-Mead"
    assert res.n_failed == 0
    assert res.x is not None and res.fun < 0.01
    assert_four_minima(res, 1e-2)
    assert "noise sigma" in res.spec.method_reason
    # The estimate is within a factor 2 of the true noise 1e-3, and sets the tolerances.
    assert 5e-4 < res.spec.dedup.ftol / 5 < 2e-3
    assert res.spec.local.options["fatol"] == res.spec.dedup.ftol


def test_noise_free_objective_with_noisy_keeps_exact_minima():
    res = engine.minimize(himmelblau, BOUNDS, n_starts=32, seed=0, client="serial",
                          local={"noisy": True})
    assert "noise sigma 0 " in res.spec.method_reason
    assert res.spec.local.options == {}
    assert res.spec.dedup == engine.DedupOptions()
    assert res.n_failed == 0
    assert_four_minima(res, 1e-3)
    assert res.fun < 1e-6


def test_tolerances_the_user_gave_are_kept():
    res = engine.minimize(NoisyHimmelblau(), BOUNDS, n_starts=16, seed=0, client="serial",
                          options={"fatol": 0.02}, local={"noisy": True},
                          dedup={"xtol": 0.05})
    assert res.spec.local.options["fatol"] == 0.02
    assert res.spec.dedup.xtol == 0.05
    assert res.spec.dedup.ftol > 1e-6


class NoisyTwoHimmelblaus:
    """Himmelblau in (x0, x1) plus Himmelblau in (x2, x3): 16 minima, all at f = 0."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, x):
        return himmelblau(x[:2]) + himmelblau(x[2:]) + 1e-3 * float(self.rng.standard_normal())


def test_noisy_in_four_variables_powell_finds_the_sixteen_minima():
    res = engine.minimize(NoisyTwoHimmelblaus(), [(-5, 5)] * 4, n_starts=64, seed=0,
                          client="serial", local={"noisy": True})
    assert res.method == "Powell"
    assert res.n_failed == 0 and len(res.minima) == 16
    assert res.fun < 0.01


COUNTED = '''
import numpy as np

calls = []

def noisy_bowl(x):
    calls.append(1)
    rng = np.random.default_rng(len(calls))
    return float((x[0] - 0.3) ** 2 + (x[1] + 0.2) ** 2 + 1e-6 * rng.normal())
'''


def test_the_command_line_measures_the_noise_once(tmp_path):
    import yaml

    from engine.cli import main
    from engine.problem import load_callable

    (tmp_path / "counted.py").write_text(COUNTED)
    config = {"problem": {"objective": "counted.py:noisy_bowl", "bounds": [[-1, 1], [-1, 1]]},
              "local": {"noisy": True}, "starts": {"n_starts": 6, "seed": 0},
              "dedup": {"segment_check": False}, "cluster": {"kind": "serial"},
              "output": {"dir": str(tmp_path / "out")}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    assert main(["run", str(tmp_path / "run.yaml"), "--quiet"]) == 0
    calls = load_callable(f"{tmp_path / 'counted.py'}:noisy_bowl").__globals__["calls"]
    nfev = engine.MultistartResult.load(tmp_path / "out").nfev
    # The run's evaluations plus one noise estimate of 40 (it was made twice: 80).
    assert len(calls) == nfev + 40
