# Copyright (c) mmscrl contributors. All rights reserved.
"""PixPro algorithm: loss against a direct computation, geometry from the
recorded views, EMA schedule, instance branch, LARS groups, resume."""
import copy
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

import mmscrl  # noqa: F401
from mmscrl.engine.hooks.ema_momentum_hook import current_ema_momentum
from mmscrl.models.utils.pixpro import pixpro_positive_mask
from mmscrl.registry import MODELS, TRANSFORMS

init_default_scope('mmscrl')


def mlp(i, h, o):
    return dict(type='PixProMLP2d', in_channels=i, hid_channels=h,
                out_channels=o, norm_cfg=dict(type='BN'))


def tiny_cfg(**kwargs):
    cfg = dict(
        type='PixPro',
        backbone=dict(type='ResNet', depth=18, out_indices=(3, ),
                      norm_cfg=dict(type='BN')),
        neck=mlp(512, 64, 32))
    if kwargs.get('instance_loss_weight', 0) > 0:
        cfg.update(instance_neck=mlp(512, 64, 32), predictor=mlp(32, 64, 32))
    cfg.update(kwargs)
    return cfg


def make_samples(boxes, flips, shape=(80, 100)):
    """Samples with two views' crop boxes (xyxy, original pixels)."""
    samples = []
    for (b1, b2), (f1, f2) in zip(boxes, flips):
        hom = np.stack([np.diag([-1. if f else 1., 1., 1.]) for f in (f1, f2)])
        s = DataSample()
        s.set_field(np.array([b1, b2], dtype=np.float64), 'view_crop_bbox')
        s.set_field(hom, 'view_homography')
        s.set_metainfo(dict(ori_shape=shape))
        samples.append(s)
    return samples


BOXES = [([0., 0., 100., 80.], [0., 0., 100., 80.]),
         ([10., 5., 70., 60.], [30., 20., 90., 75.]),
         ([0., 0., 50., 40.], [60., 45., 100., 80.])]
FLIPS = [(False, False), (False, True), (True, False)]


@pytest.fixture
def max_iters():
    MessageHub.get_current_instance().update_info('max_iters', 100)


def official_coords(box, flip, shape=(80, 100)):
    h, w = shape
    x1, y1, x2, y2 = box[0] / (w - 1), box[1] / (h - 1), \
        (box[2] - 1) / (w - 1), (box[3] - 1) / (h - 1)
    return [x2, y1, x1, y2] if flip else [x1, y1, x2, y2]


def direct_loss(model, inputs, instance=False):
    """The PixPro loss written out from the formulas, per view."""
    target = copy.deepcopy(model.target_net.module)
    c1 = torch.tensor([official_coords(b[0], f[0])
                       for b, f in zip(BOXES, FLIPS)])
    c2 = torch.tensor([official_coords(b[1], f[1])
                       for b, f in zip(BOXES, FLIPS)])

    def online(img):
        c5 = model.backbone(img)[-1]
        x = model.neck(c5)
        n, c, h, w = x.shape
        xn = F.normalize(x, dim=1).flatten(2)
        sim = (xn.transpose(1, 2) @ xn).clamp(min=0)**2
        v = F.normalize(model.value_transform(x), dim=1).flatten(2)
        pred = F.normalize((v @ sim.transpose(1, 2)).view(n, c, h, w), dim=1)
        ins = None
        if instance:
            p = model.predictor(model.instance_neck(c5)).mean((2, 3))
            ins = F.normalize(p, dim=1)
        return pred, ins

    def tgt(img):
        c5 = target[0](img)[-1]
        z = F.normalize(target[1](c5), dim=1)
        ins = F.normalize(target[2](c5).mean((2, 3)), dim=1) \
            if instance else None
        return z.detach(), ins.detach() if instance else None

    def direction(pred, z, cq, ck):
        m = pixpro_positive_mask(cq, ck, pred.shape[-2:])
        logit = pred.flatten(2).transpose(1, 2) @ z.flatten(2)
        per = [(logit[i] * m[i]).sum() / (m[i].sum() + 1e-6)
               for i in range(len(m))]
        return -2 * torch.stack(per).mean()

    (p1, pi1), (p2, pi2) = online(inputs[0]), online(inputs[1])
    (z1, zi1), (z2, zi2) = tgt(inputs[0]), tgt(inputs[1])
    pix = direction(p1, z2, c1, c2) + direction(p2, z1, c2, c1)
    ins = None
    if instance:
        ins = -2 * (pi1 * zi2).sum(1).mean() - 2 * (pi2 * zi1).sum(1).mean()
    return pix, ins


