#!/usr/bin/env bash
# FPN variant: tools/benchmarks/mmdetection/dist_train_fpn.sh CONFIG PRETRAIN GPUS [args...]
# Same as dist_train.sh, and refuses a C4 config.
CONFIG=$1
PRETRAIN=$2
GPUS=$3
shift 3
exec "$(dirname "$0")/dist_train.sh" "$CONFIG" "$PRETRAIN" "$GPUS" --arch fpn "$@"
