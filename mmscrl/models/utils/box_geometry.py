# Copyright (c) mmscrl contributors. All rights reserved.
"""Pure box geometry for SCRL (Roh et al., CVPR 2021, arXiv 2103.06122).

Conventions (shared with mmdet's ``homography_matrix``):

* Boxes are ``(x1, y1, x2, y2)`` in continuous pixel-edge coordinates: pixel
  ``i`` spans ``[i, i + 1)``, an image of width ``W`` spans ``[0, W]``.
* A view's geometry is a 3x3 homography ``H`` mapping original-image
  coordinates to view coordinates (``p_view = H @ p_orig``), composed by the
  geometric transforms as ``H <- T @ H``. SCRL views only use crops, resizes
  and flips, so ``H`` is axis-aligned (no rotation/shear); the functions
  below check this.

The box-pair sampler :func:`sample_scrl_box_pairs` follows
kakaobrain/scrl ``models/box_generator.py`` (``SCRLBoxGenerator.generate``,
grid-based branch), but draws one image at a time so that it can run inside
dataloader workers.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch


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
    """Homography of a flip of an image of size ``(height, width)``."""
    if direction == 'horizontal':
        return np.array([[-1., 0., width], [0., 1., 0.], [0., 0., 1.]])
    if direction == 'vertical':
        return np.array([[1., 0., 0.], [0., -1., height], [0., 0., 1.]])
    if direction == 'diagonal':
        return np.array([[-1., 0., width], [0., -1., height], [0., 0., 1.]])
    raise ValueError(f'unknown flip direction "{direction}"')


def _check_axis_aligned(H: np.ndarray) -> None:
    H = np.asarray(H)
    if H.shape != (3, 3):
        raise ValueError(f'homography must be 3x3, got {H.shape}')
    if (abs(H[0, 1]) > 1e-9 or abs(H[1, 0]) > 1e-9 or abs(H[2, 0]) > 1e-9
            or abs(H[2, 1]) > 1e-9 or abs(H[2, 2] - 1) > 1e-9):
        raise ValueError('SCRL box geometry needs an axis-aligned homography '
                         f'(crop/resize/flip only), got\n{H}')


def map_boxes(boxes: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Map ``(N, 4)`` xyxy boxes through an axis-aligned homography.

    Flips swap the box edges; the result is re-sorted so ``x1 <= x2`` and
    ``y1 <= y2``.

    Returns:
        ndarray: (N, 4) float64 boxes.
    """
    _check_axis_aligned(H)
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
    return map_boxes(np.array([[0., 0., w, h]]), np.linalg.inv(H))[0]


def is_flipped(H: np.ndarray) -> bool:
    """Whether the view is mirrored horizontally w.r.t. the original."""
    _check_axis_aligned(H)
    return bool(H[0, 0] < 0)


