#!/usr/bin/env bash
# Usage: [GPUS=8 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...] \
#        tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]
# Env: PYTHON / MMSCRL_VENV (default: <repo>/.venv; see tools/find_python.sh).
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
exec bash "$ROOT/tools/slurm_run.sh" "$PARTITION" "$JOB_NAME" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher="slurm" "$@"
