# Copyright (c) mmscrl contributors. All rights reserved.
"""PASCAL VOC detection AP as detectron2's ``PascalVOCDetectionEvaluator``
reports it: AP averaged over IoU 0.50:0.05:0.95, AP50 and AP75."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmscrl.registry import METRICS

__all__ = ['VOCCocoStyleMetric', 'voc_ap', 'voc_class_ap']

# detectron2: ``for thresh in range(50, 100, 5)`` with ``thresh / 100.0``
DETECTRON2_IOU_THRS = tuple(t / 100.0 for t in range(50, 100, 5))


def voc_ap(rec: np.ndarray, prec: np.ndarray, use_07_metric: bool) -> float:
    """AP of one precision/recall curve (VOC devkit / detectron2
    ``voc_ap``).

    Args:
        rec (np.ndarray): Cumulative recall, one value per ranked detection.
        prec (np.ndarray): Cumulative precision, same length.
        use_07_metric (bool): VOC2007's 11-point AP (mean over recall
            thresholds 0, 0.1, ..., 1 of the best precision at recall >= t);
            otherwise the area under the monotone precision envelope
            (VOC2010+).
    """
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            above = rec >= t
            ap += (np.max(prec[above]) if above.any() else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def _legacy_iou(box: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """IoU of one box with ``gts`` [n, 4] in VOC's inclusive pixel
    convention (width ``x2 - x1 + 1``), as the VOC devkit; in float64, as
    detectron2 (in float32 an IoU of 80/100 would exceed 0.8)."""
    box = np.asarray(box, dtype=np.float64)
    gts = np.asarray(gts, dtype=np.float64)
    iw = np.maximum(
        np.minimum(gts[:, 2], box[2]) - np.maximum(gts[:, 0], box[0]) + 1.,
        0.)
    ih = np.maximum(
        np.minimum(gts[:, 3], box[3]) - np.maximum(gts[:, 1], box[1]) + 1.,
        0.)
    inter = iw * ih
    union = ((box[2] - box[0] + 1.) * (box[3] - box[1] + 1.) +
             (gts[:, 2] - gts[:, 0] + 1.) * (gts[:, 3] - gts[:, 1] + 1.) -
             inter)
    return inter / union


def voc_class_ap(det_images: np.ndarray, det_scores: np.ndarray,
                 det_boxes: np.ndarray, gt_boxes: Dict[int, np.ndarray],
                 gt_difficult: Dict[int, np.ndarray],
                 iou_thrs: Sequence[float],
                 use_07_metric: bool) -> List[float]:
    """AP of one class at each IoU threshold, by detectron2's ``voc_eval``.

    Detections are ranked by score (``np.argsort(-score)``, as detectron2,
    so equal scores keep its order for inputs given in the same order).
    A detection's best-overlapping ground truth of its image (difficult
    ones included) decides: IoU strictly above the threshold on a
    non-difficult box not yet matched is a true positive, on one already
    matched a false positive, on a difficult box neither; IoU at or below
    the threshold is a false positive. Recall is over the non-difficult
    boxes.

    Args:
        det_images (np.ndarray): Image index of each detection, [m].
        det_scores (np.ndarray): Scores, [m].
        det_boxes (np.ndarray): Boxes (x1, y1, x2, y2), [m, 4].
        gt_boxes (dict[int, np.ndarray]): Per image index, its ground-truth
            boxes of the class, [n, 4] (images without any may be absent).
        gt_difficult (dict[int, np.ndarray]): Per image index, the boolean
            "difficult" flag of each of those boxes, [n].
        iou_thrs (Sequence[float]): IoU thresholds.
        use_07_metric (bool): See :func:`voc_ap`.

    Returns:
        list[float]: AP in [0, 1] per threshold; NaN for every threshold if
        the class has no non-difficult ground truth (detectron2 divides by
        zero there).
    """
    npos = int(sum(int((~d).sum()) for d in gt_difficult.values()))
    if npos == 0:
        return [float('nan')] * len(iou_thrs)
    order = np.argsort(-det_scores)
    det_images, det_boxes = det_images[order], det_boxes[order]
    m = len(order)
    # the best-overlapping ground truth of each detection (threshold-free)
    best_iou = np.full(m, -np.inf)
    best_gt = np.zeros(m, dtype=np.int64)
    for k in range(m):
        gts = gt_boxes.get(int(det_images[k]))
        if gts is not None and len(gts):
            ious = _legacy_iou(det_boxes[k], gts)
            best_gt[k] = int(np.argmax(ious))
            best_iou[k] = ious[best_gt[k]]
    on_difficult = np.array([
        bool(gt_difficult[int(i)][j]) if best_iou[k] > -np.inf else False
        for k, (i, j) in enumerate(zip(det_images, best_gt))
    ], dtype=bool)
    aps = []
    for thr in iou_thrs:
        hit = best_iou > thr
        tp = np.zeros(m)
        fp = (~hit).astype(np.float64)
        cand = np.flatnonzero(hit & ~on_difficult)
        if len(cand):
            # the first-ranked detection on each (image, gt) is the TP, the
            # later ones duplicates
            keys = det_images[cand].astype(np.int64) * (
                int(best_gt.max()) + 1) + best_gt[cand]
            _, first = np.unique(keys, return_index=True)
            tp[cand[first]] = 1.
            fp[cand] = 1.
            fp[cand[first]] = 0.
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        rec = tp / float(npos)
        prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        aps.append(voc_ap(rec, prec, use_07_metric))
    return aps


@METRICS.register_module()
class VOCCocoStyleMetric(BaseMetric):
    """PASCAL VOC detection AP as detectron2's
    ``PascalVOCDetectionEvaluator`` reports it (the "AP / AP50 / AP75" of the
    MoCo, DenseCL and PixPro VOC tables).

    For each IoU threshold 0.50, 0.55, ..., 0.95 the per-class VOC AP
    (11-point for VOC2007, ``use_07_metric``) is averaged over the classes;
    ``AP`` is the mean over the thresholds, ``AP50``/``AP75`` the values at
    0.5/0.75, all in percent as detectron2 prints them. ``mAP`` is AP50 as
    a fraction, the name and unit of the VOC mAP@0.5 that mmdet's
    ``VOCMetric`` (and mmselfsup's benchmark) reports, so both numbers sit
    in one log.

    Matching follows the VOC devkit as detectron2 runs it, which differs
    from mmdet's ``VOCMetric`` (``eval_map``): a detection needs IoU
    **strictly above** the threshold (``eval_map``: at or above), and AP
    is not rounded. Boxes are compared in the inclusive pixel convention
    (``+1`` widths) on the dataset's coordinates, so mmdet's VOC loader (1
    subtracted from every coordinate) and detectron2's (from ``xmin`` and
    ``ymin`` only, added back when writing results) give the same IoUs.
    With ``round_like_detectron2`` the predictions are first rounded as
    detectron2 writes them to its result files (boxes to 0.1 px, scores to
    0.001), which decides the ranking of near-equal scores. Difficult
    objects (mmdet's ``ignored_instances``) neither count as positives nor
    make a detection on them a false positive.

    A class without non-difficult ground truth in the evaluated set has no
    AP: it is left out of the class means and named in the log (detectron2
    would produce NaN; the VOC07 test set has every class).

    Args:
        iou_thrs (Sequence[float]): IoU thresholds; must contain 0.5 and
            0.75. Defaults to detectron2's 0.50:0.05:0.95.
        use_07_metric (bool): 11-point AP (VOC2007 test, detectron2's
            choice for a year-2007 set); False for the area under the
            curve. Defaults to True.
        round_like_detectron2 (bool): Round boxes to 0.1 px and scores to
            0.001 first. Defaults to True.
        collect_device (str): See :class:`mmengine.evaluator.BaseMetric`.
        prefix (str, optional): Metric name prefix. Defaults to
            ``'pascal_voc'``.
    """

    default_prefix: Optional[str] = 'pascal_voc'

    def __init__(self,
                 iou_thrs: Sequence[float] = DETECTRON2_IOU_THRS,
                 use_07_metric: bool = True,
                 round_like_detectron2: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        thrs = [float(t) for t in iou_thrs]
        for need in (0.5, 0.75):
            if not any(abs(t - need) < 1e-9 for t in thrs):
                raise ValueError(
                    f'VOCCocoStyleMetric: iou_thrs must contain {need} (for '
                    f'AP50/AP75), got {thrs}')
        if any(not 0. < t < 1. for t in thrs):
            raise ValueError(
                f'VOCCocoStyleMetric: iou_thrs must lie in (0, 1), got '
                f'{thrs}')
        self.iou_thrs = thrs
        self.use_07_metric = bool(use_07_metric)
        self.round_like_detectron2 = bool(round_like_detectron2)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep each image's ground truth (non-difficult and difficult) and
        predictions as numpy arrays."""
        for sample in data_samples:
            gt, ign = sample['gt_instances'], sample['ignored_instances']
            pred = sample['pred_instances']
            self.results.append(
                dict(
                    gt_bboxes=gt['bboxes'].cpu().numpy().reshape(-1, 4),
                    gt_labels=gt['labels'].cpu().numpy(),
                    difficult_bboxes=ign['bboxes'].cpu().numpy().reshape(
                        -1, 4),
                    difficult_labels=ign['labels'].cpu().numpy(),
                    bboxes=pred['bboxes'].cpu().numpy().reshape(-1, 4),
                    scores=pred['scores'].cpu().numpy(),
                    labels=pred['labels'].cpu().numpy()))

    def compute_metrics(self, results: list) -> dict:
        logger = MMLogger.get_current_instance()
        classes = self.dataset_meta['classes']
        per_class = []  # [class][threshold] AP in [0, 1]
        skipped = []
        for c in range(len(classes)):
            gt_boxes, gt_difficult = {}, {}
            imgs, scores, boxes = [], [], []
            for i, r in enumerate(results):
                keep, hard = r['gt_labels'] == c, r['difficult_labels'] == c
                if keep.any() or hard.any():
                    gt_boxes[i] = np.concatenate(
                        [r['gt_bboxes'][keep],
                         r['difficult_bboxes'][hard]]).astype(np.float64)
                    gt_difficult[i] = np.concatenate(
                        [np.zeros(keep.sum(), bool),
                         np.ones(hard.sum(), bool)])
                sel = r['labels'] == c
                imgs.append(np.full(int(sel.sum()), i, dtype=np.int64))
                scores.append(r['scores'][sel].astype(np.float64))
                boxes.append(r['bboxes'][sel].astype(np.float64))
            scores = np.concatenate(scores) if scores else np.zeros(0)
            boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4))
            imgs = np.concatenate(imgs) if imgs else np.zeros(0, np.int64)
            if self.round_like_detectron2:
                scores, boxes = np.round(scores, 3), np.round(boxes, 1)
            aps = voc_class_ap(imgs, scores, boxes, gt_boxes, gt_difficult,
                               self.iou_thrs, self.use_07_metric)
            if np.isnan(aps[0]):
                skipped.append(classes[c])
            else:
                per_class.append(aps)
        if not per_class:
            raise ValueError(
                'VOCCocoStyleMetric: no class has a non-difficult ground '
                'truth box in the evaluated set')
        if skipped:
            logger.warning(
                f'VOCCocoStyleMetric: classes without non-difficult ground '
                f'truth, left out of the mean: {skipped}')
        per_thr = np.mean(np.asarray(per_class), axis=0) * 100.
        i50 = min(range(len(self.iou_thrs)),
                  key=lambda k: abs(self.iou_thrs[k] - 0.5))
        i75 = min(range(len(self.iou_thrs)),
                  key=lambda k: abs(self.iou_thrs[k] - 0.75))
        for thr, ap in zip(self.iou_thrs, per_thr):
            logger.info(f'VOC AP at IoU {thr:.2f}: {ap:.2f}')
        return dict(
            AP=float(np.mean(per_thr)),
            AP50=float(per_thr[i50]),
            AP75=float(per_thr[i75]),
            mAP=float(per_thr[i50]) / 100.)
