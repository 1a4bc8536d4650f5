#!/usr/bin/env bash
# Run a multistart config as ONE SLURM allocation: driver, scheduler and workers inside it,
# connected by MPI through dask-mpi. Copy this file, adjust the #SBATCH lines, then:
#   sbatch scripts/sbatch-example.sh configs/mpi.yaml
# With N tasks: rank 0 is the Dask scheduler, rank 1 the driver, ranks 2..N-1 the workers.
#SBATCH --job-name=multistart
#SBATCH --ntasks=8
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=2G
#SBATCH --time=01:00:00
#SBATCH --output=multistart-%j.log
set -euo pipefail

CONFIG="${1:-configs/mpi.yaml}"
cd "${SLURM_SUBMIT_DIR:-$PWD}"
# module load openmpi python     # as your site requires
source .venv/bin/activate        # made by scripts/run or scripts/test, with: pip install -e '.[mpi]'
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

# srun starts one process per task; mpirun -n "$SLURM_NTASKS" works the same way.
srun --mpi=pmix multistart run "$CONFIG" --out "results/job-${SLURM_JOB_ID:-local}" --quiet ||
  mpirun -n "${SLURM_NTASKS:-4}" multistart run "$CONFIG" --out "results/job-${SLURM_JOB_ID:-local}" --quiet
