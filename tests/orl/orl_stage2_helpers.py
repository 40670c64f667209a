# Copyright (c) mmscrl contributors. All rights reserved.
"""Fixtures-as-functions for the ORL stage-2 tests (tiny images, tiny
model)."""
import os
import os.path as osp

import numpy as np


def make_images(root, n=6, size=(96, 128), seed=0):
    """``n`` JPEGs with a few coloured shapes on a smooth background, so
    selective search finds structure. Returns the relative names."""
    import cv2
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    names = []
    h, w = size
    for i in range(n):
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([(xx * 255 // w), (yy * 255 // h),
                        np.full_like(xx, 60 * (i % 4))], -1).astype(np.uint8)
        for _ in range(4):
            c = tuple(int(v) for v in rng.integers(0, 255, 3))
            x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
            x1 = int(min(w - 1, x0 + rng.integers(15, w // 2)))
            y1 = int(min(h - 1, y0 + rng.integers(15, h // 2)))
            if rng.random() < 0.5:
                cv2.rectangle(img, (x0, y0), (x1, y1), c, -1)
            else:
                cv2.ellipse(img, ((x0 + x1) // 2, (y0 + y1) // 2),
                            ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, c, -1)
        img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(
            np.uint8)
        name = f'sub/{i:03d}.jpg' if i % 2 else f'{i:03d}.jpg'
        os.makedirs(osp.dirname(osp.join(root, name)), exist_ok=True)
        cv2.imwrite(osp.join(root, name), img)
        names.append(name)
    return sorted(names)


def byol_r18_config():
    """A small BYOL (ResNet-18, BN, 64-d projector) model config dict."""
    bn1d = dict(type='BN1d')
    return dict(
        default_scope='mmscrl',
        model=dict(
            type='BYOL',
            base_momentum=0.01,
            backbone=dict(type='ResNet', depth=18, norm_cfg=dict(type='BN'),
                          zero_init_residual=False),
            neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=128,
                      out_channels=64, num_layers=2, with_bias=True,
                      with_last_bn=False, with_last_bias=False,
                      with_avg_pool=True, norm_cfg=bn1d),
            head=dict(
                type='LatentPredictHead',
                loss=dict(type='CosineSimilarityLoss'),
                predictor=dict(type='NonLinearNeck', in_channels=64,
                               hid_channels=128, out_channels=64,
                               num_layers=2, with_bias=True,
                               with_last_bn=False, with_avg_pool=False,
                               norm_cfg=bn1d))))


def write_stage1(tmp_dir, seed=0):
    """Write the config (.py) and an mmengine-style checkpoint of a
    randomly initialised BYOL-R18 with non-trivial BN running stats."""
    import torch
    from mmengine.config import Config

    import mmscrl  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmscrl.registry import MODELS
    cfg = Config(byol_r18_config())
    cfg_path = osp.join(tmp_dir, 'byol_r18_stage1.py')
    cfg.dump(cfg_path)
    init_default_scope('mmscrl')
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():  # make eval-mode BN differ from identity
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    ckpt_path = osp.join(tmp_dir, 'epoch_1.pth')
    torch.save({'meta': {'epoch': 1}, 'state_dict': model.state_dict()},
               ckpt_path)
    return cfg_path, ckpt_path, model
