#!/usr/bin/env bash
# FPN variant: tools/benchmarks/mmdetection/dist_train_fpn.sh CONFIG PRETRAIN GPUS [args...]
# Same as dist_train.sh, and refuses a C4 config.
exec bash "$(dirname "$0")/dist_train.sh" "${@:1:3}" --arch fpn "${@:4}"
