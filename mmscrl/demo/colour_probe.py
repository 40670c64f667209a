# Copyright (c) mmscrl contributors. All rights reserved.
"""Colour-only probe: how well does an object's colour tell its class?

A nearest-centroid classifier is fitted on colour features of the labelled
objects of a train split and scored on a val split. The features of an
object are those of its *visible* pixels: a hue histogram (OpenCV hue,
``[0, 180)``, in ``hue_bins`` bins, each pixel weighted by its saturation
by default, normalised to sum 1) followed by the mean saturation and the
mean value (both scaled to ``[0, 1]``). Nothing in them describes shape or
texture layout, so an accuracy well above chance means the classes can be
told apart by colour alone.

On the demo data (:mod:`mmscrl.demo.generator`) version 2, where each class
has its own hue range, the probe is near 1.0; version 3 draws colours
independently of the class and the probe is near chance (issue 20; tested
in ``tests/demo/test_generator.py``). ``tools/demo/generate_demo_data.py
--colour-probe`` prints the number for a generated data set.

The features are plain colour statistics; the classifier is the classic
nearest-centroid (nearest class mean) rule on features standardised with
the train split's mean and standard deviation.
"""
import json
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np


def colour_features(hsv: np.ndarray,
                    mask: np.ndarray,
                    hue_bins: int = 18,
                    weight_by_saturation: bool = True) -> np.ndarray:
    """Colour features of the pixels of ``hsv`` selected by ``mask``.

    Args:
        hsv (np.ndarray): (H, W, 3) uint8 image in OpenCV HSV (hue in
            ``[0, 180)``, saturation and value in ``[0, 255]``).
        mask (np.ndarray): (H, W) boolean mask of the pixels to describe;
            must select at least one pixel.
        hue_bins (int): Bins of the hue histogram. Defaults to 18.
        weight_by_saturation (bool): Weight each pixel's hue vote by its
            saturation (the hue of a grey pixel is meaningless). Defaults
            to True.

    Returns:
        np.ndarray: float64 vector of ``hue_bins + 2`` values: the hue
        histogram normalised to sum 1 (all zeros if every selected pixel
        has saturation 0 and ``weight_by_saturation``), then the mean
        saturation and the mean value, both in ``[0, 1]``.
    """
    if hsv.ndim != 3 or hsv.shape[2] != 3:
        raise ValueError(f'colour_features: hsv must be (H, W, 3), got '
                         f'shape {hsv.shape}')
    mask = np.asarray(mask, bool)
    if mask.shape != hsv.shape[:2]:
        raise ValueError(f'colour_features: mask of shape {mask.shape} for '
                         f'an image of shape {hsv.shape}')
    if int(hue_bins) < 1:
        raise ValueError(f'hue_bins must be >= 1, got {hue_bins}')
    pix = hsv[mask].astype(np.float64)
    if len(pix) == 0:
        raise ValueError('colour_features: empty mask')
    bins = np.minimum((pix[:, 0] * hue_bins / 180.).astype(np.int64),
                      hue_bins - 1)
    weights = pix[:, 1] / 255. if weight_by_saturation else None
    hist = np.bincount(bins, weights=weights, minlength=hue_bins)
    total = hist.sum()
    if total > 0:
        hist = hist / total
    return np.concatenate([hist, [pix[:, 1].mean() / 255.,
                                  pix[:, 2].mean() / 255.]])


def _decode_segmentation(seg, height: int, width: int,
                         where: str) -> np.ndarray:
    """(H, W) bool mask of a COCO ``segmentation`` (RLE or polygons)."""
    from pycocotools import mask as mask_utils
    if isinstance(seg, list):  # polygons
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    elif isinstance(seg, dict) and isinstance(seg.get('counts'), list):
        rle = mask_utils.frPyObjects(seg, height, width)  # uncompressed
    elif isinstance(seg, dict) and 'counts' in seg and 'size' in seg:
        rle = dict(seg)
        if list(rle['size']) != [height, width]:
            raise ValueError(f'{where}: RLE size {rle["size"]} differs from '
                             f'the image size {[height, width]}')
    else:
        raise ValueError(f'{where}: segmentation is neither polygons nor '
                         f'RLE: {str(seg)[:80]}')
    return mask_utils.decode(rle).astype(bool)


