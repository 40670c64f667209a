# Copyright (c) mmscrl contributors. All rights reserved.
"""SCRL algorithm: RoI pairing, loss, zero boxes, EMA, configs, Runner."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample
from torchvision.ops import roi_align

import mmscrl  # noqa: F401
from mmscrl.models.utils.losses import symmetric_regression_loss
from mmscrl.registry import MODELS
from mmscrl.structures.bbox import box_pairs_to_rois

init_default_scope('mmscrl')


def mlp(i, h, o):
    return dict(type='NonLinearNeck', in_channels=i, hid_channels=h,
                out_channels=o, num_layers=2, with_bias=True,
                with_last_bn=False, with_last_bias=False, with_avg_pool=False,
                norm_cfg=dict(type='BN1d'))


def tiny_scrl_cfg(**kwargs):
    return dict(
        type='SCRL',
        backbone=dict(type='ResNet', depth=18, out_indices=(3, ),
                      norm_cfg=dict(type='BN'), zero_init_residual=False),
        neck=mlp(512, 64, 32),
        predictor=mlp(32, 64, 32),
        **kwargs)


def make_samples(valid_per_sample, K=3, size=64, seed=0):
    rng = np.random.RandomState(seed)
    samples = []
    for n in valid_per_sample:
        xy = rng.uniform(0, size / 2, (2, K, 2))
        wh = rng.uniform(16, size / 2, (2, K, 2))
        boxes = np.concatenate([xy, xy + wh], -1).astype(np.float32)
        valid = np.arange(K) < n
        boxes[:, ~valid] = 0
        s = DataSample()
        s.set_field(boxes, 'scrl_boxes')
        s.set_field(valid, 'scrl_box_valid')
        samples.append(s)
    return samples


@pytest.fixture
def max_iters():
    MessageHub.get_current_instance().update_info('max_iters', 100)


def test_box_pairs_to_rois():
    boxes = torch.arange(2 * 2 * 3 * 4, dtype=torch.float32).view(2, 2, 3, 4)
    valid = torch.tensor([[True, False, True], [False, True, False]])
    rois, n = box_pairs_to_rois(boxes, valid)
    assert n == 3 and rois.shape == (6, 5)
    assert rois[:, 0].tolist() == [0, 0, 1, 2, 2, 3]  # view 2: + B
    torch.testing.assert_close(rois[0, 1:], boxes[0, 0, 0])
    torch.testing.assert_close(rois[3, 1:], boxes[0, 1, 0])  # its partner
    torch.testing.assert_close(rois[5, 1:], boxes[1, 1, 1])
    rois, n = box_pairs_to_rois(boxes, torch.zeros(2, 3, dtype=torch.bool))
    assert n == 0 and rois.shape == (0, 5)
    with pytest.raises(ValueError, match='valid'):
        box_pairs_to_rois(boxes, valid[:1])


@pytest.mark.parametrize('p,z,expected', [
    ([1., 0.], [2., 0.], 0.),   # same direction
    ([1., 0.], [0., 3.], 2.),   # orthogonal
    ([1., 1.], [-1., -1.], 4.),  # opposite
    ([3., 4.], [4., 3.], 2 - 2 * 24 / 25),
])
def test_loss_on_hand_made_features(p, z, expected):
    p, z = torch.tensor([p]), torch.tensor([z])
    # symmetric: l(p1, z2) + l(p2, z1) with the pair swapped
    loss = symmetric_regression_loss(p, z, z, p)
    assert loss.item() == pytest.approx(2 * expected, abs=1e-6)


def direct_loss(model, inputs, samples, image=False):
    """SCRL loss written out with torchvision's roi_align (official op)."""
    B = inputs[0].shape[0]
    imgs = torch.cat(inputs)
    rows1, rows2 = [], []
    for b, s in enumerate(samples):
        for k in np.nonzero(s.scrl_box_valid)[0]:
            rows1.append([b, *s.scrl_boxes[0, k]])
            rows2.append([b + B, *s.scrl_boxes[1, k]])
    rois = torch.tensor(rows1 + rows2, dtype=torch.float32)
    target = copy.deepcopy(torch.nn.Sequential(model.backbone, model.neck))

    def ell(a, b):
        return 2 - 2 * F.cosine_similarity(a, b.detach(), dim=-1)

    def branch(feat_fn):
        c5 = model.backbone(imgs)[-1]
        ct5 = target[0](imgs)[-1]
        f, ft = feat_fn(c5), feat_fn(ct5)
        p = model.predictor([model.neck([f])[0]])[0]
        zt = target[1]([ft])[0]
        n = len(p) // 2
        return ell(p[:n], zt[n:]).mean() + ell(p[n:], zt[:n]).mean()

    box = branch(lambda c: roi_align(c, rois, 1, 1 / 32, -1, False).flatten(1))
    img = branch(lambda c: c.mean((2, 3))) if image else None
    return box, img


