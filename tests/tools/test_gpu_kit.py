# Copyright (c) mmscrl contributors. All rights reserved.
"""``tools/benchmarks/gpu_kit.sh``: the carryable GPU benchmark kit.

Always run (no network, seconds): the usage, argument errors, the kit
consistency check on hand-made wheels, the refusals of ``build`` and
``run``. Each script call runs with fake ``pip``/``python``/``nvidia-smi``
first on ``PATH``, so a launch that should not happen shows.

The bare-machine simulation runs only when ``MMSCRL_GPU_KIT_SIM`` names a
Python 3.12 virtual environment holding nothing but torch, torchvision,
numpy 2, opencv-python-headless, pillow, scipy and matplotlib (how to make
one: docs/benchmarks/gpu_kit.md). It builds the kit from PyPI into a
temporary folder (about 10 s), then runs ``gpu_kit.sh run --device cpu
--quick`` with that Python, without a network where ``unshare -n`` works
(as root), and checks what it wrote (about 30 s).
"""
import json
import os
import os.path as osp
import shutil
import stat
import subprocess
import sys
import time
import zipfile

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KIT = osp.join(REPO, 'tools', 'benchmarks', 'gpu_kit.sh')
FAKES = ('pip', 'pip3', 'python', 'python3', 'nvidia-smi', 'timeout')


@pytest.fixture
def sandbox(tmp_path):
    """``run(args, python=None) -> CompletedProcess`` from an empty cwd;
    fails the test if a fake pip/python/nvidia-smi was started."""
    fake_bin = tmp_path / 'fake_bin'
    markers = tmp_path / 'markers'
    fake_bin.mkdir()
    markers.mkdir()
    for name in FAKES:
        exe = fake_bin / name
        exe.write_text(f'#!/bin/sh\necho "$@" > "{markers}/{name}.$$"\n'
                       'exit 1\n')
        exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    cwd = tmp_path / 'cwd'
    cwd.mkdir()

    def run(args, python=None, allowed=()):
        env = {k: v for k, v in os.environ.items()
               if k not in ('VIRTUAL_ENV', 'PYTHONPATH')}
        env.update(PATH=f'{fake_bin}{os.pathsep}{env.get("PATH", "")}',
                   PYTHON=python or str(fake_bin / 'python'))
        out = subprocess.run(['bash', KIT] + list(args), cwd=cwd, env=env,
                             capture_output=True, text=True, timeout=120)
        started = {p.name.split('.')[0] for p in markers.iterdir()}
        assert started <= set(allowed), (started, out.stderr[-2000:])
        return out

    return run


@pytest.mark.parametrize('args', [['--help'], ['-h'], ['run', '--help'],
                                  ['build', '-h']])
def test_help(args, sandbox):
    start = time.monotonic()
    out = sandbox(args)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith('Carryable GPU benchmark kit')
    for text in ('Usage: bash tools/benchmarks/gpu_kit.sh build [KIT_DIR]',
                 'run --kit KIT_DIR --out OUT_DIR', '--quick', '--budget',
                 'mmcv-lite', 'docs/benchmarks/gpu_kit.md'):
        assert text in out.stdout
    assert time.monotonic() - start < 2


@pytest.mark.parametrize('args,message', [
    ([], ''),
    (['deploy'], "unknown command 'deploy'"),
    (['build', 'a', 'b'], 'one KIT_DIR at most'),
    (['build', '--fast'], "unknown option '--fast'"),
    (['check'], 'check takes one KIT_DIR'),
    (['check', '/nonexistent/kit'], "no such folder '/nonexistent/kit'"),
    (['run', '--out', 'o'], '--kit KIT_DIR is required'),
    (['run', '--kit', 'k'], '--out OUT_DIR is required'),
    (['run', '--kit'], '--kit needs a value'),
    (['run', '--kit', 'k', '--out', 'o', '--device', 'tpu'],
     "--device must be cuda or cpu, got 'tpu'"),
    (['run', '--kit', 'k', '--out', 'o', '--budget', '10'],
     "--budget must be whole seconds >= 60, got '10'"),
    (['run', '--kit', 'k', '--out', 'o', '--amp'],
     "unknown argument '--amp'"),
    (['run', '--kit', '/nonexistent/kit', '--out', 'o'],
     "'/nonexistent/kit' holds no kit.json: build it first"),
])
def test_argument_errors(args, message, sandbox):
    out = sandbox(args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stderr
    assert 'Usage: bash tools/benchmarks/gpu_kit.sh' in out.stderr


def test_build_refuses_a_folder_that_is_not_a_kit(tmp_path, sandbox):
    """Nothing downloaded, nothing deleted."""
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'notes.txt').write_text('keep me')
    out = sandbox(['build', str(tmp_path / 'mine')])
    assert out.returncode == 2
    assert 'holds other files than wheels and kit.json' in out.stderr
    assert (tmp_path / 'mine' / 'notes.txt').read_text() == 'keep me'


