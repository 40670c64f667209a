#!/usr/bin/env bash
# Build (or reuse) an mmcv wheel with compiled ops for the torch in the active Python.
#
# Usage: [PYTHON=python] [MMCV_VERSION=2.1.0] bash tools/setup/build_mmcv.sh   (no arguments)
#
# mmcv publishes no wheel for torch 2.14, so we build 2.1.0 from its sdist:
#   * MMCV_WITH_OPS=1 so that mmcv.ops (RoIAlign, NMS, ...) is compiled;
#   * --no-build-isolation so the build sees the installed torch;
#   * setuptools < 82 because mmcv's setup.py imports pkg_resources;
#   * torch >= 2.10 headers need C++20 but mmcv's setup.py hard-codes -std=c++14/17,
#     so the unpacked setup.py is patched to -std=c++20 before building.
# The built wheel is cached in $MMSCRL_WHEEL_CACHE (default ~/.cache/mmscrl/wheels),
# keyed by torch version and CUDA/CPU flavour, so later set-ups take seconds.
#
# GPU users: export FORCE_CUDA=1 and TORCH_CUDA_ARCH_LIST (e.g. "8.0;9.0") before running.
set -euo pipefail
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
if [ $# -gt 0 ]; then
  echo "tools/setup/build_mmcv.sh takes no arguments (got: $*); it is" \
    "configured by environment variables" >&2
  usage >&2
  exit 2
fi
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
PY=${PYTHON:-python}
CACHE=${MMSCRL_WHEEL_CACHE:-$HOME/.cache/mmscrl/wheels}
TORCH_VER=$($PY -c "import torch; print(torch.__version__.split('+')[0])")
FLAVOUR=cpu
if [ "${FORCE_CUDA:-0}" = "1" ] || $PY -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  FLAVOUR="cuda-${TORCH_CUDA_ARCH_LIST:-native}"
  FLAVOUR=${FLAVOUR//[^A-Za-z0-9._-]/_}
fi
DEST="$CACHE/mmcv-$MMCV_VERSION-torch$TORCH_VER-$FLAVOUR"
mkdir -p "$DEST"

if ls "$DEST"/mmcv-*.whl >/dev/null 2>&1; then
  echo "[build_mmcv] reusing cached wheel in $DEST"
else
  echo "[build_mmcv] building mmcv $MMCV_VERSION with ops for torch $TORCH_VER ($FLAVOUR); ~11 min on 2 cores"
  $PY -m pip install -q "setuptools<82" wheel ninja psutil
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  $PY -m pip download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VERSION" -d "$WORK"
  tar -xzf "$WORK/mmcv-$MMCV_VERSION.tar.gz" -C "$WORK"
  SRC="$WORK/mmcv-$MMCV_VERSION"
  if $PY -c "import torch,sys; v=tuple(int(x) for x in torch.__version__.split('+')[0].split('.')[:2]); sys.exit(0 if v>=(2,10) else 1)"; then
    sed -i 's/-std=c++1[47]/-std=c++20/g' "$SRC/setup.py"
  fi
  export MMCV_WITH_OPS=1
  export MAX_JOBS=${MAX_JOBS:-$(nproc)}
  (cd "$SRC" && $PY -m pip wheel --no-deps --no-build-isolation -w "$WORK/dist" .)
  # atomic publish into the cache
  WHL=$(ls "$WORK"/dist/mmcv-*.whl)
  cp "$WHL" "$DEST/.tmp-$(basename "$WHL")"
  mv "$DEST/.tmp-$(basename "$WHL")" "$DEST/$(basename "$WHL")"
fi
$PY -m pip install -q --no-deps "$DEST"/mmcv-*.whl