@pytest.mark.parametrize('image_weight', [0., 0.5])
def test_loss_equals_direct_computation(max_iters, image_weight):
    torch.manual_seed(0)
    model = MODELS.build(tiny_scrl_cfg(image_loss_weight=image_weight))
    model.train()
    inputs = [torch.randn(3, 3, 64, 64), torch.randn(3, 3, 64, 64)]
    samples = make_samples([3, 1, 2])
    losses = model(inputs, samples, mode='loss')  # first EMA update: copy
    box, img = direct_loss(model, inputs, samples, image=image_weight > 0)
    assert losses['num_pairs'].item() == 6
    torch.testing.assert_close(losses['loss_box'], box, rtol=1e-4, atol=1e-5)
    if image_weight:
        torch.testing.assert_close(losses['loss_img'], image_weight * img,
                                   rtol=1e-4, atol=1e-5)
    else:
        assert 'loss_img' not in losses


def _backward(losses):
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    return total


def test_zero_boxes_in_one_sample(max_iters):
    torch.manual_seed(0)
    model = MODELS.build(tiny_scrl_cfg())
    inputs = [torch.randn(3, 3, 64, 64), torch.randn(3, 3, 64, 64)]
    losses = model(inputs, make_samples([2, 0, 3]), mode='loss')
    assert losses['num_pairs'].item() == 5
    assert torch.isfinite(_backward(losses))
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert model.predictor.fc0.weight.grad.abs().sum() > 0


def test_zero_boxes_in_whole_batch(max_iters):
    torch.manual_seed(0)
    model = MODELS.build(tiny_scrl_cfg(image_loss_weight=0.3))
    inputs = [torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)]
    losses = model(inputs, make_samples([0, 0]), mode='loss')
    assert losses['num_pairs'].item() == 0
    assert losses['loss_box'].item() == 0 and losses['loss_box'].requires_grad
    assert torch.isfinite(_backward(losses))
    # the image-level term still trains everything; no NaN anywhere
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.backbone.conv1.weight.grad.abs().sum() > 0

    # pure SCRL: zero loss, zero (not missing) gradients everywhere, so DDP
    # and the optimizer see every trainable parameter
    model = MODELS.build(tiny_scrl_cfg())
    losses = model(inputs, make_samples([0, 0]), mode='loss')
    _backward(losses)
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and not p.grad.any(), name


def test_target_is_cosine_ema_with_inverted_momentum():
    MessageHub.get_current_instance().update_info('max_iters', 10)
    torch.manual_seed(0)
    model = MODELS.build(tiny_scrl_cfg(base_momentum=0.03))
    inputs = [torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)]
    samples = make_samples([2, 2])
    model(inputs, samples, mode='loss')  # step 0: target <- copy of online
    online = model.neck.fc0.weight
    target = model.target_net.module[1].fc0.weight
    torch.testing.assert_close(target, online)
    old_target = target.detach().clone()
    with torch.no_grad():
        online.add_(1.)
    model(inputs, samples, mode='loss')  # step 1
    m = 0.03 * (np.cos(np.pi * 1 / 10) + 1) / 2  # tau = 1 - m, ~0.97
    torch.testing.assert_close(target, (1 - m) * old_target + m * online)
    assert not any(p.requires_grad for p in model.target_net.parameters())


def test_tensor_mode_returns_backbone_features():
    model = MODELS.build(tiny_scrl_cfg())
    feats = model(torch.randn(2, 3, 64, 64), mode='tensor')
    assert len(feats) == 1 and feats[0].shape == (2, 512, 2, 2)


def test_missing_boxes_error(max_iters):
    model = MODELS.build(tiny_scrl_cfg())
    with pytest.raises(AttributeError):
        model([torch.randn(1, 3, 64, 64)] * 2, [DataSample()], mode='loss')


CONFIGS = [
    'configs/scrl_r50_imagenet.py',
    'configs/scrl/scrl_resnet50_8xb256-lars-coslr-200e_in1k.py',
    'configs/scrl/scrl_resnet50_8xb256-lars-coslr-1000e_in1k.py',
    'configs/scrl/scrl_resnet50_8xb256-lars-coslr-2000e_coco.py',
]


