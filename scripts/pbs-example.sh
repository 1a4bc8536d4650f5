#!/usr/bin/env bash
# Run a multistart config as ONE PBS allocation: driver, scheduler and workers inside it,
# connected by MPI through dask-mpi. Copy this file, adjust the #PBS lines, then:
#   qsub -v CONFIG=configs/mpi.yaml scripts/pbs-example.sh
# With N ranks: rank 0 is the Dask scheduler, rank 1 the driver, ranks 2..N-1 the workers.
#PBS -N multistart
#PBS -l select=1:ncpus=8:mpiprocs=8:mem=16gb
#PBS -l walltime=01:00:00
#PBS -j oe
set -euo pipefail

CONFIG="${CONFIG:-configs/mpi.yaml}"
cd "${PBS_O_WORKDIR:-$PWD}"
# module load openmpi python     # as your site requires
source .venv/bin/activate        # made by scripts/run or scripts/test, with: pip install -e '.[mpi]'
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

NRANKS=$(wc -l < "${PBS_NODEFILE:-/dev/null}" 2>/dev/null || echo 4)
[ "$NRANKS" -ge 3 ] || NRANKS=4
mpirun -n "$NRANKS" multistart run "$CONFIG" --out "results/job-${PBS_JOBID:-local}" --quiet
