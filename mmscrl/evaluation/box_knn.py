# Copyright (c) mmscrl contributors. All rights reserved.
"""Box-level and image-level kNN of a backbone on a small detection set.

A localization-aware quality signal for pre-trained backbones: the
backbone's feature map is RoIAligned (mmcv's ``roi_align``; torchvision's
without mmcv's compiled ops, :mod:`mmscrl.models.utils.roi_layers`) inside
every ground-truth box of a labelled detection set, each box becomes one
L2-normalised vector (the average of the aligned ``roi_size x roi_size``
bins), and boxes are classified by weighted cosine kNN
(:mod:`mmscrl.evaluation.knn`). Image-level kNN does the same with the
global average of the map and the image's *dominant* class (the category of
its largest box, by box area). Image-level kNN is the signal other
self-supervised code bases offer; the box-level one tells whether the
features localise objects, which SCRL, DenseCL and ORL are built for.

Two protocols:

* **leave-one-out** on one set: every box (image) is classified by all the
  others, except those of the *same image*, so scene context cannot give
  the answer away;
* **train/val**: the boxes (images) of a labelled set vote for those of a
  second set.

Used by :class:`mmscrl.engine.hooks.BoxKNNHook` during pre-training and by
``tools/analysis_tools/box_knn_eval.py`` for a checkpoint.
"""
import json
import logging
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log

from .knn import knn_accuracy

__all__ = [
    'load_coco_detection', 'load_images', 'dominant_labels',
    'roi_box_features', 'extract_box_features', 'box_knn_metrics'
]

#: torchvision / ImageNet RGB mean and std (0-255).
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def _ids(anns: Sequence[Dict], limit: int = 3) -> str:
    """``'id 7'`` / ``'ids 7, 9, 12 ...'`` of some annotations."""
    ids = [str(a.get('id')) for a in anns[:limit]]
    return ('id ' if len(anns) == 1 else 'ids ') + ', '.join(ids) + (
        ' ...' if len(anns) > limit else '')


