"""Command line: ``multistart run CONFIG``, ``multistart check CONFIG``.

Exit status: 0 on success, 2 for an invalid config or bad input, 1 when the run itself failed
(cluster unreachable, no writable output, ...), 130 when stopped by Ctrl-C (SIGINT): the
finished starts are then in the journal and a partial ``result.json`` (``stop_reason:
interrupted``) is written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.exceptions import ConfigError, EngineError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="multistart",
        description="Find the distinct minima of a bounded problem from many local starts.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a YAML config and write result.json, minima.csv")
    run.add_argument("config", type=Path, help="YAML config file (see configs/)")
    run.add_argument("--out", type=Path, help="output directory (overrides output.dir)")
    run.add_argument("--resume", action="store_true",
                     help="continue from the journal in the output directory")
    run.add_argument("--force", action="store_true",
                     help="with --resume: accept a journal written for a different config")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    check = sub.add_parser("check", help="validate a config without running anything")
    check.add_argument("config", type=Path)
    return parser


def _run(args: argparse.Namespace) -> int:
    from engine.api import run_config
    from engine.config import load_config

    overrides = {"output": {"dir": str(args.out)}} if args.out else None
    config = load_config(args.config, overrides)
    out_dir = Path(config.output.dir)
    result = run_config(config, resume=args.resume, force=args.force, progress=not args.quiet)
    print(result.summary(max_rows=20))
    print(f"\nwrote {out_dir / 'result.json'} and {out_dir / 'minima.csv'}")
    if result.stop_reason == "interrupted":
        print("multistart: interrupted; finished starts are kept: continue with --resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if result.success else EXIT_FAILED


def _check(args: argparse.Namespace) -> int:
    from engine.api import check_config
    from engine.config import load_config

    config = load_config(args.config)
    problem = check_config(config)
    print(f"{args.config}: OK ({problem.dim} variables, method {config.local.method}, "
          f"{config.starts.n_starts} {config.starts.sampler} starts, "
          f"cluster {config.cluster.get('kind', 'local')})")
    from engine.clusters import JOBQUEUE_KINDS

    if config.cluster.get("kind") in JOBQUEUE_KINDS:
        from engine.hpc import job_script

        print("\njob script each worker job would be submitted with:\n")
        print(job_script(config.cluster))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``multistart`` command."""
    args = _parser().parse_args(argv)
    try:
        return _run(args) if args.command == "run" else _check(args)
    except ConfigError as exc:
        print(f"multistart: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngineError as exc:
        print(f"multistart: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("multistart: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
