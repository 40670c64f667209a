#!/usr/bin/env bash
# The one srun launcher every slurm_*.sh wrapper uses.
# Usage: tools/slurm_run.sh PARTITION JOB_NAME SCRIPT [script args...]
#   (SCRIPT gets --launcher=slurm from its wrapper)
# Env: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS (extra srun
#      options), PYTHON (default: $MMSCRL_VENV/bin/python, else
#      <repo>/.venv/bin/python, else python from PATH; see
#      tools/find_python.sh).
# -h/--help as PARTITION, JOB_NAME or SCRIPT prints this.
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }
for arg in "${@:1:3}"; do
  case "$arg" in -h|--help) usage; exit 0 ;; esac
done
if [ $# -lt 3 ]; then usage >&2; exit 2; fi
set -x
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
shift 3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/tools/find_python.sh"

PYTHONPATH="$ROOT":${PYTHONPATH:-} \
exec srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$SCRIPT" "$@"
