# Copyright (c) mmscrl contributors. All rights reserved.
"""Box geometry shared by the data transforms and the models.

Modelled on mmdet's ``mmdet/structures/bbox`` (plain arrays here, no box
classes: the transforms work on NumPy, the models on packed tensors).

Conventions:

* Boxes are ``(x1, y1, x2, y2)`` ("xyxy") in continuous pixel-edge
  coordinates: pixel ``i`` spans ``[i, i + 1)``, an image of width ``W``
  spans ``[0, W]``. ORL stores ``(x, y, w, h)`` ("xywh", no ``+1``), the
  format of OpenCV's selective search; :func:`bbox_overlaps` reads both.
* A view's geometry is a 3x3 homography ``H`` mapping original-image
  coordinates to view coordinates (``p_view = H @ p_orig``), composed by the
  geometric transforms as ``H <- T @ H`` (mmdet's ``homography_matrix``).
  SCRL views only use crops, resizes and flips, so ``H`` is axis-aligned
  (no rotation/shear); :func:`map_boxes` checks this.

IoU: :func:`bbox_overlaps` is the single pairwise IoU of the package. Its
empty-box rule: a pair whose intersection has no positive area has IoU 0,
including two degenerate (zero-width or zero-height) boxes, whose union is
0 (``0 / 0`` would be NaN). Boxes with a negative width or height are
rejected.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

__all__ = [
    'crop_resize_homography', 'flip_homography', 'check_axis_aligned',
    'invert_axis_aligned', 'compose_axis_aligned',
    'map_boxes', 'view_region', 'is_flipped', 'box_intersection',
    'clip_boxes', 'bbox_xywh_to_xyxy', 'bbox_overlaps', 'box_pairs_to_rois',
    'as_boxes'
]


def crop_resize_homography(x: float, y: float, w: float, h: float,
                           out_w: float, out_h: float) -> np.ndarray:
    """Homography of "crop ``[x, x + w) x [y, y + h)`` then resize to
    ``(out_h, out_w)``".

    Returns:
        ndarray: (3, 3) float64.
    """
    if w <= 0 or h <= 0:
        raise ValueError(f'crop size must be positive, got w={w}, h={h}')
    sx, sy = out_w / w, out_h / h
    return np.array([[sx, 0., -x * sx], [0., sy, -y * sy], [0., 0., 1.]])


def flip_homography(width: float, height: float,
                    direction: str = 'horizontal') -> np.ndarray:
    """Homography of a flip of an image of size ``(height, width)``.

    Args:
        width (float): Image width.
        height (float): Image height.
        direction (str): ``'horizontal'``, ``'vertical'`` or
            ``'diagonal'`` (mmcv's names). Defaults to ``'horizontal'``.

    Returns:
        ndarray: (3, 3) float64.
    """
    if direction == 'horizontal':
        return np.array([[-1., 0., width], [0., 1., 0.], [0., 0., 1.]])
    if direction == 'vertical':
        return np.array([[1., 0., 0.], [0., -1., height], [0., 0., 1.]])
    if direction == 'diagonal':
        return np.array([[-1., 0., width], [0., -1., height], [0., 0., 1.]])
    raise ValueError(f'unknown flip direction "{direction}"')


def check_axis_aligned(H: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``H`` is a 3x3 crop/resize/flip map."""
    H = np.asarray(H)
    if H.shape != (3, 3):
        raise ValueError(f'homography must be 3x3, got {H.shape}')
    if (abs(H[0, 1]) > 1e-9 or abs(H[1, 0]) > 1e-9 or abs(H[2, 0]) > 1e-9
            or abs(H[2, 1]) > 1e-9 or abs(H[2, 2] - 1) > 1e-9):
        raise ValueError('box geometry needs an axis-aligned homography '
                         f'(crop/resize/flip only), got\n{H}')


def invert_axis_aligned(H: np.ndarray) -> np.ndarray:
    """Inverse of an axis-aligned homography, in closed form.

    ``[[a, 0, c], [0, e, f], [0, 0, 1]]`` maps to
    ``[[1/a, 0, -c/a], [0, 1/e, -f/e], [0, 0, 1]]``. Used on every sample of
    the data pipelines instead of ``np.linalg.inv``: a LAPACK call there
    costs 2-3 ms when OpenBLAS may use its threads (e.g. in dataloader
    workers), against a few microseconds for this.

    Returns:
        ndarray: (3, 3) float64.
    """
    check_axis_aligned(H)
    a, c, e, f = float(H[0, 0]), float(H[0, 2]), float(H[1, 1]), float(H[1, 2])
    if a == 0 or e == 0:
        raise ValueError(f'homography is singular:\n{H}')
    return np.array([[1. / a, 0., -c / a], [0., 1. / e, -f / e],
                     [0., 0., 1.]])


def compose_axis_aligned(T: np.ndarray, H: np.ndarray) -> np.ndarray:
    """``T @ H`` for axis-aligned homographies, in closed form (no BLAS).

    Returns:
        ndarray: (3, 3) float64.
    """
    check_axis_aligned(T)
    check_axis_aligned(H)
    a1, c1, e1, f1 = float(T[0, 0]), float(T[0, 2]), float(T[1, 1]), float(
        T[1, 2])
    a2, c2, e2, f2 = float(H[0, 0]), float(H[0, 2]), float(H[1, 1]), float(
        H[1, 2])
    return np.array([[a1 * a2, 0., a1 * c2 + c1], [0., e1 * e2, e1 * f2 + f1],
                     [0., 0., 1.]])


def map_boxes(boxes: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Map ``(N, 4)`` xyxy boxes through an axis-aligned homography.

    Flips swap the box edges; the result is re-sorted so ``x1 <= x2`` and
    ``y1 <= y2``.

    Returns:
        ndarray: (N, 4) float64 boxes.
    """
    check_axis_aligned(H)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    xs = boxes[:, [0, 2]] * H[0, 0] + H[0, 2]
    ys = boxes[:, [1, 3]] * H[1, 1] + H[1, 2]
    return np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], axis=1)


def view_region(H: np.ndarray, img_shape: Sequence[int]) -> np.ndarray:
    """The region of the original image that a view shows (its crop box).

    Args:
        H (ndarray): (3, 3) original-to-view homography.
        img_shape (tuple): The view's ``(h, w)``.

    Returns:
        ndarray: (4,) xyxy box in original pixels.
    """
    h, w = img_shape[:2]
    return map_boxes(np.array([[0., 0., w, h]]), invert_axis_aligned(H))[0]


def is_flipped(H: np.ndarray) -> bool:
    """Whether the view is mirrored horizontally w.r.t. the original."""
    check_axis_aligned(H)
    return bool(H[0, 0] < 0)


def box_intersection(a: Sequence[float],
                     b: Sequence[float]) -> Optional[np.ndarray]:
    """Intersection of two xyxy boxes, or ``None`` if it has no area."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    if x1 >= x2 or y1 >= y2:
        return None
    return np.array([x1, y1, x2, y2], dtype=np.float64)


def clip_boxes(boxes: np.ndarray, img_shape: Sequence[int]) -> np.ndarray:
    """Clip xyxy boxes to ``[0, w] x [0, h]``; returns (N, 4) float64."""
    h, w = img_shape[:2]
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
    return boxes


def as_boxes(boxes, name: str = 'boxes',
             where: str = 'bbox_overlaps') -> np.ndarray:
    """Boxes as an (N, 4) float64 array: one box ``(4,)`` becomes (1, 4),
    an empty input (0, 4).

    Args:
        boxes (array-like): (N, 4) or (4,) boxes, any 4-number format.
        name (str): The argument's name, for the error. Defaults to
            ``'boxes'``.
        where (str): The function's name, for the error. Defaults to
            ``'bbox_overlaps'``.

    Raises:
        ValueError: If ``boxes`` is not (N, 4), naming ``where`` and
            ``name``.
    """
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None]
    if arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f'{where}: {name} must have shape (N, 4), '
                         f'got {arr.shape}')
    return arr


