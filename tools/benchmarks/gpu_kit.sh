#!/usr/bin/env bash
# Carryable GPU benchmark kit: step time, peak memory and FLOPs of every
# method against its baseline on a bare, borrowed GPU machine.
#
# The machine has Python 3.12 with torch (CUDA), torchvision, numpy 2.x,
# opencv-python-headless, pillow, scipy and matplotlib, but no OpenMMLab
# package and no package registry; only the repository and a git-ignored
# folder of wheels travel there. `build` (on a machine that reaches PyPI)
# downloads pinned Python 3.12 wheels of mmengine, mmcv-lite (mmcv's Python
# code without compiled ops), mmpretrain and their small dependencies, and
# builds a wheel of this checkout's mmscrl, into KIT_DIR (about 10 MiB).
# `run` (on the GPU machine, no network) installs the wheels the machine
# lacks with `pip --no-index --no-deps --target <temporary folder>` (the
# machine's torch, numpy, ... are never touched), puts that folder on
# PYTHONPATH and runs tools/benchmarks/run.py --sections steps,flops: all
# models of the suite (SCRL, BYOL, ORL stage 3, MoCo v2, DenseCL x2, PixPro),
# ResNet-50, batch 64, 224 px, 5 warm-up + 30 timed interleaved steps, once
# with AMP and once in fp32, peak CUDA memory and FLOPs, under a hard
# deadline (--budget, default 480 s: the 8 minutes of an H100 window).
# Without mmcv's compiled ops RoIAlign comes from torchvision (logged).
#
# Usage: bash tools/benchmarks/gpu_kit.sh build [KIT_DIR]
#        bash tools/benchmarks/gpu_kit.sh run --kit KIT_DIR --out OUT_DIR
#             [--device cuda|cpu] [--quick] [--budget SECONDS]
#        bash tools/benchmarks/gpu_kit.sh check KIT_DIR
#        bash tools/benchmarks/gpu_kit.sh -h | --help
#
#   build   KIT_DIR defaults to work_dirs/gpu_kit (git-ignored). Needs pip
#           and PyPI; Python: $PYTHON, else the repo's .venv, else python3
#           (any version: the wheels are chosen for Python 3.12 x86_64).
#           Writes the wheels, kit.json (pins, sizes, sha256, a hash of the
#           mmscrl sources) and checks the kit (as `check`).
#   check   Every requirement of every wheel in KIT_DIR (markers evaluated
#           for CPython 3.12 on Linux x86_64) is met by another wheel of the
#           kit or by the machine's own packages (torch, torchvision, numpy,
#           opencv-python(-headless), pillow, matplotlib, scipy, packaging);
#           one version per package; wheels installable on CPython 3.12
#           x86_64; total size under 32 MiB.
#   run     Python: $PYTHON, else python3. --device cuda (default) runs the
#           AMP and the fp32 suite; --device cpu runs fp32 only (AMP needs
#           CUDA); --quick: tiny sizes (ResNet-18, 32 px, batch 4, one
#           step), a smoke run. Refuses a kit whose mmscrl wheel was built
#           from other mmscrl sources than this checkout's (rebuild it).
#           OUT_DIR gets amp/ and fp32/ (results.json, results.md,
#           ratios.png each), summary.md (setup and both tables) and
#           kit.log: 8 files. Exit status 0 when every run finished.
#
# On a borrowed machine (the kit travels as a carried, git-ignored path):
#   bash tools/benchmarks/gpu_kit.sh build work_dirs/gpu_kit   # here
#   bash tools/benchmarks/gpu_kit.sh run --kit work_dirs/gpu_kit --out $OUT
# Docs: docs/benchmarks/gpu_kit.md (also: simulating the bare machine).
set -euo pipefail
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$SELF"; }
short_usage() { sed -n '/^# Usage:/,/^#$/s/^# \{0,1\}//p' "$SELF"; }
die() {
    echo "gpu_kit.sh: $*" >&2
    short_usage >&2
    exit 2
}

