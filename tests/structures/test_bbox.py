# Copyright (c) mmscrl contributors. All rights reserved.
"""The shared box geometry: the one pairwise IoU and its empty-box rule."""
import numpy as np
import pytest
import torch

from mmscrl.structures.bbox import (bbox_overlaps, bbox_xywh_to_xyxy,
                                    box_intersection, box_pairs_to_rois,
                                    check_axis_aligned, clip_boxes,
                                    crop_resize_homography, flip_homography,
                                    is_flipped, map_boxes, view_region)


@pytest.mark.parametrize('box1, box2, iou', [
    ((0, 0, 10, 10), (0, 0, 10, 10), 1.),
    ((0, 0, 10, 10), (10, 0, 10, 10), 0.),  # touching edges
    ((0, 0, 10, 10), (5, 0, 10, 10), 50 / 150),
    ((0, 0, 10, 10), (2, 2, 5, 5), 25 / 100),
    ((0, 0, 0, 0), (0, 0, 0, 0), 0.),  # two empty boxes: 0, not NaN
    ((0, 0, 0, 10), (0, 0, 10, 10), 0.),  # zero width inside a box
    ((3, 3, 0, 0), (0, 0, 10, 10), 0.),
])
def test_iou_xywh_and_xyxy_agree(box1, box2, iou):
    for a, b in ((box1, box2), (box2, box1)):
        got = bbox_overlaps(a, b, box_format='xywh')
        assert got.shape == (1, 1) and got[0, 0] == pytest.approx(iou)
        got = bbox_overlaps(bbox_xywh_to_xyxy(a), bbox_xywh_to_xyxy(b))
        assert got[0, 0] == pytest.approx(iou)
        assert not np.isnan(got).any()


def _scalar_iou(a, b):
    """The official SCRL / ORL scalar formula (xyxy)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) +
                    (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_pairwise_matches_scalar_bit_for_bit():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (40, 2))
    a = np.concatenate([xy, xy + rng.uniform(0, 60, (40, 2))], 1)
    a[::7, 2] = a[::7, 0]  # some zero-width boxes
    b = a[rng.permutation(40)][:25]
    iou = bbox_overlaps(a, b)
    assert iou.shape == (40, 25)
    ref = np.array([[_scalar_iou(p, q) for q in b] for p in a])
    np.testing.assert_array_equal(iou, ref)
    assert (iou >= 0).all() and (iou <= 1).all()
    # empty inputs give empty matrices
    assert bbox_overlaps(np.zeros((0, 4)), b).shape == (0, 25)
    assert bbox_overlaps(a, []).shape == (40, 0)


def test_iou_errors():
    with pytest.raises(ValueError, match=r'boxes2\[1\] has a negative'):
        bbox_overlaps([0, 0, 5, 5], [[0, 0, 1, 1], [4, 4, 2, 6]])
    with pytest.raises(ValueError, match='box_format'):
        bbox_overlaps([0, 0, 5, 5], [0, 0, 5, 5], box_format='cxcywh')
    with pytest.raises(ValueError, match=r'boxes1 must have shape'):
        bbox_overlaps(np.zeros((2, 3)), [0, 0, 5, 5])


def test_homography_geometry():
    H = crop_resize_homography(10, 20, 50, 40, 100, 80)  # 2x zoom
    np.testing.assert_allclose(view_region(H, (80, 100)), [10, 20, 60, 60])
    F = flip_homography(100, 80) @ H
    assert is_flipped(F) and not is_flipped(H)
    # a box keeps x1 <= x2 through the flip
    np.testing.assert_allclose(
        map_boxes([[10, 20, 20, 30]], F), [[80, 0, 100, 20]])
    np.testing.assert_allclose(view_region(F, (80, 100)), [10, 20, 60, 60])
    with pytest.raises(ValueError, match='axis-aligned'):
        check_axis_aligned(np.array([[1, .1, 0], [0, 1, 0], [0, 0, 1.]]))
    with pytest.raises(ValueError, match='flip direction'):
        flip_homography(10, 10, 'sideways')
    assert box_intersection([0, 0, 5, 5], [5, 0, 9, 5]) is None
    np.testing.assert_array_equal(
        box_intersection([0, 0, 5, 5], [2, 1, 9, 9]), [2, 1, 5, 5])
    np.testing.assert_array_equal(
        clip_boxes([[-3, 2, 120, 90]], (80, 100)), [[0, 2, 100, 80]])


def test_box_pairs_to_rois():
    boxes = torch.arange(2 * 2 * 3 * 4, dtype=torch.float32).view(2, 2, 3, 4)
    valid = torch.tensor([[True, False, True], [False, True, False]])
    rois, n = box_pairs_to_rois(boxes, valid)
    assert n == 3 and rois.shape == (6, 5)
    assert rois[:, 0].tolist() == [0, 0, 1, 2, 2, 3]
    torch.testing.assert_close(rois[0, 1:], boxes[0, 0, 0])
    torch.testing.assert_close(rois[3, 1:], boxes[0, 1, 0])
    torch.testing.assert_close(rois[5, 1:], boxes[1, 1, 1])
    with pytest.raises(ValueError, match='valid must be'):
        box_pairs_to_rois(boxes, valid[:, :2])
