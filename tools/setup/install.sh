#!/usr/bin/env bash
# One-shot, unattended set-up of an isolated environment for mmscrl.
#
# Usage: bash tools/setup/install.sh     # creates ./.venv (override: MMSCRL_VENV=/path)
#   No arguments; PYTHON_FOR_VENV (python3.11) is the Python the venv is made from.
#
# Order matters: torch -> setuptools<82 -> mmcv (built with ops, cached) ->
# mmengine/mmpretrain/mmdet (which then find mmcv satisfied) -> mmscrl (editable).
# Versions come from requirements/constraints.txt. Idempotent: re-running it on a
# ready environment takes seconds. GPU users: see README "Install for GPU".
set -euo pipefail
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
if [ $# -gt 0 ]; then
  echo "tools/setup/install.sh takes no arguments (got: $*); it is configured" \
    "by environment variables" >&2
  usage >&2
  exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${MMSCRL_VENV:-$ROOT/.venv}
PYBIN=${PYTHON_FOR_VENV:-python3.11}
command -v "$PYBIN" >/dev/null 2>&1 || PYBIN=python3
CONS="$ROOT/requirements/constraints.txt"
start=$(date +%s)
log() { echo "[install +$(( $(date +%s) - start ))s] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PYBIN" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP="$PY -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if ! $PY -c "import torch, torchvision" >/dev/null 2>&1; then
  log "installing torch/torchvision"
  $PIP install -q -c "$CONS" torch torchvision
fi
# torch pulls a recent setuptools; mmcv's setup.py needs pkg_resources (< 82).
$PIP install -q -c "$CONS" "setuptools<82" wheel numpy

if ! $PY -c "import mmcv, mmcv.ops" >/dev/null 2>&1; then
  log "installing mmcv with ops (cached wheel or ~11 min build)"
  PYTHON=$PY bash "$ROOT/tools/setup/build_mmcv.sh"
fi

log "installing OpenMMLab stack (mmseg for segmentation transfer), test and ORL requirements"
# requirements/tests.txt: pytest, openmim (`mim train mmscrl CONFIG`),
# tensorboard (TensorboardVisBackend), psutil (process-tree tests).
$PIP install -q -c "$CONS" mmengine mmpretrain mmdet mmsegmentation ftfy regex \
    pycocotools -r "$ROOT/requirements/tests.txt"
# selective search needs opencv-contrib; it must replace opencv-python's cv2.
# mmengine/mmcv depend on opencv-python, which would shadow it (same cv2 folder).
if $PIP show -q opencv-python >/dev/null 2>&1 || \
   ! $PY -c "import cv2, sys; sys.exit(0 if hasattr(cv2, 'ximgproc') else 1)" >/dev/null 2>&1; then
  $PIP uninstall -q -y opencv-python opencv-python-headless opencv-contrib-python >/dev/null 2>&1 || true
  $PIP install -q -c "$CONS" --force-reinstall --no-deps opencv-contrib-python-headless
fi

log "installing mmscrl (editable)"
$PIP install -q --no-deps --no-build-isolation -e "$ROOT"
$PY -c "import mmscrl, mmcv.ops, mmdet, mmseg, mmpretrain, cv2; print('mmscrl', mmscrl.__version__, 'ready; cv2.ximgproc:', hasattr(cv2, 'ximgproc'))"
log "done"
