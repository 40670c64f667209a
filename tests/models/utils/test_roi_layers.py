# Copyright (c) mmscrl contributors. All rights reserved.
"""RoI layers: torchvision's RoIAlign stands in for mmcv's compiled one with
the same results (forward and backward), and says so once."""
import pytest
import torch

from mmscrl.models.utils import roi_layers
from mmscrl.models.utils.roi_layers import (TorchvisionRoIAlign,
                                            build_roi_layer, roi_align)

MMCV_OPS = roi_layers.mmcv_ops_status()[0]
needs_mmcv_ops = pytest.mark.skipif(
    MMCV_OPS is None, reason='reference needs mmcv compiled ops')


@pytest.fixture
def no_mmcv_ops(monkeypatch):
    """A stack without mmcv's compiled ops (mmcv-lite); collects the
    fallback log messages."""
    import mmengine.logging
    logged = []
    monkeypatch.setattr(roi_layers, 'mmcv_ops_status',
                        lambda: (None, "No module named 'mmcv._ext'"))
    monkeypatch.setattr(roi_layers, '_FALLBACK_LOGGED', False)
    print_log = mmengine.logging.print_log

    def record(msg, **kw):
        if 'RoIAlign comes from' in str(msg):
            logged.append((msg, kw))
        else:
            print_log(msg, **kw)

    monkeypatch.setattr(mmengine.logging, 'print_log', record)
    return logged


@needs_mmcv_ops
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('output_size,sampling_ratio',
                         [(1, 0), ((2, 3), 0), (2, 2), (3, -1)])
def test_torchvision_roialign_equals_mmcv(aligned, output_size, sampling_ratio,
                                          roi_case, roi_fwd_bwd):
    """Forward and backward of mmcv's RoIAlign and its stand-in agree
    (float64, CPU)."""
    feat, rois = roi_case(0, n=12, max_wh=60.)
    kw = dict(output_size=output_size, spatial_scale=1 / 8,
              sampling_ratio=max(sampling_ratio, 0), aligned=aligned)
    ours = TorchvisionRoIAlign(**dict(kw, sampling_ratio=sampling_ratio))
    ref = MMCV_OPS.RoIAlign(**kw)
    out, grad = roi_fwd_bwd(ours, feat, rois)
    out_ref, grad_ref = roi_fwd_bwd(ref, feat, rois)
    assert out.shape == out_ref.shape
    torch.testing.assert_close(out, out_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-10, atol=1e-10)
    assert out.abs().sum() > 0 and grad.abs().sum() > 0


@needs_mmcv_ops
def test_float32_and_scrl_setting_match_mmcv(roi_case, roi_fwd_bwd):
    """SCRL's layer (1x1, 1/32, adaptive, aligned=False) in float32 with
    float64 RoIs (cast like mmcv's)."""
    feat, rois = roi_case(3, n=12, max_wh=60.)
    feat = feat.float()
    rois[:, 1:] *= 4  # image pixels of a stride-32 map
    kw = dict(output_size=1, spatial_scale=1 / 32, sampling_ratio=0,
              aligned=False)
    out, grad = roi_fwd_bwd(TorchvisionRoIAlign(**kw), feat, rois)
    out_ref, grad_ref = roi_fwd_bwd(MMCV_OPS.RoIAlign(**kw), feat,
                                    rois.float())
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(grad, grad_ref)


@needs_mmcv_ops
def test_fallback_function_equals_mmcv_roi_align(no_mmcv_ops, roi_case):
    """``roi_align`` (box k-NN's call) without mmcv ops equals mmcv's."""
    feat, rois = roi_case(5, n=12, max_wh=60.)
    ours = roi_align(feat, rois, (2, 2), 1 / 8, 2, 'avg', True)
    ref = MMCV_OPS.roi_align(feat, rois, (2, 2), 1 / 8, 2, 'avg', True)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
    assert len(no_mmcv_ops) == 1


def test_fallback_is_built_and_logged_once(no_mmcv_ops, roi_case):
    cfg = dict(type='RoIAlign', output_size=1, spatial_scale=1 / 32,
               sampling_ratio=0, aligned=False)
    layer = build_roi_layer(cfg)
    assert isinstance(layer, TorchvisionRoIAlign)
    assert (layer.output_size, layer.spatial_scale, layer.sampling_ratio,
            layer.aligned) == ((1, 1), 1 / 32, 0, False)
    assert cfg['type'] == 'RoIAlign'  # the config is not consumed
    build_roi_layer(cfg)
    feat, rois = roi_case(1, n=12, max_wh=60.)
    roi_align(feat, rois, 1, 1 / 8)
    assert len(no_mmcv_ops) == 1
    msg, kw = no_mmcv_ops[0]
    assert 'torchvision' in msg and "mmcv._ext" in msg
    assert kw['level'] >= 30  # a warning: visible at the default level
    assert roi_layers.roi_align_backend() == 'torchvision.ops'


