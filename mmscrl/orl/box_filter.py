# Copyright (c) mmscrl contributors. All rights reserved.
"""Box geometry of ORL stage 2: IoU and the official proposal filter.

Faithful to ``get_max_iou``/``box_filter`` in Jiahao000/ORL
``openselfsup/datasets/correspondence.py``:
boxes are ``(x, y, w, h)`` without the ``+1`` pixel convention, a box is
dropped when its smaller side is below ``min_size``, when ``w/h`` or ``h/w``
exceeds ``max_ratio``, or when its IoU with any already kept box exceeds
``max_iou``; the first ``topN`` survivors are kept, and if none survives the
first *raw* box is kept. As in the official code a falsy parameter (``None``
or ``0``) disables its test.

The greedy suppression is evaluated NMS-style (each kept box suppresses the
later boxes it overlaps, and the scan stops once ``topN`` boxes are kept),
which keeps exactly the boxes of the official loop but needs at most ``topN``
vectorised passes instead of one Python IoU call per raw box.
"""
from typing import Optional

import numpy as np

from mmscrl.structures.bbox import as_boxes, bbox_overlaps

__all__ = ['iou_xywh', 'pairwise_iou_xywh', 'box_filter']


def pairwise_iou_xywh(a, b) -> np.ndarray:
    """(A, B) IoU of ``xywh`` boxes: :func:`mmscrl.structures.bbox_overlaps`
    (0 for two empty boxes, where the official formula gives NaN; both
    fail the ``> max_iou`` test alike)."""
    return bbox_overlaps(a, b, box_format='xywh')


def iou_xywh(boxes, box) -> np.ndarray:
    """IoU of each of ``boxes`` (B, 4) with one ``box`` (4,); shape (B,)."""
    box = np.asarray(box, dtype=np.float64)[None]
    return pairwise_iou_xywh(boxes, box)[:, 0]


def box_filter(boxes,
               min_size: Optional[float] = 96,
               max_ratio: Optional[float] = 3,
               max_iou: Optional[float] = 0.5,
               topN: Optional[int] = 100) -> np.ndarray:
    """The official ORL proposal filter (defaults = ORL stage-2 config).

    Args:
        boxes (array-like): (B, 4) raw selective-search boxes, ``xywh``, in
            OpenCV output order (the order matters: greedy suppression).
        min_size (float, optional): drop boxes with ``w < min_size`` or
            ``h < min_size``. Defaults to 96.
        max_ratio (float, optional): drop boxes with ``w/h > max_ratio`` or
            ``h/w > max_ratio``. Defaults to 3.
        max_iou (float, optional): drop a box whose IoU with an already kept
            box is ``> max_iou``. Defaults to 0.5.
        topN (int, optional): keep at most the first ``topN`` survivors.
            Defaults to 100.

    Returns:
        np.ndarray: (B', 4) float32 kept boxes in input order, ``B' >= 1``
        (``boxes[0]`` when nothing survives).

    Raises:
        ValueError: if ``boxes`` is empty (the official code would raise
            ``IndexError``; callers decide on a fallback).
    """
    arr = as_boxes(boxes, 'boxes (xywh)', 'box_filter')
    if len(arr) == 0:
        raise ValueError('box_filter got no boxes (an image without '
                         'selective-search proposals)')
    w, h = arr[:, 2], arr[:, 3]
    keep = np.ones(len(arr), dtype=bool)
    if min_size:
        keep &= ~((w < min_size) | (h < min_size))
    if max_ratio:
        with np.errstate(invalid='ignore', divide='ignore'):
            bad = (w / h > max_ratio) | (h / w > max_ratio)
        keep &= ~bad
    cand = np.flatnonzero(keep)
    limit = int(topN) if topN else len(cand)
    if max_iou and len(cand):
        cb = arr[cand]
        alive = np.ones(len(cand), dtype=bool)
        kept = []
        for j in range(len(cand)):
            if not alive[j]:
                continue
            kept.append(j)
            if len(kept) >= limit:
                break
            later = slice(j + 1, None)
            iou = iou_xywh(cb[later], cb[j])
            # NaN (two empty boxes) compares False, as in the official code
            alive[later] &= ~(iou > max_iou)
        cand = cand[kept]
    cand = cand[:limit]
    if len(cand) == 0:
        cand = np.array([0])
    return arr[cand].astype(np.float32)