def _wheel(folder, name, version, requires=(), tag='py3-none-any'):
    """A minimal wheel: ``<name>.dist-info/METADATA`` with Requires-Dist."""
    fn = f'{name.replace("-", "_")}-{version}-{tag}.whl'
    meta = ['Metadata-Version: 2.1', f'Name: {name}',
            f'Version: {version}'] + [f'Requires-Dist: {r}' for r in requires]
    with zipfile.ZipFile(folder / fn, 'w') as z:
        z.writestr(f'{name.replace("-", "_")}-{version}.dist-info/METADATA',
                   '\n'.join(meta) + '\n')
    return fn


def _big_wheel(folder):
    fn = _wheel(folder, 'big', '1.0')
    with zipfile.ZipFile(folder / fn, 'a') as z:
        z.writestr('big/data.bin', os.urandom(33 * 2**20))


def _good_kit(folder):
    folder.mkdir()
    _wheel(folder, 'mmengine', '0.10.7',
           ['addict', 'numpy', 'opencv-python>=3',
            'regex; sys_platform == "win32"'])
    _wheel(folder, 'mmcv-lite', '2.1.0', ['addict', 'mmengine>=0.3.0'])
    _wheel(folder, 'addict', '2.4.0')
    _wheel(folder, 'yapf', '0.43.0',
           ['tomli>=2.0.1; python_version < "3.11"'])
    _wheel(folder, 'pyyaml', '6.0.3',
           tag='cp312-cp312-manylinux2014_x86_64')
    _wheel(folder, 'mmscrl', '0.1.0',
           ['mmcv<2.2.0,>=2.1.0', 'mmdet<3.4.0,>=3.3.0', 'mmengine',
            'torch>=2.0', 'pycocotools>=2.0'])
    return folder


def test_check_accepts_a_consistent_kit(tmp_path, sandbox):
    """Markers evaluated for CPython 3.12 Linux (no tomli, no regex), the
    machine's packages (numpy, opencv) not needed, mmcv met by mmcv-lite,
    mmdet/pycocotools left out on purpose."""
    kit = _good_kit(tmp_path / 'kit')
    out = sandbox(['check', str(kit)], python=sys.executable)
    assert out.returncode == 0, out.stderr
    assert 'kit: 6 wheels' in out.stdout and 'kit check: OK' in out.stdout
    assert 'mmscrl needs mmdet' in out.stdout  # a note, not a problem
    assert not (kit / 'kit.json').exists()  # check writes nothing


@pytest.mark.parametrize('change,problem', [
    (lambda k: os.remove(k / 'addict-2.4.0-py3-none-any.whl'),
     'mmengine needs addict: not in the kit'),
    (lambda k: _wheel(k, 'addict', '2.3.0'), 'addict: two versions'),
    (lambda k: _wheel(k, 'rich', '13.9.4', ['pygments>=2.13.0,<3.0.0']),
     'rich needs pygments'),
    (lambda k: _wheel(k, 'einops', '0.8.2', ['mmengine>=1.0']),
     'einops needs mmengine>=1.0; the kit has mmengine 0.10.7'),
    (lambda k: _wheel(k, 'numba', '0.61.0',
                      tag='cp311-cp311-manylinux2014_x86_64'),
     'not installable on CPython 3.12 x86_64'),
    (lambda k: _wheel(k, 'tools', '1.0', tag='py3-none-macosx_11_0_arm64'),
     'not installable on CPython 3.12 x86_64'),
    (lambda k: _big_wheel(k), 'over the kit limit of 32 MiB'),
])
def test_check_finds_problems(tmp_path, sandbox, change, problem):
    kit = _good_kit(tmp_path / 'kit')
    change(kit)
    out = sandbox(['check', str(kit)], python=sys.executable)
    assert out.returncode == 1, out.stdout
    assert problem in out.stderr