# Pinned wheels (Python 3.12, x86_64). OpenMMLab versions are those of
# requirements/constraints.txt (mmcv 2.1.0 -> mmcv-lite 2.1.0, the same
# Python code without the compiled ops). The rest is the dependency closure
# of these packages minus the machine's own packages (MACHINE_HAS).
PINS=(
    mmengine==0.10.7
    mmcv-lite==2.1.0
    mmpretrain==1.2.0
    addict==2.4.0          # mmengine, mmcv
    yapf==0.43.0           # mmengine, mmcv
    platformdirs==4.12.2   # yapf
    termcolor==3.3.0       # mmengine
    pyyaml==6.0.3          # mmengine, mmcv, model-index
    rich==13.9.4           # mmengine, mmpretrain
    markdown-it-py==4.2.0  # rich
    mdurl==0.1.2           # markdown-it-py
    pygments==2.21.0       # rich
    einops==0.8.2          # mmpretrain
    importlib-metadata==8.7.1  # mmpretrain
    zipp==3.23.0           # importlib-metadata
    mat4py==0.6.0          # mmpretrain (datasets)
    modelindex==0.0.2      # mmpretrain (a shim requiring model-index)
    model-index==0.1.11    # provides the `modelindex` module
    ordered-set==4.1.0     # model-index
    markdown==3.11         # model-index
    click==8.5.0           # model-index
)
# What the GPU machine (and the simulated bare machine) brings itself.
MACHINE_HAS=torch,torchvision,numpy,opencv-python,opencv-python-headless,pillow,matplotlib,scipy,packaging
# mmscrl's own requirements that the kit leaves out on purpose: detection
# transfer (mmdet, pycocotools) needs compiled mmcv ops and is out of scope.
KIT_SKIPS=mmdet,pycocotools
MAX_KIT_MIB=32
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64
           manylinux2014_x86_64 manylinux1_x86_64)

# sha256 of mmscrl/**/*.py (paths and contents): the kit's wheel must come
# from the sources of the checkout it runs in.
read -r -d '' SRC_HASH_PY <<'PY' || true
import hashlib, os, sys
root = os.path.join(sys.argv[1], 'mmscrl')
h = hashlib.sha256()
files = []
for d, dirs, names in os.walk(root):
    dirs[:] = sorted(x for x in dirs if x not in ('.mim', '__pycache__'))
    files += [os.path.join(d, n) for n in names if n.endswith('.py')]
for f in sorted(files):
    h.update(os.path.relpath(f, root).replace(os.sep, '/').encode() + b'\0')
    with open(f, 'rb') as fh:
        h.update(fh.read() + b'\0')
print(h.hexdigest())
PY

# `check KIT_DIR [--write-manifest SRC_HASH]`: the kit's consistency (see
# usage); with --write-manifest also writes KIT_DIR/kit.json.
read -r -d '' CHECK_PY <<'PY' || true
import email.parser, hashlib, json, os, sys, time, zipfile
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
kit, machine, skips = sys.argv[1], sys.argv[2], sys.argv[3]
max_mib = float(sys.argv[4])
src_hash = sys.argv[5] if len(sys.argv) > 5 else None
#: a wheel that provides another distribution's package (same versions)
provides = {'mmcv': 'mmcv-lite'}
env = dict(python_version='3.12', python_full_version='3.12.3',
           implementation_name='cpython', implementation_version='3.12.3',
           platform_python_implementation='CPython', os_name='posix',
           sys_platform='linux', platform_system='Linux',
           platform_machine='x86_64', platform_release='', platform_version='',
           extra='')
machine = {canonicalize_name(n) for n in machine.split(',') if n}
skips = {canonicalize_name(n) for n in skips.split(',') if n}
names = sorted(n for n in os.listdir(kit) if n.endswith('.whl'))
problems, dists = [], {}
if not names:
    problems.append(f'no wheels in {kit}')
