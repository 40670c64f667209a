#!/usr/bin/env bash
# Usage: tools/orl/dist_extract_knn.sh CONFIG CHECKPOINT GPUS [extract_knn.py args...]
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON.
# Without CUDA the processes run on CPU over gloo.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
exec bash "$ROOT/tools/dist_run.sh" "$GPUS" "$ROOT/tools/orl/extract_knn.py" \
    "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
