# Copyright (c) mmscrl contributors. All rights reserved.
"""configs/pixpro and the PixPro demo: the official recipe values, and each
config trains 2 iterations of a tiny model on CPU."""
import copy
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import mmscrl  # noqa: F401
from mmscrl.registry import MODELS, TRANSFORMS

init_default_scope('mmscrl')

RECIPES = {
    'configs/pixpro/pixpro_resnet50_8xb128-lars-coslr-100e_in1k.py':
    (100, 0.),
    'configs/pixpro/pixpro_resnet50_8xb128-lars-coslr-400e_in1k.py':
    (400, 0.),
    'configs/pixpro/pixpro-ins_resnet50_8xb128-lars-coslr-100e_in1k.py':
    (100, 1.),
}
DEMO = 'configs/demo/pixpro_resnet18_1xb32-coslr-500i_demo.py'


def test_every_pixpro_config_is_listed(repo_root):
    found = {
        osp.relpath(p, repo_root)
        for p in glob.glob(osp.join(repo_root, 'configs', 'pixpro', '*.py'))
    }
    assert found == set(RECIPES)


@pytest.mark.parametrize('path', sorted(RECIPES))
def test_recipe(repo_root, path):
    epochs, ins_weight = RECIPES[path]
    cfg = Config.fromfile(osp.join(repo_root, path))
    m = cfg.model
    assert m.type == 'PixPro'
    assert (m.base_momentum, m.pos_ratio, m.ppm_gamma, m.ppm_clamp_value,
            m.ppm_transform_layers) == (0.01, 0.7, 2., 0., 1)
    assert m.instance_loss_weight == ins_weight
    assert m.backbone.depth == 50 and m.backbone.out_indices == (3, )
    assert m.backbone.zero_init_residual is True
    assert m.backbone.norm_cfg.type == m.neck.norm_cfg.type == 'SyncBN'
    assert (m.neck.type, m.neck.in_channels, m.neck.hid_channels,
            m.neck.out_channels) == ('PixProMLP2d', 2048, 4096, 256)
    if ins_weight:
        assert (m.instance_neck.in_channels, m.predictor.in_channels) == (
            2048, 256)
        assert m.predictor.norm_cfg.type == 'SyncBN'
    # optimizer: LARS lr 1.0 per 256 at 8 x 128, wd 1e-5, AMP
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay, opt.eta,
            opt.eps) == ('LARS', 4.0, 0.9, 1e-5, 0.001, 1e-8)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.train_dataloader.drop_last is True
    assert cfg.auto_scale_lr.base_batch_size == 1024
    # 5-epoch warm-up from lr / 100, per-iteration cosine to 1e-6
    warm, cos = cfg.param_scheduler
    assert (warm.type, warm.start_factor, warm.begin, warm.end) == (
        'LinearLR', 0.01, 0, 5)
    assert (cos.type, cos.eta_min, cos.begin, cos.end, cos.T_max) == (
        'CosineAnnealingLR', 1e-6, 5, epochs, epochs - 5)
    assert warm.convert_to_iter_based and cos.convert_to_iter_based
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.default_hooks.non_finite.type == 'NonFiniteCheckHook'
    # views: bilinear crops, scale (0.08, 1); blur 1.0 / 0.1, solarize 0 / 0.2
    pipe = cfg.train_dataloader.dataset.pipeline
    assert pipe[1].type == 'MultiViewWithGeometry' and pipe[1].fast is True
    v1, v2 = pipe[1].transforms
    for v in (v1, v2):
        assert [t.type for t in v] == [
            'RandomResizedCropWithGeometry', 'RandomFlipWithGeometry',
            'RandomApply', 'RandomGrayscale', 'GaussianBlur', 'Solarize']
        crop = v[0]
        assert (crop.scale, crop.crop_ratio_range, crop.interpolation,
                crop.backend) == (224, (0.08, 1.), 'bilinear', 'pillow')
        assert v[1].prob == 0.5 and v[2].prob == 0.8 and v[3].prob == 0.2
        jitter = v[2].transforms[0]
        assert (jitter.brightness, jitter.contrast, jitter.saturation,
                jitter.hue) == (0.4, 0.4, 0.2, 0.1)
        assert v[4].magnitude_range == (0.1, 2.0)
        assert v[5].thr == 128
    assert [v1[4].prob, v2[4].prob] == [1.0, 0.1]
    assert [v1[5].prob, v2[5].prob] == [0.0, 0.2]
    assert pipe[2].algorithm_keys == ['view_crop_bbox', 'view_homography']
    assert 'ori_shape' in pipe[2].meta_keys


