#!/usr/bin/env bash
# The shared body of every per-task wrapper whose arguments start with a
# config and a checkpoint (transfer benchmarks, kNN evaluation, ORL stage 2).
# Usage: tools/ckpt_run.sh dist  SCRIPT FLAG CONFIG CHECKPOINT GPUS [script args...]
#        tools/ckpt_run.sh slurm SCRIPT FLAG PARTITION JOB_NAME CONFIG CHECKPOINT [script args...]
# FLAG is the option that carries CHECKPOINT (e.g. --pretrained), or "-" to
# pass it positionally right after CONFIG. The launcher option is added
# (--launcher pytorch / --launcher=slurm) and the job goes through
# tools/dist_run.sh (torchrun) or tools/slurm_run.sh (srun); see those for the
# environment variables. -h/--help as MODE prints this; -h/--help among the
# wrapper's own arguments (CONFIG CHECKPOINT GPUS or PARTITION JOB_NAME
# CONFIG CHECKPOINT) prints the wrapper's usage line, and nothing starts.
set -e
case "${1:-}" in
  -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
MODE=$1
SCRIPT=$2
FLAG=$3
shift 3
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NAME="$(basename "$SCRIPT")"
case "$MODE" in
  dist) NEED=3; USAGE="CONFIG CHECKPOINT GPUS" ;;
  slurm) NEED=4; USAGE="PARTITION JOB_NAME CONFIG CHECKPOINT" ;;
  *) echo "tools/ckpt_run.sh: MODE must be dist or slurm, got '$MODE'" >&2
     exit 2 ;;
esac
for arg in "${@:1:$NEED}"; do
  case "$arg" in
    -h|--help) echo "usage: ($NAME) $USAGE [$NAME args...]"; exit 0 ;;
  esac
done
if [ $# -lt $NEED ]; then
  echo "usage: ($NAME) $USAGE [$NAME args...]" >&2
  exit 2
fi
if [ "$MODE" = slurm ]; then
  PARTITION=$1
  JOB_NAME=$2
  shift 2
fi
CONFIG=$1
CHECKPOINT=$2
if [ "$FLAG" = "-" ]; then
  CKPT_ARGS=("$CHECKPOINT")
else
  CKPT_ARGS=("$FLAG" "$CHECKPOINT")
fi
if [ "$MODE" = dist ]; then
  GPUS=$3
  shift 3
  exec bash "$ROOT/tools/dist_run.sh" "$GPUS" "$SCRIPT" "$CONFIG" \
      "${CKPT_ARGS[@]}" --launcher pytorch "$@"
fi
shift 2
exec bash "$ROOT/tools/slurm_run.sh" "$PARTITION" "$JOB_NAME" "$SCRIPT" \
    "$CONFIG" "${CKPT_ARGS[@]}" --launcher=slurm "$@"