def bbox_xywh_to_xyxy(boxes) -> np.ndarray:
    """``(x, y, w, h)`` -> ``(x, y, x + w, y + h)``; (N, 4) float64."""
    arr = as_boxes(boxes, 'boxes').copy()
    arr[:, 2:] += arr[:, :2]
    return arr


def bbox_overlaps(boxes1, boxes2, box_format: str = 'xyxy') -> np.ndarray:
    """Pairwise IoU of two sets of boxes (the package's only IoU).

    ``iou = inter / (area1 + area2 - inter)``, evaluated in that order in
    float64 (so it equals the official SCRL / ORL scalar IoUs bit for bit).
    Empty-box rule: a pair whose intersection has no positive area has IoU
    0 -- also two degenerate boxes (``union == 0``), where the plain formula
    gives NaN.

    Args:
        boxes1 (array-like): (N, 4) boxes, or one (4,) box.
        boxes2 (array-like): (M, 4) boxes, or one (4,) box.
        box_format (str): ``'xyxy'`` (``x1, y1, x2, y2``) or ``'xywh'``
            (``x, y, w, h``; areas are taken as ``w * h``). Defaults to
            ``'xyxy'``.

    Returns:
        ndarray: (N, M) float64 IoU in ``[0, 1]``.

    Raises:
        ValueError: on a bad shape or format, or a box with a negative
            width or height.
    """
    a, b = as_boxes(boxes1, 'boxes1'), as_boxes(boxes2, 'boxes2')
    if box_format == 'xywh':
        wa, ha, wb, hb = a[:, 2], a[:, 3], b[:, 2], b[:, 3]
        ax2, ay2 = a[:, 0] + wa, a[:, 1] + ha
        bx2, by2 = b[:, 0] + wb, b[:, 1] + hb
    elif box_format == 'xyxy':
        ax2, ay2, bx2, by2 = a[:, 2], a[:, 3], b[:, 2], b[:, 3]
        wa, ha = ax2 - a[:, 0], ay2 - a[:, 1]
        wb, hb = bx2 - b[:, 0], by2 - b[:, 1]
    else:
        raise ValueError(f'bbox_overlaps: box_format must be "xyxy" or '
                         f'"xywh", got "{box_format}"')
    for name, w, h in (('boxes1', wa, ha), ('boxes2', wb, hb)):
        bad = np.flatnonzero((w < 0) | (h < 0))
        if len(bad):
            raise ValueError(f'bbox_overlaps: {name}[{bad[0]}] has a negative '
                             f'width or height ({box_format})')
    iw = (np.minimum(ax2[:, None], bx2[None]) -
          np.maximum(a[:, None, 0], b[None, :, 0]))
    ih = (np.minimum(ay2[:, None], by2[None]) -
          np.maximum(a[:, None, 1], b[None, :, 1]))
    hit = (iw > 0) & (ih > 0)
    inter = np.where(hit, iw * ih, 0.)
    union = (wa * ha)[:, None] + (wb * hb)[None] - inter
    return np.where(hit, inter / np.where(hit, union, 1.), 0.)