def test_demo_config(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, DEMO))
    assert cfg.model.type == 'PixPro' and cfg.model.backbone.depth == 18
    assert cfg.model.neck.in_channels == 512
    assert cfg.model.base_momentum == 0.01
    assert cfg.optim_wrapper.optimizer.weight_decay == 1e-5
    assert cfg.train_cfg.max_iters == 500
    assert cfg.train_dataloader.batch_size == 32
    views = cfg.train_dataloader.dataset.pipeline[1].transforms
    assert [v[0].scale for v in views] == [96, 96]
    assert [v[0].crop_ratio_range for v in views] == [(0.08, 1.)] * 2


def _tiny(cfg):
    """ResNet-18 at 64 px, BN, plain fp32 OptimWrapper; LARS groups kept."""
    m = copy.deepcopy(cfg.model)
    m.backbone.update(depth=18, norm_cfg=dict(type='BN'))
    m.neck.update(in_channels=512, hid_channels=64, out_channels=32,
                  norm_cfg=dict(type='BN'))
    if m.get('instance_neck'):
        m.instance_neck.update(in_channels=512, hid_channels=64,
                               out_channels=32, norm_cfg=dict(type='BN'))
        m.predictor.update(in_channels=32, hid_channels=64, out_channels=32,
                           norm_cfg=dict(type='BN'))
    m.data_preprocessor = cfg.get('data_preprocessor',
                                  m.get('data_preprocessor'))
    optim = copy.deepcopy(cfg.optim_wrapper)
    optim.type = 'OptimWrapper'  # AMP needs a GPU
    optim.pop('loss_scale', None)
    pipeline = copy.deepcopy(cfg.train_dataloader.dataset.pipeline)
    for view in pipeline[1].transforms:
        view[0].scale = 64
    return m, optim, pipeline


@pytest.mark.parametrize('path', sorted(RECIPES) + [DEMO])
def test_config_trains_two_iterations(repo_root, path, random_image_dir):
    cfg = Config.fromfile(osp.join(repo_root, path))
    model_cfg, optim_cfg, pipeline = _tiny(cfg)
    MessageHub.get_current_instance().update_info('max_iters', 2)
    torch.manual_seed(0)
    np.random.seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    wrapper = build_optim_wrapper(model, optim_cfg)
    transforms = [TRANSFORMS.build(t) for t in pipeline]
    files = sorted(glob.glob(str(random_image_dir / 'unlabeled' / '*.jpg')))
    for it in range(2):
        batch = []
        for f in files[2 * it:2 * it + 2]:
            results = dict(img_path=f)
            for t in transforms:
                results = t(results)
            batch.append(results)
        losses = model.train_step(default_collate(batch), wrapper)
        assert np.isfinite(losses['loss'].item()), (path, losses)
        assert -4 <= losses['loss_pix'].item() <= 4
        assert ('loss_ins' in losses) == (
            model_cfg.instance_loss_weight > 0)
    assert int(model.target_net.steps) == 2


# no optimizer.step() between the scheduler steps (lr values only)
@pytest.mark.filterwarnings('ignore:Detected call of `scheduler.step')
def test_lr_schedule_matches_official_values(repo_root):
    """Spec check (j): the 100-epoch recipe at batch 1024 (1251 iterations
    per epoch, ImageNet's 1,281,167 images) gives lr 0.04 at iteration 0,
    4.0 at the end of the 5 warm-up epochs (iteration 6255), 2.0 half-way
    through the cosine (6255 + 59422.5) and about 1e-6 at the last
    iteration (125099), stepping mmengine's schedulers as the Runner does
    (one ``step()`` per iteration)."""
    from mmengine.optim import OptimWrapper
    from mmengine.registry import PARAM_SCHEDULERS

    cfg = Config.fromfile(osp.join(
        repo_root,
        'configs/pixpro/pixpro_resnet50_8xb128-lars-coslr-100e_in1k.py'))
    epoch_length = 1251
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=cfg.optim_wrapper.optimizer.lr)
    wrapper = OptimWrapper(optimizer)
    schedulers = [
        PARAM_SCHEDULERS.build(
            copy.deepcopy(s),
            default_args=dict(optimizer=wrapper, epoch_length=epoch_length))
        for s in cfg.param_scheduler
    ]
    total = epoch_length * cfg.train_cfg.max_epochs
    assert total == 125100
    warm_end = 5 * epoch_length
    half = warm_end + (total - warm_end) // 2  # 65677 (59422.5 after 6255)
    seen = {}
    for it in range(total):
        if it in (0, warm_end, half, half + 1, total - 1):
            seen[it] = optimizer.param_groups[0]['lr']
        for s in schedulers:
            s.step()
    assert seen[0] == pytest.approx(0.04, rel=1e-9)
    assert seen[warm_end] == pytest.approx(4.0, rel=1e-9)
    # 59422.5 iterations after the warm-up lies between two iterations
    assert seen[half + 1] < 2.0 < seen[half]
    assert (seen[half] + seen[half + 1]) / 2 == pytest.approx(2.0, rel=1e-4)
    assert seen[total - 1] == pytest.approx(1e-6, abs=2e-9)
