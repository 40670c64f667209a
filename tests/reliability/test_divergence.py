# Copyright (c) mmscrl contributors. All rights reserved.
"""A diverging run stops with a clear error before a NaN checkpoint."""
import glob
import os.path as osp

import pytest
import torch
from demo_workflow import pretrain_config
from mmengine.runner import Runner

from mmscrl.engine.hooks.non_finite_check_hook import (NonFiniteError,
                                                       non_finite_entries)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo')


def _runner(name, data_root, work_dir, max_iters, lr=None, tag=''):
    cfg = pretrain_config(osp.join(DEMO, name), data_root, max_iters,
                          batch_size=4, num_workers=0)
    pipeline = cfg.train_dataloader.dataset.pipeline
    views = pipeline[1].transforms
    for view in views:
        view[0].scale = 64
    if pipeline[2].type == 'SCRLBoxPairSampler':
        pipeline[2].min_size = 16
    if lr is not None:  # constant, no warm-up
        cfg.optim_wrapper.optimizer.lr = lr
        cfg.param_scheduler = []
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'divergence_{tag}'
    # the hook comes from configs/_base_/default_runtime.py, not from here
    assert cfg.default_hooks.non_finite.type == 'NonFiniteCheckHook'
    return Runner.from_cfg(cfg)


def _finite_checkpoints(work_dir):
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        state = torch.load(path, map_location='cpu')['state_dict']
        assert non_finite_entries(state) == [], path


def test_densecl_huge_lr_stops(tmp_path, tiny_demo_data):
    runner = _runner('densecl_resnet18_1xb32-coslr-500i_demo.py',
                     tiny_demo_data, tmp_path, max_iters=3, lr=1e12,
                     tag='densecl')
    with pytest.raises(NonFiniteError,
                       match=r'training diverged( at iteration \d+ .*'
                       r'non-finite loss term|: \d+ parameter/buffer)'):
        runner.train()
    assert runner.iter < 3
    _finite_checkpoints(str(tmp_path))


def test_scrl_poisoned_bn_stats_stop_before_save(tmp_path, tiny_demo_data):
    """LARS/SCRL: the loss stays finite while running_var turns Inf."""
    runner = _runner('scrl_resnet18_1xb32-coslr-500i_demo.py',
                     tiny_demo_data, tmp_path, max_iters=2, tag='scrl')
    assert runner.cfg.default_hooks.checkpoint.interval == 1
    bn = runner.model.backbone.layer3[0].bn2

    def poison(module, args, output):
        if runner.iter + 1 >= 2:  # the second iteration's statistics
            module.running_var.data.fill_(float('inf'))

    bn.register_forward_hook(poison)
    with pytest.raises(NonFiniteError,
                       match=r'before saving the checkpoint of iteration 2 '
                       r'\(.*backbone.layer3.0.bn2.running_var'):
        runner.train()
    loss = runner.message_hub.log_scalars['train/loss'].current()
    assert torch.isfinite(torch.tensor(loss))  # the loss did not show it
    assert [osp.basename(p) for p in glob.glob(osp.join(tmp_path, '*.pth'))
            ] == ['iter_1.pth']
    _finite_checkpoints(str(tmp_path))