def coco_colour_features(ann_file: str,
                         img_dir: str,
                         hue_bins: int = 18,
                         weight_by_saturation: bool = True
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """Colour features (:func:`colour_features`) of every object of a COCO
    instances file.

    An object's pixels are its mask (``segmentation``) minus every pixel
    that another object of the same image also claims, so that only its
    visible, unambiguous part counts. The demo generator's masks are
    already the visible parts and never overlap, so there this removes
    nothing. Objects left without a pixel are skipped.

    Args:
        ann_file (str): COCO instances JSON with ``segmentation`` masks.
        img_dir (str): Folder of the images (``file_name`` is relative to
            it).
        hue_bins (int): See :func:`colour_features`. Defaults to 18.
        weight_by_saturation (bool): See :func:`colour_features`.
            Defaults to True.

    Returns:
        tuple: ``features`` (N, hue_bins + 2) float64 and ``labels`` (N,)
        int64 category ids, one row per object, in annotation order.

    Raises:
        FileNotFoundError: ``ann_file`` or an image is missing.
        ValueError: The file is not a COCO instances file, an image cannot
            be read, or an annotation has no usable ``segmentation`` (the
            file and the annotation id are named).
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'colour probe: no annotation file '
                                f'{ann_file}')
    with open(ann_file) as f:
        try:
            coco = json.load(f)
        except ValueError as e:
            raise ValueError(f'colour probe: {ann_file} is not valid JSON: '
                             f'{e}') from e
    if not isinstance(coco, dict) or not isinstance(
            coco.get('images'), list) or not isinstance(
                coco.get('annotations'), list):
        raise ValueError(f'colour probe: {ann_file} is not a COCO instances '
                         'file (no "images"/"annotations" lists)')
    by_image: Dict[int, List[Dict]] = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann.get('image_id'), []).append(ann)
    feats, labels = [], []
    for img in coco['images']:
        anns = by_image.get(img.get('id'), [])
        if not anns:
            continue
        path = osp.join(img_dir, img['file_name'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'colour probe: image {path} of '
                                    f'{ann_file} is missing')
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f'colour probe: cannot read image {path}')
        hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
        h, w = hsv.shape[:2]
        masks = []
        for ann in anns:
            where = f'{ann_file}, annotation id {ann.get("id")}'
            if 'segmentation' not in ann or 'category_id' not in ann:
                raise ValueError(f'{where}: no segmentation/category_id')
            masks.append(_decode_segmentation(ann['segmentation'], h, w,
                                              where))
        claimed = np.sum(masks, axis=0)
        for ann, mask in zip(anns, masks):
            visible = mask & (claimed == 1)
            if not visible.any():
                continue
            feats.append(
                colour_features(hsv, visible, hue_bins,
                                weight_by_saturation))
            labels.append(int(ann['category_id']))
    if not feats:
        return np.zeros((0, int(hue_bins) + 2)), np.zeros(0, np.int64)
    return np.stack(feats), np.asarray(labels, np.int64)


def fit_nearest_centroid(features: np.ndarray, labels: np.ndarray,
                         standardize: bool = True) -> Dict[str, np.ndarray]:
    """Fit a nearest-centroid (nearest class mean) classifier.

    Args:
        features (np.ndarray): (N, D) training features.
        labels (np.ndarray): (N,) integer class labels.
        standardize (bool): Standardise every feature with the training
            mean and standard deviation (a constant feature is left
            unscaled) before taking the class means. Defaults to True.

    Returns:
        dict: ``classes`` (K,), ``centroids`` (K, D) in the standardised
        space, ``mean`` and ``std`` (D,) of the standardisation (0 and 1
        without it).
    """
    features = np.asarray(features, np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or len(features) != len(labels) or \
            len(features) == 0:
        raise ValueError(f'fit_nearest_centroid: need (N, D) features with '
                         f'N = len(labels) > 0, got {features.shape} and '
                         f'{labels.shape}')
    mean = features.mean(0) if standardize else np.zeros(features.shape[1])
    std = features.std(0) if standardize else np.ones(features.shape[1])
    std = np.where(std > 0, std, 1.)
    z = (features - mean) / std
    classes = np.unique(labels)
    centroids = np.stack([z[labels == c].mean(0) for c in classes])
    return dict(classes=classes, centroids=centroids, mean=mean, std=std)


def predict_nearest_centroid(model: Dict[str, np.ndarray],
                             features: np.ndarray) -> np.ndarray:
    """Labels of the nearest centroid (Euclidean) of each row of
    ``features``, for a ``model`` from :func:`fit_nearest_centroid`."""
    z = (np.asarray(features, np.float64) - model['mean']) / model['std']
    dist = ((z[:, None, :] - model['centroids'][None]) ** 2).sum(-1)
    return model['classes'][dist.argmin(1)]


def colour_probe(train: Sequence[str],
                 val: Sequence[str],
                 hue_bins: int = 18,
                 weight_by_saturation: bool = True,
                 standardize: bool = True) -> Dict:
    """Accuracy of the colour-only nearest-centroid classifier.

    Fitted on the objects of ``train``, scored on those of ``val``.

    Args:
        train (Sequence[str]): ``(ann_file, img_dir)`` of the train split.
        val (Sequence[str]): ``(ann_file, img_dir)`` of the val split.
        hue_bins (int): See :func:`colour_features`. Defaults to 18.
        weight_by_saturation (bool): See :func:`colour_features`.
            Defaults to True.
        standardize (bool): See :func:`fit_nearest_centroid`. Defaults to
            True.

    Returns:
        dict: ``accuracy`` on val, ``chance`` (1 / number of classes of
        the val file's ``categories``, or of the labels seen), ``majority``
        (accuracy of always naming val's most frequent class),
        ``num_train`` and ``num_val`` objects, and ``per_class`` (val
        accuracy per category id).

    Raises:
        ValueError: A split has no object with visible pixels.
    """
    x_tr, y_tr = coco_colour_features(train[0], train[1], hue_bins,
                                      weight_by_saturation)
    x_va, y_va = coco_colour_features(val[0], val[1], hue_bins,
                                      weight_by_saturation)
    for name, (ann, _), y in (('train', train, y_tr), ('val', val, y_va)):
        if len(y) == 0:
            raise ValueError(f'colour probe: the {name} split ({ann}) has '
                             'no object with visible pixels')
    model = fit_nearest_centroid(x_tr, y_tr, standardize)
    pred = predict_nearest_centroid(model, x_va)
    with open(val[0]) as f:
        n_cls = len(json.load(f).get('categories') or []) or len(
            np.union1d(y_tr, y_va))
    ids, counts = np.unique(y_va, return_counts=True)
    return dict(
        accuracy=float((pred == y_va).mean()),
        chance=1. / n_cls,
        majority=float(counts.max() / len(y_va)),
        num_train=int(len(y_tr)),
        num_val=int(len(y_va)),
        per_class={
            int(c): float((pred[y_va == c] == c).mean())
            for c in ids
        })


def demo_colour_probe(data_root: str, **kwargs) -> Dict:
    """:func:`colour_probe` on the train/val splits of a demo data set.

    Args:
        data_root (str): A folder written by
            :func:`mmscrl.demo.generate_demo_dataset`.
        **kwargs: ``hue_bins``, ``weight_by_saturation``, ``standardize``
            of :func:`colour_probe`.

    Returns:
        dict: As :func:`colour_probe`.
    """
    from .generator import demo_paths
    paths = demo_paths(data_root)
    return colour_probe((paths['ann_train'], paths['train']),
                        (paths['ann_val'], paths['val']), **kwargs)
