"""Files the journal and fault tests share: a run config on the slow test objectives, and
the start indices a journal holds."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "data" / "slow_objectives.py"


def write_config(tmp_path: Path, name: str, *, n_starts: int, kind: str = "serial",
                 objective: str = "slow_himmelblau", **sections: Any) -> Path:
    """A YAML config solving ``objective`` from tests/data on ``kind``, output in ``name``."""
    config = {
        "problem": {"objective": f"{DATA}:{objective}", "bounds": [[-5, 5], [-5, 5]]},
        "starts": {"n_starts": n_starts, "seed": 7},
        "cluster": {"kind": kind} if kind == "serial" else {"kind": kind, "n_workers": 2},
        "output": {"dir": str(tmp_path / name)},
        **sections,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def journal_indices(path: Path) -> list[int]:
    """Start indices of the journal's readable run lines, in file order."""
    out = []
    for line in path.read_text().splitlines()[1:]:
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line)["index"])
    return out
