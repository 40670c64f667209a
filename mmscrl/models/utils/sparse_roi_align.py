# Copyright (c) mmscrl contributors. All rights reserved.
"""RoIAlign on CPU as one sparse-dense matrix product per call.

mmcv's and torchvision's CPU RoIAlign kernels loop over RoIs, channels and
samples on one thread, and their backward passes recompute every bilinear
weight for every channel. In the demo detector (Faster R-CNN R18-FPN, batch
8, 128 sampled RoIs per image, 2 CPU cores) mmcv's forward and backward took
about half of each training step. The op is linear in the feature map, so
here its weights are built once per call as a sparse matrix ``S`` (one row
per output bin, one column per feature-map pixel of the batch) and

    output = S @ F,   grad_F = S^T @ grad_output,

with ``F`` the ``(N*H*W, C)`` feature map; both products run on PyTorch's
multi-threaded sparse CSR kernels, and autograd gives the backward pass.

The weights are mmcv's (``mmcv/ops/csrc/pytorch/cpu/roi_align.cpp``, avg
mode), computed in the same order of floating-point operations: the box is
scaled by ``spatial_scale`` and shifted by -0.5 when ``aligned``; without
``aligned`` its width and height are at least 1; ``sampling_ratio <= 0``
means ``ceil(roi_size / output_size)`` samples per bin side (0 for an empty
aligned box, whose bins are 0); a sample outside ``[-1, size]`` contributes
0, one in ``[-1, 0]`` is clamped to 0, one at or beyond the last pixel
reads the last pixel; each bin averages its ``max(grid_h * grid_w, 1)``
samples. The RoIs get no gradient (as in mmcv). Results equal mmcv's up to
float summation order (``tests/models/utils/test_sparse_roi_align.py``).
"""
import warnings
from typing import Tuple, Union

import torch
from torch.nn.modules.utils import _pair

__all__ = ['sparse_roi_align', 'roi_align_weights']

#: stored weights per chunk of RoIs (bounds the memory of one product)
MAX_NNZ_PER_CHUNK = 1 << 23


def _axis(start: torch.Tensor, bin_size: torch.Tensor, grid: torch.Tensor,
          out: int, samples: int, size: int):
    """Per-axis sample positions of mmcv's RoIAlign.

    Args:
        start, bin_size (Tensor): (K, ) box start and bin size (feature px).
        grid (Tensor): (K, ) samples per bin along this axis (int64).
        out (int): Bins along this axis.
        samples (int): Padded samples per bin (>= ``grid.max()``).
        size (int): Feature-map size along this axis.

    Returns:
        tuple: ``idx`` (K, out, samples, 2) int64 low/high pixel and
        ``w`` (K, out, samples, 2) their weights (0 for padding samples and
        samples outside ``[-1, size]``).
    """
    dtype = start.dtype
    p = torch.arange(out, dtype=dtype)
    k = torch.arange(samples, dtype=dtype)
    g = grid.to(dtype).clamp(min=1)
    # mmcv: start + p * bin + (iy + .5f) * bin / grid
    pos = (start[:, None, None] + p[None, :, None] * bin_size[:, None, None]
           + (k[None, None, :] + .5) * bin_size[:, None, None]
           / g[:, None, None])
    inside = (pos >= -1.0) & (pos <= size)
    pos = pos.clamp(min=0)
    low = pos.floor().long()  # pos >= 0: floor == int cast
    last = low >= size - 1
    low = torch.where(last, torch.full_like(low, size - 1), low)
    high = torch.where(last, low, low + 1)
    pos = torch.where(last, low.to(dtype), pos)
    frac = pos - low.to(dtype)
    keep = (inside & (k[None, None, :] < grid[:, None, None]).expand_as(
        inside)).to(dtype)
    w = torch.stack([(1 - frac) * keep, frac * keep], dim=-1)
    return torch.stack([low, high], dim=-1), w


def roi_align_weights(rois: torch.Tensor, height: int, width: int,
                      output_size: Tuple[int, int], spatial_scale: float,
                      sampling_ratio: int, aligned: bool, samples: int):
    """Column indices and weights of RoIAlign's sparse matrix.

    Args:
        rois (Tensor): (K, 5) ``(batch index, x1, y1, x2, y2)``.
        height, width (int): Feature-map size.
        output_size (tuple[int, int]): ``(out_h, out_w)``.
        spatial_scale (float): Feature px per RoI unit.
        sampling_ratio (int): Samples per bin side, ``<= 0`` adaptive.
        aligned (bool): Shift boxes by -0.5 feature px.
        samples (int): Padded samples per bin side (>= every RoI's grid).

    Returns:
        tuple: ``cols`` (K * out_h * out_w, 4 * samples**2) int64 pixel
        index ``b * H * W + y * W + x`` and ``vals`` the same shape, the
        bilinear weight divided by the bin's sample count.
    """
    out_h, out_w = output_size
    dtype = rois.dtype
    offset = 0.5 if aligned else 0.0
    start_w = rois[:, 1] * spatial_scale - offset
    start_h = rois[:, 2] * spatial_scale - offset
    roi_w = rois[:, 3] * spatial_scale - offset - start_w
    roi_h = rois[:, 4] * spatial_scale - offset - start_h
    if aligned:
        if bool(((roi_w < 0) | (roi_h < 0)).any()):
            raise ValueError('RoIAlign: RoIs cannot have negative size '
                             '(x2 < x1 or y2 < y1)')
    else:
        roi_w = roi_w.clamp(min=1.)
        roi_h = roi_h.clamp(min=1.)
    bin_h = roi_h / out_h
    bin_w = roi_w / out_w
    if sampling_ratio > 0:
        grid_h = torch.full_like(start_h, sampling_ratio, dtype=torch.long)
        grid_w = grid_h
    else:
        grid_h = torch.ceil(roi_h / out_h).long()
        grid_w = torch.ceil(roi_w / out_w).long()
    count = (grid_h * grid_w).clamp(min=1).to(dtype)
    iy, wy = _axis(start_h, bin_h, grid_h, out_h, samples, height)
    ix, wx = _axis(start_w, bin_w, grid_w, out_w, samples, width)
    k = rois.shape[0]
    # (K, out_h, out_w, sy, 2, sx, 2)
    vals = (wy[:, :, None, :, :, None, None] * wx[:, None, :, None, None]
            / count[:, None, None, None, None, None, None])
    base = rois[:, 0].long() * (height * width)
    cols = (base[:, None, None, None, None, None, None]
            + iy[:, :, None, :, :, None, None] * width
            + ix[:, None, :, None, None, :, :])
    shape = (k * out_h * out_w, 4 * samples * samples)
    return cols.expand(k, out_h, out_w, samples, 2, samples,
                       2).reshape(shape), vals.reshape(shape)


