#!/usr/bin/env bash
# Usage: tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]
# Env: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS (see
#      tools/slurm_run.sh), PYTHON / MMSCRL_VENV (default: <repo>/.venv; see
#      tools/find_python.sh).
# -h/--help as PARTITION, JOB_NAME or CONFIG prints this.
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }
for arg in "${@:1:3}"; do
  case "$arg" in -h|--help) usage; exit 0 ;; esac
done
if [ $# -lt 3 ]; then usage >&2; exit 2; fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
exec bash "$ROOT/tools/slurm_run.sh" "$PARTITION" "$JOB_NAME" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher="slurm" "$@"