def load_coco_detection(ann_file: str,
                        img_dir: str,
                        max_images: Optional[int] = None,
                        min_box_size: float = 1.) -> Dict:
    """Read a COCO-format detection json.

    Malformed annotations are refused: a ``bbox`` that is not four numbers,
    a non-finite coordinate, a negative width or height (``x2 < x1`` or
    ``y2 < y1``: a corrupt or foreign file) or an unknown ``category_id``.
    ``iscrowd`` boxes, boxes narrower or lower than ``min_box_size`` and
    annotations of an image not in ``images`` are dropped; how many (with
    example ids) is logged as a warning naming ``ann_file`` and returned
    as ``dropped``.

    Args:
        ann_file (str): COCO json with ``images``, ``annotations``
            (``bbox`` [x, y, w, h], ``category_id``) and ``categories``.
        img_dir (str): Folder of the images' ``file_name``.
        max_images (int, optional): Keep the first images (by id) that
            have at least one box. Defaults to None (all).
        min_box_size (float): Boxes narrower or lower than this (pixels)
            are dropped. Defaults to 1.

    Returns:
        dict: ``images``: list of dicts with ``path``, ``boxes`` (K, 4)
        float32 x1y1x2y2 in pixels, ``labels`` (K, ) int64 in
        ``[0, num_classes)``, ``width``, ``height``; ``classes``: category
        names in label order (categories sorted by id); ``dropped``: the
        number of ``crowd``, ``small`` and ``no_image`` annotations
        dropped.

    Raises:
        FileNotFoundError: ``ann_file`` does not exist.
        ValueError: ``ann_file`` is not COCO JSON, holds a malformed
            annotation (see above), or no image with a box.
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'box kNN: no annotation file {ann_file}')
    with open(ann_file) as f:
        try:
            coco = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f'box kNN: {ann_file} is not JSON ({e})') from e
    if not isinstance(coco, dict):
        raise ValueError(f'box kNN: {ann_file} holds a JSON '
                         f'{type(coco).__name__}, not a COCO dict')
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(coco.get(key), list):
            raise ValueError(f'box kNN: {ann_file} has no "{key}" list')
    cats = sorted(coco['categories'], key=lambda c: c['id'])
    cat_to_label = {c['id']: i for i, c in enumerate(cats)}
    image_ids = {img['id'] for img in coco['images']}
    per_image = {}
    dropped = dict(crowd=[], small=[], no_image=[])
    negative, non_finite = [], []
    for ann in coco['annotations']:
        bbox = ann.get('bbox')
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                for v in bbox):
            raise ValueError(f'box kNN: {ann_file}: annotation '
                             f'{ann.get("id")} has bbox {bbox!r}, expected '
                             '[x, y, w, h]')
        if ann.get('category_id') not in cat_to_label:
            raise ValueError(f'box kNN: {ann_file}: annotation '
                             f'{ann.get("id")} has category_id '
                             f'{ann.get("category_id")!r}, not in categories')
        x, y, w, h = (float(v) for v in bbox)
        if not np.isfinite([x, y, w, h]).all():
            non_finite.append(ann)
            continue
        if w < 0 or h < 0:
            negative.append(ann)
            continue
        if ann.get('iscrowd', 0):
            dropped['crowd'].append(ann)
        elif w < min_box_size or h < min_box_size:
            dropped['small'].append(ann)
        elif ann.get('image_id') not in image_ids:
            dropped['no_image'].append(ann)
        else:
            per_image.setdefault(ann['image_id'], []).append(
                ([x, y, x + w, y + h], cat_to_label[ann['category_id']]))
    for anns, what in ((non_finite, 'a non-finite bbox coordinate'),
                       (negative, 'a negative width or height (x2 < x1 or '
                        'y2 < y1)')):
        if anns:
            raise ValueError(
                f'box kNN: {ann_file}: {len(anns)} annotation(s) with '
                f'{what}, e.g. {_ids(anns)}; fix or remove them (COCO '
                'bbox is [x, y, width, height])')
    if any(dropped.values()):
        parts = [
            f'{len(anns)} {what} (e.g. {_ids(anns, 1)})'
            for anns, what in ((dropped['crowd'], 'crowd'),
                               (dropped['small'],
                                f'smaller than {min_box_size:g} px'),
                               (dropped['no_image'],
                                'of an image not in "images"')) if anns
        ]
        print_log(
            f'box kNN: {ann_file}: dropped {sum(map(len, dropped.values()))}'
            f' of {len(coco["annotations"])} annotations: '
            + ', '.join(parts),
            logger='current', level=logging.WARNING)
    images = []
    for img in sorted(coco['images'], key=lambda i: i['id']):
        objs = per_image.get(img['id'])
        if not objs:
            continue
        images.append(
            dict(
                path=osp.join(img_dir, img['file_name']),
                width=int(img['width']),
                height=int(img['height']),
                boxes=np.array([o[0] for o in objs], np.float32),
                labels=np.array([o[1] for o in objs], np.int64)))
        if max_images is not None and len(images) >= max_images:
            break
    if not images:
        raise ValueError(f'box kNN: {ann_file} has no image with a box')
    return dict(images=images, classes=[c['name'] for c in cats],
                dropped={k: len(v) for k, v in dropped.items()})


def load_images(images: Sequence[Dict], img_size: int) -> Dict:
    """Load, resize (to ``img_size`` square) and stack the images.

    Args:
        images (Sequence[dict]): ``images`` of :func:`load_coco_detection`.
        img_size (int): Side of the resized square images.

    Returns:
        dict: ``imgs`` (N, 3, S, S) uint8 RGB tensor and ``boxes``: list of
        (K_i, 4) float32 tensors scaled to the resized images.
    """
    import mmcv
    imgs, boxes = [], []
    for rec in images:
        if not osp.isfile(rec['path']):
            raise FileNotFoundError(f'box kNN: image {rec["path"]} not found')
        img = mmcv.imread(rec['path'], channel_order='rgb')
        h, w = img.shape[:2]
        img = mmcv.imresize(img, (img_size, img_size))
        scale = np.array([img_size / w, img_size / h] * 2, np.float32)
        imgs.append(torch.from_numpy(np.ascontiguousarray(img)).permute(
            2, 0, 1))
        boxes.append(torch.from_numpy(rec['boxes'] * scale))
    return dict(imgs=torch.stack(imgs), boxes=boxes)


def dominant_labels(boxes: Sequence[np.ndarray],
                    labels: Sequence[np.ndarray]) -> np.ndarray:
    """Per image, the label of its largest box (by area).

    Args:
        boxes (Sequence[ndarray]): (K_i, 4) x1y1x2y2 boxes per image.
        labels (Sequence[ndarray]): (K_i, ) labels per image.

    Returns:
        ndarray: (N, ) int64 labels; ties go to the first box.
    """
    out = []
    for b, lab in zip(boxes, labels):
        b = np.asarray(b, np.float64).reshape(-1, 4)
        if len(b) == 0:
            raise ValueError('dominant_labels: an image without boxes')
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        out.append(int(np.asarray(lab)[int(np.argmax(area))]))
    return np.array(out, np.int64)


def roi_box_features(feat: torch.Tensor,
                     boxes: Sequence[torch.Tensor],
                     spatial_scale: float,
                     roi_size: int = 2) -> torch.Tensor:
    """RoIAlign a feature map inside boxes and average the bins.

    Args:
        feat (Tensor): (B, C, H, W) feature map.
        boxes (Sequence[Tensor]): B tensors of (K_i, 4) x1y1x2y2 boxes in
            input-image pixels.
        spatial_scale (float): Feature-map pixels per image pixel (1/32 for
            a ResNet C5 map).
        roi_size (int): RoIAlign output side; the ``roi_size**2`` bins are
            averaged into one vector. Defaults to 2.

    Returns:
        Tensor: (sum K_i, C) box features, in the order of ``boxes``.
    """
    from mmscrl.models.utils.roi_layers import roi_align
    if len(boxes) != feat.shape[0]:
        raise ValueError(f'roi_box_features: {len(boxes)} box sets for a '
                         f'batch of {feat.shape[0]}')
    rois = torch.cat([
        torch.cat([b.new_full((len(b), 1), i), b.reshape(-1, 4)], dim=1)
        for i, b in enumerate(boxes)
    ]).to(feat)
    if rois.shape[0] == 0:
        return feat.new_zeros((0, feat.shape[1]))
    aligned = roi_align(feat, rois, (roi_size, roi_size), spatial_scale, 2,
                        'avg', True)
    return aligned.mean(dim=(2, 3))


@torch.no_grad()
def extract_box_features(backbone: nn.Module,
                         imgs: torch.Tensor,
                         boxes: Sequence[torch.Tensor],
                         mean: Sequence[float] = IMAGENET_MEAN,
                         std: Sequence[float] = IMAGENET_STD,
                         batch_size: int = 32,
                         roi_size: int = 2,
                         stage: int = -1,
                         device: Optional[torch.device] = None) -> Dict:
    """Box and image features of a backbone (run in eval mode).

    Args:
        backbone (nn.Module): Returns a tuple of (B, C, h, w) maps.
        imgs (Tensor): (N, 3, S, S) uint8 RGB images.
        boxes (Sequence[Tensor]): N tensors of (K_i, 4) boxes (pixels of
            ``imgs``).
        mean (Sequence[float]): RGB mean (0-255). Defaults to ImageNet's.
        std (Sequence[float]): RGB std (0-255). Defaults to ImageNet's.
        batch_size (int): Images per forward. Defaults to 32.
        roi_size (int): See :func:`roi_box_features`. Defaults to 2.
        stage (int): Index of the backbone output used. Defaults to -1.
        device (torch.device, optional): Defaults to the backbone's.

    Returns:
        dict: ``box_feats`` (sum K_i, C), ``image_feats`` (N, C) float
        tensors on the CPU. The backbone's train/eval mode is restored.
    """
    if device is None:
        device = next(backbone.parameters()).device
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    was_training = backbone.training
    backbone.eval()
    box_feats, image_feats = [], []
    try:
        for start in range(0, imgs.shape[0], batch_size):
            x = imgs[start:start + batch_size].to(device).float()
            x = (x - mean_t) / std_t
            outs = backbone(x)
            feat = outs[stage] if isinstance(outs, (tuple, list)) else outs
            scale = feat.shape[-1] / x.shape[-1]
            box_feats.append(
                roi_box_features(feat.float(),
                                 boxes[start:start + batch_size], scale,
                                 roi_size).cpu())
            image_feats.append(feat.float().mean(dim=(2, 3)).cpu())
    finally:
        backbone.train(was_training)
    return dict(
        box_feats=torch.cat(box_feats), image_feats=torch.cat(image_feats))


def _box_groups(boxes: Sequence) -> torch.Tensor:
    return torch.cat([
        torch.full((len(b), ), i, dtype=torch.long)
        for i, b in enumerate(boxes)
    ])


def box_knn_metrics(feats: Dict,
                    labels: Sequence[np.ndarray],
                    boxes: Sequence,
                    num_classes: int,
                    val_feats: Optional[Dict] = None,
                    val_labels: Optional[Sequence[np.ndarray]] = None,
                    val_boxes: Optional[Sequence] = None,
                    ks: Sequence[int] = (20, ),
                    temperature: float = 0.07) -> Dict[str, float]:
    """Box-level and image-level kNN top-1 accuracy (%).

    Args:
        feats (dict): Output of :func:`extract_box_features` for the
            labelled set.
        labels (Sequence[ndarray]): (K_i, ) box labels per image.
        boxes (Sequence): (K_i, 4) boxes per image (any scale; used for the
            dominant image label).
        num_classes (int): Number of classes.
        val_feats, val_labels, val_boxes: The same for a second set. When
            given, the first set votes for it (train/val protocol);
            otherwise leave-one-out on the first set, excluding the same
            image's boxes.
        ks (Sequence[int]): Neighbour counts. Defaults to (20, ).
        temperature (float): Defaults to 0.07.

    Returns:
        dict[str, float]: ``box_k{k}_top1`` and ``image_k{k}_top1`` for
        every ``k``, plus ``num_boxes``/``num_images`` evaluated.
    """
    box_labels = torch.from_numpy(np.concatenate(labels)).long()
    img_labels = torch.from_numpy(dominant_labels(boxes, labels))
    if val_feats is None:
        test = (feats, box_labels, img_labels)
        groups = dict(
            box=(_box_groups(boxes), _box_groups(boxes)),
            image=(torch.arange(len(boxes)), torch.arange(len(boxes))))
    else:
        if val_labels is None or val_boxes is None:
            raise ValueError('box_knn_metrics: val_feats needs val_labels '
                             'and val_boxes')
        test = (val_feats,
                torch.from_numpy(np.concatenate(val_labels)).long(),
                torch.from_numpy(dominant_labels(val_boxes, val_labels)))
        groups = dict(box=(None, None), image=(None, None))
    out = {}
    for level, train_f, train_l, test_f, test_l in (
            ('box', feats['box_feats'], box_labels, test[0]['box_feats'],
             test[1]),
            ('image', feats['image_feats'], img_labels,
             test[0]['image_feats'], test[2])):
        acc = knn_accuracy(train_f, train_l, test_f, test_l, num_classes,
                           ks=ks, temperature=temperature, topk=(1, ),
                           train_groups=groups[level][0],
                           test_groups=groups[level][1])
        for name, value in acc.items():
            out[f'{level}_{name}'] = value
    out['num_boxes'] = float(len(test[1]))
    out['num_images'] = float(len(test[2]))
    return out
