# Copyright (c) mmscrl contributors. All rights reserved.
"""Every config the project ships that trains stops a diverging run.

``NonFiniteCheckHook`` comes with mmscrl's own runtime
(``configs/_base_/default_runtime.py``); the transfer configs (mmdet, mmseg,
mmpretrain linear probes) and the demo detector inherit OpenMMLab runtimes
and add it themselves. Issue 21, item 7: a detector at lr 1e8 logged ``nan``
for ten iterations, exited 0 and saved a checkpoint full of NaN.
"""
import glob
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import HOOKS, DefaultScope

import mmscrl  # noqa: F401
from mmscrl.engine.hooks.non_finite_check_hook import (NonFiniteCheckHook,
                                                       NonFiniteError,
                                                       non_finite_entries)

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, osp.dirname(HERE))
from test_configs_resolved import CONFIGS, shipped_configs  # noqa: E402

DEMO_DETECTOR = osp.join(CONFIGS, 'demo',
                         'faster-rcnn_r18_fpn_1xb8-300i_demo.py')


def _non_finite_hooks(cfg):
    """The ``NonFiniteCheckHook`` configs of a resolved config, as
    ``(where, hook_cfg)`` (default hooks and custom hooks)."""
    found = []
    for name, hook in (cfg.get('default_hooks', None) or {}).items():
        if hook and str(hook.get('type', '')).split('.')[-1] == \
                NonFiniteCheckHook.__name__:
            found.append((f'default_hooks.{name}', hook))
    for i, hook in enumerate(cfg.get('custom_hooks', None) or []):
        if str(hook.get('type', '')).split('.')[-1] == \
                NonFiniteCheckHook.__name__:
            found.append((f'custom_hooks[{i}]', hook))
    return found


def test_the_walk_finds_the_transfer_configs():
    """The parametrised walk below covers every kind of training config."""
    paths = shipped_configs()
    for part in ('benchmarks/mmdetection/', 'benchmarks/mmsegmentation/',
                 'benchmarks/classification/', 'demo/faster-rcnn',
                 'scrl/', 'orl/', 'densecl/'):
        assert any(p.startswith(part) for p in paths), part
    assert len(paths) >= 25


@pytest.mark.parametrize('path', shipped_configs())
def test_every_training_config_stops_on_non_finite(path):
    cfg = Config.fromfile(osp.join(CONFIGS, path),
                          import_custom_modules=False)
    assert cfg.get('train_cfg', None), f'{path} does not train?'
    found = _non_finite_hooks(cfg)
    assert len(found) == 1, (
        f'configs/{path}: expected one NonFiniteCheckHook in default_hooks '
        f'or custom_hooks, found {found}')
    # it builds under the config's default scope (mmdet/mmseg/mmpretrain
    # configs need the 'mmscrl.' prefix and mmscrl in custom_imports)
    scope = cfg.get('default_scope', 'mmengine')
    if scope != 'mmscrl':
        imports = (cfg.get('custom_imports', None) or {}).get('imports', [])
        assert 'mmscrl' in imports, (path, imports)
    with DefaultScope.overwrite_default_scope(scope):
        hook = HOOKS.build(found[0][1])
    assert isinstance(hook, NonFiniteCheckHook), (path, type(hook))
    # nothing the OpenMMLab bases registered was lost
    checkpoint = cfg.default_hooks.get('checkpoint', None)
    assert checkpoint and checkpoint['type'].endswith('CheckpointHook')
    assert cfg.default_hooks.get('logger', None)


def test_diverging_detector_stops(tmp_path, tiny_demo_data):
    """The demo Faster R-CNN at lr 1e8 stops with NonFiniteError through
    mmdet's Runner and loss dict, before a NaN checkpoint is written."""
    from demo_workflow import detector_config
    from mmengine.runner import Runner

    cfg = detector_config(DEMO_DETECTOR, tiny_demo_data, max_iters=4,
                          pretrained=None, num_workers=0)
    cfg.train_dataloader.batch_size = 2
    cfg.optim_wrapper.optimizer.lr = 1e8
    cfg.optim_wrapper.clip_grad = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = 'diverging_detector'
    # the hook comes from the config, not from this test
    assert cfg.default_hooks.non_finite.type == 'mmscrl.NonFiniteCheckHook'
    runner = Runner.from_cfg(cfg)
    with pytest.raises(NonFiniteError, match=r'training diverged'):
        runner.train()
    assert runner.iter < 4
    for path in glob.glob(osp.join(str(tmp_path), '*.pth')):
        state = torch.load(path, map_location='cpu')['state_dict']
        assert non_finite_entries(state) == [], path
