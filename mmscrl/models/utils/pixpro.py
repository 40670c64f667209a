# Copyright (c) mmscrl contributors. All rights reserved.
"""Pure pieces of PixPro: view coordinates, positive pixel pairs, pixel
propagation and the pixel loss.

PixPro (Xie et al., "Propagate Yourself", CVPR 2021, arXiv 2011.10043;
official code zdaxie/PixPro). Everything here is a plain function on tensors
so that each rule is tested on hand-made inputs.

Coordinate convention (the official one, kept for equal positive sets):
a view's crop is ``[x1, y1, x2, y2]`` in the *normalised original-image
frame*: the origin is the centre of the top-left pixel, each axis is divided
by its own ``size - 1`` (so the frame is anisotropic for non-square images),
the end point is the last pixel index (inclusive), and a horizontally flipped
view has ``x1`` and ``x2`` swapped (negative bin width, bin centres running
right-to-left as in the flipped feature map).
"""
from typing import Sequence, Union

import torch
import torch.nn.functional as F

__all__ = [
    'pixpro_view_coords', 'pixpro_bin_centres', 'pixpro_positive_mask',
    'ppm_similarity', 'pixel_propagation', 'pixpro_pixel_loss',
    'pixpro_instance_loss'
]


def pixpro_view_coords(crop_bbox: torch.Tensor, flipped: torch.Tensor,
                       ori_shape: torch.Tensor) -> torch.Tensor:
    """Official normalised crop coordinates of views from their crop boxes.

    A crop of ``w x h`` pixels whose top-left pixel is ``(j, i)`` (column,
    row) in a ``W x H`` image is
    ``[j / (W - 1), i / (H - 1), (j + w - 1) / (W - 1),
    (i + h - 1) / (H - 1)]``; a flipped view swaps the two x values.

    Args:
        crop_bbox (Tensor): (N, 4) xyxy crop boxes in continuous pixel-edge
            coordinates of the original image (``view_crop_bbox`` of
            ``MultiViewWithGeometry``: ``[j, i, j + w, i + h]``).
        flipped (Tensor): (N,) bool, whether each view is mirrored
            horizontally.
        ori_shape (Tensor): (N, 2) ``(H, W)`` of each original image.

    Returns:
        Tensor: (N, 4) float ``[x1, y1, x2, y2]`` in the normalised frame.
    """
    crop_bbox = crop_bbox.to(torch.float64)
    ori_shape = ori_shape.to(torch.float64)
    if crop_bbox.dim() != 2 or crop_bbox.size(-1) != 4:
        raise ValueError('pixpro_view_coords: crop_bbox must be (N, 4) xyxy, '
                         f'got shape {tuple(crop_bbox.shape)}')
    if (ori_shape <= 1).any():
        raise ValueError('pixpro_view_coords: the normalised frame divides by '
                         '(size - 1); every original image needs at least 2 '
                         'rows and columns, got (H, W) = '
                         f'{ori_shape.tolist()}')
    h_m1 = ori_shape[:, 0] - 1
    w_m1 = ori_shape[:, 1] - 1
    x1 = crop_bbox[:, 0] / w_m1
    y1 = crop_bbox[:, 1] / h_m1
    x2 = (crop_bbox[:, 2] - 1) / w_m1
    y2 = (crop_bbox[:, 3] - 1) / h_m1
    flipped = flipped.to(torch.bool)
    x1, x2 = torch.where(flipped, x2, x1), torch.where(flipped, x1, x2)
    return torch.stack([x1, y1, x2, y2], dim=1).float()


def pixpro_bin_centres(coords: torch.Tensor, h: int,
                       w: int) -> Sequence[torch.Tensor]:
    """Centres and diagonal of the feature bins of views.

    Args:
        coords (Tensor): (N, 4) normalised ``[x1, y1, x2, y2]``
            (:func:`pixpro_view_coords`).
        h (int): Feature map height.
        w (int): Feature map width.

    Returns:
        tuple[Tensor]: ``cx``, ``cy`` (N, h * w) bin centres in row-major
        order (index ``y * w + x``) and ``diag`` (N, 1) bin diagonal, all in
        the normalised frame.
    """
    coords = coords.float()
    x1, y1, x2, y2 = coords.unbind(-1)
    bin_w = ((x2 - x1) / w)[:, None, None]  # negative for a flipped view
    bin_h = ((y2 - y1) / h)[:, None, None]
    ys = torch.arange(h, dtype=coords.dtype, device=coords.device)
    xs = torch.arange(w, dtype=coords.dtype, device=coords.device)
    y_idx, x_idx = torch.meshgrid(ys, xs, indexing='ij')
    cx = (x_idx[None] + 0.5) * bin_w + x1[:, None, None]
    cy = (y_idx[None] + 0.5) * bin_h + y1[:, None, None]
    diag = torch.sqrt(bin_w**2 + bin_h**2).view(-1, 1)
    return cx.flatten(1), cy.flatten(1), diag


