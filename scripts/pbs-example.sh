#!/usr/bin/env bash
# Run a multistart config as ONE PBS allocation: driver, scheduler and workers inside it,
# connected by MPI through dask-mpi. Copy this file, adjust the #PBS lines, then:
#   qsub -v CONFIG=configs/mpi.yaml scripts/pbs-example.sh
# With N ranks: rank 0 is the Dask scheduler, rank 1 the driver, ranks 2..N-1 the workers.
#
# Safe to rerun (-r y, qrerun, a resubmission with OUT set to the same folder): when the output
# folder holds a journal the run continues it with --resume (a journal of another config is
# refused, never overwritten). At the walltime PBS sends SIGTERM: the run flushes its journal
# and writes a partial result before the SIGKILL that follows.
#PBS -N multistart
#PBS -l select=1:ncpus=8:mpiprocs=8:mem=16gb
#PBS -l walltime=01:00:00
#PBS -j oe
#PBS -r y
set -euo pipefail

CONFIG="${CONFIG:-configs/mpi.yaml}"
cd "${PBS_O_WORKDIR:-$PWD}"
# module load openmpi python     # as your site requires
if [ -f .venv/bin/activate ]; then
  source .venv/bin/activate      # made by scripts/run or scripts/test, with: pip install -e '.[mpi]'
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
OUT="${OUT:-results/job-${PBS_JOBID:-local}}"

NRANKS=$(wc -l < "${PBS_NODEFILE:-/dev/null}" 2>/dev/null || echo 4)
[ "$NRANKS" -ge 3 ] || NRANKS=4
RESUME=()
if [ -s "$OUT/journal.jsonl" ]; then
  RESUME=(--resume)
fi
# On a node with fewer cores than ranks, add --oversubscribe to mpirun: the scheduler and
# driver ranks mostly wait, and only the worker ranks compute.
exec mpirun -n "$NRANKS" multistart run "$CONFIG" --out "$OUT" --quiet "${RESUME[@]}"
