# Copyright (c) mmscrl contributors. All rights reserved.
"""configs/densecl and configs/mocov2: the official recipe values."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmscrl  # noqa: F401
from mmscrl.registry import MODELS

CONFIGS = {
    'configs/densecl/densecl_resnet50_8xb32-coslr-200e_in1k.py':
    ('DenseCLOfficial', 0.03, 200, 'ImageNet'),
    'configs/densecl/densecl_resnet50_8xb32-coslr-800e_coco.py':
    ('DenseCLOfficial', 0.3, 800, 'CustomDataset'),
    'configs/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py':
    ('MoCo', 0.03, 200, 'ImageNet'),
    'configs/mocov2/mocov2_resnet50_8xb32-coslr-800e_coco.py':
    ('MoCo', 0.3, 800, 'CustomDataset'),
}


@pytest.mark.parametrize('path', sorted(CONFIGS))
def test_recipe(path, repo_root):
    algo, lr, epochs, dataset = CONFIGS[path]
    cfg = Config.fromfile(osp.join(repo_root, path))
    assert cfg.default_scope == 'mmscrl'
    m = cfg.model
    assert m.type == algo
    assert (m.queue_len, m.feat_dim, m.momentum) == (65536, 128, 0.001)
    assert m.head.temperature == 0.2
    assert m.backbone.depth == 50 and m.backbone.norm_cfg.type == 'BN'
    if algo == 'DenseCLOfficial':
        assert m.loss_lambda == 0.5
    # official init (OpenSelfSup): Kaiming fan_in convs / Linears, BN 1
    conv_init, norm_init = m.backbone.init_cfg
    assert (conv_init.type, conv_init.layer, conv_init.mode) == (
        'Kaiming', 'Conv2d', 'fan_in')
    assert (norm_init.type, norm_init.val) == ('Constant', 1)
    assert (m.neck.init_cfg.layer, m.neck.init_cfg.mode) == (
        'Linear', 'fan_in')
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == (
        'SGD', lr, 0.9, 1e-4)
    assert cfg.train_cfg.max_epochs == epochs
    [sched] = cfg.param_scheduler
    assert sched.type == 'CosineAnnealingLR' and sched.T_max == epochs
    assert sched.by_epoch and sched.eta_min == 0
    loader = cfg.train_dataloader
    assert loader.batch_size == 32 and loader.drop_last
    assert cfg.auto_scale_lr.base_batch_size == 256
    assert loader.dataset.type == dataset
    if dataset == 'CustomDataset':
        assert loader.dataset.data_prefix == 'train2017/'
        assert loader.dataset.with_label is False
    assert loader.dataset.pipeline[0].type == 'LoadImageForViews'
    views = loader.dataset.pipeline[1]
    # mmpretrain's MultiView, recording the geometry, with the fast ops
    assert views.type == 'MultiViewWithGeometry' and views.num_views == 2
    assert views.fast is True
    names = [t.type for t in views.transforms[0]]
    assert names == ['RandomResizedCropWithGeometry', 'RandomApply',
                     'RandomGrayscale', 'GaussianBlur',
                     'RandomFlipWithGeometry']
    assert {h.type for h in cfg.custom_hooks} == {'QueueLenCheckHook'}


def test_r50_model_builds_with_official_init(repo_root):
    cfg = Config.fromfile(
        osp.join(repo_root,
                 'configs/densecl/densecl_resnet50_8xb32-coslr-200e_in1k.py'))
    with DefaultScope.overwrite_default_scope('mmscrl'):
        model = MODELS.build(cfg.model)
    assert model.queue.shape == model.queue2.shape == (128, 65536)
    assert model.backbone.init_cfg[0]['mode'] == 'fan_in'
    assert model.neck.init_cfg['layer'] == 'Linear'
    assert model.neck.mlp2[0].in_channels == 2048
