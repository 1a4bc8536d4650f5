"""The executors in one import: where local solves run.

Each lives in a module of its own: :mod:`engine.parallel.serial` (this process),
:mod:`engine.parallel.dask_executor` (a ``distributed.Client``) and
:mod:`engine.parallel.futures` (any ``concurrent.futures.Executor``); the protocol they share
is :class:`~engine.parallel.base.Executor`.

Examples
--------
>>> sorted(cls.kind for cls in (SerialExecutor, DaskExecutor, FuturesExecutor))
['dask', 'futures', 'serial']
"""

from engine.parallel.base import Executor, Start
from engine.parallel.dask_executor import DaskExecutor
from engine.parallel.futures import FuturesExecutor
from engine.parallel.serial import SerialExecutor

__all__ = ["DaskExecutor", "Executor", "FuturesExecutor", "SerialExecutor", "Start"]
