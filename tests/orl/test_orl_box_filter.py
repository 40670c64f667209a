# Copyright (c) mmscrl contributors. All rights reserved.
import numpy as np
import pytest

from mmscrl.orl.box_filter import box_filter, iou_xywh, pairwise_iou_xywh


def _official_loop(boxes, min_size, max_ratio, topN, max_iou_thr):
    """The official filter (Jiahao000/ORL box filtering) as a plain loop."""
    kept = []
    for box in boxes:
        w, h = float(box[2]), float(box[3])
        if min_size and (w < min_size or h < min_size):
            continue
        if max_ratio and (w / h > max_ratio or h / w > max_ratio):
            continue
        if max_iou_thr and kept:
            best = 0.
            for b in kept:
                iw = max(min(b[0] + b[2], box[0] + box[2]) -
                         max(b[0], box[0]), 0.)
                ih = max(min(b[1] + b[3], box[1] + box[3]) -
                         max(b[1], box[1]), 0.)
                inter = iw * ih
                best = max(best, inter / (b[2] * b[3] + w * h - inter))
            if best > max_iou_thr:
                continue
        kept.append(list(box))
    if not kept:
        kept.append(list(boxes[0]))
    return np.array(kept[:topN] if topN else kept, dtype=np.float32)


def _raw_boxes(n, seed, img=(480, 640)):
    rng = np.random.default_rng(seed)
    h, w = img
    x = rng.integers(0, w - 10, n)
    y = rng.integers(0, h - 10, n)
    bw = np.minimum(rng.integers(1, w, n), w - x)
    bh = np.minimum(rng.integers(1, h, n), h - y)
    return np.stack([x, y, bw, bh], 1).astype(np.float32)


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('cfg', [
    dict(min_size=96, max_ratio=3, max_iou=0.5, topN=100),
    dict(min_size=96, max_ratio=3, max_iou=0.5, topN=5),
    dict(min_size=20, max_ratio=2, max_iou=0.3, topN=None),
    dict(min_size=None, max_ratio=None, max_iou=None, topN=None),
])
def test_matches_official_loop(seed, cfg):
    boxes = _raw_boxes(400, seed)
    ref = _official_loop(boxes, cfg['min_size'], cfg['max_ratio'],
                         cfg['topN'], cfg['max_iou'])
    np.testing.assert_array_equal(box_filter(boxes, **cfg), ref)


@pytest.mark.parametrize('seed', range(3))
def test_filter_properties(seed):
    boxes = _raw_boxes(600, seed)
    out = box_filter(boxes)  # ORL defaults
    assert out.dtype == np.float32 and 1 <= len(out) <= 100
    assert np.all(out[:, 2:] >= 96)
    assert np.all(np.maximum(out[:, 2] / out[:, 3],
                             out[:, 3] / out[:, 2]) <= 3)
    iou = pairwise_iou_xywh(out, out)
    np.fill_diagonal(iou, 0)
    assert np.all(iou <= 0.5)
    # kept boxes are a subsequence of the input (order preserved)
    rows = [int(np.flatnonzero((boxes == b).all(1))[0]) for b in out]
    assert rows == sorted(rows)


def test_filter_edge_cases():
    tiny = np.array([[0, 0, 10, 10], [5, 5, 20, 300]], np.float32)
    # nothing survives -> the first raw box
    np.testing.assert_array_equal(box_filter(tiny), tiny[:1])
    # exactly at the thresholds: kept (strict comparisons as official)
    edge = np.array([[0, 0, 96, 288], [500, 500, 96, 96]], np.float32)
    np.testing.assert_array_equal(box_filter(edge), edge)
    # IoU exactly 0.5 is kept, above is dropped
    a, b_half = [0, 0, 100, 100], [0, 0, 100, 50]
    assert iou_xywh(np.array([a]), b_half)[0] == 0.5
    assert len(box_filter(np.array([a, b_half], np.float32),
                          min_size=None)) == 2
    assert len(box_filter(np.array([a, [0, 0, 100, 96]], np.float32),
                          min_size=None)) == 1
    # topN cuts after suppression
    spread = np.array([[i * 200, 0, 100, 100] for i in range(5)], np.float32)
    np.testing.assert_array_equal(box_filter(spread, topN=3), spread[:3])
    with pytest.raises(ValueError, match='no boxes'):
        box_filter(np.zeros((0, 4)))
    # zero-size boxes with the size test off: ratio test drops them
    z = np.array([[0, 0, 0, 50], [0, 0, 120, 100]], np.float32)
    np.testing.assert_array_equal(box_filter(z, min_size=None), z[1:])


def test_iou():
    a = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]], float)
    iou = pairwise_iou_xywh(a, a)
    np.testing.assert_allclose(np.diag(iou), 1)
    assert iou[0, 1] == pytest.approx(50 / 150)
    assert iou[0, 2] == 0
    np.testing.assert_allclose(iou, iou.T)
    np.testing.assert_allclose(iou_xywh(a, a[1]), iou[:, 1])
