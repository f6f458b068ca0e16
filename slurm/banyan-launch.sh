#!/bin/bash
# banyan-launch.sh -- start an MPI program inside a Slurm allocation.
#
#   banyan-launch.sh PROGRAM [ARGS...]
#
# Uses `srun --mpi=pmix` when this Slurm offers the PMIx plugin (`srun --mpi=list`), and
# `mpirun` otherwise (Open MPI reads the allocation from Slurm by itself). The launcher is
# started with `exec`, so the PID of this script IS the launcher's PID: a batch script
# that runs it in the background can send it SIGUSR1, which srun and Open MPI's mpirun
# both forward to every rank (banyan then checkpoints and exits with status 3).
#
# Environment (all optional; edit nothing here, set these in your sbatch script):
#   BANYAN_LAUNCHER     auto (default) | srun | mpirun
#   BANYAN_NTASKS       ranks to start (default: SLURM_NTASKS, i.e. all tasks of the job)
#   BANYAN_SRUN_OPTS    extra srun options, e.g. "--distribution=arbitrary --cpu-bind=none"
#   BANYAN_MPIRUN_OPTS  extra mpirun options, e.g. "--hostfile FILE --map-by slot"
#   BANYAN_LAUNCH_DRYRUN=1  print the command instead of running it
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: banyan-launch.sh PROGRAM [ARGS...]" >&2
    exit 2
fi

launcher=${BANYAN_LAUNCHER:-auto}
ntasks=${BANYAN_NTASKS:-${SLURM_NTASKS:-}}

if [ "$launcher" = auto ]; then
    launcher=mpirun
    if command -v srun >/dev/null 2>&1 && [ -n "${SLURM_JOB_ID:-}" ] &&
        srun --mpi=list 2>&1 | grep -Eq '(^|[[:space:]/])pmix([[:space:]_]|$)'; then
        launcher=srun
    fi
fi

# word-split the *_OPTS variables on purpose (they hold several options)
read -r -a srun_opts <<<"${BANYAN_SRUN_OPTS:-}"
read -r -a mpirun_opts <<<"${BANYAN_MPIRUN_OPTS:-}"

case "$launcher" in
srun)
    cmd=(srun --mpi=pmix ${ntasks:+--ntasks="$ntasks"} "${srun_opts[@]}" "$@")
    ;;
mpirun)
    # OMP_NUM_THREADS etc. are exported explicitly; Slurm's environment is passed anyway.
    cmd=(mpirun ${ntasks:+-n "$ntasks"} "${mpirun_opts[@]}" "$@")
    ;;
*)
    echo "banyan-launch.sh: BANYAN_LAUNCHER must be auto, srun or mpirun (got '$launcher')" >&2
    exit 2
    ;;
esac

echo "banyan-launch.sh: ${cmd[*]}" >&2
if [ "${BANYAN_LAUNCH_DRYRUN:-0}" = 1 ]; then
    exit 0
fi
exec "${cmd[@]}"
