#!/usr/bin/env bash
# The one srun launcher every slurm_*.sh wrapper uses.
# Usage: [GPUS=8 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...] \
#        tools/slurm_run.sh PARTITION JOB_NAME SCRIPT [script args...]
#   (SCRIPT gets --launcher=slurm from its wrapper)
# Env: PYTHON (default: $MMSCRL_VENV/bin/python, else <repo>/.venv/bin/python,
#      else python from PATH; see tools/find_python.sh).
set -x
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
shift 3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/tools/find_python.sh"

PYTHONPATH="$ROOT":${PYTHONPATH:-} \
exec srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$SCRIPT" "$@"
