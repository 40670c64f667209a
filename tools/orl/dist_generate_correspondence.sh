#!/usr/bin/env bash
# Usage: tools/orl/dist_generate_correspondence.sh CONFIG CHECKPOINT GPUS [generate_correspondence.py args...]
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON.
# Without CUDA the processes run on CPU over gloo.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
exec bash "$ROOT/tools/dist_run.sh" "$GPUS" "$ROOT/tools/orl/generate_correspondence.py" \
    "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