def test_run_refuses_a_kit_built_from_other_sources(tmp_path, sandbox):
    """A kit whose mmscrl wheel is not this checkout's: refused before any
    install, with the command that rebuilds it; the log is kept."""
    kit = tmp_path / 'kit'
    kit.mkdir()
    (kit / 'kit.json').write_text(json.dumps(dict(
        mmscrl_sources_sha256='0' * 64, wheels=[])))
    out_dir = tmp_path / 'out'
    out = sandbox(['run', '--kit', str(kit), '--out', str(out_dir),
                   '--device', 'cpu'], python=sys.executable)
    assert out.returncode == 2, out.stdout + out.stderr
    assert 'built from other mmscrl sources' in out.stdout
    assert f'gpu_kit.sh build {kit}' in out.stdout
    assert 'rebuild it' in (out_dir / 'kit.log').read_text()
    assert sorted(os.listdir(out_dir)) == ['kit.log']


def test_gpu_kit_script_parses():
    out = subprocess.run(['bash', '-n', KIT], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr


SIM = os.environ.get('MMSCRL_GPU_KIT_SIM')


def _no_network_prefix():
    """``['unshare', '-n']`` where a new network namespace can be made
    (root), else nothing."""
    unshare = shutil.which('unshare')
    if unshare and subprocess.run([unshare, '-n', 'true'],
                                  capture_output=True).returncode == 0:
        return [unshare, '-n']
    return []


@pytest.mark.skipif(not SIM, reason='set MMSCRL_GPU_KIT_SIM to a bare '
                    'Python 3.12 venv (docs/benchmarks/gpu_kit.md)')
def test_simulated_bare_machine(tmp_path):
    python = osp.join(SIM, 'bin', 'python')
    probe = subprocess.run(
        [python, '-c', 'import sys, numpy, torch, torchvision, cv2\n'
         'print(sys.version_info[:2], numpy.__version__)\n'
         'for m in ("mmengine", "mmcv", "mmpretrain", "mmdet", "mmscrl"):\n'
         '    try:\n'
         '        __import__(m)\n'
         '    except ImportError:\n'
         '        continue\n'
         '    sys.exit(m + " is installed: not a bare machine")'],
        capture_output=True, text=True, cwd=tmp_path)
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert probe.stdout.startswith('(3, 12) 2.'), probe.stdout

    kit = tmp_path / 'kit'
    start = time.monotonic()
    built = subprocess.run(['bash', KIT, 'build', str(kit)],
                           capture_output=True, text=True, timeout=600)
    build_s = time.monotonic() - start
    assert built.returncode == 0, built.stdout + built.stderr
    manifest = json.loads((kit / 'kit.json').read_text())
    assert manifest['total_bytes'] < 32 * 2**20
    names = {w['name'] for w in manifest['wheels']}
    assert {'mmengine', 'mmcv-lite', 'mmpretrain', 'mmscrl'} <= names
    assert not names & {'torch', 'numpy', 'mmcv', 'mmdet', 'opencv-python'}

    out_dir = tmp_path / 'out'
    env = {k: v for k, v in os.environ.items()
           if k not in ('VIRTUAL_ENV', 'PYTHONPATH', 'PIP_FIND_LINKS',
                        'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL')}
    env['PYTHON'] = python
    start = time.monotonic()
    ran = subprocess.run(
        _no_network_prefix() + ['bash', KIT, 'run', '--kit', str(kit),
                                '--out', str(out_dir), '--device', 'cpu',
                                '--quick'],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    run_s = time.monotonic() - start
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-6000:]
    print(f'simulated bare machine: build {build_s:.0f} s, run '
          f'{run_s:.0f} s, kit {manifest["total_bytes"] / 2**20:.1f} MiB')

    summary = (out_dir / 'summary.md').read_text()
    assert 'RoIAlign: torchvision.ops' in summary
    assert 'mmcv-lite 2.1.0' in summary and 'numpy 2.' in summary
    assert 'patch_mmcv_adjust_hue' in summary
    assert 'fp32: done' in summary and 'AMP run not made' in summary
    res = json.loads((out_dir / 'fp32' / 'results.json').read_text())
    models = set(res['steps']['models'])
    assert {'SCRL', 'BYOL', 'ORL stage 3', 'MoCo v2', 'DenseCL (mmscrl)',
            'DenseCL (mmpretrain)', 'PixPro'} == models
    assert set(res['flops']['models']) == models
    assert res['setup']['roi_align'] == 'torchvision.ops'
    assert '| PixPro / BYOL |' in summary
    log = (out_dir / 'kit.log').read_text()
    assert 'RoIAlign comes from torchvision.ops.roi_align' in log
    assert '(--no-index)' in log
    files = [osp.join(d, f) for d, _, fs in os.walk(out_dir) for f in fs]
    assert len(files) <= 8, files  # what a device call brings back
