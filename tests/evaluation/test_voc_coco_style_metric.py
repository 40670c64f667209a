# Copyright (c) mmscrl contributors. All rights reserved.
"""detectron2's VOC evaluation (AP over IoU 0.50:0.95, AP50, AP75) on
hand-made boxes with values worked out by hand."""
import numpy as np
import pytest
import torch

from mmscrl.evaluation.voc_coco_style_metric import (DETECTRON2_IOU_THRS,
                                                     VOCCocoStyleMetric,
                                                     voc_ap, voc_class_ap)


def _sample(gt, gt_labels, hard, hard_labels, boxes, scores, labels):
    t = torch.tensor
    return dict(
        gt_instances=dict(
            bboxes=t(gt, dtype=torch.float32).reshape(-1, 4),
            labels=t(gt_labels, dtype=torch.int64)),
        ignored_instances=dict(
            bboxes=t(hard, dtype=torch.float32).reshape(-1, 4),
            labels=t(hard_labels, dtype=torch.int64)),
        pred_instances=dict(
            bboxes=t(boxes, dtype=torch.float32).reshape(-1, 4),
            scores=t(scores, dtype=torch.float32),
            labels=t(labels, dtype=torch.int64)))


def _hand_made():
    """Class 0: two non-difficult boxes (one per image) and one difficult
    box; five detections:

    ====  =====  =====  ==============================  ==============
    det   score  image  box / IoU                       outcome
    ====  =====  =====  ==============================  ==============
    d1    0.9    0      = g0, IoU 1                     TP
    d2    0.8    0      = g0 again                      FP (duplicate)
    d3    0.7    0      = the difficult box             ignored
    d4    0.6    1      half of g2, IoU 50/100 = 0.5    FP (not > 0.5)
    d5    0.5    1      IoU 80/100 = 0.8                TP below 0.8
    ====  =====  =====  ==============================  ==============

    Class 1 has a detection but no ground truth (left out of the mean).
    """
    g = [0, 0, 9, 9]  # 10 x 10 pixels, inclusive convention
    img0 = _sample([g], [0], [[20, 20, 29, 29]], [0],
                   [g, g, [20, 20, 29, 29], [40, 40, 49, 49]],
                   [0.9, 0.8, 0.7, 0.3], [0, 0, 0, 1])
    img1 = _sample([g], [0], [], [], [[0, 0, 9, 4], [0, 0, 9, 7]],
                   [0.6, 0.5], [0, 0])
    return [img0, img1]


def _metric(**kwargs):
    metric = VOCCocoStyleMetric(**kwargs)
    metric.dataset_meta = dict(classes=('a', 'b'))
    return metric


def test_voc07_11_point_ap():
    # recall 0.5 at precision 1, recall 1 at precision 0.5:
    # 6 recall points (0..0.5) at 1, 5 (0.6..1) at 0.5
    rec = np.array([0.5, 0.5, 1.0])
    prec = np.array([1.0, 0.5, 0.5])
    assert voc_ap(rec, prec, True) == pytest.approx(8.5 / 11, abs=1e-12)
    assert voc_ap(rec, prec, False) == pytest.approx(0.75, abs=1e-12)
    assert voc_ap(np.zeros(0), np.zeros(0), True) == 0.0


def test_hand_made_boxes_exact_values():
    metric = _metric()
    metric.process({}, _hand_made())
    out = metric.compute_metrics(metric.results)
    # IoU 0.50..0.75 (6 thresholds): d1, d5 TP -> 8.5/11;
    # 0.80..0.95 (4): only d1 -> recall 0.5 at precision 1 -> 6/11
    assert out['AP50'] == pytest.approx(100 * 8.5 / 11, abs=1e-9)
    assert out['AP75'] == pytest.approx(100 * 8.5 / 11, abs=1e-9)
    assert out['AP'] == pytest.approx(100 * (6 * 8.5 + 4 * 6) / 110,
                                      abs=1e-9)
    assert out['mAP'] == pytest.approx(8.5 / 11, abs=1e-12)


def test_strict_threshold_and_difficult():
    """Per threshold: d4's IoU of exactly 0.5 is a false positive at 0.5
    (mmdet's eval_map, ``>=``, would count it), the detection on the
    difficult box is neither TP nor FP."""
    imgs = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    g = np.array([[0, 0, 9, 9]], dtype=float)
    boxes = np.array([[0, 0, 9, 9], [0, 0, 9, 9], [20, 20, 29, 29],
                      [0, 0, 9, 4], [0, 0, 9, 7]], dtype=float)
    gts = {0: np.array([[0, 0, 9, 9], [20, 20, 29, 29]], float), 1: g}
    hard = {0: np.array([False, True]), 1: np.array([False])}
    # area AP: at 0.5 -> 0.5 * 1 + 0.5 * 0.5; at 0.8 -> 0.5 * 1
    aps = voc_class_ap(imgs, scores, boxes, gts, hard, [0.5, 0.8], False)
    assert aps == pytest.approx([0.75, 0.5], abs=1e-12)
    # the difficult box counted as a normal one: d3 becomes a TP at every
    # threshold (recall over 3 boxes)
    aps = voc_class_ap(imgs, scores, boxes, gts,
                       {0: np.array([False, False]), 1: np.array([False])},
                       [0.5], False)
    # ranks: TP FP TP FP TP -> recall 1/3, 2/3, 1 at precision 1, 2/3, 3/5
    assert aps == pytest.approx([1 / 3 + 1 / 3 * 2 / 3 + 1 / 3 * 3 / 5],
                                abs=1e-12)


def test_no_ground_truth_class_is_nan_and_left_out():
    aps = voc_class_ap(np.array([0]), np.array([0.5]),
                       np.array([[0, 0, 5, 5]], float), {}, {}, [0.5], True)
    assert np.isnan(aps[0])
    metric = _metric()
    metric.process({}, _hand_made())
    out = metric.compute_metrics(metric.results)
    # class 'b' (no ground truth) does not halve the class-0 values
    assert out['AP50'] > 75


def test_rounding_like_detectron2_decides_near_ties():
    """0.8004 (TP) and 0.7996 (FP) both become 0.800 as detectron2 writes
    them: the ranking then follows the input order (the FP first)."""
    g = [0, 0, 9, 9]
    samples = [
        _sample([g], [0], [], [], [[50, 50, 59, 59], g], [0.7996, 0.8004],
                [0, 0])
    ]
    exact = _metric(round_like_detectron2=False)
    exact.process({}, samples)
    # TP first: recall 1 at precision 1
    assert exact.compute_metrics(exact.results)['AP50'] == pytest.approx(100)
    rounded = _metric()
    rounded.process({}, samples)
    # FP first: recall 1 at precision 0.5
    assert rounded.compute_metrics(
        rounded.results)['AP50'] == pytest.approx(50)


def test_defaults_and_errors():
    assert DETECTRON2_IOU_THRS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8,
                                   0.85, 0.9, 0.95)
    with pytest.raises(ValueError, match='must contain 0.75'):
        VOCCocoStyleMetric(iou_thrs=[0.5, 0.7])
    with pytest.raises(ValueError, match=r'lie in \(0, 1\)'):
        VOCCocoStyleMetric(iou_thrs=[0.5, 0.75, 1.0])
    metric = _metric()
    metric.process({}, [_sample([], [], [], [], [[0, 0, 5, 5]], [0.5], [0])])
    with pytest.raises(ValueError, match='no class has a non-difficult'):
        metric.compute_metrics(metric.results)
