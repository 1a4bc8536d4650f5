"""Query the run history of a batch run: starts per minimum, failures, evaluations.

A run started with ``multistart run`` (or :func:`engine.run_config`) records every finished
start in its output directory: zstd Parquet segments in ``OUT/runs/`` (the newest runs in
``OUT/journal.jsonl``). :func:`engine.load` reads them where they lie, column by column, so
the same queries work on ten million runs; DuckDB and ``dask.dataframe`` read the folder too::

    duckdb -c "SELECT message, count(*) FROM 'OUT/runs/*.parquet' GROUP BY 1"

Run: ``python examples/query_runs.py [OUT_DIR] [--starts N]`` (default ``results/query``,
4000 starts of a 2-D problem with four minima that fails in a corner of its box).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import yaml

import engine

HERE = Path(__file__).resolve()


def cornered_himmelblau(x: np.ndarray) -> float:
    """Himmelblau's function (four minima of value 0), undefined where x0 + x1 > 7."""
    if x[0] + x[1] > 7.0:
        raise ValueError(f"outside the model's domain at x={x.tolist()}")
    return float((x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2)


def run(out: Path, n_starts: int) -> None:
    config = {
        "problem": {"objective": f"{HERE}:cornered_himmelblau",
                    "bounds": [[-5, 5], [-5, 5]]},
        "starts": {"n_starts": n_starts, "seed": 3},
        "local": {"restarts": 0},
        "cluster": {"kind": "serial"},
        "output": {"dir": str(out)},
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / "query.yaml"
    path.write_text(yaml.safe_dump(config))
    engine.run_config(path, force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("results/query"))
    parser.add_argument("--starts", type=int, default=4000)
    args = parser.parse_args()
    run(args.out, args.starts)

    history = engine.load(args.out)
    result = history.result()
    print(f"{result.n_starts} runs in {args.out}: {len(result.minima)} minima, "
          f"{result.n_failed} failed\n")

    # 1. Starts per minimum: join the runs with the minimum each start ended in.
    runs = history.runs_frame(columns=["nfev", "success", "message", "error"])
    ended = runs.merge(history.minima_table().to_pandas(), on="index")
    print("starts per minimum")
    for rank, group in ended.groupby("minimum"):
        x = ", ".join(f"{v:.4f}" for v in result.minima[rank - 1].x)
        print(f"  minimum {rank}: {len(group)} starts, x = [{x}], "
              f"mean nfev {group.nfev.mean():.1f}")

    # 2. Failures by message (the error's type and text, else the solver's message).
    failed = runs[~runs.success]
    reasons = failed.error.fillna(failed.message).str.split(" at x=").str[0]
    print("\nfailures by message")
    for reason, count in reasons.value_counts().items():
        print(f"  {count:>6}  {reason}")

    # 3. The nfev distribution, read as one column of the Arrow dataset (no other column).
    nfev = history.runs_dataset().to_table(columns=["nfev"]).column("nfev").to_numpy()
    quantiles = np.quantile(nfev, [0.0, 0.5, 0.9, 0.99, 1.0])
    print("\nnfev distribution")
    print("  " + "  ".join(f"{name} {value:g}" for name, value in
                           zip(("min", "median", "p90", "p99", "max"), quantiles, strict=True)))
    print(f"  total {int(nfev.sum())} = result.nfev {result.nfev - result.n_explore}: "
          f"{math.isclose(nfev.sum(), result.nfev - result.n_explore)}")


if __name__ == "__main__":
    main()
