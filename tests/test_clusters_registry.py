"""The registry of cluster kinds: one entry per kind answers every question about it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import engine
from engine.cli import main
from engine.exceptions import ClusterError
from engine.parallel import clusters
from engine.parallel.cluster_kind import ClusterKind
from engine.parallel.clusters import (
    CLUSTER_KINDS,
    JOBQUEUE_KINDS,
    KINDS,
    cluster_kind,
    open_executor,
    prepare_process,
    register_kind,
    validate_cluster,
)

ROOT = Path(__file__).resolve().parents[1]


class Recording(ClusterKind):
    """A kind that runs serially and records what the registry asked of it."""

    name = "recording"
    keys = ("size",)

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def check(self, body):
        return [] if body.get("size", 1) >= 1 else ["cluster.size must be >= 1"]

    def prepare(self, body):
        self.calls.append(("prepare", body))

    def start(self, body):
        self.calls.append(("start", body))
        return "serial", [self]

    def describe_job(self, body):
        return f"#JOB size={body.get('size', 1)}"

    def close(self):
        self.calls.append(("close", {}))


@pytest.fixture
def recording():
    kind = register_kind(Recording())
    yield kind
    del CLUSTER_KINDS[kind.name]


def test_every_kind_is_one_registry_entry():
    assert KINDS == ("local", "serial", "address", "slurm", "pbs", "sge", "lsf", "htcondor",
                     "mpi")
    assert tuple(CLUSTER_KINDS) == KINDS
    assert JOBQUEUE_KINDS == ("slurm", "pbs", "sge", "lsf", "htcondor")
    for name in KINDS:
        assert cluster_kind(name).name == name
        assert clusters.allowed_keys(name) == cluster_kind(name).keys


def test_a_registered_kind_is_validated_started_prepared_and_closed(recording, tmp_path,
                                                                    capsys):
    assert validate_cluster({"kind": "recording", "size": 2}) == []
    assert validate_cluster({"kind": "recording", "size": 0}) == ["cluster.size must be >= 1"]
    assert "unknown key cluster.sise (did you mean 'size'?)" in \
        validate_cluster({"kind": "recording", "sise": 2})[0]
    prepare_process({"kind": "recording", "size": 2})
    with open_executor({"kind": "recording", "size": 2}) as executor:
        assert executor.kind == "serial"
    assert [name for name, _ in recording.calls] == ["prepare", "start", "close"]

    config = {"problem": {"objective": f"{ROOT / 'examples' / 'objectives.py'}:himmelblau",
                          "bounds": [[-5, 5], [-5, 5]]},
              "starts": {"n_starts": 8}, "cluster": {"kind": "recording", "size": 3},
              "output": {"dir": str(tmp_path / "out")}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["check", str(path)]) == 0
    assert "#JOB size=3" in capsys.readouterr().out  # multistart check asks the kind
    recording.calls.clear()
    assert main(["run", str(path), "--quiet"]) == 0
    assert [name for name, _ in recording.calls] == ["prepare", "start", "close"]
    assert engine.MultistartResult.load(tmp_path / "out").n_starts == 8


def test_prepare_process_is_a_no_op_but_for_kinds_that_need_it():
    for spec in (None, "serial", "tcp://127.0.0.1:1", {"kind": "local"}, {"kind": "slurm"},
                 {"kind": "no-such-kind"}, {"kind": ["not", "a", "name"]}, object()):
        prepare_process(spec)


def test_mpi_kind_prepares_by_initializing_mpi_once(monkeypatch):
    from engine.parallel import mpi

    calls = []
    monkeypatch.setattr(mpi, "_MPI_READY", False)
    monkeypatch.setattr(mpi, "mpi_initialize", lambda body: calls.append(body))
    body = {"kind": "mpi", "nthreads": 1}
    prepare_process(body)
    prepare_process(body)  # every rank but the driver's has left by now: nothing to do
    assert calls == [body]


def test_only_jobqueue_kinds_describe_a_job():
    for name in KINDS:
        if name not in JOBQUEUE_KINDS:
            assert cluster_kind(name).describe_job({"kind": name}) is None


def test_unknown_kind_and_unknown_client_are_refused_by_name():
    assert validate_cluster({"kind": "slurn"})[0].startswith(
        "cluster.kind='slurn' is unknown (did you mean 'slurm'?)")
    with pytest.raises(ClusterError, match=r"cluster\.kind='cloud' is unknown"), \
            open_executor({"kind": "cloud"}):
        pass
    for bad in ("local", 5, object()):
        with pytest.raises(ClusterError, match=r"client=.* is not allowed"), open_executor(bad):
            pass


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_engine_parallel_imports_dask():
    cluster_packages = {"dask", "distributed", "dask_jobqueue", "dask_mpi", "mpi4py"}
    outside = {str(path.relative_to(ROOT)): _imports(path) & cluster_packages
               for path in (ROOT / "engine").rglob("*.py")
               if "parallel" not in path.relative_to(ROOT / "engine").parts}
    assert {path: found for path, found in outside.items() if found} == {}


def test_importing_the_engine_loads_no_dask():
    code = ("import sys, engine, engine.cli\n"
            "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
