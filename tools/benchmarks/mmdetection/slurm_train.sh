#!/usr/bin/env bash
# Slurm: [GPUS=8 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...] \
#   tools/benchmarks/mmdetection/slurm_train.sh PARTITION JOB_NAME CONFIG PRETRAIN
#   [train.py args...]
# PRETRAIN as in dist_train.sh (FPN and C4 configs alike).
# Env: PYTHON / MMSCRL_VENV (default: <repo>/.venv; see tools/find_python.sh).
exec bash "$(dirname "$0")/../../ckpt_run.sh" slurm "$(dirname "$0")/train.py" --pretrained "$@"
