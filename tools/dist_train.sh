#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [train.py args...]
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
#      PYTHON / MMSCRL_VENV (default: <repo>/.venv; see tools/find_python.sh).
# Without CUDA the processes train on CPU over gloo (one process per "GPU").
# -h/--help as CONFIG or GPUS prints this; tools/train.py --help its options.
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; }
for arg in "${@:1:2}"; do
  case "$arg" in -h|--help) usage; exit 0 ;; esac
done
if [ $# -lt 2 ]; then usage >&2; exit 2; fi
CONFIG=$1
GPUS=$2
shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
exec bash "$ROOT/tools/dist_run.sh" "$GPUS" "$ROOT/tools/train.py" "$CONFIG" \
    --launcher pytorch "$@"
