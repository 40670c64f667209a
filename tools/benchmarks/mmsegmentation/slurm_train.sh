#!/usr/bin/env bash
# Slurm: [GPUS=4 GPUS_PER_NODE=4 CPUS_PER_TASK=5 SRUN_ARGS=...] \
#   tools/benchmarks/mmsegmentation/slurm_train.sh PARTITION JOB_NAME CONFIG PRETRAIN
#   [train.py args...]
# PRETRAIN as in dist_train.sh. The configs are written for 4 GPUs.
# Env: PYTHON / MMSCRL_VENV (default: <repo>/.venv; see tools/find_python.sh).
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
PRETRAIN=$4
shift 4
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
GPUS=${GPUS:-4} GPUS_PER_NODE=${GPUS_PER_NODE:-4} \
exec bash "$ROOT/tools/slurm_run.sh" "$PARTITION" "$JOB_NAME" \
    "$HERE/train.py" "$CONFIG" --pretrained "$PRETRAIN" --launcher="slurm" "$@"
