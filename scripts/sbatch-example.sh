#!/usr/bin/env bash
# Run a multistart config as ONE SLURM allocation: driver, scheduler and workers inside it,
# connected by MPI through dask-mpi. Copy this file, adjust the #SBATCH lines, then:
#   sbatch scripts/sbatch-example.sh configs/mpi.yaml
# With N tasks: rank 0 is the Dask scheduler, rank 1 the driver, ranks 2..N-1 the workers.
#
# Walltime-proof: 120 s before the time limit SLURM sends USR1 to this script (--signal); the
# trap below stops the run (SIGTERM: the journal is flushed and a partial result written) and
# puts the job back in the queue (--requeue). The requeued job has the same job ID, so the same
# output folder, and SLURM_RESTART_COUNT > 0: it continues with --resume. A job killed
# outright (node failure, SIGKILL at the limit) resumes the same way: every finished start is
# in the journal. A run that fails for another reason (a bad config, a crash) is not started
# again: fix it and resubmit.
#SBATCH --job-name=multistart
#SBATCH --ntasks=8
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=2G
#SBATCH --time=01:00:00
#SBATCH --output=multistart-%j.log
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:USR1@120
# On a node with fewer cores than --ntasks (a laptop, a small test partition) add
#   #SBATCH --overcommit
# so that SLURM starts all tasks anyway: the scheduler and driver ranks mostly wait, and only
# the worker ranks compute. With mpirun instead of srun, the matching flag is --oversubscribe.
set -euo pipefail

CONFIG="${1:-configs/mpi.yaml}"
cd "${SLURM_SUBMIT_DIR:-$PWD}"
# module load openmpi python     # as your site requires
if [ -f .venv/bin/activate ]; then
  source .venv/bin/activate      # made by scripts/run or scripts/test, with: pip install -e '.[mpi]'
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
OUT="${MULTISTART_OUT:-results/job-${SLURM_JOB_ID:-local}}"
# How the command is started: srun runs one process per task (the MPI ranks). For a config
# whose cluster runs in one process (kind: local, serial, slurm), set MULTISTART_LAUNCH="".
read -r -a LAUNCH <<< "${MULTISTART_LAUNCH-srun --mpi=pmix}"
read -r -a MULTISTART <<< "${MULTISTART:-multistart}"   # the command (e.g. "python -m engine.cli")

RESUME=()
if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] || [ -s "$OUT/journal.jsonl" ]; then
  # A requeued job, or a journal already there: continue it. A journal of another config is
  # refused (exit 2), never overwritten.
  RESUME=(--resume)
fi

requeue() {
  echo "multistart job ${SLURM_JOB_ID:-?}: time limit near, stopping the run and requeueing" >&2
  kill -TERM "$RUN" 2>/dev/null || true
  wait "$RUN" || true
  scontrol requeue "$SLURM_JOB_ID"
  exit 0
}
trap requeue USR1

# No fallback to a second launcher: a run that failed must not be run again from the start.
"${LAUNCH[@]}" "${MULTISTART[@]}" run "$CONFIG" --out "$OUT" --quiet "${RESUME[@]}" &
RUN=$!
status=0
wait "$RUN" || status=$?
exit "$status"