def box_pairs_to_rois(boxes: torch.Tensor,
                      valid: torch.Tensor) -> Tuple[torch.Tensor, int]:
    """Turn packed per-sample box pairs into RoIAlign rows for ``[v1; v2]``.

    Args:
        boxes (Tensor): (B, 2, K, 4) xyxy boxes of view 1 / view 2.
        valid (Tensor): (B, K) bool, which of the K slots hold a pair.

    Returns:
        tuple[Tensor, int]: ``rois`` of shape (2N, 5) rows
        ``(batch_idx, x1, y1, x2, y2)`` -- first the N view-1 boxes, then the
        N matching view-2 boxes whose batch index is offset by ``B`` (the
        batch is the concatenation ``[view1; view2]``) -- and ``N``.
    """
    if boxes.dim() != 4 or boxes.shape[1] != 2 or boxes.shape[-1] != 4:
        raise ValueError(
            f'boxes must be (B, 2, K, 4), got {tuple(boxes.shape)}')
    B, _, K, _ = boxes.shape
    if tuple(valid.shape) != (B, K):
        raise ValueError(f'valid must be (B, K)=({B}, {K}), '
                         f'got {tuple(valid.shape)}')
    valid = valid.bool()
    idx = torch.arange(B, device=boxes.device, dtype=boxes.dtype)
    idx = idx[:, None].expand(B, K)[valid]  # (N,)
    b1 = boxes[:, 0][valid]  # (N, 4)
    b2 = boxes[:, 1][valid]
    rois = torch.cat([
        torch.cat([idx[:, None], b1], dim=1),
        torch.cat([idx[:, None] + B, b2], dim=1)
    ])
    return rois, int(idx.numel())
