# Copyright (c) mmscrl contributors. All rights reserved.
"""Small OpenCV drawing helpers shared by the visualization tools."""
import colorsys
import os
import os.path as osp
from typing import List, Sequence, Tuple

import cv2
import numpy as np

HEADER_H = 22
GAP = 8


def palette(n: int) -> List[Tuple[int, int, int]]:
    """``n`` well-separated BGR colours (golden-ratio hues, deterministic)."""
    cols = []
    for i in range(n):
        h = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(h, 0.9, 1.0)
        cols.append((int(b * 255), int(g * 255), int(r * 255)))
    return cols


def letterbox(img: np.ndarray, size: int) -> Tuple[np.ndarray, float,
                                                  Tuple[int, int]]:
    """Fit ``img`` into a ``size`` x ``size`` black square (keep aspect).

    Returns:
        tuple: the square BGR image, the scale and the (x, y) offset, so a
        point ``p`` of ``img`` lands at ``p * scale + offset``.
    """
    h, w = img.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_NEAREST
                         if scale >= 2 else cv2.INTER_AREA)
    out = np.zeros((size, size, 3), np.uint8)
    ox, oy = (size - nw) // 2, (size - nh) // 2
    out[oy:oy + nh, ox:ox + nw] = resized
    return out, scale, (ox, oy)


def map_boxes(boxes: np.ndarray, scale: float,
              offset: Tuple[int, int]) -> np.ndarray:
    """xyxy boxes through :func:`letterbox`'s transform."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4) * scale
    boxes[:, [0, 2]] += offset[0]
    boxes[:, [1, 3]] += offset[1]
    return boxes


def draw_box(img: np.ndarray, box: Sequence[float], color, thickness=2,
             label: str = None) -> None:
    x1, y1, x2, y2 = [int(round(v)) for v in box]
    cv2.rectangle(img, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
    if label:
        cv2.putText(img, label, (x1 + 2, max(10, y1 + 11)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.38, color, 1, cv2.LINE_AA)


def with_header(panel: np.ndarray, title: str) -> np.ndarray:
    """Put a ``HEADER_H`` px white title bar above ``panel``."""
    head = np.full((HEADER_H, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(head, title, (4, HEADER_H - 7), cv2.FONT_HERSHEY_SIMPLEX,
                0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([head, panel], axis=0)


def hstack(panels: Sequence[np.ndarray], gap: int = GAP) -> np.ndarray:
    """Concatenate equal-height panels left to right with white gaps."""
    h = panels[0].shape[0]
    if any(p.shape[0] != h for p in panels):
        raise ValueError('hstack: panels differ in height: '
                         f'{[p.shape for p in panels]}')
    spacer = np.full((h, gap, 3), 255, np.uint8)
    out = []
    for i, p in enumerate(panels):
        if i:
            out.append(spacer)
        out.append(p)
    return np.concatenate(out, axis=1)


def vstack(rows: Sequence[np.ndarray], gap: int = GAP) -> np.ndarray:
    """Stack rows (padded on the right to the widest) with white gaps."""
    w = max(r.shape[1] for r in rows)
    out = []
    for i, r in enumerate(rows):
        if i:
            out.append(np.full((gap, w, 3), 255, np.uint8))
        if r.shape[1] < w:
            r = np.concatenate(
                [r, np.full((r.shape[0], w - r.shape[1], 3), 255, np.uint8)],
                axis=1)
        out.append(r)
    return np.concatenate(out, axis=0)


def imwrite_atomic(path: str, img: np.ndarray) -> str:
    """Write a PNG atomically (temporary file + ``os.replace``)."""
    out_dir = osp.dirname(osp.abspath(path))
    os.makedirs(out_dir, exist_ok=True)
    tmp = osp.join(out_dir, f'.tmp{os.getpid()}_{osp.basename(path)}')
    ok, buf = cv2.imencode('.png', img)
    if not ok:
        raise OSError(f'could not encode {path}')
    with open(tmp, 'wb') as f:
        f.write(buf.tobytes())
    os.replace(tmp, path)
    return path


def read_image(path: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read image {path}')
    return img
