"""The HPC route from Python: a YAML config, its SLURM job script, and a dry run here.

``configs/slurm.yaml`` describes a run whose Dask workers are SLURM jobs. Before submitting
anything, check the config and read the script each worker job would get, exactly as
``multistart check configs/slurm.yaml`` prints it. Then run the same config in this process
(``client="serial"`` overrides the config's cluster) to see the result and the files a real
run writes. On the cluster, ``multistart run configs/slurm.yaml`` does it for real.

Run: python examples/hpc_yaml.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import engine
from engine.parallel.jobqueue import job_script

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "slurm.yaml"


def main() -> None:
    config = engine.load_config(CONFIG)  # validated: every problem reported at once
    print(f"{CONFIG.name}: method {config.local.method}, {config.starts.n_starts} starts, "
          f"cluster kind {config.cluster['kind']}")
    print("job script of one worker job (nothing is submitted):")
    print(job_script(config.cluster))
    with tempfile.TemporaryDirectory() as out:
        res = engine.run_config(config, client="serial", out=out)
        print(res.summary())
        print("files written:", ", ".join(sorted(p.name for p in Path(out).iterdir())))


if __name__ == "__main__":
    main()