def box_intersection(a: Sequence[float],
                     b: Sequence[float]) -> Optional[np.ndarray]:
    """Intersection of two xyxy boxes, or ``None`` if it is empty."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    if x1 >= x2 or y1 >= y2:
        return None
    return np.array([x1, y1, x2, y2], dtype=np.float64)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` xyxy boxes -> ``(N, M)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = (np.minimum(a[:, None, 2], b[None, :, 2]) -
          np.maximum(a[:, None, 0], b[None, :, 0])).clip(min=0)
    ih = (np.minimum(a[:, None, 3], b[None, :, 3]) -
          np.maximum(a[:, None, 1], b[None, :, 1])).clip(min=0)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(inter > 0, inter / np.maximum(union, 1e-12), 0.)


def _iou_scalar(a, b) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) +
                    (b[2] - b[0]) * (b[3] - b[1]) - inter)


def clip_boxes(boxes: np.ndarray, img_shape: Sequence[int]) -> np.ndarray:
    """Clip xyxy boxes to ``[0, w] x [0, h]``."""
    h, w = img_shape[:2]
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
    return boxes


def sample_scrl_box_pairs(H1: np.ndarray,
                          shape1: Sequence[int],
                          H2: np.ndarray,
                          shape2: Sequence[int],
                          num_boxes: int = 10,
                          min_size: int = 32,
                          iou_thr: float = 0.5,
                          max_tries: int = 50,
                          fallback: str = 'keep_last',
                          randint=np.random.randint
                          ) -> Tuple[np.ndarray, np.ndarray]:
    """Sample spatially matched box pairs in the overlap of two views.

    Follows ``SCRLBoxGenerator.generate`` (grid-based branch, no jitter):

    1. Intersect the two crop regions in original pixels; no overlap -> no
       boxes.
    2. Work in the frame of the less-zoomed view per axis
       (``s_min = min(s^1, s^2)``, ``s^v = out_v / crop_v``): the overlap is
       ``W x H = round(int_w * s_w_min) x round(int_h * s_h_min)`` pixels;
       ``W <= min_size`` or ``H <= min_size`` -> no boxes.
    3. Each candidate: per axis independently, ``div ~ U[1, W // min + 1)``,
       grid cell ``g = W / div``, cell ``c ~ U[0, div)``,
       ``size ~ U[min, g + 1)``, ``pos = U[0, g - size + 1) + int(c * g)``.
    4. The first box is accepted; later ones need IoU < ``iou_thr`` with all
       kept boxes of the image (IoU is invariant under the per-axis affine
       maps between frames, so it equals the official view-1 IoU). After
       ``max_tries`` failures ``fallback='keep_last'`` keeps the last
       candidate (official code, spec quirk 4 A) and ``'skip'`` drops it
       (issue #2 description, quirk 4 B).
    5. Map the box (same original-image rectangle) into both views through
       ``H1``/``H2`` (flips handled by :func:`map_boxes`) and clip to the view.
       Deliberate deviation: ``round()`` in step 2 can make the sampling
       frame up to 0.5 px (less-zoomed view) larger than the overlap; we clip
       each candidate to the overlap (before the IoU test), so a pair always
       covers one original rectangle. The official code clips each
       view separately, leaving such boxes mismatched by <= 0.5 px of the
       less-zoomed view (a box side may thus be 31.5 instead of 32 px).

    Args:
        H1, H2 (ndarray): (3, 3) original-to-view homographies.
        shape1, shape2 (tuple): ``(h, w)`` of the views.
        num_boxes (int): Pairs per image (K). Defaults to 10.
        min_size (int): Minimum box side in the less-zoomed view, in pixels.
            Defaults to 32 (one stride-32 cell at 224 px).
        iou_thr (float): IoU threshold among an image's boxes. Defaults to 0.5.
        max_tries (int): Candidates per box. Defaults to 50.
        fallback (str): ``'keep_last'`` (official) or ``'skip'``.
        randint (callable): ``randint(low, high)`` drawing from
            ``[low, high)``.
            Defaults to ``np.random.randint`` (seeded per dataloader worker by
            MMEngine).

    Returns:
        tuple[ndarray, ndarray]: ``boxes1, boxes2``, each ``(n, 4)`` float32
        xyxy in its view's pixels, ``0 <= n <= num_boxes``.
    """
    if fallback not in ('keep_last', 'skip'):
        raise ValueError(f'fallback must be "keep_last" or "skip", '
                         f'got "{fallback}"')
    empty = np.zeros((0, 4), dtype=np.float32)
    r1, r2 = view_region(H1, shape1), view_region(H2, shape2)
    inter = box_intersection(r1, r2)
    if inter is None:
        return empty, empty.copy()
    s_w = min(abs(H1[0, 0]), abs(H2[0, 0]))
    s_h = min(abs(H1[1, 1]), abs(H2[1, 1]))
    W_max, H_max = (inter[2] - inter[0]) * s_w, (inter[3] - inter[1]) * s_h
    W, H = round(W_max), round(H_max)
    if min_size >= W or min_size >= H:
        return empty, empty.copy()
    div_w_range = int(W / min_size) + 1
    div_h_range = int(H / min_size) + 1

    kept = []  # boxes in the sampling (less-zoomed) frame
    for i in range(num_boxes):
        accepted = False
        for _ in range(max_tries):
            div_w, div_h = randint(1, div_w_range), randint(1, div_h_range)
            grid_w, grid_h = W / div_w, H / div_h
            grid_x, grid_y = randint(0, div_w), randint(0, div_h)
            box_w = randint(min_size, int(grid_w + 1))
            box_h = randint(min_size, int(grid_h + 1))
            box_x = randint(0, int(grid_w - box_w + 1)) + int(grid_x * grid_w)
            box_y = randint(0, int(grid_h - box_h + 1)) + int(grid_y * grid_h)
            # round() above may make the frame <= 0.5 px larger than the
            # overlap: clip to it, so a pair stays one original rectangle
            cand = (box_x, box_y, min(box_x + box_w, W_max),
                    min(box_y + box_h, H_max))
            if i == 0 or iou_thr >= 1.0 or all(
                    _iou_scalar(cand, k) < iou_thr for k in kept):
                accepted = True
                break
        if accepted or fallback == 'keep_last':
            kept.append(cand)
    if not kept:
        return empty, empty.copy()
    kept = np.asarray(kept, dtype=np.float64)
    # sampling frame -> original pixels
    orig = np.empty_like(kept)
    orig[:, 0::2] = inter[0] + kept[:, 0::2] / s_w
    orig[:, 1::2] = inter[1] + kept[:, 1::2] / s_h
    boxes1 = clip_boxes(map_boxes(orig, H1), shape1).astype(np.float32)
    boxes2 = clip_boxes(map_boxes(orig, H2), shape2).astype(np.float32)
    return boxes1, boxes2


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
