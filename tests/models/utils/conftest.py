# Copyright (c) mmscrl contributors. All rights reserved.
"""RoIAlign test cases shared by the RoI-layer tests (fixtures that return
a function, as in ``tests/conftest.py``)."""
import pytest
import torch


def _roi_case(seed, dtype=torch.float64, n=40, max_wh=90.):
    """Feature map (2, 3, 9, 11) and ``n`` (>= 5) RoIs on both images, among
    them sub-pixel, partly outside, wholly outside, zero-size and
    beyond-every-edge boxes; with the default ``max_wh``, boxes large enough
    for several adaptive sampling-grid sizes."""
    g = torch.Generator().manual_seed(seed)
    feat = torch.randn(2, 3, 9, 11, generator=g, dtype=dtype)
    xy = torch.rand(n, 2, generator=g, dtype=dtype) * 80 - 8
    wh = torch.rand(n, 2, generator=g, dtype=dtype) * max_wh
    boxes = torch.cat([xy, xy + wh], 1)
    boxes[0] = torch.tensor([3., 4., 3.5, 4.2])  # smaller than a pixel
    boxes[1] = torch.tensor([70., 60., 120., 90.])  # partly outside
    boxes[2] = torch.tensor([200., 200., 230., 220.])  # wholly outside
    boxes[3] = torch.tensor([40., 30., 40., 30.])  # zero size
    boxes[4] = torch.tensor([-20., -30., 100., 90.])  # beyond every edge
    idx = (torch.arange(n) % 2).to(dtype)[:, None]
    return feat, torch.cat([idx, boxes], 1)


def _roi_fwd_bwd(fn, feat, rois):
    """Output of ``fn(feat, rois)`` and the gradient of the features under a
    fixed random output gradient."""
    f = feat.detach().clone().requires_grad_(True)
    out = fn(f, rois)
    g = torch.Generator().manual_seed(1)
    out.backward(torch.randn(out.shape, generator=g, dtype=out.dtype))
    return out.detach(), f.grad


@pytest.fixture(scope='session')
def roi_case():
    return _roi_case


@pytest.fixture(scope='session')
def roi_fwd_bwd():
    return _roi_fwd_bwd
