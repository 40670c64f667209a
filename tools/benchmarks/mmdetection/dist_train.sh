#!/usr/bin/env bash
# Train + evaluate an mmdet transfer benchmark from pre-trained weights.
# Usage: tools/benchmarks/mmdetection/dist_train.sh CONFIG PRETRAIN GPUS [train.py args...]
#   PRETRAIN: a full mmscrl checkpoint, a backbone-only / released file, or "random".
#   Works for FPN and C4 configs (every mmscrl.PretrainedBackbone init_cfg, i.e. the
#   backbone and the C4 res5 head, gets PRETRAIN); dist_train_{fpn,c4}.sh also check
#   the detector kind. Needs no `mim`.
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (python).
set -e
CONFIG=$1
PRETRAIN=$2
GPUS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$HERE/../../.."
PYTHON=${PYTHON:-python}

PYTHONPATH="$ROOT":${PYTHONPATH:-} \
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
$PYTHON -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$HERE/train.py" \
    "$CONFIG" \
    --pretrained "$PRETRAIN" \
    --launcher pytorch "$@"
