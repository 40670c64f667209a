#!/usr/bin/env bash
# Slurm: [GPUS=4 GPUS_PER_NODE=4 CPUS_PER_TASK=5 SRUN_ARGS=...] \
#   tools/benchmarks/mmsegmentation/slurm_train.sh PARTITION JOB_NAME CONFIG PRETRAIN
#   [train.py args...]
# PRETRAIN as in dist_train.sh. The configs are written for 4 GPUs.
# Env: PYTHON / MMSCRL_VENV (default: <repo>/.venv; see tools/find_python.sh).
GPUS=${GPUS:-4} GPUS_PER_NODE=${GPUS_PER_NODE:-4} \
exec bash "$(dirname "$0")/../../ckpt_run.sh" slurm "$(dirname "$0")/train.py" --pretrained "$@"
