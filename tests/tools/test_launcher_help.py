# Copyright (c) mmscrl contributors. All rights reserved.
"""Shell launchers answer ``--help`` / ``-h`` with their usage (issue 22,
item 4): exit 0, a usage line naming the script, and nothing
created or started. Before, ``dist_*.sh`` ran torchrun into a traceback,
``slurm_*.sh`` called ``srun``, ``install.sh`` / ``build_mmcv.sh``
re-installed and ``gpu_check.sh`` wrote its results to a folder named
``--help``.

Each script runs from an empty temporary folder with fake ``torchrun``,
``srun``, ``pip``, ``python`` ... first on ``PATH`` and as ``$PYTHON`` /
``$MMSCRL_VENV``: each fake writes a marker file, so any launch shows.
"""
import glob
import os
import os.path as osp
import re
import stat
import subprocess

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# scripts whose own header is their usage
SCRIPTS = [
    'tools/dist_train.sh',
    'tools/dist_run.sh',
    'tools/slurm_train.sh',
    'tools/slurm_run.sh',
    'tools/ckpt_run.sh',
    'tools/orl/dist_extract_knn.sh',
    'tools/orl/dist_generate_correspondence.sh',
    'tools/setup/install.sh',
    'tools/setup/build_mmcv.sh',
    'tools/benchmarks/gpu_check.sh',
    'tools/benchmarks/gpu_kit.sh',
]
# wrappers of tools/ckpt_run.sh: it answers for them
CKPT_WRAPPERS = sorted(
    osp.relpath(p, REPO) for d in ('classification', 'mmdetection',
                                   'mmsegmentation')
    for p in glob.glob(osp.join(REPO, 'tools', 'benchmarks', d, '*.sh')))
FAKES = ('torchrun', 'srun', 'pip', 'pip3', 'python', 'python3',
         'python3.11', 'nvidia-smi', 'nproc', 'tar', 'timeout')


@pytest.fixture
def sandbox(tmp_path):
    """``(cwd, env, markers)``: an empty cwd, an environment whose every
    launch of Python, pip, torchrun or srun leaves a file in ``markers``."""
    fake_bin = tmp_path / 'fake_bin'
    markers = tmp_path / 'markers'
    fake_bin.mkdir()
    markers.mkdir()
    for name in FAKES:
        exe = fake_bin / name
        exe.write_text(f'#!/bin/sh\necho "$@" > "{markers}/{name}.$$"\n'
                       'exit 1\n')
        exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    venv = tmp_path / 'fake_venv'
    (venv / 'bin').mkdir(parents=True)
    os.symlink(fake_bin / 'python', venv / 'bin' / 'python')
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ('VIRTUAL_ENV', 'PYTHONPATH')}
    env.update(
        PATH=f'{fake_bin}{os.pathsep}{env.get("PATH", "")}',
        PYTHON=str(fake_bin / 'python'),
        MMSCRL_VENV=str(venv),
        PYTHON_FOR_VENV=str(fake_bin / 'python'),
        MMSCRL_WHEEL_CACHE=str(tmp_path / 'wheel_cache'),
        HOME=str(tmp_path / 'home'))
    return cwd, env, markers


def _run(script, args, sandbox):
    cwd, env, markers = sandbox
    repo_before = set(os.listdir(REPO))
    out = subprocess.run(['bash', osp.join(REPO, script)] + args, cwd=cwd,
                         env=env, capture_output=True, text=True,
                         timeout=60)
    started = {p.name.split('.')[0]: p.read_text().strip()
               for p in markers.iterdir()}
    assert not started, (
        f'{script} {" ".join(args)} started {started}\n{out.stderr[-2000:]}')
    assert os.listdir(cwd) == [], f'{script} created {os.listdir(cwd)}'
    assert set(os.listdir(REPO)) == repo_before, (
        f'{script} created {set(os.listdir(REPO)) - repo_before} in the '
        'repository')
    assert not osp.exists(osp.dirname(str(cwd)) + '/wheel_cache')
    return out


def _usage_line(text, script):
    pattern = rf'^\s*usage:.*{re.escape(script)}'
    return re.search(pattern, text, re.IGNORECASE | re.MULTILINE)


@pytest.mark.parametrize('flag', ['--help', '-h'])
@pytest.mark.parametrize('script', SCRIPTS)
def test_launcher_answers_help(script, flag, sandbox):
    out = _run(script, [flag], sandbox)
    assert out.returncode == 0, out.stdout + out.stderr
    assert _usage_line(out.stdout, script), (
        f'no "Usage: ... {script}" line in:\n{out.stdout}{out.stderr}')


@pytest.mark.parametrize('script,args', [
    ('tools/dist_train.sh', ['configs/x.py', '--help']),
    ('tools/dist_run.sh', ['2', '-h']),
    ('tools/slurm_train.sh', ['part', '--help']),
    ('tools/slurm_run.sh', ['part', 'job', '-h']),
    ('tools/benchmarks/gpu_check.sh', ['--dry-run', '--help']),
])
def test_help_among_the_launchers_own_arguments(script, args, sandbox):
    """``--help`` where the launcher reads its own positional arguments
    (a GPU count, a partition) is also a request for its usage."""
    out = _run(script, args, sandbox)
    assert out.returncode == 0, out.stdout + out.stderr
    assert _usage_line(out.stdout, script)


@pytest.mark.parametrize('script,args', [
    ('tools/dist_train.sh', []),
    ('tools/dist_train.sh', ['configs/x.py']),
    ('tools/dist_run.sh', ['2']),
    ('tools/slurm_train.sh', ['part', 'job']),
    ('tools/slurm_run.sh', []),
    ('tools/setup/install.sh', ['--gpu']),
    ('tools/setup/build_mmcv.sh', ['now']),
    ('tools/benchmarks/gpu_check.sh', ['--dryrun']),
    ('tools/benchmarks/gpu_check.sh', ['out', 'extra']),
])
def test_missing_or_unknown_arguments_give_usage(script, args, sandbox):
    """Too few arguments, or arguments a script does not take: the usage
    on stderr and exit 2, nothing started."""
    out = _run(script, args, sandbox)
    assert out.returncode == 2, out.stdout + out.stderr
    assert _usage_line(out.stderr, script), out.stderr


@pytest.mark.parametrize('flag', ['--help', '-h'])
@pytest.mark.parametrize('script', CKPT_WRAPPERS)
def test_ckpt_run_wrappers_answer_help(script, flag, sandbox):
    """The benchmark wrappers pass their arguments to tools/ckpt_run.sh,
    which answers with the usage of the Python script they run."""
    assert CKPT_WRAPPERS, 'no benchmark wrapper found'
    out = _run(script, [flag], sandbox)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r'^usage: .*(train|knn_eval)\.py', out.stdout,
                     re.IGNORECASE | re.MULTILINE), out.stdout