@pytest.mark.parametrize('weight', [0., 0.5])
def test_loss_equals_direct_computation(max_iters, weight):
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(instance_loss_weight=weight))
    model.train()
    inputs = [torch.randn(3, 3, 64, 64), torch.randn(3, 3, 64, 64)]
    losses = model(inputs, make_samples(BOXES, FLIPS), mode='loss')
    pix, ins = direct_loss(model, inputs, instance=weight > 0)
    torch.testing.assert_close(losses['loss_pix'], pix, rtol=1e-4, atol=1e-5)
    assert -4 <= losses['loss_pix'].item() <= 4
    if weight:
        torch.testing.assert_close(losses['loss_ins'], weight * ins,
                                   rtol=1e-4, atol=1e-5)
    else:
        assert 'loss_ins' not in losses
        assert not hasattr(model, 'instance_neck')
    # C5 is 2x2 at 64 px
    m = pixpro_positive_mask(
        torch.tensor([official_coords(b[0], f[0])
                      for b, f in zip(BOXES, FLIPS)]),
        torch.tensor([official_coords(b[1], f[1])
                      for b, f in zip(BOXES, FLIPS)]), 2)
    assert losses['pos_pairs'].item() == pytest.approx(
        m.sum().item() / 3)
    # gradients reach every trainable module, none reach the target
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for name, p in model.named_parameters():
        if name.startswith('target_net'):
            assert p.grad is None and not p.requires_grad, name
        else:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.value_transform.bias.grad.abs().sum() > 0


def test_view_coords_from_the_recorded_pipeline():
    """(f): 500x375 image, crop i=10, j=20, h=100, w=200, view 2 flipped:
    the geometry recorded by the fast view pipeline gives the official
    normalised coordinates."""
    cfg = Config.fromfile(osp.join(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
        'configs/_base_/datasets/imagenet_pixpro.py'))
    v1, v2 = copy.deepcopy(cfg.view_pipeline1), copy.deepcopy(
        cfg.view_pipeline2)
    v1[1].prob, v2[1].prob = 0., 1.  # view 2 flipped
    multi = TRANSFORMS.build(dict(cfg.train_pipeline[1],
                                  transforms=[v1, v2]))
    assert multi.fast
    for pipe in multi.pipelines:  # force the crop (top, left, h, w)
        pipe.transforms[0].rand_crop_params = lambda img: (10, 20, 100, 200)
    pack = TRANSFORMS.build(cfg.train_pipeline[2])
    img = np.random.RandomState(0).randint(0, 255, (375, 500, 3), np.uint8)
    out = pack(multi(dict(img=img, ori_shape=(375, 500), img_path='x')))
    c1, c2 = MODELS.get('PixPro').view_coords([out['data_samples']])
    torch.testing.assert_close(
        c1, torch.tensor([[20 / 499, 10 / 374, 219 / 499, 109 / 374]]))
    torch.testing.assert_close(
        c2, torch.tensor([[219 / 499, 10 / 374, 20 / 499, 109 / 374]]))


def test_missing_geometry_error(max_iters):
    model = MODELS.build(tiny_cfg())
    with pytest.raises(AttributeError, match='view_crop_bbox'):
        model([torch.randn(1, 3, 64, 64)] * 2, [DataSample()], mode='loss')


def test_argument_checks():
    with pytest.raises(ValueError, match='base_momentum'):
        MODELS.build(tiny_cfg(base_momentum=0.99))
    with pytest.raises(ValueError, match='instance_neck'):
        MODELS.build(dict(tiny_cfg(), instance_loss_weight=1.))
    with pytest.raises(ValueError, match='ppm_transform_layers'):
        MODELS.build(tiny_cfg(ppm_transform_layers=3))


@pytest.mark.parametrize('layers,kind', [(0, torch.nn.Identity),
                                         (1, torch.nn.Conv2d)])
def test_ppm_transform_options(layers, kind):
    model = MODELS.build(tiny_cfg(ppm_transform_layers=layers))
    assert type(model.value_transform) is kind
    if layers == 1:  # one biased 1x1 conv, 32 -> 32
        assert model.value_transform.kernel_size == (1, 1)
        assert model.value_transform.bias is not None


def tau(k, K, base=0.01):
    return 1 - base * (math.cos(math.pi * k / K) + 1) / 2


@pytest.mark.parametrize('k,expected', [(0, 0.99), (50, 0.995), (100, 1.)])
def test_tau_schedule_values(k, expected):
    # (i) tau(0) = 0.99, tau(K/2) = 0.995, tau(K) = 1
    model = MODELS.build(tiny_cfg())
    model.target_net.steps.fill_(k)
    m = current_ema_momentum(model.target_net, 100)
    assert 1 - m == pytest.approx(expected, abs=1e-12)


