#!/usr/bin/env bash
# The one torchrun launcher every dist_*.sh wrapper uses.
# Usage: tools/dist_run.sh GPUS SCRIPT [script args...]   (SCRIPT gets --launcher from its wrapper)
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
#      PYTHON (default: $MMSCRL_VENV/bin/python, else <repo>/.venv/bin/python,
#      else python from PATH; see tools/find_python.sh).
# Without CUDA the processes run on CPU over gloo (see mmscrl/compat.py).
# -h/--help as GPUS or SCRIPT prints this.
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }
for arg in "${@:1:2}"; do
  case "$arg" in -h|--help) usage; exit 0 ;; esac
done
if [ $# -lt 2 ]; then usage >&2; exit 2; fi
GPUS=$1
SCRIPT=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/tools/find_python.sh"

PYTHONPATH="$ROOT":${PYTHONPATH:-} \
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$SCRIPT" "$@"
