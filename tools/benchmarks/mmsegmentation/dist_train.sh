#!/usr/bin/env bash
# Train + evaluate an mmseg transfer benchmark from pre-trained weights.
# Usage: tools/benchmarks/mmsegmentation/dist_train.sh CONFIG PRETRAIN GPUS [train.py args...]
#   PRETRAIN: a full mmscrl checkpoint, a backbone-only / released file, or "random".
#   The configs' batch is per GPU (4xb4: 4 GPUs x 4 images); keep the GPU count
#   of the config name or scale the lr. Needs no `mim`.
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
#      PYTHON / MMSCRL_VENV (default: <repo>/.venv; see tools/find_python.sh).
exec bash "$(dirname "$0")/../../ckpt_run.sh" dist "$(dirname "$0")/train.py" --pretrained "$@"
