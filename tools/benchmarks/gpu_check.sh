#!/usr/bin/env bash
# GPU check of the benchmark suite (about 3-5 minutes on one GPU; at most 8).
#
# On one CUDA GPU: AMP training-step time and peak CUDA memory of SCRL, BYOL,
# ORL stage 3, MoCo v2, mmpretrain DenseCL, mmscrl DenseCL and PixPro with
# ResNet-50 at batch 64 (224 px), interleaved, with the ratios against the
# baselines; mmcv's CUDA RoIAlign against torchvision's; per-worker data
# throughput, with the DALI loader on its CPU and GPU operators when the
# optional extra is installed (pip install -e .[dali]; rows 'DALI GPU' in
# results.md).
# Writes results.json, results.md and ratios.png to OUT_DIR. Needs mmcv
# with CUDA ops (the repo's installer); on a bare machine without OpenMMLab
# packages use tools/benchmarks/gpu_kit.sh instead.
#
# Usage: bash tools/benchmarks/gpu_check.sh [--dry-run] [OUT_DIR]
#   bash tools/benchmarks/gpu_check.sh [OUT_DIR]            # on a GPU
#   bash tools/benchmarks/gpu_check.sh --dry-run [OUT_DIR]  # CPU, tiny sizes
# OUT_DIR defaults to work_dirs/benchmarks/gpu (relative to the repository).
#
# PYTHON overrides the interpreter (default: the repo's .venv, else python).
set -euo pipefail
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$SELF"; }
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

DRY_RUN=0
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    --dry-run) DRY_RUN=1; shift ;;
esac
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    -*) echo "gpu_check.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
esac
if [[ $# -gt 1 ]]; then
    echo "gpu_check.sh: one OUT_DIR at most, got: $*" >&2
    usage >&2
    exit 2
fi
OUT_DIR="${1:-work_dirs/benchmarks/gpu}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi

if [[ "$DRY_RUN" == 1 ]]; then
    exec "$PYTHON" tools/benchmarks/run.py --device cpu --quick \
        --sections steps,data,roialign --out-dir "$OUT_DIR"
fi

# fail early, with the reason, when the GPU stack is not usable
"$PYTHON" - <<'PY'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit('gpu_check: torch.cuda.is_available() is False')
import mmcv
from mmcv.ops import RoIAlign
x = torch.randn(1, 4, 7, 7, device='cuda')
r = torch.tensor([[0., 0., 0., 100., 100.]], device='cuda')
try:
    RoIAlign(1, 1 / 32, 0, aligned=False)(x, r)
except Exception as e:  # mmcv built without CUDA ops
    sys.exit(f'gpu_check: mmcv {mmcv.__version__} CUDA RoIAlign failed: {e}')
print(f'gpu_check: {torch.cuda.get_device_name()}, torch {torch.__version__}'
      f', CUDA {torch.version.cuda}, mmcv {mmcv.__version__}')
PY
"$PYTHON" -c 'from mmscrl.datasets.dali_loader import dali_available as a; print("gpu_check: DALI", "installed: the data section measures DALI CPU and GPU" if a() else "not installed (pip install -e .[dali]): no DALI rows")'
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv || true

# steps: 7 models x (5 warm-up + 20 timed) AMP steps at batch 64; the
# data section runs on the host CPU (one worker) and is kept short
timeout 450 "$PYTHON" tools/benchmarks/run.py --device cuda --amp \
    --depth 50 --batch 64 --size 224 --repeats 20 --warmup 5 \
    --sections steps,roialign,data --data-images 16 --data-repeats 2 \
    --out-dir "$OUT_DIR"
echo "gpu_check: results in $OUT_DIR (paste results.md into README.md)"
