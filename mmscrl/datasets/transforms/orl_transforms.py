# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stage-3 geometry and views (Xie et al., "Unsupervised Object-Level
Representation Learning from Scene Images", NeurIPS 2021, arXiv 2106.11952;
official code Jiahao000/ORL ``openselfsup/datasets/orl.py``).

Pure functions (tested directly):

* :func:`jitter_box` - the official ``aug_bbox``: the second box of an
  intra-RoI pair.
* :func:`crop_patch` - PIL-style crop (zero padding outside the image) and a
  bilinear resize, i.e. torchvision ``resized_crop`` on a PIL image.
* :func:`get_orl_rng` - the random generator of the ORL sampling, seeded per
  rank, dataloader worker and epoch.

Transforms:

* :class:`ORLCropPatches` - loads the kNN image, jitters the intra box and
  cuts the four 96x96 patches.
* :class:`ORLMultiView` - the two global views and the four patch views,
  as one list ``results['img']`` for :class:`PackInputs`.
"""
import math
import os
from typing import List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform, Compose
from mmengine.dist import get_dist_info

from mmscrl.registry import TRANSFORMS
from mmscrl.structures.bbox import bbox_overlaps
from . import fast_ops

__all__ = [
    'jitter_box', 'crop_patch', 'get_orl_rng',
    'ORLCropPatches', 'ORLMultiView'
]

#: order of the views in ``results['img']`` / the model's ``inputs``
ORL_VIEW_KEYS = ('img1', 'img2', 'ipatch1', 'ipatch2', 'kpatch1', 'kpatch2')


def jitter_box(box: Sequence[float],
               img_w: int,
               img_h: int,
               rng: np.random.Generator,
               shift: Tuple[float, float] = (-0.5, 0.5),
               scale: Tuple[float, float] = (0.5, 2.),
               ratio: Tuple[float, float] = (0.5, 2.),
               iou_thr: Optional[float] = 0.5,
               max_attempts: int = 200) -> np.ndarray:
    """A random jittered copy of ``box`` (official ``aug_bbox``).

    Each attempt draws an area ``U(scale) * w * h``, a log-uniform aspect
    ratio (w/h) in ``ratio`` and a centre shift ``U(shift) * (w, h)``, rounds
    the box to integers, and accepts it when it lies inside the image and its
    IoU with ``box`` exceeds ``iou_thr`` (``None``: no IoU test). After
    ``max_attempts`` failures the box itself is returned.

    Args:
        box (Sequence[float]): ``(x, y, w, h)``.
        img_w (int): Image width.
        img_h (int): Image height.
        rng (np.random.Generator): Random generator.
        shift (tuple[float, float]): Centre-shift range, in units of the box
            size. Defaults to (-0.5, 0.5).
        scale (tuple[float, float]): Area-scale range. Defaults to (0.5, 2.).
        ratio (tuple[float, float]): Aspect-ratio range. Defaults to (0.5, 2.).
        iou_thr (float, optional): Minimum IoU (exclusive). Defaults to 0.5.
        max_attempts (int): Defaults to 200.

    Returns:
        np.ndarray: (4,) float32 ``(x, y, w, h)``.
    """
    x, y, w, h = (float(v) for v in box[:4])
    cx, cy = x + 0.5 * w, y + 0.5 * h
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(max_attempts):
        area = rng.uniform(*scale) * w * h
        aspect = math.exp(rng.uniform(*log_ratio))
        new_w = int(round(math.sqrt(area * aspect)))
        new_h = int(round(math.sqrt(area / aspect)))
        new_cx = cx + rng.uniform(*shift) * w
        new_cy = cy + rng.uniform(*shift) * h
        new_x = int(round(new_cx - 0.5 * new_w))
        new_y = int(round(new_cy - 0.5 * new_h))
        if (new_x < 0 or new_y < 0 or new_x + new_w > img_w
                or new_y + new_h > img_h):
            continue
        new_box = (new_x, new_y, new_w, new_h)
        if iou_thr is None or bbox_overlaps(
                new_box, (x, y, w, h), box_format='xywh')[0, 0] > iou_thr:
            return np.asarray(new_box, dtype=np.float32)
    return np.asarray((x, y, w, h), dtype=np.float32)


def crop_patch(img: np.ndarray,
               box: Sequence[float],
               size: int,
               interpolation: str = 'bilinear',
               backend: str = 'pillow',
               fast: bool = False) -> np.ndarray:
    """Crop ``box`` out of ``img`` and resize it to ``size x size``.

    Same result as the official ``TF.resized_crop(pil_img, y, x, h, w,
    (size, size), interpolation=2)``: coordinates are rounded, pixels
    outside the image are zero (PIL ``crop``), and the resize is PIL bilinear
    (anti-aliased when shrinking).

    Args:
        img (np.ndarray): (H, W, C) image.
        box (Sequence[float]): ``(x, y, w, h)``.
        size (int): Output side.
        interpolation (str): mmcv interpolation. Defaults to 'bilinear'.
        backend (str): mmcv resize backend. Defaults to 'pillow'.
        fast (bool): With the pillow backend (bilinear/bicubic, uint8),
            resample with torch's antialiased uint8 kernels, which implement
            PIL's filters (:func:`.fast_ops.resized_crop`; mean absolute
            difference < 0.05 grey levels), reading only the crop region.
            Defaults to False.

    Returns:
        np.ndarray: (size, size, C) patch, same dtype as ``img``.
    """
    x, y, w, h = (float(v) for v in box[:4])
    x0, y0 = int(round(x)), int(round(y))
    x1, y1 = int(round(x + w)), int(round(y + h))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f'crop_patch: box {tuple(box)} has no area')
    img_h, img_w = img.shape[:2]
    fast = (fast and backend == 'pillow' and img.dtype == np.uint8
            and interpolation in ('bilinear', 'bicubic'))
    if fast and x0 >= 0 and y0 >= 0 and x1 <= img_w and y1 <= img_h:
        return fast_ops.resized_crop(img, (x0, y0, x1 - x0, y1 - y0),
                                     (size, size), interpolation)
    patch = np.zeros((y1 - y0, x1 - x0) + img.shape[2:], dtype=img.dtype)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x1, img_w), min(y1, img_h)
    if sx1 > sx0 and sy1 > sy0:
        patch[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
    if fast:
        return fast_ops.resized_crop(patch, (0, 0, x1 - x0, y1 - y0),
                                     (size, size), interpolation)
    return mmcv.imresize(
        patch, (size, size), interpolation=interpolation, backend=backend)


_RNG_STATE = dict(key=None, rng=None)


def get_orl_rng() -> np.random.Generator:
    """The generator of the ORL sampling in this process / dataloader worker.

    The official code reseeds ``random`` of every dataloader worker with its
    worker id on every GPU and every epoch (OpenSelfSup ``build_loader``), so
    the kNN, box and jitter draws repeat across GPUs and epochs. Here the
    generator is seeded from ``SeedSequence([seed, rank])`` where ``seed``
    is torch's per-worker seed (``base_seed + worker_id``; PyTorch draws a
    new ``base_seed`` from the main process for every epoch's iterator) or, without workers, ``torch.initial_seed()``
    (which mmengine sets from ``randomness.seed``). Persistent workers keep
    their stream across epochs. Hence the draws differ per rank, worker and
    epoch and are reproducible for a fixed ``randomness.seed``.
    """
    info = torch.utils.data.get_worker_info()
    worker_seed = None if info is None else int(info.seed)
    key = (os.getpid(), worker_seed)
    if _RNG_STATE['key'] != key:
        rank, _ = get_dist_info()
        seed = torch.initial_seed() if worker_seed is None else worker_seed
        _RNG_STATE['rng'] = np.random.default_rng(
            np.random.SeedSequence([int(seed), int(rank)]))
        _RNG_STATE['key'] = key
    return _RNG_STATE['rng']


@TRANSFORMS.register_module()
class ORLCropPatches(BaseTransform):
    """Cut the intra-RoI and inter-RoI patch pairs of an ORL sample.

    Official: Jiahao000/ORL ``ORLDataset.__getitem__`` (``aug_bbox`` +
    ``TF.resized_crop``). The kNN image is loaded here with
    ``LoadImageFromFile`` (``load_cfg``), so both images are decoded alike.

    **Required keys:** ``img`` (query image), ``intra_box`` ((4,) xywh, or
    ``None``: no filtered box, the whole image is used), ``inter_pair`` ((8,)
    ``[xq, yq, wq, hq, xk, yk, wk, hk]``), ``inter_valid`` (bool),
    ``knn_img_path``.

    **Added keys:** ``ipatch`` / ``kpatch`` (lists of two (S, S, C) arrays),
    ``intra_boxes`` / ``inter_boxes`` ((2, 4) float32, xywh),
    ``knn_img_shape``.

    With ``inter_valid=False`` (the sample has no RoI pair) the kpatches are
    copies of the ipatches, only so that the batch collates; :class:`ORL`
    leaves them out of the inter-RoI loss.

    Args:
        patch_size (int): Patch side. Defaults to 96.
        shift, scale, ratio, iou_thr, max_attempts: :func:`jitter_box`
            arguments. Defaults to (-0.5, 0.5), (0.5, 2.), (0.5, 2.), 0.5, 200.
        interpolation (str): Resize interpolation. Defaults to 'bilinear'.
        backend (str): Resize backend. Defaults to 'pillow' (as official).
        load_cfg (dict): Loader of the kNN image. Defaults to
            ``dict(type='LoadImageFromFile')``.
        fast (bool): Resample the patches with :func:`crop_patch`'s fast
            path. Defaults to False.
    """

    def __init__(self,
                 patch_size: int = 96,
                 shift: Tuple[float, float] = (-0.5, 0.5),
                 scale: Tuple[float, float] = (0.5, 2.),
                 ratio: Tuple[float, float] = (0.5, 2.),
                 iou_thr: Optional[float] = 0.5,
                 max_attempts: int = 200,
                 interpolation: str = 'bilinear',
                 backend: str = 'pillow',
                 load_cfg: Optional[dict] = None,
                 fast: bool = False) -> None:
        self.patch_size = patch_size
        self.fast = fast
        self.jitter_cfg = dict(
            shift=tuple(shift),
            scale=tuple(scale),
            ratio=tuple(ratio),
            iou_thr=iou_thr,
            max_attempts=max_attempts)
        self.interpolation = interpolation
        self.backend = backend
        self.loader = TRANSFORMS.build(load_cfg or
                                       dict(type='LoadImageFromFile'))

    def _crop(self, img, box):
        return crop_patch(img, box, self.patch_size, self.interpolation,
                          self.backend, self.fast)

    def transform(self, results: dict) -> dict:
        img = results['img']
        img_h, img_w = img.shape[:2]
        ibox1 = results.get('intra_box')
        if ibox1 is None:
            ibox1 = np.asarray([0, 0, img_w, img_h], dtype=np.float32)
        ibox1 = np.asarray(ibox1, dtype=np.float32)
        ibox2 = jitter_box(ibox1, img_w, img_h, get_orl_rng(),
                           **self.jitter_cfg)
        ipatch = [self._crop(img, ibox1), self._crop(img, ibox2)]
        results['intra_boxes'] = np.stack([ibox1, ibox2])

        if results['inter_valid']:
            pair = np.asarray(results['inter_pair'], dtype=np.float32)
            knn = self.loader(dict(img_path=results['knn_img_path']))
            if knn is None:
                raise FileNotFoundError(
                    f'cannot load kNN image {results["knn_img_path"]}')
            kpatch = [self._crop(img, pair[:4]),
                      self._crop(knn['img'], pair[4:])]
            results['inter_boxes'] = pair.reshape(2, 4)
            results['knn_img_shape'] = knn['img'].shape[:2]
        else:
            kpatch = [p.copy() for p in ipatch]
            results['inter_boxes'] = np.zeros((2, 4), dtype=np.float32)
        results['ipatch'] = ipatch
        results['kpatch'] = kpatch
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(patch_size={self.patch_size}, '
                f'jitter={self.jitter_cfg}, '
                f'interpolation={self.interpolation}, '
                f'backend={self.backend})')


@TRANSFORMS.register_module()
class ORLMultiView(BaseTransform):
    """The six views of an ORL sample, in :data:`ORL_VIEW_KEYS` order.

    ``results['img']`` becomes ``[img1, img2, ipatch1, ipatch2, kpatch1,
    kpatch2]``: the global views are ``global_transforms[0/1]`` of the query
    image; view-1 patches (``ipatch1``, ``kpatch1``) go through
    ``patch_transforms[0]`` and view-2 patches through
    ``patch_transforms[1]``, as in the official ORLDataset. Each view is
    transformed from a fresh dict, so no state leaks between views.

    Args:
        global_transforms (list[list[dict]]): Two pipelines for the global
            views (the stage-1 BYOL view pipelines).
        patch_transforms (list[list[dict]]): Two pipelines for the patches
            (the same without RandomResizedCrop).
        fast (bool): Run the fast versions of the transforms
            (:mod:`mmscrl.datasets.transforms.fast_transforms`: the same
            random samplers, hence the same parameters from the same seed,
            uint8 OpenCV / lookup-table / torch pixel work). Defaults to
            False (the reference transforms as given).
    """

    def __init__(self, global_transforms: List[List[dict]],
                 patch_transforms: List[List[dict]],
                 fast: bool = False) -> None:
        if len(global_transforms) != 2 or len(patch_transforms) != 2:
            raise ValueError(
                'ORLMultiView needs exactly two global_transforms and two '
                f'patch_transforms, got {len(global_transforms)} and '
                f'{len(patch_transforms)}')
        self.fast = fast
        if fast:
            from .fast_transforms import FastViewPipeline
            self.global_pipelines = [
                FastViewPipeline(t, f'ORLMultiView global pipeline {i}')
                for i, t in enumerate(global_transforms)
            ]
            self.patch_pipelines = [
                FastViewPipeline(t, f'ORLMultiView patch pipeline {i}')
                for i, t in enumerate(patch_transforms)
            ]
        else:
            self.global_pipelines = [Compose(t) for t in global_transforms]
            self.patch_pipelines = [Compose(t) for t in patch_transforms]

    @staticmethod
    def _apply(pipeline, img):
        if not isinstance(pipeline, Compose):  # FastViewPipeline
            return pipeline(img).img
        out = pipeline(
            dict(img=img.copy(), img_shape=img.shape[:2],
                 ori_shape=img.shape[:2]))
        return out['img']

    def transform(self, results: dict) -> dict:
        img = results['img']
        g1, g2 = self.global_pipelines
        p1, p2 = self.patch_pipelines
        ipatch, kpatch = results.pop('ipatch'), results.pop('kpatch')
        results['img'] = [
            self._apply(g1, img),
            self._apply(g2, img),
            self._apply(p1, ipatch[0]),
            self._apply(p2, ipatch[1]),
            self._apply(p1, kpatch[0]),
            self._apply(p2, kpatch[1]),
        ]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(fast={self.fast}, '
                f'global_pipelines={self.global_pipelines}, '
                f'patch_pipelines={self.patch_pipelines})')