for fn in names:
    path = os.path.join(kit, fn)
    try:
        name, ver, _, tags = parse_wheel_filename(fn)
    except Exception as e:
        problems.append(f'{fn}: not a wheel file name ({e})')
        continue
    ok = any(t.interpreter in ('py3', 'cp312') and t.abi in
             ('none', 'abi3', 'cp312') and (t.platform == 'any' or (
                 t.platform.startswith('manylinux')
                 and t.platform.endswith('_x86_64'))) for t in tags)
    if not ok:
        problems.append(f'{fn}: not installable on CPython 3.12 x86_64')
    if name in dists:
        other = dists[name]['file']
        problems.append(f'{name}: two versions ({other}, {fn}); keep one')
        continue
    try:
        with zipfile.ZipFile(path) as z:
            meta = [m for m in z.namelist()
                    if m.endswith('.dist-info/METADATA')]
            text = z.read(meta[0]).decode() if meta else ''
    except zipfile.BadZipFile as e:
        problems.append(f'{fn}: {e}')
        continue
    if not text:
        problems.append(f'{fn}: no .dist-info/METADATA')
    msg = email.parser.Parser().parsestr(text)
    with open(path, 'rb') as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    dists[name] = dict(file=fn, name=str(name), version=str(ver),
                       bytes=os.path.getsize(path), sha256=digest,
                       requires=msg.get_all('Requires-Dist') or [])
for name, d in sorted(dists.items()):
    for spec in d['requires']:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        dep = canonicalize_name(req.name)
        if dep not in dists and provides.get(dep) in dists:
            dep = provides[dep]
        if name == 'mmscrl' and dep in skips:
            print(f'  note: mmscrl needs {spec}: left out (detection '
                  'transfer is out of the kit\'s scope)')
            continue
        if dep in dists:
            if not req.specifier.contains(dists[dep]['version'],
                                          prereleases=True):
                kv = dists[dep]['version']
                problems.append(f'{name} needs {spec}; the kit has '
                                f'{dep} {kv}')
        elif dep not in machine:
            problems.append(f'{name} needs {spec}: not in the kit and not '
                            'one of the machine packages')
total = sum(d['bytes'] for d in dists.values())
for d in sorted(dists.values(), key=lambda d: -d['bytes']):
    print('  %6.2f MiB  %s' % (d['bytes'] / 2**20, d['file']))
print(f'kit: {len(dists)} wheels, {total / 2**20:.2f} MiB in {kit}')
if total > max_mib * 2**20:
    problems.append(f'{total / 2**20:.1f} MiB is over the kit limit of '
                    f'{max_mib:g} MiB')
if problems:
    print('gpu_kit.sh check: ' + str(len(problems)) + ' problem(s):\n  '
          + '\n  '.join(problems), file=sys.stderr)
    sys.exit(1)
if src_hash is not None:
    manifest = dict(
        python='cp312-x86_64', built=time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        mmscrl_sources_sha256=src_hash, machine_packages=sorted(machine),
        total_bytes=total,
        wheels=[{k: v for k, v in d.items() if k != 'requires'}
                for _, d in sorted(dists.items())])
    with open(os.path.join(kit, 'kit.json'), 'w') as fh:
        json.dump(manifest, fh, indent=1)
print('kit check: OK')
PY

# The wheels of the kit that the running Python lacks (by distribution
# name; mmcv-lite is not needed where any mmcv is installed). mmscrl is
# always installed from the kit.
read -r -d '' SELECT_PY <<'PY' || true
import json, os, re, sys
from importlib import metadata
kit = sys.argv[1]
with open(os.path.join(kit, 'kit.json')) as fh:
    wheels = json.load(fh)['wheels']
def have(name):
    try:
        metadata.distribution(name)
        return True
    except metadata.PackageNotFoundError:
        return False
for w in wheels:
    name = re.sub(r'[-_.]+', '-', w['name']).lower()
    path = os.path.join(kit, w['file'])
    if not os.path.isfile(path):
        sys.exit(f'gpu_kit.sh: {path} (listed in kit.json) is missing')
    if name == 'mmscrl':
        print(path)
    elif name == 'mmcv-lite' and (have('mmcv') or have('mmcv-lite')):
        mm = 'mmcv' if have('mmcv') else 'mmcv-lite'
        print(f'  machine has {mm} {metadata.version(mm)}: kit mmcv-lite '
              'skipped', file=sys.stderr)
    elif have(name):
        kv = w['version']
        print(f'  machine has {name} {metadata.version(name)}: kit {kv} '
              'skipped', file=sys.stderr)
    else:
        print(path)
PY