def pixpro_positive_mask(coords_q: torch.Tensor,
                         coords_k: torch.Tensor,
                         feat_size: Union[int, Sequence[int]],
                         pos_ratio: float = 0.7) -> torch.Tensor:
    """Positive pixel pairs of two views (the official rule).

    Two bins are a positive pair when the distance of their centres in the
    normalised original-image frame, divided by the larger of the two views'
    bin diagonals, is strictly below ``pos_ratio``.

    Args:
        coords_q (Tensor): (N, 4) normalised coordinates of the prediction
            (online) views.
        coords_k (Tensor): (N, 4) normalised coordinates of the target views.
        feat_size (int | tuple[int, int]): Feature map ``(h, w)`` of both
            views (an int for a square map).
        pos_ratio (float): Distance threshold. Defaults to 0.7.

    Returns:
        Tensor: (N, h * w, h * w) float mask, rows are prediction pixels and
        columns target pixels (row-major), no gradient.
    """
    h, w = (feat_size, feat_size) if isinstance(feat_size, int) \
        else tuple(feat_size)
    if coords_q.shape != coords_k.shape or coords_q.dim() != 2 \
            or coords_q.size(1) != 4:
        raise ValueError('pixpro_positive_mask: coords must both be (N, 4), '
                         f'got {tuple(coords_q.shape)} and '
                         f'{tuple(coords_k.shape)}')
    with torch.no_grad():
        cxq, cyq, diag_q = pixpro_bin_centres(coords_q, h, w)
        cxk, cyk, diag_k = pixpro_bin_centres(coords_k, h, w)
        max_diag = torch.maximum(diag_q, diag_k)[:, :, None]  # (N, 1, 1)
        dist = torch.sqrt((cxq[:, :, None] - cxk[:, None, :])**2 +
                          (cyq[:, :, None] - cyk[:, None, :])**2)
        return (dist / max_diag < pos_ratio).float()


def ppm_similarity(x: torch.Tensor,
                   gamma: float = 2.,
                   clamp_value: float = 0.) -> torch.Tensor:
    """Pixel-propagation similarity ``max(cos(x_i, x_j), clamp) ** gamma``.

    Args:
        x (Tensor): (N, C, h, w) features (the projector output; not
            normalised).
        gamma (float): Sharpness exponent. Defaults to 2.
        clamp_value (float): Lower bound of the cosine. Defaults to 0.

    Returns:
        Tensor: (N, h * w, h * w) similarity, symmetric, row-major pixels.
    """
    xn = F.normalize(x.flatten(2), dim=1)  # (N, C, hw)
    sim = torch.bmm(xn.transpose(1, 2), xn).clamp(min=clamp_value)
    if gamma < 1:  # the official guard against 0 ** gamma gradients
        sim = sim + 1e-6
    return sim.pow(gamma)


def pixel_propagation(x: torch.Tensor,
                      value: torch.Tensor,
                      gamma: float = 2.,
                      clamp_value: float = 0.) -> torch.Tensor:
    """The pixel propagation module's output, L2-normalised.

    ``y_i = sum_j s(x_i, x_j) * normalize(value_j)`` with ``s`` from
    :func:`ppm_similarity` (no normalisation of the weights), then
    ``normalize(y_i)``.

    Args:
        x (Tensor): (N, C, h, w) features the similarity is computed on.
        value (Tensor): (N, C', h, w) transformed features ``g(x)``.
        gamma (float): Sharpness exponent. Defaults to 2.
        clamp_value (float): Lower bound of the cosine. Defaults to 0.

    Returns:
        Tensor: (N, C', h, w), unit norm over the channels.
    """
    n, c, h, w = value.shape
    sim = ppm_similarity(x, gamma, clamp_value)  # (N, hw, hw)
    v = F.normalize(value.flatten(2), dim=1)  # (N, C', hw)
    y = torch.bmm(v, sim.transpose(1, 2)).view(n, c, h, w)
    return F.normalize(y, dim=1)


def pixpro_pixel_loss(pred: torch.Tensor, target: torch.Tensor,
                      pos_mask: torch.Tensor) -> torch.Tensor:
    """One direction of the PixPro pixel loss.

    ``-2 * mean_n(sum_ij cos(pred_i, target_j) * M_ij / (sum_ij M_ij + eps))``
    with ``eps = 1e-6``: averaged over each image's positive pairs, then over
    the images; an image without positives contributes 0 and still counts in
    the mean.

    Args:
        pred (Tensor): (N, C, h, w) L2-normalised predictions.
        target (Tensor): (N, C, h', w') L2-normalised targets.
        pos_mask (Tensor): (N, h * w, h' * w') positive pairs.

    Returns:
        Tensor: scalar in ``[-2, 2]``.
    """
    # fp32 reduction under AMP (the products may be half precision)
    logit = torch.bmm(pred.flatten(2).transpose(1, 2),
                      target.flatten(2)).float()
    if logit.shape != pos_mask.shape:
        raise ValueError('pixpro_pixel_loss: pos_mask must be '
                         f"(N, h*w, h'*w') = {tuple(logit.shape)}, got "
                         f'{tuple(pos_mask.shape)}')
    pos_mask = pos_mask.to(logit.dtype)
    per_image = (logit * pos_mask).sum((1, 2)) / (pos_mask.sum((1, 2)) + 1e-6)
    return -2 * per_image.mean()


def pixpro_instance_loss(pred: torch.Tensor,
                         target: torch.Tensor) -> torch.Tensor:
    """One direction of the instance (BYOL) term: ``-2 * mean_n <p, z>``.

    Args:
        pred (Tensor): (N, C) L2-normalised online predictions.
        target (Tensor): (N, C) L2-normalised targets.

    Returns:
        Tensor: scalar in ``[-2, 2]``.
    """
    return -2 * (pred * target).sum(1).mean()
