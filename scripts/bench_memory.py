"""Peak memory of the driver against the number of starts (is it bounded?).

Each measurement runs in a child process of its own and reads that process's peak resident
set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), before and after the run:

``engine``   ``engine.minimize`` of a cheap 2-D problem (a quadratic bowl with its gradient,
             L-BFGS-B, no restart; about 0.7 ms a start here) with ``client="serial"``, so the
             driver and the solves share one process and nothing else is counted;
``journal``  the same with ``journal=`` a file: every run also streamed to the journal;
``objects``  the finished runs alone, held as a dict of :class:`engine.results.LocalRun`
             (what a driver holding every run keeps);
``runstore`` the same runs held in :class:`engine.runstore.RunStore`;
``segments`` ``engine.run_config`` of the same problem (serial) into an output directory: the
             runs leave the driver into zstd Parquet segments (``OUT/runs/``) and the session
             holds them on disk past 100,000; ``disk_bytes_per_run`` is the history's size;
``local``    the same on a 2-worker local Dask cluster;
``resume``   ``run_config(..., resume=True)`` of a finished ``segments`` history of that size
             (it re-reads every run and solves nothing): ``seconds`` is the resume time;
``query``    the example queries of ``examples/query_runs.py`` on that history (starts per
             minimum, failures by message, nfev distribution), each timed.

The table gives, for each mode and size, the peak RSS, its growth over the process's RSS after
imports, bytes per start, and the ratio of the largest size's peak to the smallest's.
Results: ``bench-results/memory.{csv,json}``.

Rows of the modes not run are kept from the existing ``memory.csv``.

Usage: scripts/bench-memory [--sizes 10000,1000000] [--modes segments,resume,query]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_mb() -> float:
    """This process's peak RSS so far, in MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bowl(x):
    return float((x[0] - 0.3) ** 2 + 2.0 * (x[1] + 0.1) ** 2)


def bowl_jac(x):
    import numpy as np

    return np.array([2.0 * (x[0] - 0.3), 4.0 * (x[1] + 0.1)])


def synthetic_runs(n: int):
    import numpy as np

    from engine.results.types import LocalRun

    rng = np.random.default_rng(0)
    for i in range(n):
        x0 = rng.uniform(-1, 1, 2)
        yield LocalRun(index=i, x0=x0, x=np.array([0.3, -0.1]) + 1e-9 * x0, fun=1e-18,
                       nfev=5, nit=3, success=True,
                       message="CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL",
                       time=0.0007)


def child(mode: str, n: int) -> dict:
    import engine
    from engine.results.store import RunStore
    from engine.results.types import LocalRun  # noqa: F401

    if mode in ("segments", "local", "resume", "query"):
        # Loaded by the first segment: part of the baseline, as the engine's own imports are.
        import pyarrow.dataset
        import pyarrow.parquet  # noqa: F401
    baseline = peak_mb()
    started = time.perf_counter()
    extra: dict = {}
    if mode in ("engine", "journal"):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            journal = Path(tmp) / "journal.jsonl" if mode == "journal" else None
            res = engine.minimize(bowl, [(-1.0, 1.0), (-1.0, 1.0)], jac=bowl_jac, n_starts=n,
                                  seed=0, client="serial", journal=journal,
                                  local={"restarts": 0})
            extra = {"n_runs": res.n_starts, "n_minima": len(res.minima),
                     "stop_reason": res.stop_reason}
            if journal is not None:
                extra["journal_mb"] = round(journal.stat().st_size / 1e6, 1)
    elif mode == "objects":
        held = {run.index: run for run in synthetic_runs(n)}
        extra = {"n_runs": len(held)}
    elif mode == "runstore":
        store = RunStore()
        store.extend(synthetic_runs(n))
        extra = {"n_runs": len(store), "store_mb": round(store.nbytes / 1e6, 1)}
    elif mode in ("segments", "local", "resume"):
        out = HISTORIES / f"n{n}-{mode if mode != 'resume' else 'segments'}"
        config = write_config(out, n, "local" if mode == "local" else "serial")
        if mode != "resume":
            shutil.rmtree(out / "runs", ignore_errors=True)
            (out / "journal.jsonl").unlink(missing_ok=True)
        elif not (out / "result.json").is_file():
            raise SystemExit(f"resume n={n}: run mode segments at this size first ({out})")
        res = engine.run_config(config, resume=mode == "resume")
        disk = sum(p.stat().st_size for p in (out / "runs").glob("part-*.parquet"))
        disk += (out / "journal.jsonl").stat().st_size
        extra = {"n_runs": res.n_starts, "n_minima": len(res.minima),
                 "stop_reason": res.stop_reason, "disk_mb": round(disk / 1e6, 1),
                 "disk_bytes_per_run": round(disk / max(res.n_starts, 1), 1)}
    elif mode == "query":  # on the serial history of that size, else the cluster's
        serial = HISTORIES / f"n{n}-segments"
        extra = queries(serial if serial.is_dir() else HISTORIES / f"n{n}-local")
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    peak = peak_mb()
    return {"mode": mode, "n_starts": n, "baseline_mb": round(baseline, 1),
            "peak_mb": round(peak, 1), "growth_mb": round(peak - baseline, 1),
            "bytes_per_start": round((peak - baseline) * 1048576 / max(n, 1), 1),
            "seconds": round(time.perf_counter() - started, 1), **extra}