build_python() {
    if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"
    elif [[ -x "$ROOT/.venv/bin/python" ]]; then echo "$ROOT/.venv/bin/python"
    else echo python3; fi
}

cmd_check() {
    [[ $# -eq 1 ]] || die "check takes one KIT_DIR, got: $*"
    [[ -d "$1" ]] || die "check: no such folder '$1'"
    "$(build_python)" -c "$CHECK_PY" "$1" "$MACHINE_HAS" "$KIT_SKIPS" \
        "$MAX_KIT_MIB"
}

cmd_build() {
    [[ $# -le 1 ]] || die "build takes one KIT_DIR at most, got: $*"
    case "${1:-}" in -*) die "build: unknown option '$1'" ;; esac
    local kit="${1:-$ROOT/work_dirs/gpu_kit}" py t0=$SECONDS src tmp
    py="$(build_python)"
    if [[ -e "$kit" && ! -d "$kit" ]]; then die "build: '$kit' is not a folder"; fi
    if [[ -d "$kit" ]]; then
        local other
        other="$(find "$kit" -mindepth 1 -maxdepth 1 ! -name '*.whl' \
            ! -name kit.json | head -3)"
        [[ -z "$other" ]] || die "build: '$kit' holds other files than" \
            "wheels and kit.json (e.g. $other); choose an empty or new folder"
    fi
    mkdir -p "$kit"
    kit="$(cd "$kit" && pwd)"
    rm -f "$kit"/*.whl "$kit/kit.json"
    local plat=() p
    for p in "${PLATFORMS[@]}"; do plat+=(--platform "$p"); done
    echo "gpu_kit: downloading ${#PINS[@]} pinned wheels for CPython 3.12 x86_64"
    "$py" -m pip download -q --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp --abi cp312 --abi abi3 \
        --abi none "${plat[@]}" -d "$kit" "${PINS[@]}" \
        2> >(grep -v "^WARNING: Location 'file:" >&2)
    # mmscrl from a clean copy of this checkout's files (no stale build/)
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/mmscrl_kit_src.XXXXXX")"
    TMP_TO_REMOVE="$tmp"
    trap 'rm -rf "$TMP_TO_REMOVE"' EXIT
    if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # tracked and untracked-not-ignored files (not deleted ones)
        (cd "$ROOT" && git ls-files -z -c -o --exclude-standard \
            | while IFS= read -r -d '' f; do
                  [[ -e "$f" ]] && printf '%s\0' "$f"
              done | tar --null -T - -cf -) | tar -xf - -C "$tmp"
    else
        (cd "$ROOT" && tar --exclude=./.venv --exclude=./work_dirs \
            --exclude=./build --exclude=./data -cf - .) | tar -xf - -C "$tmp"
    fi
    src="$("$py" -c "$SRC_HASH_PY" "$tmp")"
    echo "gpu_kit: building the mmscrl wheel"
    if "$py" -c 'import setuptools, wheel' 2>/dev/null; then
        "$py" -m pip wheel -q --no-deps --no-build-isolation -w "$kit" "$tmp"
    else
        "$py" -m pip wheel -q --no-deps -w "$kit" "$tmp"
    fi
    "$py" -c "$CHECK_PY" "$kit" "$MACHINE_HAS" "$KIT_SKIPS" \
        "$MAX_KIT_MIB" "$src"
    echo "gpu_kit: built $kit in $((SECONDS - t0)) s"
}

run_body() {
    set -euo pipefail  # (a pipeline's subshell of a `set +e` caller)
    local kit="$1" out="$2" device="$3" quick="$4" budget="$5" py="$6"
    local deadline=$((SECONDS + budget)) t0=$SECONDS site rc=0
    echo "gpu_kit run: $(date -u +%Y-%m-%dT%H:%M:%SZ), kit $kit, device" \
         "$device$([[ $quick == 1 ]] && echo ', quick'), budget ${budget} s," \
         "python $("$py" -c 'import sys; print(sys.version.split()[0])')"
    if [[ "$device" == cuda ]] && command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,memory.total,driver_version \
            --format=csv,noheader || true
    fi
    local want have
    want="$("$py" -c 'import json, sys
print(json.load(open(sys.argv[1]))["mmscrl_sources_sha256"])' "$kit/kit.json")"
    have="$("$py" -c "$SRC_HASH_PY" "$ROOT")"
    if [[ "$want" != "$have" ]]; then
        echo "gpu_kit.sh: the kit's mmscrl wheel was built from other mmscrl sources than $ROOT/mmscrl; rebuild it: bash tools/benchmarks/gpu_kit.sh build $kit" >&2
        return 2
    fi
    site="$(mktemp -d "${TMPDIR:-/tmp}/mmscrl_gpu_kit.XXXXXX")"
    TMP_TO_REMOVE="$site"
    trap 'rm -rf "$TMP_TO_REMOVE"' EXIT  # (run_body runs in a subshell)
    local wheels=()
    mapfile -t wheels < <("$py" -c "$SELECT_PY" "$kit")
    echo "gpu_kit: installing ${#wheels[@]} wheels into $site (--no-index)"
    timeout $((deadline - SECONDS > 1 ? deadline - SECONDS : 1)) \
        "$py" -m pip --isolated install -q \
        --no-index --no-deps --no-cache-dir --no-compile \
        --disable-pip-version-check --find-links "$kit" --target "$site" \
        "${wheels[@]}"
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    # not the checkout: `import mmscrl` must find the installed wheel
    cd "$site"
    export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
    # (mmpretrain's regexes, compiled on first import: no .pyc in the kit)
    export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::SyntaxWarning}"
    local env_md="$out/.env.md"
    DEVICE="$device" "$py" - "$env_md" <<'PY'
import os
import sys
from importlib import metadata

import torch

import mmscrl
from mmscrl.models.utils.roi_layers import mmcv_ops_status, roi_align_backend


def ver(*names):
    for n in names:
        try:
            return f'{n} {metadata.version(n)}'
        except metadata.PackageNotFoundError:
            pass
    return f'{names[0]} missing'


dev = os.environ['DEVICE']
if dev == 'cuda' and not torch.cuda.is_available():
    sys.exit('gpu_kit: --device cuda but torch.cuda.is_available() is False')
gpu = torch.cuda.get_device_name() if dev == 'cuda' else 'none (CPU run)'
roi = roi_align_backend()
if roi != 'mmcv.ops':
    roi += f' (mmcv.ops: {mmcv_ops_status()[1]})'
# mmcv's adjust_hue with a negative hue: an OverflowError under numpy 2
# unless mmscrl.compat's fix is applied
import mmcv  # noqa: E402
import numpy as np  # noqa: E402
mmcv.adjust_hue(np.full((4, 4, 3), 90, np.uint8), -0.25)
lines = [
    f'- device: {gpu}',
    f'- python {sys.version.split()[0]}, torch {torch.__version__} (CUDA '
    f'{torch.version.cuda}), {ver("torchvision")}, {ver("numpy")}, '
    f'{ver("opencv-python-headless", "opencv-python")}',
    f'- {ver("mmengine")}, {ver("mmcv", "mmcv-lite")}, '
    f'{ver("mmpretrain")}, mmscrl {mmscrl.__version__} '
    f'(from {os.path.dirname(mmscrl.__file__)})',
    f'- RoIAlign: {roi}',
    f'- mmscrl.compat fixes applied: {", ".join(sorted(mmscrl.compat._APPLIED)) or "none"}',
]
print('\n'.join(lines))
with open(sys.argv[1], 'w') as f:
    f.write('\n'.join(lines) + '\n')
PY
    local common=() runs=() status=()
    if [[ "$quick" == 1 ]]; then
        common=(--quick)
    elif [[ "$device" == cuda ]]; then
        common=(--depth 50 --batch 64 --size 224 --warmup 5 --repeats 30)
    fi
    if [[ "$device" == cuda ]]; then runs=(amp fp32); else runs=(fp32); fi
    local i name left t
    for i in "${!runs[@]}"; do
        name="${runs[$i]}"
        left=$((deadline - SECONDS - 5))
        t=$((left / (${#runs[@]} - i)))  # an even share of what is left
        if [[ $t -lt 20 ]]; then
            echo "gpu_kit: $name run skipped: ${left} s of the budget left" >&2
            status+=("$name: skipped (budget)"); rc=1; continue
        fi
        local flags=(--device "$device" "${common[@]}")
        [[ "$name" == amp ]] && flags+=(--amp)
        echo "== gpu_kit: $name run (timeout ${t} s)"
        local s0=$SECONDS r=0
        timeout --kill-after=10 "$t" "$py" "$ROOT/tools/benchmarks/run.py" \
            "${flags[@]}" --sections steps,flops --out-dir "$out/$name" || r=$?
        if [[ $r -eq 0 ]]; then
            status+=("$name: done in $((SECONDS - s0)) s")
        elif [[ $r -eq 124 || $r -eq 137 ]]; then
            status+=("$name: TIMED OUT after ${t} s"); rc=1
        else
            status+=("$name: FAILED (exit $r) after $((SECONDS - s0)) s"); rc=1
        fi
    done
    {
        echo "# mmscrl GPU kit: step time, peak memory and FLOPs"
        echo
        cat "$env_md"
        echo "- runs: $(IFS=';'; echo "${status[*]}"); total $((SECONDS - t0)) s"
        echo "- command: gpu_kit.sh run --device $device$([[ $quick == 1 ]] && echo ' --quick')"
        for name in "${runs[@]}"; do
            echo
            if [[ "$name" == amp ]]; then echo "## AMP (fp16 autocast)"; else echo "## fp32"; fi
            echo
            if [[ -f "$out/$name/results.md" ]]; then cat "$out/$name/results.md"
            else echo "(no results: see kit.log)"; fi
        done
        if [[ "$device" != cuda ]]; then
            echo
            echo "AMP run not made: it needs --device cuda."
        fi
    } > "$out/summary.md"
    rm -f "$env_md"
    echo "gpu_kit: $(IFS=';'; echo "${status[*]}"); wrote $out/summary.md in $((SECONDS - t0)) s"
    return $rc
}

cmd_run() {
    local kit="" out="" device=cuda quick=0 budget=480
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --kit) [[ $# -ge 2 ]] || die "run: --kit needs a value"; kit="$2"; shift 2 ;;
            --out) [[ $# -ge 2 ]] || die "run: --out needs a value"; out="$2"; shift 2 ;;
            --device) [[ $# -ge 2 ]] || die "run: --device needs a value"; device="$2"; shift 2 ;;
            --budget) [[ $# -ge 2 ]] || die "run: --budget needs a value"; budget="$2"; shift 2 ;;
            --quick) quick=1; shift ;;
            *) die "run: unknown argument '$1' (see --help)" ;;
        esac
    done
    [[ -n "$kit" ]] || die "run: --kit KIT_DIR is required"
    [[ -n "$out" ]] || die "run: --out OUT_DIR is required"
    [[ "$device" == cuda || "$device" == cpu ]] || die "run: --device must be cuda or cpu, got '$device'"
    [[ "$budget" =~ ^[0-9]+$ && "$budget" -ge 60 ]] || die "run: --budget must be whole seconds >= 60, got '$budget'"
    [[ -f "$kit/kit.json" ]] || die "run: '$kit' holds no kit.json: build it first (gpu_kit.sh build $kit)"
    kit="$(cd "$kit" && pwd)"
    mkdir -p "$out"
    out="$(cd "$out" && pwd)"
    local py="${PYTHON:-python3}" rc=0
    command -v "$py" >/dev/null || die "run: no Python '$py' (set PYTHON)"
    set +e
    run_body "$kit" "$out" "$device" "$quick" "$budget" "$py" 2>&1 \
        | tee "$out/kit.log"
    rc=${PIPESTATUS[0]}
    set -e
    return "$rc"
}

for arg in "$@"; do  # --help anywhere: the usage, nothing else
    case "$arg" in -h|--help) usage; exit 0 ;; esac
done
case "${1:-}" in
    build) shift; cmd_build "$@" ;;
    run) shift; cmd_run "$@" ;;
    check) shift; cmd_check "$@" ;;
    "") short_usage >&2; exit 2 ;;
    *) die "unknown command '$1': build, run, check or --help" ;;
esac
