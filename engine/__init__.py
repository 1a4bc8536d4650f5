"""multistart-engine: find the distinct minima of a bounded problem from many starts.

Examples
--------
>>> import engine
>>> res = engine.minimize(lambda x: (x[0] ** 2 - 1) ** 2, [(-2, 2)], seed=1, client="serial")
>>> sorted(round(float(m.x[0]), 6) for m in res.minima)
[-1.0, 1.0]
"""

from engine.analysis.compare import compare_methods
from engine.analysis.diagnostics import diagnose
from engine.api import minimize, run_config
from engine.config import RunConfig, load_config
from engine.exceptions import ClusterError, ConfigError, EngineError, JournalError, ProblemError
from engine.fitting.api import CurveFit, curve_fit, least_squares
from engine.options import DedupOptions, LocalOptions, SearchOptions, StartOptions, StopOptions
from engine.parallel.clusters import local_client
from engine.results import LocalRun, Minimum, MultistartResult
from engine.results.history import RunHistory, load
from engine.results.types import RunSpec

__all__ = [
    "ClusterError",
    "ConfigError",
    "CurveFit",
    "DedupOptions",
    "EngineError",
    "JournalError",
    "LocalOptions",
    "LocalRun",
    "Minimum",
    "MultistartResult",
    "ProblemError",
    "RunConfig",
    "RunHistory",
    "RunSpec",
    "SearchOptions",
    "StartOptions",
    "StopOptions",
    "compare_methods",
    "curve_fit",
    "diagnose",
    "least_squares",
    "load",
    "load_config",
    "local_client",
    "minimize",
    "run_config",
]
__version__ = "0.1.0"
