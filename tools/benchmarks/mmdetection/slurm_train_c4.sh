#!/usr/bin/env bash
# C4 variant of slurm_train.sh: PARTITION JOB_NAME CONFIG PRETRAIN [args...]
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
PRETRAIN=$4
shift 4
exec "$(dirname "$0")/slurm_train.sh" "$PARTITION" "$JOB_NAME" "$CONFIG" "$PRETRAIN" --arch c4 "$@"
