# Copyright (c) mmscrl contributors. All rights reserved.
"""Install mmscrl.

Besides the Python packages this ships, the way OpenMMLab packages do for mim:
* ``configs/``, ``tools/`` and ``model-index.yml`` as package data under
  ``mmscrl/.mim/`` (symlinks for editable installs, copies otherwise), so
  that ``_base_ = 'mmscrl::...'``, ``mim train mmscrl CONFIG`` and
  ``mim test mmscrl CONFIG --checkpoint CKPT`` work after ``pip install .``
  or ``pip install -e .``;
* ``mmscrl-mim.pth``, a start-up hook (wheel and editable installs) that
  registers ``mmscrl`` in MMEngine's table of packages allowed in ``pkg::``
  config paths and points MMEngine/openmim at the importable ``mmscrl``
  directory, which an editable install keeps in the source tree (see
  ``_mmscrl_mim_hook.py``).

mmcv with compiled ops must be installed first (``tools/setup/build_mmcv.sh``);
pip cannot build it in an isolated environment.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

try:  # setuptools >= 64 (PEP 660 editable installs)
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # pragma: no cover - old setuptools uses `develop`
    editable_wheel = None

HERE = osp.dirname(osp.abspath(__file__))


def get_version():
    scope = {}
    with open(osp.join(HERE, 'mmscrl', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname):
    reqs = []
    with open(osp.join(HERE, fname)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


def add_mim_extension():
    """Expose ``configs/``, ``tools/``, the model index in ``mmscrl/.mim``."""
    editable = any(a in sys.argv for a in ('develop', 'editable_wheel'))
    mim_root = osp.join(HERE, 'mmscrl', '.mim')
    os.makedirs(mim_root, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src = osp.join(HERE, name)
        dst = osp.join(mim_root, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if editable:
            os.symlink(osp.relpath(src, mim_root), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
                '__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


STARTUP_HOOK = 'mmscrl-mim.pth'


class BuildPyWithStartupHook(build_py):
    """Also place ``mmscrl-mim.pth`` at the top of the installed tree."""

    def run(self):
        super().run()
        self.copy_file(
            osp.join(HERE, STARTUP_HOOK), osp.join(self.build_lib,
                                                   STARTUP_HOOK))


class _StrategyWithStartupHook:
    """Delegates to setuptools' editable strategy, adds ``mmscrl-mim.pth``."""

    def __init__(self, strategy):
        self.strategy = strategy

    def __enter__(self):
        self.strategy.__enter__()
        return self

    def __exit__(self, *exc):
        return self.strategy.__exit__(*exc)

    def __call__(self, wheel, files, mapping):
        self.strategy(wheel, files, mapping)
        with open(osp.join(HERE, STARTUP_HOOK), 'rb') as f:
            wheel.writestr(STARTUP_HOOK, f.read())


cmdclass = {'build_py': BuildPyWithStartupHook}
if editable_wheel is not None:

    class EditableWheelWithStartupHook(editable_wheel):
        """``pip install -e .`` installs ``mmscrl-mim.pth`` as well.

        setuptools builds editable wheels without running ``build_py`` into
        the wheel, so the hook is added next to setuptools' own ``.pth`` by
        wrapping the strategy that writes it (``_select_strategy``, the one
        extension point ``editable_wheel`` has).
        """

        def _select_strategy(self, *args, **kwargs):
            strategy = super()._select_strategy(*args, **kwargs)
            return _StrategyWithStartupHook(strategy)

    cmdclass['editable_wheel'] = EditableWheelWithStartupHook


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmscrl',
        version=get_version(),
        description='Self-supervised pre-training for localization '
        '(SCRL, DenseCL, ORL) on the OpenMMLab stack',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        license='Apache License 2.0',
        python_requires='>=3.8',
        packages=find_packages(exclude=('tests', 'tests.*', 'configs',
                                        'tools')),
        py_modules=['_mmscrl_mim_hook'],
        include_package_data=False,
        package_data={'mmscrl': ['.mim/model-index.yml',
                                 '.mim/configs/**/*.py',
                                 '.mim/configs/**/*.yml',
                                 '.mim/configs/**/*.md',
                                 '.mim/tools/**/*.py',
                                 '.mim/tools/**/*.sh',
                                 '.mim/tools/**/*.md']},
        cmdclass=cmdclass,
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'tests': parse_requirements('requirements/tests.txt'),
            'orl': parse_requirements('requirements/orl.txt'),
            'mmseg': parse_requirements('requirements/mmseg.txt'),
            # optional DALI loader (mmscrl/datasets/dali_loader.py)
            'dali': parse_requirements('requirements/dali.txt'),
        },
        zip_safe=False)
