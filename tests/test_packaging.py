# Copyright (c) mmscrl contributors. All rights reserved.
"""After a non-editable ``pip install``, ``mmscrl::`` bases work anywhere."""
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


@pytest.fixture(scope='module')
def installed_venv(tmp_path_factory, repo_root):
    """A fresh venv holding a wheel-installed mmscrl (no editable finder).

    The third-party stack comes from the test interpreter's site-packages via
    a plain path entry, so that environment's editable mmscrl is not visible.
    """
    tmp = tmp_path_factory.mktemp('pkg')
    src = tmp / 'src'
    shutil.copytree(repo_root, src, ignore=IGNORE, symlinks=False)
    wheels = tmp / 'wheels'
    subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
        '--no-build-isolation', '-w',
        str(wheels),
        str(src)
    ], check=True, capture_output=True)
    venv = tmp / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(venv)], check=True)
    vpy = str(venv / 'bin' / 'python')
    wheel = next(wheels.glob('mmscrl-*.whl'))
    subprocess.run([
        sys.executable, '-m', 'pip', '--python', vpy, 'install', '-q',
        '--no-deps', '--no-index',
        str(wheel)
    ], check=True, capture_output=True)
    site = subprocess.run([vpy, '-c', 'import sysconfig;'
                           'print(sysconfig.get_paths()["purelib"])'],
                          check=True, capture_output=True,
                          text=True).stdout.strip()
    with open(os.path.join(site, 'zz_parent_env.pth'), 'w') as f:
        f.write(sysconfig.get_paths()['purelib'] + '\n')
    return vpy, site


def test_wheel_ships_configs_and_startup_hook(installed_venv):
    _, site = installed_venv
    assert os.path.isfile(os.path.join(site, 'mmscrl-mim.pth'))
    assert os.path.isfile(os.path.join(site, '_mmscrl_mim_hook.py'))
    cfg = os.path.join(site, 'mmscrl', '.mim', 'configs', '_base_',
                       'default_runtime.py')
    assert os.path.isfile(cfg) and not os.path.islink(
        os.path.join(site, 'mmscrl', '.mim', 'configs'))


def test_mmscrl_base_from_outside_the_repo(installed_venv, tmp_path):
    vpy, site = installed_venv
    user_cfg = tmp_path / 'my_project' / 'my_byol.py'
    user_cfg.parent.mkdir()
    user_cfg.write_text(
        textwrap.dedent("""
        _base_ = 'mmscrl::demo/byol_resnet18_1xb8-coslr-20i_demo.py'
        train_cfg = dict(max_iters=3)
        """))
    code = textwrap.dedent(f"""
        import sys
        from mmengine.config import Config
        assert 'mmscrl' not in sys.modules  # the .pth hook alone suffices
        cfg = Config.fromfile({str(user_cfg)!r})
        assert cfg.model.type == 'BYOL', cfg.model.type
        assert cfg.train_cfg.max_iters == 3
        assert cfg.default_scope == 'mmscrl'
        import mmscrl
        assert mmscrl.__file__.startswith({site!r}), mmscrl.__file__
        print('OK')
        """)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    out = subprocess.run([vpy, '-c', code], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-4000:]
    assert 'OK' in out.stdout


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
