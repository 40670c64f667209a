# Copyright (c) mmscrl contributors. All rights reserved.
"""Launchers find the project's Python without an activated venv."""
import os
import os.path as osp
import subprocess
import sys

import pytest

DEMO_CFG = 'configs/demo/byol_resnet18_1xb8-coslr-20i_demo.py'


def _env_without_venv(**extra):
    """No PYTHON, MMSCRL_VENV, VIRTUAL_ENV or venv ``bin`` on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('PYTHON', 'MMSCRL_VENV', 'VIRTUAL_ENV', 'PYTHONPATH')
    }
    venv_bin = osp.dirname(sys.executable)
    env['PATH'] = os.pathsep.join(
        p for p in env.get('PATH', '').split(os.pathsep)
        if p and osp.abspath(p) != venv_bin)
    env['OMP_NUM_THREADS'] = '1'
    env.update(extra)
    return env


def _resolve(repo_root, **env):
    """What tools/find_python.sh picks for a given environment."""
    script = f'ROOT={repo_root}; . {repo_root}/tools/find_python.sh; ' \
        'echo "$PYTHON"'
    return subprocess.run(['bash', '-c', script],
                          env=_env_without_venv(**env),
                          capture_output=True, text=True)


def test_find_python_order(repo_root, tmp_path):
    if not osp.isfile(osp.join(repo_root, '.venv', 'bin', 'python')):
        pytest.skip('no <repo>/.venv (tools/setup/install.sh not run)')
    out = _resolve(repo_root)
    assert out.stdout.strip() == osp.join(repo_root, '.venv', 'bin',
                                          'python')
    assert _resolve(repo_root, PYTHON='/x/py').stdout.strip() == '/x/py'
    venv = tmp_path / 'other'
    (venv / 'bin').mkdir(parents=True)
    (venv / 'bin' / 'python').symlink_to(sys.executable)
    out = _resolve(repo_root, MMSCRL_VENV=str(venv))
    assert out.stdout.strip() == str(venv / 'bin' / 'python')
    # PYTHON beats MMSCRL_VENV
    out = _resolve(repo_root, MMSCRL_VENV=str(venv), PYTHON='/x/py')
    assert out.stdout.strip() == '/x/py'


def test_find_python_names_a_broken_venv(repo_root, tmp_path):
    out = _resolve(repo_root, MMSCRL_VENV=str(tmp_path / 'missing'))
    assert out.returncode == 2
    assert str(tmp_path / 'missing') in out.stderr


def test_dist_train_without_activated_venv(tmp_path, repo_root,
                                           random_image_dir):
    """The README's headline command, run from a shell without the venv."""
    if osp.dirname(osp.dirname(sys.executable)) != osp.join(
            repo_root, '.venv'):
        pytest.skip('the test interpreter is not <repo>/.venv')
    work = tmp_path / 'work'
    out = subprocess.run([
        'bash',
        osp.join(repo_root, 'tools', 'dist_train.sh'),
        osp.join(repo_root, DEMO_CFG), '1', '--work-dir',
        str(work), '--cfg-options',
        f'train_dataloader.dataset.data_root={random_image_dir}',
        'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False'
    ], cwd=tmp_path, env=_env_without_venv(PORT='29547'),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    assert (work / 'iter_2.pth').is_file()


@pytest.mark.parametrize('script,gpus,pretrained', [
    ('tools/slurm_train.sh', '8', None),
    ('tools/benchmarks/mmdetection/slurm_train.sh', '8', 'ckpt.pth'),
    ('tools/benchmarks/mmdetection/slurm_train_c4.sh', '8', 'ckpt.pth'),
    ('tools/benchmarks/mmsegmentation/slurm_train.sh', '4', 'ckpt.pth'),
    ('tools/benchmarks/classification/slurm_train.sh', '8', 'random'),
])
def test_slurm_wrappers_share_one_srun_call(repo_root, tmp_path, script,
                                            gpus, pretrained):
    """Every slurm wrapper ends in tools/slurm_run.sh: the srun flags, the
    project's Python (no activated venv) and the script arguments."""
    fake = tmp_path / 'bin'
    fake.mkdir()
    log = tmp_path / 'srun.args'
    (fake / 'srun').write_text(
        f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {log}\n')
    (fake / 'srun').chmod(0o755)
    env = _env_without_venv(MMSCRL_VENV=str(tmp_path / 'venv'))
    (tmp_path / 'venv' / 'bin').mkdir(parents=True)
    (tmp_path / 'venv' / 'bin' / 'python').symlink_to(sys.executable)
    env['PATH'] = f'{fake}{os.pathsep}{env["PATH"]}'
    args = ['part', 'job', 'cfg.py'] + ([pretrained] if pretrained else [])
    out = subprocess.run(['bash', osp.join(repo_root, script), *args,
                          '--work-dir', 'w'], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    argv = log.read_text().splitlines()
    assert argv[:2] == ['-p', 'part'] and '--job-name=job' in argv
    assert f'--ntasks={gpus}' in argv
    assert f'--gres=gpu:{gpus}' in argv
    i = argv.index(str(tmp_path / 'venv' / 'bin' / 'python'))
    tail = argv[i + 1:]
    assert tail[0] == '-u' and tail[2] == 'cfg.py'
    assert tail[1].endswith('train.py')
    if pretrained:
        assert tail[3:5] == ['--pretrained', pretrained]
    assert '--launcher=slurm' in tail
    assert tail[-2:] == ['--work-dir', 'w']
    if script.endswith('_c4.sh'):
        assert '--arch' in tail and tail[tail.index('--arch') + 1] == 'c4'


@pytest.mark.parametrize('script,ckpt_flag,extra', [
    ('tools/benchmarks/mmdetection/dist_train.sh', '--pretrained', []),
    ('tools/benchmarks/mmdetection/dist_train_c4.sh', '--pretrained',
     ['--arch', 'c4']),
    ('tools/benchmarks/mmdetection/dist_train_fpn.sh', '--pretrained',
     ['--arch', 'fpn']),
    ('tools/benchmarks/mmsegmentation/dist_train.sh', '--pretrained', []),
    ('tools/benchmarks/classification/dist_train.sh', '--pretrained', []),
    ('tools/benchmarks/classification/dist_knn_eval.sh', None, []),
    ('tools/orl/dist_extract_knn.sh', None, []),
    ('tools/orl/dist_generate_correspondence.sh', None, []),
])
def test_dist_wrappers_share_one_torchrun_call(repo_root, tmp_path, script,
                                               ckpt_flag, extra):
    """Every CONFIG CHECKPOINT GPUS wrapper ends in tools/dist_run.sh with
    the checkpoint where its script expects it and --launcher pytorch."""
    log = tmp_path / 'python.args'
    fake = tmp_path / 'python'
    fake.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {log}\n')
    fake.chmod(0o755)
    out = subprocess.run(
        ['bash', osp.join(repo_root, script), 'cfg.py', 'ck.pth', '3',
         '--work-dir', 'w'],
        env=_env_without_venv(PYTHON=str(fake)), cwd=str(tmp_path),
        capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    argv = log.read_text().splitlines()
    assert argv[:2] == ['-m', 'torch.distributed.run']
    assert '--nproc_per_node=3' in argv
    i = next(i for i, a in enumerate(argv) if a.endswith('.py'))
    assert osp.isfile(argv[i]), argv[i]
    ckpt = [ckpt_flag, 'ck.pth'] if ckpt_flag else ['ck.pth']
    assert argv[i + 1:] == ['cfg.py', *ckpt, '--launcher', 'pytorch',
                            *extra, '--work-dir', 'w']


def test_ckpt_wrapper_names_missing_arguments(repo_root):
    out = subprocess.run(
        ['bash', osp.join(repo_root, 'tools/orl/dist_extract_knn.sh'),
         'cfg.py'], capture_output=True, text=True)
    assert out.returncode == 2
    assert 'CONFIG CHECKPOINT GPUS' in out.stderr
    assert 'extract_knn.py' in out.stderr
