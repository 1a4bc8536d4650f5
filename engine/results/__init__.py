"""What a run produces: run and minimum records, the result, the run store and the journal.

Nothing here imports from the rest of the engine except :mod:`engine.exceptions`.
"""

from engine.results.types import LocalRun, Minimum, MultistartResult

__all__ = ["LocalRun", "Minimum", "MultistartResult"]
