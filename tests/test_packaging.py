# Copyright (c) mmscrl contributors. All rights reserved.
"""``mmscrl::`` bases, ``mim`` and the start-up hook after every install kind.

* wheel install in a fresh venv;
* editable install (``pip install -e``, what ``tools/setup/install.sh`` does)
  in a fresh venv, and in the README's own environment (the test
  interpreter's venv), both used from a directory outside the repository
  without activating the venv.

Fresh venvs reuse the test interpreter's third-party stack through a plain
path entry (no torch reinstall); ``.pth`` files there are not processed, so
that environment's own editable mmscrl stays invisible.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import pytest

IGNORE = shutil.ignore_patterns('.venv', '.git', 'work_dirs', 'data', '.mim',
                                '__pycache__', '*.egg-info', 'build', 'dist',
                                '.pytest_cache')


def _pip(*args):
    out = subprocess.run([sys.executable, '-m', 'pip', *args],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]


def _fresh_venv(tmp):
    """A venv without mmscrl that sees the test interpreter's packages."""
    venv = tmp / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(venv)], check=True)
    vpy = str(venv / 'bin' / 'python')
    site = subprocess.run([vpy, '-c', 'import sysconfig;'
                           'print(sysconfig.get_paths()["purelib"])'],
                          check=True, capture_output=True,
                          text=True).stdout.strip()
    with open(os.path.join(site, 'zz_parent_env.pth'), 'w') as f:
        f.write(sysconfig.get_paths()['purelib'] + '\n')
    return vpy, site


@pytest.fixture(scope='module')
def installed_venv(tmp_path_factory, repo_root):
    """A fresh venv holding a wheel-installed mmscrl (no editable finder)."""
    tmp = tmp_path_factory.mktemp('pkg')
    src = tmp / 'src'
    shutil.copytree(repo_root, src, ignore=IGNORE, symlinks=False)
    wheels = tmp / 'wheels'
    _pip('wheel', '-q', '--no-deps', '--no-build-isolation', '-w',
         str(wheels), str(src))
    vpy, site = _fresh_venv(tmp)
    wheel = next(wheels.glob('mmscrl-*.whl'))
    _pip('--python', vpy, 'install', '-q', '--no-deps', '--no-index',
         str(wheel))
    return vpy, site


@pytest.fixture(scope='module')
def editable_venv(tmp_path_factory, repo_root):
    """A fresh venv with ``pip install -e`` of a copy of the repository."""
    tmp = tmp_path_factory.mktemp('pkg_editable')
    src = tmp / 'src'
    shutil.copytree(repo_root, src, ignore=IGNORE, symlinks=False)
    vpy, site = _fresh_venv(tmp)
    _pip('--python', vpy, 'install', '-q', '--no-deps',
         '--no-build-isolation', '--no-index', '-e', str(src))
    return vpy, site, str(src)