def test_fallback_refuses_what_torchvision_cannot_do(no_mmcv_ops, roi_case):
    with pytest.raises(ImportError, match="RoIPool.*only RoIAlign"):
        build_roi_layer(dict(type='RoIPool', output_size=7))
    with pytest.raises(ValueError, match="pool_mode='max'"):
        build_roi_layer(dict(type='RoIAlign', output_size=7,
                             pool_mode='max'))
    feat, rois = roi_case(2, n=12, max_wh=60.)
    with pytest.raises(ValueError, match='pool_mode'):
        roi_align(feat, rois, 2, 1 / 8, 0, 'max')


def test_bad_configs():
    with pytest.raises(ValueError, match='"type"'):
        build_roi_layer(dict(output_size=1))
    if MMCV_OPS is not None:
        with pytest.raises(ValueError, match="'RoIAling'.*not an RoI"):
            build_roi_layer(dict(type='RoIAling', output_size=1))
        layer = build_roi_layer(dict(type='RoIAlign', output_size=1))
        assert isinstance(layer, MMCV_OPS.RoIAlign)
        assert roi_layers.roi_align_backend() == 'mmcv.ops'


def test_scrl_builds_its_layer_through_the_helper(no_mmcv_ops):
    """SCRL without mmcv ops: a torchvision RoIAlign, and the same loss as
    with mmcv's layer."""
    import copy

    import numpy as np
    from mmengine.logging import MessageHub
    from mmengine.registry import init_default_scope
    from mmpretrain.structures import DataSample

    import mmscrl  # noqa: F401
    from mmscrl.registry import MODELS
    init_default_scope('mmscrl')
    MessageHub.get_current_instance().update_info('max_iters', 10)
    mlp = dict(type='NonLinearNeck', in_channels=512, hid_channels=32,
               out_channels=16, num_layers=2, with_avg_pool=False,
               with_last_bn=False, with_last_bias=False,
               norm_cfg=dict(type='BN1d'))
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='SCRL',
        backbone=dict(type='ResNet', depth=18, out_indices=(3, ),
                      norm_cfg=dict(type='BN')),
        neck=mlp, predictor=dict(mlp, in_channels=16)))
    assert isinstance(model.roi_layer, TorchvisionRoIAlign)
    assert len(no_mmcv_ops) == 1
    samples = []
    for _ in range(2):
        s = DataSample()
        s.set_field(np.array([[[0., 0., 40., 40.], [8., 8., 60., 56.]],
                              [[4., 4., 44., 44.], [0., 0., 52., 48.]]],
                             np.float32), 'scrl_boxes')
        s.set_field(np.array([True, True]), 'scrl_box_valid')
        samples.append(s)
    g = torch.Generator().manual_seed(0)
    imgs = [torch.randn(2, 3, 64, 64, generator=g) for _ in range(2)]
    reference = copy.deepcopy(model)
    losses = model.loss(imgs, samples)
    loss = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert torch.isfinite(loss)
    loss.backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    if MMCV_OPS is not None:
        reference.roi_layer = MMCV_OPS.RoIAlign(1, 1 / 32, 0, aligned=False)
        ref = reference.loss(imgs, samples)
        for k, v in losses.items():
            torch.testing.assert_close(v, ref[k])


@needs_mmcv_ops
def test_channels_last_features_give_the_nchw_result(roi_case):
    """mmcv's kernels read NCHW memory: a channels-last map (the layout of
    mmscrl.ChannelsLastHook) must give the same output and gradient."""
    feat, rois = roi_case(6, n=12, max_wh=60.)
    layer = build_roi_layer(dict(type='RoIAlign', output_size=2,
                                 spatial_scale=1 / 8, sampling_ratio=2))
    cl = feat.contiguous(memory_format=torch.channels_last)
    assert not cl.is_contiguous()
    for fn in (layer, lambda f, r: roi_align(f, r, 2, 1 / 8, 2)):
        f1 = feat.clone().requires_grad_(True)
        f2 = cl.clone().requires_grad_(True)
        out1, out2 = fn(f1, rois), fn(f2, rois)
        torch.testing.assert_close(out1, out2)
        out1.sum().backward()
        out2.sum().backward()
        torch.testing.assert_close(f1.grad, f2.grad)
