#!/usr/bin/env bash
# C4 variant: tools/benchmarks/mmdetection/dist_train_c4.sh CONFIG PRETRAIN GPUS [args...]
# Same as dist_train.sh, and checks that the res5 shared head (layer4) is
# initialised from PRETRAIN too.
CONFIG=$1
PRETRAIN=$2
GPUS=$3
shift 3
exec "$(dirname "$0")/dist_train.sh" "$CONFIG" "$PRETRAIN" "$GPUS" --arch c4 "$@"