def _env_without_venv():
    """The caller's environment minus PYTHONPATH and any venv on PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    venv_bin = os.path.dirname(sys.executable)
    env['PATH'] = os.pathsep.join(
        p for p in env.get('PATH', '').split(os.pathsep)
        if p and os.path.abspath(p) != venv_bin)
    return env


def _user_config(tmp_path):
    user_cfg = tmp_path / 'my_project' / 'my_byol.py'
    user_cfg.parent.mkdir(exist_ok=True)
    user_cfg.write_text(
        textwrap.dedent("""
        _base_ = 'mmscrl::demo/byol_resnet18_1xb8-coslr-20i_demo.py'
        train_cfg = dict(max_iters=3)
        """))
    return user_cfg


def _check_base_resolves(vpy, tmp_path, pkg_dir, import_first):
    """``Config.fromfile`` on a user config outside the repo; cwd=tmp."""
    user_cfg = _user_config(tmp_path)
    pre = 'import mmscrl' if import_first else \
        "assert 'mmscrl' not in sys.modules  # the .pth hook alone suffices"
    code = textwrap.dedent(f"""
        import os, sys
        {pre}
        from mmengine.config import Config
        cfg = Config.fromfile({str(user_cfg)!r})
        assert cfg.model.type == 'BYOL', cfg.model.type
        assert cfg.train_cfg.max_iters == 3
        assert cfg.default_scope == 'mmscrl'
        from mmengine.utils import get_installed_path
        assert get_installed_path('mmscrl') == {pkg_dir!r}, \\
            get_installed_path('mmscrl')
        assert os.path.isfile(os.path.join(
            {pkg_dir!r}, '.mim', 'tools', 'train.py'))
        import mmscrl
        assert os.path.dirname(mmscrl.__file__) == {pkg_dir!r}
        print('OK')
        """)
    out = subprocess.run([vpy, '-c', code], cwd=tmp_path,
                         env=_env_without_venv(), capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-4000:]
    assert 'OK' in out.stdout


def test_wheel_ships_configs_and_startup_hook(installed_venv):
    _, site = installed_venv
    assert os.path.isfile(os.path.join(site, 'mmscrl-mim.pth'))
    assert os.path.isfile(os.path.join(site, '_mmscrl_mim_hook.py'))
    cfg = os.path.join(site, 'mmscrl', '.mim', 'configs', '_base_',
                       'default_runtime.py')
    assert os.path.isfile(cfg) and not os.path.islink(
        os.path.join(site, 'mmscrl', '.mim', 'configs'))


@pytest.mark.parametrize('import_first', [False, True])
def test_wheel_base_from_outside_the_repo(installed_venv, tmp_path,
                                          import_first):
    vpy, site = installed_venv
    _check_base_resolves(vpy, tmp_path, os.path.join(site, 'mmscrl'),
                         import_first)


@pytest.mark.parametrize('import_first', [False, True])
def test_editable_base_from_outside_the_repo(editable_venv, tmp_path,
                                             import_first):
    vpy, site, src = editable_venv
    assert os.path.isfile(os.path.join(site, 'mmscrl-mim.pth'))
    assert not os.path.exists(os.path.join(site, 'mmscrl'))
    assert os.path.islink(os.path.join(src, 'mmscrl', '.mim', 'tools'))
    _check_base_resolves(vpy, tmp_path, os.path.join(src, 'mmscrl'),
                         import_first)


def test_readme_environment_base_from_outside_the_repo(tmp_path, repo_root):
    """The venv tools/setup/install.sh made (editable), not activated."""
    _check_base_resolves(sys.executable, tmp_path,
                         os.path.join(repo_root, 'mmscrl'), False)


def test_mim_train_demo_config(tmp_path, random_image_dir):
    """``mim train mmscrl CONFIG`` finds the config and .mim/tools/train.py."""
    pytest.importorskip('mim')
    work = tmp_path / 'work'
    out = subprocess.run([
        sys.executable, '-m', 'mim', 'train', 'mmscrl',
        'byol_resnet18_1xb8-coslr-20i_demo.py', '-y', '--work-dir',
        str(work), '--cfg-options',
        f'train_dataloader.dataset.data_root={random_image_dir}',
        'train_cfg.max_iters=2', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'default_hooks.checkpoint.interval=2'
    ], cwd=tmp_path, env=dict(_env_without_venv(), OMP_NUM_THREADS='1'),
       capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-4000:]
    assert 'Training finished successfully' in out.stdout
    assert (work / 'iter_2.pth').is_file()


def test_model_index_lists_every_metafile(repo_root):
    """model-index.yml imports each configs/*/metafile.yml; configs exist."""
    import glob

    from mmengine.fileio import load
    index = load(os.path.join(repo_root, 'model-index.yml'))
    listed = set(index['Import'])
    found = {
        os.path.relpath(p, repo_root)
        for p in glob.glob(os.path.join(repo_root, 'configs', '*',
                                        'metafile.yml'))
    }
    assert listed == found
    for meta in listed:
        for model in load(os.path.join(repo_root, meta))['Models']:
            assert os.path.isfile(os.path.join(repo_root, model['Config'])), \
                f"{meta}: {model['Config']} does not exist"
