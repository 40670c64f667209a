# Copyright (c) mmscrl contributors. All rights reserved.
"""What a BYOL-family run logs while building its optimizer (issue 22,
item 5): one summary line for the EMA target network's parameters instead
of one mmengine warning per parameter (65 lines for ResNet-18, 164 for
ResNet-50); and no ``pkg_resources`` deprecation under ``mim``."""
import logging
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmscrl  # noqa: F401
from mmscrl.apis import get_model

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


class Records(logging.Handler):

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelno, record.getMessage()))


@pytest.mark.parametrize('rel,frozen', [
    ('demo/scrl_resnet18_1xb32-coslr-500i_demo.py', 'target_net'),
    ('demo/byol_resnet18_1xb8-coslr-20i_demo.py', 'target_net'),
])
def test_optim_wrapper_build_logs_one_line(rel, frozen, tmp_path):
    cfg = Config.fromfile(osp.join(REPO, 'configs', rel))
    model = get_model(cfg)
    n_frozen = sum(1 for name, p in model.named_parameters()
                   if not p.requires_grad)
    assert n_frozen > 60  # what mmengine logged one line each for
    logger = MMLogger.get_instance(f'noise_{osp.basename(str(tmp_path))}',
                                   log_level='INFO')
    records = Records()
    logger.addHandler(records)
    try:
        with DefaultScope.overwrite_default_scope('mmscrl'):
            build_optim_wrapper(model, cfg.optim_wrapper)
    finally:
        logger.removeHandler(records)
    warnings = [m for level, m in records.lines if level >= logging.WARNING]
    assert warnings == []  # was one per frozen parameter
    frozen_lines = [m for _, m in records.lines if 'requires_grad' in m]
    assert frozen_lines == [
        f'optim_wrapper: {n_frozen} parameters with requires_grad=False '
        f'are not optimized: {frozen}.* ({n_frozen})'
    ]


def test_mim_prints_no_pkg_resources_warning(tmp_path):
    """openmim (and mmengine's lookup of a ``pkg::`` base) import
    ``pkg_resources``; from setuptools 80.9 that prints a UserWarning under
    every ``mim`` command, which a user cannot act on.
    ``requirements/constraints.txt`` pins a setuptools whose warning is a
    DeprecationWarning (hidden by default). Run as a user runs ``mim``."""
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    lookup = ('from mmengine.utils import get_installed_path; '
              'print(get_installed_path("mmpretrain"))')
    for cmd in ([mim, '--help'], [sys.executable, '-c', lookup]):
        out = subprocess.run(cmd, cwd=tmp_path, capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        assert 'pkg_resources' not in out.stderr, (cmd, out.stderr[-2000:])
