#!/usr/bin/env bash
# Usage: tools/orl/dist_generate_correspondence.sh CONFIG CHECKPOINT GPUS [generate_correspondence.py args...]
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500).
# Without CUDA the processes run on CPU over gloo.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(dirname "$0")/../.."
PYTHON=${PYTHON:-python}

PYTHONPATH="$ROOT":${PYTHONPATH:-} \
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
$PYTHON -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/orl/generate_correspondence.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "$@"
