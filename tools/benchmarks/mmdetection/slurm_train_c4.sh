#!/usr/bin/env bash
# C4 variant of slurm_train.sh: PARTITION JOB_NAME CONFIG PRETRAIN [args...]
exec bash "$(dirname "$0")/slurm_train.sh" "${@:1:4}" --arch c4 "${@:5}"
