#!/usr/bin/env bash
# Slurm: [GPUS=8 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...] \
#   tools/benchmarks/classification/slurm_train.sh PARTITION JOB_NAME CONFIG PRETRAIN [train.py args...]
# PRETRAIN as in dist_train.sh. The configs are written for 8 GPUs.
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
PRETRAIN=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
PYTHON=${PYTHON:-python}

PYTHONPATH="$ROOT":${PYTHONPATH:-} \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$HERE/train.py" "$CONFIG" --pretrained "$PRETRAIN" \
    --launcher="slurm" "$@"
