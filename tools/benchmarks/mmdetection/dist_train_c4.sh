#!/usr/bin/env bash
# C4 variant: tools/benchmarks/mmdetection/dist_train_c4.sh CONFIG PRETRAIN GPUS [args...]
# Same as dist_train.sh, and checks that the res5 shared head (layer4) is
# initialised from PRETRAIN too.
exec bash "$(dirname "$0")/dist_train.sh" "${@:1:3}" --arch c4 "${@:4}"