@pytest.mark.parametrize('path', CONFIGS)
def test_config_recipes(repo_root, path):
    cfg = Config.fromfile(osp.join(repo_root, path))
    long = '1000e' in path
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'LARS' and opt.momentum == 0.9
    assert cfg.train_dataloader.batch_size == 256
    assert cfg.auto_scale_lr.base_batch_size == 8 * 256
    assert opt.lr == pytest.approx((0.2 if long else 0.45) * 2048 / 256)
    assert opt.weight_decay == (1.5e-6 if long else 1e-6)
    assert cfg.model.base_momentum == (0.004 if long else 0.03)  # 1 - tau
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'
    warm, cos = cfg.param_scheduler
    assert (warm.type, warm.end, cos.begin) == ('LinearLR', 10, 10)
    epochs = 2000 if 'coco' in path else 1000 if long else 200
    assert cos.end == cfg.train_cfg.max_epochs == epochs
    roi = cfg.model.roi_layer
    assert (roi.output_size, roi.spatial_scale, roi.sampling_ratio,
            roi.aligned) == (1, 1 / 32, 0, False)
    pipe = cfg.train_dataloader.dataset.pipeline
    views = pipe[1].transforms
    assert [v[0].crop_ratio_range for v in views] == [(0.2, 1.)] * 2
    assert [v[4].prob for v in views] == [1.0, 0.1]  # blur
    assert [v[5].prob for v in views] == [0.0, 0.2]  # solarize
    assert pipe[2].type == 'SCRLBoxPairSampler' and pipe[2].num_boxes == 10


def test_r50_config_builds_with_bn_and_bias_excluded(repo_root):
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(osp.join(repo_root, CONFIGS[0]))
    model = MODELS.build(cfg.model)
    assert model.neck.fc0.in_features == 2048
    assert model.neck.fc1.bias is None
    assert model.predictor.fc1.out_features == 256
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    optim_cfg.type = 'OptimWrapper'  # AMP needs a GPU
    optim_cfg.pop('loss_scale')
    wrapper = build_optim_wrapper(model, optim_cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    checked = 0
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            name = names[id(p)]
            if name.startswith('target_net'):
                continue
            is_norm = p.dim() == 1  # every 1-D parameter: BN weight or bias
            assert group.get('lars_exclude', False) == is_norm, name
            assert (group['weight_decay'] == 0) == is_norm, name
            checked += 1
    assert checked == sum(1 for n, p in model.named_parameters()
                          if not n.startswith('target_net'))


def test_runner_trains_saves_resumes(tmp_path, random_image_dir, repo_root):
    """A real Runner: ResNet-18 SCRL, 64-px views, 4 iterations, resume."""
    from mmengine.runner import Runner
    data_cfg = Config.fromfile(
        osp.join(repo_root, 'configs/_base_/datasets/imagenet_scrl.py'))
    pipeline = copy.deepcopy(data_cfg.train_pipeline)
    for view in pipeline[1].transforms:
        view[0].scale = 64
    pipeline[2].min_size = 16  # 64 px views: C5 is 2x2

    def cfg(max_iters, resume_from=None):
        return dict(
            model=tiny_scrl_cfg(data_preprocessor=data_cfg.data_preprocessor),
            work_dir=str(tmp_path / 'work'),
            train_dataloader=dict(
                batch_size=4,
                num_workers=2,
                persistent_workers=False,
                sampler=dict(type='InfiniteSampler', shuffle=True),
                collate_fn=dict(type='default_collate'),
                dataset=dict(type='CustomDataset',
                             data_root=str(random_image_dir),
                             data_prefix='unlabeled/', with_label=False,
                             pipeline=pipeline)),
            optim_wrapper=dict(
                type='OptimWrapper',
                optimizer=dict(type='LARS', lr=0.1, momentum=0.9,
                               weight_decay=1e-6),
                paramwise_cfg=dict(custom_keys={
                    'bn': dict(decay_mult=0, lars_exclude=True),
                    'bias': dict(decay_mult=0, lars_exclude=True),
                    'downsample.1': dict(decay_mult=0, lars_exclude=True)})),
            param_scheduler=[
                dict(type='LinearLR', start_factor=0.1, by_epoch=False,
                     begin=0, end=2),
                dict(type='CosineAnnealingLR', T_max=2, by_epoch=False,
                     begin=2, end=4)],
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
            default_hooks=dict(
                logger=dict(type='LoggerHook', interval=1),
                checkpoint=dict(type='CheckpointHook', interval=2,
                                by_epoch=False)),
            log_processor=dict(by_epoch=False),
            default_scope='mmscrl',
            env_cfg=dict(cudnn_benchmark=False),
            randomness=dict(seed=0),
            load_from=resume_from,
            resume=resume_from is not None,
            experiment_name=f'scrl_{max_iters}_{resume_from is not None}')

    runner = Runner.from_cfg(cfg(4))
    runner.train()
    hist = runner.message_hub.log_scalars
    assert np.isfinite(hist['train/loss_box'].current())
    assert hist['train/num_pairs'].current() > 0
    assert int(runner.model.target_net.steps) == 4
    ckpt2 = tmp_path / 'work' / 'iter_2.pth'
    assert ckpt2.exists() and (tmp_path / 'work' / 'iter_4.pth').exists()
    state = torch.load(ckpt2, map_location='cpu')
    assert int(state['state_dict']['target_net.steps']) == 2

    resumed = Runner.from_cfg(cfg(4, resume_from=str(ckpt2)))
    resumed.train()
    assert resumed.iter == 4
    assert int(resumed.model.target_net.steps) == 4
    assert np.isfinite(
        resumed.message_hub.log_scalars['train/loss_box'].current())
