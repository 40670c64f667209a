# Copyright (c) mmscrl contributors. All rights reserved.
"""Sparse-product RoIAlign equals mmcv's kernel, forward and backward, on
every edge case of the kernel (sub-pixel, empty, partly and wholly outside
boxes; adaptive and fixed sampling; aligned or not; memory chunks)."""
import pytest
import torch

from mmscrl.models.utils import roi_layers, sparse_roi_align as sra
from mmscrl.models.utils.roi_layers import SparseRoIAlign
from mmscrl.models.utils.sparse_roi_align import sparse_roi_align

MMCV_OPS = roi_layers.mmcv_ops_status()[0]
needs_mmcv_ops = pytest.mark.skipif(
    MMCV_OPS is None, reason='reference needs mmcv compiled ops')


@needs_mmcv_ops
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('output_size,sampling_ratio',
                         [(1, 0), ((2, 3), 0), (7, 0), (2, 2), (3, -1)])
@pytest.mark.parametrize('spatial_scale', [1 / 8, 1 / 4])
def test_equals_mmcv_float64(aligned, output_size, sampling_ratio,
                             spatial_scale, roi_case, roi_fwd_bwd):
    feat, rois = roi_case(0)
    kw = dict(output_size=output_size, spatial_scale=spatial_scale,
              sampling_ratio=sampling_ratio, aligned=aligned)
    ref = MMCV_OPS.RoIAlign(
        **dict(kw, sampling_ratio=max(sampling_ratio, 0)))
    out, grad = roi_fwd_bwd(lambda f, r: sparse_roi_align(f, r, **kw),
                            feat, rois)
    out_ref, grad_ref = roi_fwd_bwd(ref, feat, rois)
    assert out.shape == out_ref.shape
    torch.testing.assert_close(out, out_ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-10, atol=1e-10)
    assert out.abs().sum() > 0 and grad.abs().sum() > 0
    # the wholly outside box reads nothing, the empty aligned box too
    # (adaptive grid: 0 samples)
    assert out[2].abs().sum() == 0
    if aligned and sampling_ratio <= 0:
        assert out[3].abs().sum() == 0


@needs_mmcv_ops
def test_equals_mmcv_float32_detector_sizes(roi_fwd_bwd):
    """A detector-sized call (float32, 128 channels, 7x7, 256 RoIs)."""
    g = torch.Generator().manual_seed(3)
    feat = torch.randn(4, 128, 32, 32, generator=g)
    xy = torch.rand(256, 2, generator=g) * 120
    wh = torch.rand(256, 2, generator=g) * 60 + 1
    rois = torch.cat([torch.randint(0, 4, (256, 1), generator=g).float(),
                      xy, xy + wh], 1)
    ref = MMCV_OPS.RoIAlign(7, 1 / 4, 0, aligned=True)
    out, grad = roi_fwd_bwd(lambda f, r: sparse_roi_align(f, r, 7, 1 / 4),
                            feat, rois)
    out_ref, grad_ref = roi_fwd_bwd(ref, feat, rois)
    torch.testing.assert_close(out, out_ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-4, atol=1e-4)


@needs_mmcv_ops
def test_memory_chunks_give_the_same_result(monkeypatch, roi_case,
                                            roi_fwd_bwd):
    """Splitting the RoIs into many products changes nothing."""
    feat, rois = roi_case(1)

    def run(f, r):
        return sparse_roi_align(f, r, 3, 1 / 8)

    full = roi_fwd_bwd(run, feat, rois)
    monkeypatch.setattr(sra, 'MAX_NNZ_PER_CHUNK', 200)
    chunked = roi_fwd_bwd(run, feat, rois)
    for a, b in zip(full, chunked):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_no_rois_and_no_grad_to_rois(roi_case):
    feat, rois = roi_case(2)
    out = sparse_roi_align(feat, rois[:0], (2, 3), 1 / 8)
    assert out.shape == (0, 3, 2, 3)
    rois = rois.clone().requires_grad_(True)
    f = feat.clone().requires_grad_(True)
    sparse_roi_align(f, rois, 2, 1 / 8).sum().backward()
    assert rois.grad is None and f.grad is not None


def test_negative_size_aligned_box_is_an_error(roi_case):
    feat, rois = roi_case(2)
    rois[5, 3] = rois[5, 1] - 1
    with pytest.raises(ValueError, match='negative size'):
        sparse_roi_align(feat, rois, 2, 1 / 8, aligned=True)


@needs_mmcv_ops
def test_layer_uses_the_sparse_path_on_cpu_and_the_kernel_otherwise(
        monkeypatch, roi_case):
    calls = []
    real = sra.sparse_roi_align
    monkeypatch.setattr(sra, 'sparse_roi_align',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    feat, rois = roi_case(4, dtype=torch.float32)
    layer = SparseRoIAlign(2, 1 / 8, 0)
    assert 'SparseRoIAlign(output_size=(2, 2)' in repr(layer)
    out = layer(feat, rois)
    assert calls == [1]
    torch.testing.assert_close(
        out, MMCV_OPS.roi_align(feat, rois, 2, 1 / 8, 0, 'avg', True),
        rtol=1e-5, atol=1e-6)
    # max pooling and half precision are the kernel's
    maxed = SparseRoIAlign(2, 1 / 8, 2, pool_mode='max')
    maxed(feat, rois)
    assert calls == [1]
    assert isinstance(maxed.kernel, MMCV_OPS.RoIAlign)
