# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL algorithm: loss on hand-made features, weights, masking, EMA target,
forward/backward with a tiny ResNet-18."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement

from mmscrl.models.algorithms import ORL
from mmscrl.models.utils import symmetric_regression_loss
from mmscrl.registry import MODELS

MODEL_BASE = 'configs/_base_/models/orl_stage3_r50.py'
HEADS = ('global_head', 'local_intra_head', 'local_inter_head')


@pytest.fixture(autouse=True)
def mmscrl_scope():
    init_default_scope('mmscrl')
    MessageHub.get_current_instance().update_info('max_iters', 10)


def tiny_cfg(repo_root, **kwargs):
    """The real stage-3 model config shrunk to ResNet-18 with BN."""
    cfg = Config.fromfile(f'{repo_root}/{MODEL_BASE}').model
    cfg.backbone.update(depth=18, norm_cfg=dict(type='BN'))
    cfg.neck.update(in_channels=512, hid_channels=64, out_channels=32,
                    norm_cfg=dict(type='BN1d'))
    for h in HEADS:
        cfg[h].update(in_channels=32, hid_channels=64, out_channels=32,
                      norm_cfg=dict(type='BN1d'))
    cfg.update(kwargs)
    return cfg


class PassThrough(nn.Module):
    """``x -> (x,)`` (a list/tuple is passed on as a tuple)."""

    def forward(self, x):
        return tuple(x) if isinstance(x, (list, tuple)) else (x, )


def hand_made_orl(repo_root, **weights):
    """An ORL whose backbone, projector, predictors and target are identity:
    the 'images' are the features (N, C) themselves."""
    model = MODELS.build(tiny_cfg(repo_root, **weights))
    model.backbone, model.neck = PassThrough(), PassThrough()
    model.global_head = PassThrough()
    model.local_intra_head = PassThrough()
    model.local_inter_head = PassThrough()
    model.target_net = PassThrough()
    model.target_net.update_parameters = lambda m: None
    return model


def test_config_defaults(repo_root):
    cfg = Config.fromfile(f'{repo_root}/{MODEL_BASE}').model
    assert cfg.base_momentum == 0.01  # 1 - tau, never 0.99
    assert (cfg.global_loss_weight, cfg.local_intra_loss_weight,
            cfg.local_inter_loss_weight) == (1., 1., 1.)
    assert cfg.neck.with_bias and not cfg.neck.with_last_bias
    assert not cfg.neck.with_last_bn and cfg.neck.with_avg_pool
    for h in HEADS:
        assert (cfg[h].in_channels, cfg[h].hid_channels,
                cfg[h].out_channels) == (256, 4096, 256)
        assert not cfg[h].with_avg_pool


E1, E2 = torch.eye(4)[0], torch.eye(4)[1]


@pytest.mark.parametrize('v1, v2, expected', [
    (E1, E1, 0.),  # identical features
    (E1, -E1, 8.),  # opposite: 2 x (2 - 2 * -1)
    (E1, E2, 4.),  # orthogonal: 2 x 2
    (E1, 3 * E1, 0.),  # scale invariant
    (E1, E1 + E2, 2 * (2 - 2 * 2**-0.5)),  # 45 degrees
])
def test_loss_on_hand_made_features(repo_root, v1, v2, expected):
    model = hand_made_orl(repo_root)
    n = 3
    a, b = v1.expand(n, 4), v2.expand(n, 4)
    losses = model.loss([a, b, a, b, b, a])
    assert set(losses) == {'loss_global', 'loss_intra', 'loss_inter'}
    for v in losses.values():
        assert v.item() == pytest.approx(expected, abs=1e-5)


def test_loss_weights_and_inter_mask(repo_root):
    model = hand_made_orl(
        repo_root, global_loss_weight=0.5, local_intra_loss_weight=2.,
        local_inter_loss_weight=3.)
    g = torch.Generator().manual_seed(0)
    x = [torch.randn(4, 8, generator=g) for _ in range(6)]
    losses = model.loss(x)
    ref = [symmetric_regression_loss(x[i], x[i + 1], x[i + 1], x[i])
           for i in (0, 2, 4)]
    assert losses['loss_global'].item() == pytest.approx(0.5 * ref[0].item())
    assert losses['loss_intra'].item() == pytest.approx(2. * ref[1].item())
    assert losses['loss_inter'].item() == pytest.approx(3. * ref[2].item())

    # samples without an RoI pair are left out of the inter term only
    samples = [BaseDataElement(inter_valid=v)
               for v in (True, False, True, False)]
    masked = model.loss(x, samples)
    keep = torch.tensor([0, 2])
    ref_inter = symmetric_regression_loss(x[4][keep], x[5][keep],
                                          x[5][keep], x[4][keep])
    assert masked['loss_inter'].item() == pytest.approx(3. * ref_inter.item())
    assert masked['loss_global'].item() == losses['loss_global'].item()
    # nothing valid: 0 and still differentiable
    none = [BaseDataElement(inter_valid=False) for _ in range(4)]
    x = [t.requires_grad_() for t in x]
    out = model.loss(x, none)
    assert out['loss_inter'].item() == 0.
    sum(out.values()).backward()
    assert torch.all(x[4].grad == 0)


def test_bad_inputs(repo_root):
    model = hand_made_orl(repo_root)
    with pytest.raises(ValueError, match='6 tensors'):
        model.loss([torch.zeros(2, 4)] * 2)


def test_forward_backward_and_target_update(repo_root):
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(repo_root))
    model.init_weights()
    assert isinstance(model, ORL)
    # three separate predictors and one shared projector
    assert len({id(getattr(model, h)) for h in HEADS}) == 3
    online = nn.Sequential(model.backbone, model.neck)
    assert model.target_net.module[0] is not model.backbone
    n = 4
    inputs = [torch.randn(n, 3, 64, 64) for _ in range(2)] + \
        [torch.randn(n, 3, 32, 32) for _ in range(4)]
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = model(inputs, mode='loss')
    for v in losses.values():
        assert torch.isfinite(v) and 0. <= v.item() <= 8.
    sum(losses.values()).backward()
    for name in ('backbone', 'neck') + HEADS:
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None for g in grads), name
        assert any(g.abs().sum() > 0 for g in grads), name
    assert all(p.grad is None for p in model.target_net.parameters())
    # first call copied the online weights into the target
    for p_t, p_o in zip(model.target_net.module.parameters(),
                        online.parameters()):
        torch.testing.assert_close(p_t, p_o)
    before = copy.deepcopy(model.target_net.module.state_dict())
    optim.step()
    model(inputs, mode='loss')
    # second call: target <- (1 - m) target + m online, m ~ 0.01 -> moves
    # a little towards the online weights
    moved = 0
    for (k, t_new), p_o in zip(
            model.target_net.module.named_parameters(), online.parameters()):
        t_old = before[k]
        if torch.equal(t_old, p_o):
            continue
        moved += 1
        ratio = ((t_new - t_old).norm() / (p_o - t_old).norm()).item()
        assert 0. < ratio < 0.02
    assert moved > 0
