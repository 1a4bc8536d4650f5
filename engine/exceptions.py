"""Exception types raised by the engine.

Every error the engine raises on purpose derives from :class:`EngineError`, so callers can
catch one type. The subclasses also derive from the built-in type a Python user would expect
(``ValueError`` for bad input, ``RuntimeError`` for cluster trouble).
"""

from __future__ import annotations


class EngineError(Exception):
    """Root of every error raised by the engine."""


class ConfigError(EngineError, ValueError):
    """A run option or a YAML config is invalid.

    The message lists every problem found, one per line, each naming the key, the bad value,
    what is allowed and how to fix it.
    """

    def __init__(self, problems: list[str] | str, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"invalid configuration in {source}" if source else "invalid options"
        if len(self.problems) == 1:
            text = f"{head}: {self.problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            text = f"{head} ({len(self.problems)} problems):\n{lines}"
        super().__init__(text)


class ProblemError(EngineError, ValueError):
    """The optimization problem itself is unusable (objective, bounds, x0, jac, ...)."""


class ClusterError(EngineError, RuntimeError):
    """A Dask cluster could not be started, reached, or used."""


class JournalError(EngineError, RuntimeError):
    """A run journal cannot be used (different problem, unreadable, not writable)."""