def _grid_sizes(rois: torch.Tensor, output_size, spatial_scale,
                sampling_ratio, aligned) -> torch.Tensor:
    """(K, ) the larger of each RoI's samples per bin side (at least 1)."""
    if sampling_ratio > 0:
        return torch.full((rois.shape[0], ), sampling_ratio, dtype=torch.long)
    offset = 0.5 if aligned else 0.0
    wh = (rois[:, 3:5] * spatial_scale - offset) - (
        rois[:, 1:3] * spatial_scale - offset)
    if not aligned:
        wh = wh.clamp(min=1.)
    grid = torch.ceil(wh / wh.new_tensor(output_size[::-1])).long()
    return grid.max(dim=1).values.clamp(min=1)


def _csr(crow: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor,
         shape: Tuple[int, int]) -> torch.Tensor:
    with warnings.catch_warnings():  # "CSR support is in beta state"
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(crow, cols, vals, size=shape,
                                       check_invariants=False)


class _SparseProduct(torch.autograd.Function):
    """``S @ F`` for ``S`` given as fixed-length rows (``cols``, ``vals``
    of shape (rows, nnz per row)); backward ``S^T @ grad`` from ``S^T``
    built directly in CSR (one argsort of the column indices; PyTorch's
    own CSR backward converts through COO and sorts several times)."""

    @staticmethod
    def forward(ctx, feats, cols, vals):
        rows, per_row = cols.shape
        crow = torch.arange(0, rows + 1, dtype=torch.long) * per_row
        ctx.save_for_backward(cols, vals)
        ctx.num_pixels = feats.shape[0]
        return torch.sparse.mm(
            _csr(crow, cols.reshape(-1), vals.reshape(-1),
                 (rows, feats.shape[0])), feats)

    @staticmethod
    def backward(ctx, grad):
        cols, vals = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        rows, per_row = cols.shape
        flat = cols.reshape(-1)
        order = torch.argsort(flat)
        crow = torch.zeros(ctx.num_pixels + 1, dtype=torch.long)
        crow[1:] = torch.bincount(flat, minlength=ctx.num_pixels).cumsum(0)
        transposed = _csr(crow, torch.div(order, per_row,
                                          rounding_mode='floor'),
                          vals.reshape(-1)[order], (ctx.num_pixels, rows))
        return torch.sparse.mm(transposed, grad.contiguous()), None, None


def sparse_roi_align(input: torch.Tensor,
                     rois: torch.Tensor,
                     output_size: Union[int, Tuple[int, int]],
                     spatial_scale: float = 1.0,
                     sampling_ratio: int = 0,
                     aligned: bool = True) -> torch.Tensor:
    """mmcv's ``roi_align`` (avg mode) as sparse matrix products.

    Args:
        input (Tensor): (N, C, H, W) float features (CPU).
        rois (Tensor): (K, 5) ``(batch index, x1, y1, x2, y2)`` in input
            image coordinates; no gradient flows to them.
        output_size (int | tuple[int, int]): ``(out_h, out_w)``.
        spatial_scale (float): Feature px per RoI unit. Defaults to 1.0.
        sampling_ratio (int): Samples per bin side, ``<= 0`` adaptive.
            Defaults to 0.
        aligned (bool): Shift boxes by -0.5 feature px. Defaults to True.

    Returns:
        Tensor: (K, C, out_h, out_w).
    """
    out_h, out_w = _pair(output_size)
    n, c, h, w = input.shape
    rois = rois.detach().to(input.dtype)
    k = rois.shape[0]
    if k == 0:
        return input.new_zeros((0, c, out_h, out_w))
    feats = input.permute(0, 2, 3, 1).reshape(n * h * w, c)
    grid = _grid_sizes(rois, (out_h, out_w), spatial_scale, sampling_ratio,
                       aligned)
    order = torch.argsort(grid, stable=True)
    grid_sorted = grid[order].tolist()
    outs, i = [], 0
    while i < k:  # chunks of RoIs of one grid size, bounded memory
        samples = grid_sorted[i]
        per_roi = out_h * out_w * 4 * samples * samples
        j = i + 1
        while (j < k and grid_sorted[j] == samples
               and (j + 1 - i) * per_roi <= MAX_NNZ_PER_CHUNK):
            j += 1
        cols, vals = roi_align_weights(rois[order[i:j]], h, w,
                                       (out_h, out_w), spatial_scale,
                                       sampling_ratio, aligned, samples)
        outs.append(_SparseProduct.apply(feats, cols, vals))
        i = j
    out = torch.cat(outs) if len(outs) > 1 else outs[0]
    out = out.view(k, out_h, out_w, c)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(k)
    return out[inverse].permute(0, 3, 1, 2).contiguous()
