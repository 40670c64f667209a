# Copyright (c) mmscrl contributors. All rights reserved.
"""``mmscrl.SparseSingleRoIExtractor`` is mmdet's ``SingleRoIExtractor``
with the same results, reachable from an mmdet config."""
import pytest
import torch

pytest.importorskip('mmdet')

from mmscrl.models.utils import roi_layers  # noqa: E402

needs_mmcv_ops = pytest.mark.skipif(
    roi_layers.mmcv_ops_status()[0] is None,
    reason='reference needs mmcv compiled ops')

CFG = dict(roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
           out_channels=8, featmap_strides=[4, 8, 16, 32])


def _inputs():
    g = torch.Generator().manual_seed(0)
    feats = tuple(
        torch.randn(2, 8, 64 // s, 64 // s, generator=g)
        for s in (4, 8, 16, 32))
    xy = torch.rand(60, 2, generator=g) * 50
    wh = torch.rand(60, 2, generator=g) * 600 + 2  # every FPN level
    rois = torch.cat([(torch.arange(60) % 2).float()[:, None], xy, xy + wh],
                     1)
    return feats, rois


@needs_mmcv_ops
def test_same_features_and_gradients_as_mmdet():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    ours = MODELS.build(dict(CFG, type='mmscrl.SparseSingleRoIExtractor'))
    ref = MODELS.build(dict(CFG, type='mmdet.SingleRoIExtractor'))
    assert all(
        isinstance(m, roi_layers.SparseRoIAlign) for m in ours.roi_layers)
    assert [m.spatial_scale for m in ours.roi_layers] == [
        1 / 4, 1 / 8, 1 / 16, 1 / 32]
    feats, rois = _inputs()
    levels = ref.map_roi_levels(rois, len(feats))
    assert len(set(levels.tolist())) == 4
    results = []
    for model in (ours, ref):
        fs = tuple(f.clone().requires_grad_(True) for f in feats)
        out = model(fs, rois)
        out.pow(2).sum().backward()
        results.append((out.detach(), [f.grad for f in fs]))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-5,
                               atol=1e-6)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_other_layer_types_are_mmdets():
    from mmdet.registry import MODELS
    ours = MODELS.build(dict(
        CFG, type='mmscrl.SparseSingleRoIExtractor',
        roi_layer=dict(type='RoIPool', output_size=7)))
    assert not any(
        isinstance(m, roi_layers.SparseRoIAlign) for m in ours.roi_layers)
