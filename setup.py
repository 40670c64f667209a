# Copyright (c) mmscrl contributors. All rights reserved.
"""Install mmscrl.

Besides the Python packages this ships, the way OpenMMLab packages do for mim:
* ``configs/`` as package data under ``mmscrl/.mim/configs`` (a symlink for
  editable installs, a copy otherwise), so that ``_base_ = 'mmscrl::...'``
  resolves after a plain ``pip install .``;
* ``mmscrl-mim.pth``, a start-up hook that registers ``mmscrl`` in MMEngine's
  table of packages allowed in ``pkg::`` config paths (see ``_mmscrl_mim_hook.py``).

mmcv with compiled ops must be installed first (``tools/setup/build_mmcv.sh``);
pip cannot build it in an isolated environment.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

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
    """Expose ``configs/`` as ``mmscrl/.mim/configs``."""
    editable = any(a in sys.argv for a in ('develop', 'editable_wheel'))
    mim_root = osp.join(HERE, 'mmscrl', '.mim')
    os.makedirs(mim_root, exist_ok=True)
    for name in ('configs', 'model-index.yml'):
        src = osp.join(HERE, name)
        dst = osp.join(mim_root, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if editable:
            os.symlink(osp.relpath(src, mim_root), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


class BuildPyWithStartupHook(build_py):
    """Also place ``mmscrl-mim.pth`` at the top of the installed tree."""

    def run(self):
        super().run()
        self.copy_file(
            osp.join(HERE, 'mmscrl-mim.pth'),
            osp.join(self.build_lib, 'mmscrl-mim.pth'))


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
                                 '.mim/configs/**/*.md']},
        cmdclass={'build_py': BuildPyWithStartupHook},
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'tests': parse_requirements('requirements/tests.txt'),
            'orl': parse_requirements('requirements/orl.txt'),
            'mmseg': parse_requirements('requirements/mmseg.txt'),
        },
        zip_safe=False)
