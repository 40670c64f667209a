#!/usr/bin/env bash
# Train + evaluate an mmdet transfer benchmark from pre-trained weights.
# Usage: tools/benchmarks/mmdetection/dist_train.sh CONFIG PRETRAIN GPUS [train.py args...]
#   PRETRAIN: a full mmscrl checkpoint, a backbone-only / released file, or "random".
#   Works for FPN and C4 configs (every mmscrl.PretrainedBackbone init_cfg, i.e. the
#   backbone and the C4 res5 head, gets PRETRAIN); dist_train_{fpn,c4}.sh also check
#   the detector kind. Needs no `mim`.
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
#      PYTHON / MMSCRL_VENV (default: <repo>/.venv; see tools/find_python.sh).
exec bash "$(dirname "$0")/../../ckpt_run.sh" dist "$(dirname "$0")/train.py" --pretrained "$@"
