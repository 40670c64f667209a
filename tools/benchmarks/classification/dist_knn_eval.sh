#!/usr/bin/env bash
# kNN evaluation of a frozen backbone on N processes (torchrun).
# Usage: tools/benchmarks/classification/dist_knn_eval.sh CONFIG CHECKPOINT GPUS [knn_eval.py args...]
#   e.g. ... configs/benchmarks/classification/imagenet/resnet50_linear-8xb32-steplr-100e_in1k.py \
#            work_dirs/densecl/epoch_200.pth 8 --k 20 200 --out knn.json
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
#      PYTHON / MMSCRL_VENV (default: <repo>/.venv; see tools/find_python.sh).
exec bash "$(dirname "$0")/../../ckpt_run.sh" dist "$(dirname "$0")/knn_eval.py" - "$@"
