"""How a result was solved, as the analysis functions read it back from its ``spec``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.options import LocalOptions
from engine.results.types import MultistartResult


@dataclass(frozen=True)
class RunSettings:
    """What a result's :class:`~engine.results.types.RunSpec` says about how it was solved,
    with neutral values for a result built without one (bounds then unknown)."""

    bounds: np.ndarray | None = None
    method: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    tol: float | None = None
    scaled: bool = False
    restarts: int = 1
    xtol: float = 1e-4
    ftol: float = 1e-6

    @classmethod
    def of(cls, result: MultistartResult) -> RunSettings:
        """The settings of ``result`` (its ``spec``)."""
        spec = result.spec
        if spec is None:
            return cls()
        return cls(bounds=spec.bounds, method=spec.method, options=dict(spec.local.options),
                   tol=spec.local.tol, scaled=spec.scaled, restarts=spec.local.restarts,
                   xtol=spec.xtol, ftol=spec.ftol)


    def local_options(self) -> LocalOptions:
        """The local options the runs were solved with (L-BFGS-B when not recorded)."""
        return LocalOptions(method=self.method or "L-BFGS-B", options=dict(self.options),
                            tol=self.tol, restarts=self.restarts, scale=self.scaled)
