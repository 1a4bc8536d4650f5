"""The package's layout holds: imports go one way, and only parallel/ talks to Dask.

Each module of ``engine`` is read with :mod:`ast` (nothing is imported), so a test failure
names the file and line of the import that breaks a rule.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "engine"

#: Packages that only engine.parallel may import.
DASK = ("dask", "distributed", "dask_jobqueue", "dask_mpi")
#: Optional or heavy third-party packages that may be imported where they are used, inside
#: the function that needs them (so that the engine imports without them).
OPTIONAL = ("dask_jobqueue", "dask_mpi", "mpi4py", "matplotlib", "pandas", "pyarrow",
            "sobol_seq", "cloudpickle", "rich", "threadpoolctl", "psutil", "distributed", "dask")

#: What each bottom layer may import from the engine (prefixes of module names).
BOTTOM = {
    "engine.exceptions": (),
    "engine.options": ("engine.exceptions", "engine.local.methods", "engine.sampling",
                       "engine.problem"),
    "engine.results": ("engine.exceptions", "engine.options", "engine.results"),
}
#: Modules nothing below the top may import: functions of a finished result, and entry points.
TOP = ("engine.analysis", "engine.api", "engine.cli", "engine.config", "engine.fitting.api")
MAY_IMPORT_TOP = ("engine", "engine.analysis", "engine.api", "engine.cli", "engine.config",
                  "engine.fitting.api")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of a file."""
    tree = ast.parse(path.read_text())
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.append((child.module, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


MODULES = sorted(ENGINE.rglob("*.py"))


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ENGINE)))
def test_only_parallel_imports_dask(path):
    module = _module_name(path)
    if module.startswith("engine.parallel"):
        return
    bad = [(name, line) for name, line, _ in _imports(path) if _in(name, DASK)]
    assert not bad, f"{path.name} imports Dask outside engine.parallel: {bad}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ENGINE)))
def test_bottom_layers_import_nothing_above_them(path):
    module = _module_name(path)
    rule = next((allowed for prefix, allowed in BOTTOM.items() if _in(module, (prefix,))), None)
    if rule is None:
        return
    bad = [(name, line) for name, line, _ in _imports(path)
           if name.startswith("engine") and not _in(name, rule)]
    assert not bad, f"{module} imports above its layer: {bad} (allowed: {rule})"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ENGINE)))
def test_analysis_and_entry_points_are_imported_only_from_the_top(path):
    module = _module_name(path)
    # "engine" is the package's own __init__ only, not everything under it.
    if (module == "engine" or _in(module, MAY_IMPORT_TOP[1:])) and module != "engine.config":
        return
    bad = [(name, line) for name, line, _ in _imports(path) if _in(name, TOP)]
    assert not bad, f"{module} imports a top-level module: {bad}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ENGINE)))
def test_no_engine_import_hides_inside_a_function(path):
    """A cycle is broken by moving code, not by importing late; only optional third-party
    packages are imported where they are used."""
    bad = [(name, line) for name, line, inside in _imports(path)
           if inside and (name.startswith("engine") or not _in(name, OPTIONAL))
           and name.split(".")[0] not in sys.stdlib_module_names]
    assert not bad, f"{path.relative_to(ENGINE)} imports inside a function: {bad}"


def test_the_layout_has_one_home_for_each_concern():
    expected = ["api.py", "options.py", "config.py", "exceptions.py", "problem.py",
                "sampling.py", "basins.py", "stop.py", "session.py", "driver.py",
                "progress.py", "cli.py", "local", "search", "parallel", "results", "analysis",
                "fitting"]
    missing = [name for name in expected if not (ENGINE / name).exists()]
    assert not missing, f"missing from engine/: {missing}"
