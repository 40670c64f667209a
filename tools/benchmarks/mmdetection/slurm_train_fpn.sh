#!/usr/bin/env bash
# FPN variant of slurm_train.sh: PARTITION JOB_NAME CONFIG PRETRAIN [args...]
exec bash "$(dirname "$0")/slurm_train.sh" "${@:1:4}" --arch fpn "${@:5}"
