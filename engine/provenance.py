"""Which code a run ran: the objective's source file hash, its body and its package's version.

The run fingerprint names the objective by more than ``"m.py:f"``: an objective whose file
was edited between a run and its ``--resume`` would otherwise have the new function's runs
mixed with the old one's (a false minimum). The function's own body is hashed too, for the
objectives whose file says nothing: a notebook cell's (no file), or two lambdas of one file.
:func:`code_identity` is what enters the fingerprint and the provenance.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import inspect
import sys
import types
from collections.abc import Iterator
from typing import Any

#: Bytes of a source file read for its hash (a larger file is hashed up to there).
MAX_SOURCE_BYTES = 64 * 1024 * 1024


def user_callable(fun: Any) -> Any:
    """The user's function inside a callable object that wraps it (a residual model's
    ``fun``/``model``, a ``functools.partial``'s ``func``), else ``fun`` itself.

    Examples
    --------
    >>> import functools, math
    >>> user_callable(functools.partial(math.pow, 2)) is math.pow
    True
    """
    for _ in range(4):
        if inspect.isfunction(fun) or inspect.isbuiltin(fun) or inspect.ismethod(fun):
            return fun
        inner = next((getattr(fun, name) for name in ("fun", "model", "func")
                      if callable(getattr(fun, name, None))), None)
        if inner is None:
            return fun
        fun = inner
    return fun


def _source_file(fun: Any) -> str | None:
    """The file defining ``fun`` (its class's for a callable object), or None."""
    target = inspect.unwrap(fun) if callable(fun) else fun
    while isinstance(target, functools.partial):
        target = target.func
    target = getattr(target, "__func__", target)  # bound methods
    if not (inspect.isfunction(target) or inspect.isclass(target) or inspect.ismodule(target)):
        target = type(target)
    try:
        return inspect.getsourcefile(target) or inspect.getfile(target)
    except (TypeError, OSError):
        return None


def source_hash(fun: Any) -> str | None:
    """SHA-256 (hex, 16 chars) of the file that defines ``fun``; None for built-ins.

    Examples
    --------
    >>> import json
    >>> len(source_hash(json.dumps)), source_hash(len)
    (16, None)
    """
    path = _source_file(fun)
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES)
    except OSError:
        return None
    return hashlib.sha256(data).hexdigest()[:16]


def _code_parts(code: types.CodeType) -> Iterator[bytes]:
    """What a code object computes: its bytecode, names and constants (nested code objects
    in turn), without its file name or line numbers, which change when a notebook cell is
    run again."""
    yield code.co_code
    yield repr((code.co_names, code.co_varnames, code.co_freevars)).encode()
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_parts(const)
        else:
            yield repr(const).encode()


def body_hash(fun: Any) -> str | None:
    """SHA-256 (hex, 16 chars) of what the function ``fun`` computes; None for a callable
    that is not a Python function (a built-in, an object: its file hash names it).

    Examples
    --------
    >>> body_hash(lambda x: x + 1) == body_hash(lambda x: x + 1) != body_hash(lambda x: x + 2)
    True
    >>> shifted = [(lambda x, a=a: x - a) for a in (1.0, 2.0)]
    >>> body_hash(shifted[0]) != body_hash(shifted[1])
    True
    >>> body_hash(len) is None
    True
    """
    target = getattr(fun, "__func__", fun)  # bound methods
    code = getattr(target, "__code__", None)
    if not isinstance(code, types.CodeType):
        return None
    digest = hashlib.sha256()
    for part in _code_parts(code):
        digest.update(part)
    # Plain values it closes over or defaults to: ``lambda x: (x - a) ** 2`` for another a.
    cells = [cell.cell_contents for cell in getattr(target, "__closure__", None) or ()
             if _plain(getattr(cell, "cell_contents", None))]
    defaults = [value for value in getattr(target, "__defaults__", None) or () if _plain(value)]
    digest.update(repr((cells, defaults)).encode())
    return digest.hexdigest()[:16]


def _plain(value: Any) -> bool:
    """A value whose repr is all of it and the same in every process (numbers, text)."""
    if isinstance(value, tuple):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, (bool, int, float, complex, str, bytes))


def module_version(fun: Any) -> str | None:
    """The installed version of the distribution whose top-level package defines ``fun``.

    Examples
    --------
    >>> import numpy
    >>> module_version(numpy.sum) == numpy.__version__
    True
    """
    module = getattr(fun, "__module__", None) or getattr(type(fun), "__module__", None)
    if not module or module == "__main__":
        return None
    top = module.split(".")[0]
    version = getattr(sys.modules.get(top), "__version__", None)
    if isinstance(version, str):
        return version
    try:
        names = _distributions().get(top) or []
        return importlib.metadata.version(names[0]) if names else None
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


def code_identity(*functions: Any) -> dict[str, Any]:
    """``{"source": [hashes], "version": [versions]}`` of the callables among ``functions``.

    What enters the run fingerprint besides the objective's name: editing the objective's
    file, or upgrading the package that defines it, gives another fingerprint, so a journal
    of the old code is refused on ``--resume`` (``--force`` accepts it).

    Examples
    --------
    >>> import json
    >>> ident = code_identity(json.dumps, None, True)
    >>> len(ident["source"]), len(ident["version"])
    (1, 1)
    """
    found = [user_callable(fun) for fun in functions if callable(fun)]
    return {"source": [source_hash(fun) for fun in found],
            "body": [body_hash(fun) for fun in found],
            "version": [module_version(fun) for fun in found]}