def test_target_starts_as_online_then_follows_tau():
    MessageHub.get_current_instance().update_info('max_iters', 10)
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg())
    model.init_weights()
    inputs = [torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)]
    samples = make_samples(BOXES[:2], FLIPS[:2])
    model(inputs, samples, mode='loss')  # step 0: target <- online
    online = model.neck.linear1.weight
    target = model.target_net.module[1].linear1.weight
    torch.testing.assert_close(target, online)
    old = target.detach().clone()
    with torch.no_grad():
        online.add_(1.)
    model(inputs, samples, mode='loss')  # step 1: tau(1)
    t = tau(1, 10)
    torch.testing.assert_close(target, t * old + (1 - t) * online)
    assert int(model.target_net.steps) == 2
    # the target has no PPM
    assert not any('value_transform' in n
                   for n, _ in model.target_net.named_parameters())


def test_tensor_mode_returns_backbone_features():
    model = MODELS.build(tiny_cfg())
    feats = model(torch.randn(2, 3, 64, 64), mode='tensor')
    assert len(feats) == 1 and feats[0].shape == (2, 512, 2, 2)


def _runner_cfg(tmp_path, image_dir, max_iters, resume_from=None):
    data = Config.fromfile(osp.join(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
        'configs/_base_/datasets/imagenet_pixpro.py'))
    pipeline = copy.deepcopy(data.train_pipeline)
    for view in pipeline[1].transforms:
        view[0].scale = 64
    return dict(
        model=tiny_cfg(data_preprocessor=data.data_preprocessor),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(
            batch_size=2, num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='CustomDataset', data_root=str(image_dir),
                         data_prefix='unlabeled/', with_label=False,
                         pipeline=pipeline)),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='LARS', lr=0.1, momentum=0.9,
                           weight_decay=1e-5)),
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
        experiment_name=f'pixpro_{max_iters}_{resume_from is not None}')


class _StepsRecorder(Hook):
    """The EMA counter and momentum before each iteration."""

    def __init__(self, record):
        self.record = record

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        ema = runner.model.target_net
        self.record.append(
            (runner.iter, int(ema.steps),
             current_ema_momentum(ema, runner.max_iters)))


def test_runner_resume_continues_tau_exactly(tmp_path, random_image_dir):
    """Real Runner, ResNet-18, 64-px views, batch 2: 3 iterations, then a
    resume from iteration 2 continues the EMA schedule where it stopped."""
    from mmengine.runner import Runner
    first, resumed = [], []
    runner = Runner.from_cfg(_runner_cfg(tmp_path, random_image_dir, 3))
    runner.register_hook(_StepsRecorder(first))
    runner.train()
    assert np.isfinite(
        runner.message_hub.log_scalars['train/loss_pix'].current())
    assert [(i, s) for i, s, _ in first] == [(i, i) for i in range(3)]
    ckpt = tmp_path / 'work' / 'iter_2.pth'
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert int(state['state_dict']['target_net.steps']) == 2

    runner = Runner.from_cfg(
        _runner_cfg(tmp_path, random_image_dir, 3, str(ckpt)))
    runner.register_hook(_StepsRecorder(resumed))
    runner.train()
    assert runner.iter == 3 and int(runner.model.target_net.steps) == 3
    # iteration 2 uses the same tau as the uninterrupted run (not tau(0))
    assert resumed == first[2:]
    assert [1 - m for _, _, m in resumed] == pytest.approx([tau(2, 3)])


def test_r50_lars_groups_exclude_every_1d_parameter(repo_root):
    """(k) ResNet-50 + projector + g: 111 excluded (no decay, no LARS) and
    56 decayed parameters; 119 / 60 with the instance branch."""
    from mmengine.optim import build_optim_wrapper
    for path, n_excl, n_dec in [
        ('configs/pixpro/pixpro_resnet50_8xb128-lars-coslr-100e_in1k.py',
         111, 56),
        ('configs/pixpro/pixpro-ins_resnet50_8xb128-lars-coslr-100e_in1k.py',
         119, 60),
    ]:
        cfg = Config.fromfile(osp.join(repo_root, path))
        model = MODELS.build(cfg.model)
        optim_cfg = copy.deepcopy(cfg.optim_wrapper)
        optim_cfg.type = 'OptimWrapper'  # AMP needs a GPU
        optim_cfg.pop('loss_scale')
        wrapper = build_optim_wrapper(model, optim_cfg)
        names = {id(p): n for n, p in model.named_parameters()}
        excluded = decayed = 0
        for group in wrapper.optimizer.param_groups:
            for p in group['params']:
                name = names[id(p)]
                assert not name.startswith('target_net'), name
                is_1d = p.dim() == 1
                assert group.get('lars_exclude', False) == is_1d, name
                assert (group['weight_decay'] == 0) == is_1d, name
                excluded += is_1d
                decayed += not is_1d
        assert (excluded, decayed) == (n_excl, n_dec), path
