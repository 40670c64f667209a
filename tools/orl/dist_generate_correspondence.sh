#!/usr/bin/env bash
# Usage: tools/orl/dist_generate_correspondence.sh CONFIG CHECKPOINT GPUS [generate_correspondence.py args...]
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON.
# Without CUDA the processes run on CPU over gloo.
# -h/--help prints this; python tools/orl/generate_correspondence.py --help its options.
case "${1:-}" in
  -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
exec bash "$(dirname "$0")/../ckpt_run.sh" dist "$(dirname "$0")/generate_correspondence.py" - "$@"