#: Where the histories of the ``segments`` mode are kept for ``resume`` and ``query`` (outside
#: the repository: a history of ten million runs takes hundreds of megabytes).
HISTORIES = Path(os.environ.get("BENCH_HISTORIES", Path(tempfile.gettempdir())
                                / "multistart-bench-memory"))


def write_config(out: Path, n: int, kind: str) -> Path:
    """A run config of the bowl (this file's ``bowl``) with ``n`` starts into ``out``."""
    import yaml

    cluster = {"kind": kind} if kind == "serial" else {"kind": kind, "n_workers": 2,
                                                      "threads_per_worker": 1}
    config = {"problem": {"objective": f"{Path(__file__).resolve()}:bowl",
                          "jac": f"{Path(__file__).resolve()}:bowl_jac",
                          "bounds": [[-1.0, 1.0], [-1.0, 1.0]]},
              "starts": {"n_starts": n, "seed": 0}, "local": {"restarts": 0},
              "cluster": cluster, "output": {"dir": str(out), "runs_csv": False}}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def queries(out: Path) -> dict:
    """The three example queries of ``examples/query_runs.py`` on the history in ``out``,
    each timed (seconds), reading only the columns each needs."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    import engine

    history = engine.load(out)
    times = {}
    started = time.perf_counter()
    dataset = history.runs_dataset()
    minima = history.minima_table()
    index = dataset.to_table(columns=["index"]).column("index")
    rank = pc.index_in(index, value_set=minima.column("index"))
    per_minimum = pc.value_counts(pc.take(minima.column("minimum"),
                                          pc.drop_null(rank))).to_pylist()
    times["q_starts_per_minimum_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    failed = dataset.to_table(columns=["message", "error"], filter=~ds.field("success"))
    reasons = pc.value_counts(pc.coalesce(failed.column("error"), failed.column("message")))
    times["q_failures_by_message_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    nfev = dataset.to_table(columns=["nfev"]).column("nfev").to_numpy()
    np.quantile(nfev, [0.0, 0.5, 0.9, 0.99, 1.0])
    times["q_nfev_distribution_s"] = round(time.perf_counter() - started, 2)
    return {"n_runs": len(index), "n_minima": len(per_minimum),
            "n_failed": int(sum(r["counts"] for r in reasons.to_pylist())), **times}


def measure(mode: str, n: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(n)],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} n={n} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def kept_rows(path: Path, modes: list[str], sizes: list[int]) -> list[dict]:
    """The rows of ``path`` that this run does not measure again (other modes or sizes)."""
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    kept = []
    for row in rows:
        if row["mode"] in modes and int(row["n_starts"]) in sizes:
            continue
        kept.append({k: _number(v) for k, v in row.items() if v != ""})
    return kept


def _number(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--modes", default="engine,journal,objects,runstore")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for mode in args.modes.split(","):
        for n in sizes:
            row = measure(mode, n)
            rows.append(row)
            print(json.dumps(row), flush=True)
    ratios = {}
    for mode in args.modes.split(","):
        part = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["n_starts"])
        if len(part) >= 2:
            small, large = part[0], part[-1]
            ratios[mode] = {
                "sizes": [small["n_starts"], large["n_starts"]],
                "peak_ratio": round(large["peak_mb"] / small["peak_mb"], 2),
                "growth_ratio": round(large["growth_mb"] / max(small["growth_mb"], 0.1), 1),
            }
    args.out.mkdir(parents=True, exist_ok=True)
    rows = kept_rows(args.out / "memory.csv", args.modes.split(","), sizes) + rows
    with open(args.out / "memory.csv", "w", newline="") as handle:
        fields = list(dict.fromkeys(k for r in rows for k in r))  # in order of appearance
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "memory.json").write_text(json.dumps({
        "rows": rows, "ratios": ratios, "host": platform.node(), "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }, indent=1) + "\n")
    print(f"\n{'mode':<9} {'starts':>9} {'peak MB':>9} {'growth MB':>10} {'B/start':>9} "
          f"{'seconds':>8}")
    for r in rows:
        print(f"{r['mode']:<9} {r['n_starts']:>9} {r['peak_mb']:>9} {r['growth_mb']:>10} "
              f"{r['bytes_per_start']:>9} {r['seconds']:>8}")
    for mode, ratio in ratios.items():
        print(f"{mode}: peak RSS {ratio['sizes'][1]} starts / {ratio['sizes'][0]} starts = "
              f"{ratio['peak_ratio']} (growth over imports x{ratio['growth_ratio']})")
    print(f"wrote {args.out / 'memory.csv'} and {args.out / 'memory.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
