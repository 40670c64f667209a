# Copyright (c) mmscrl contributors. All rights reserved.
"""Geometry-recording views and the box-pair sampler of SCRL.

SCRL (Roh et al., "Spatially Consistent Representation Learning", CVPR 2021,
arXiv 2103.06122; official code kakaobrain/scrl) needs to know where each of
the two augmented views came from in the original image. mmpretrain's
``MultiView`` keeps only ``img``, so here:

* :class:`RandomResizedCropWithGeometry` and :class:`RandomFlipWithGeometry`
  are mmpretrain's ``RandomResizedCrop`` / mmcv's ``RandomFlip`` that also
  compose an original-to-view 3x3 ``homography_matrix`` into ``results``
  (mmdet's convention), at the moment they transform the image;
* :class:`MultiViewWithGeometry` runs one pipeline per view and keeps each
  view's homography, crop box in original pixels and output size;
* :class:`SCRLBoxPairSampler` draws the spatially matched box pairs per
  sample (:func:`sample_scrl_box_pairs`), inside dataloader workers (the
  official code draws them for the whole batch in Python loops on the
  training process, between data loading and the forward pass);
* :class:`ResizeBlur` is the official blur (down- then up-scaling).
"""
import copy
from typing import List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmcv.transforms import RandomFlip as MMCVRandomFlip
from mmcv.transforms.utils import cache_randomness
from mmpretrain.datasets.transforms import RandomResizedCrop

from mmscrl.registry import TRANSFORMS
from mmscrl.structures.bbox import (box_intersection, clip_boxes,
                                    compose_axis_aligned,
                                    crop_resize_homography, flip_homography,
                                    map_boxes, view_region)


class _RecordsGeometry:
    """Marker: the transform composes its effect into ``homography_matrix``."""

    @staticmethod
    def _record_homography(results: dict, T: np.ndarray) -> None:
        H = results.get('homography_matrix')
        H = np.eye(3) if H is None else np.asarray(H, dtype=np.float64)
        # closed form: no per-sample BLAS call in dataloader workers
        results['homography_matrix'] = compose_axis_aligned(T, H)


@TRANSFORMS.register_module()
class RandomResizedCropWithGeometry(_RecordsGeometry, RandomResizedCrop):
    """mmpretrain ``RandomResizedCrop`` that records its geometry.

    Same sampling (torchvision's algorithm, as in the official code) and
    arguments as :class:`mmpretrain.datasets.transforms.RandomResizedCrop`.

    **Added/modified keys:** ``img``, ``img_shape`` and
    ``homography_matrix`` ((3, 3) float64, original -> current pixels,
    composed as ``T @ H``); the crop region follows from it
    (:func:`mmscrl.structures.bbox.view_region`).
    """

    def transform(self, results: dict) -> dict:
        img = results['img']
        offset_h, offset_w, target_h, target_w = self.rand_crop_params(img)
        img = mmcv.imcrop(
            img,
            bboxes=np.array([
                offset_w, offset_h, offset_w + target_w - 1,
                offset_h + target_h - 1
            ]))
        out_h, out_w = self.scale
        img = mmcv.imresize(
            img, (out_w, out_h),
            interpolation=self.interpolation,
            backend=self.backend)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        self._record_homography(
            results,
            crop_resize_homography(offset_w, offset_h, target_w, target_h,
                                   out_w, out_h))
        return results


@TRANSFORMS.register_module()
class RandomFlipWithGeometry(_RecordsGeometry, MMCVRandomFlip):
    """mmcv ``RandomFlip`` that records its geometry.

    Same arguments as :class:`mmcv.transforms.RandomFlip` (SCRL: ``prob=0.5``,
    horizontal). Adds ``flip``/``flip_direction`` (as mmcv) and composes the
    flip into ``homography_matrix``.
    """

    def _flip(self, results: dict) -> None:
        h, w = results['img'].shape[:2]
        super()._flip(results)
        self._record_homography(
            results, flip_homography(w, h, results['flip_direction']))


@TRANSFORMS.register_module()
class ResizeBlur(BaseTransform):
    """The official SCRL blur: downscale by a random factor, upscale back.

    kakaobrain/scrl ``augment/gaussian_blur.py`` ``ResizeBlur`` ("cost
    efficient alternative of Gaussian blur", hard-coded there): a factor is
    drawn uniformly from ``factors``, the image is resized to
    ``(h // f, w // f)`` and back to ``(h, w)``, both bicubic (PIL).

    Args:
        factors (Sequence[float]): Candidate down-scaling factors. Defaults to
            ``(1.1, 1.2, 1.5)`` (official ``max_level=3``).
        prob (float): Probability to apply it. Defaults to 1.0 (view 1;
            view 2 uses 0.1).
        interpolation (str): Defaults to ``'bicubic'``.
        backend (str): Resize backend. Defaults to ``'pillow'`` (official).
    """

    def __init__(self,
                 factors: Sequence[float] = (1.1, 1.2, 1.5),
                 prob: float = 1.0,
                 interpolation: str = 'bicubic',
                 backend: str = 'pillow') -> None:
        if not factors or any(f < 1 for f in factors):
            raise ValueError(f'ResizeBlur factors must be >= 1, got {factors}')
        if not 0 <= prob <= 1:
            raise ValueError(f'ResizeBlur prob must be in [0, 1], got {prob}')
        self.factors = tuple(factors)
        self.prob = prob
        self.interpolation = interpolation
        self.backend = backend

    @cache_randomness
    def _draw(self):
        if np.random.rand() >= self.prob:
            return None
        return self.factors[np.random.randint(len(self.factors))]

    def transform(self, results: dict) -> dict:
        factor = self._draw()
        if factor is None:
            return results
        img = results['img']
        h, w = img.shape[:2]
        dn = (max(1, int(w // factor)), max(1, int(h // factor)))
        small = mmcv.imresize(
            img, dn, interpolation=self.interpolation, backend=self.backend)
        results['img'] = mmcv.imresize(
            small, (w, h),
            interpolation=self.interpolation,
            backend=self.backend).astype(img.dtype)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(factors={self.factors}, '
                f'prob={self.prob}, interpolation={self.interpolation}, '
                f'backend={self.backend})')


def _geometric_types() -> tuple:
    """Upstream geometric transforms that would NOT update the geometry."""
    import mmcv.transforms as mt
    import mmpretrain.datasets.transforms as pt
    names = [(mt, 'RandomFlip'), (mt, 'Resize'), (mt, 'RandomResize'),
             (mt, 'CenterCrop'), (mt, 'RandomChoiceResize'), (mt, 'Pad'),
             (pt, 'RandomResizedCrop'), (pt, 'RandomCrop'),
             (pt, 'ResizeEdge'), (pt, 'EfficientNetCenterCrop'),
             (pt, 'Rotate'), (pt, 'Shear'), (pt, 'Translate'),
             (pt, 'RandomTranslatePad')]
    return tuple(getattr(m, n) for m, n in names if hasattr(m, n))


@TRANSFORMS.register_module()
class MultiViewWithGeometry(BaseTransform):
    """Like mmpretrain ``MultiView``, but keeps every view's geometry.

    Each view pipeline starts from a copy of the input with
    ``homography_matrix = I``; its geometric transforms must be the
    geometry-recording ones (:class:`RandomResizedCropWithGeometry`,
    :class:`RandomFlipWithGeometry`): a pipeline containing an upstream
    geometric transform is rejected at construction.

    **Added keys** (V = number of views):

    - ``img``: list of V view images;
    - ``view_homography``: (V, 3, 3) float64, original -> view pixels;
    - ``view_img_shape``: (V, 2) int64 ``(h, w)`` of each view;
    - ``view_crop_bbox``: (V, 4) float64 xyxy region of the original image
      each view shows (from the recorded homography; computed once here,
      checked to lie inside the image, and reused by
      :class:`SCRLBoxPairSampler`).

    Whether a view is mirrored is ``H[0, 0] < 0``
    (:func:`mmscrl.structures.bbox.is_flipped`).

    With ``fast=True`` the view pipelines are given as the same reference
    configs and run as their fast versions
    (:mod:`mmscrl.datasets.transforms.fast_transforms`): each op keeps its
    reference's random sampler, so the views' parameters and geometry are
    those the reference pipeline draws from the same seed, and the pixels
    differ by less than one grey level on average (uint8 OpenCV, lookup
    tables and torch's PIL-exact antialiased resampling instead of PIL). All
    parameters of all views are drawn before any pixel is touched, and the
    input image is shared by the views (no per-view deep copy).

    Args:
        transforms (list[list[dict | callable]]): One pipeline per group.
        num_views (int | list[int]): Views per pipeline, as ``MultiView``.
        fast (bool): Run the fast versions of the view transforms. Defaults
            to False (the reference transforms as given).
        reduced_decode (bool): With ``fast=True`` and a JPEG left undecoded
            by :class:`LoadImageForViews`, decode it at 1/2, 1/4 or 1/8 size
            (libjpeg-turbo DCT scaling) when every view's crop is
            downsampled at least that much; the crops are then resampled
            from the reduced image (PIL's resampling with the fractional
            crop box) and the recorded geometry is unchanged. Defaults to
            True.

    A JPEG left undecoded by :class:`LoadImageForViews` is decoded here once
    for all views (with the reference ops exactly as ``LoadImageFromFile``).
    """

    def __init__(self, transforms: List[List[Union[dict, callable]]],
                 num_views: Union[int, List[int]],
                 fast: bool = False,
                 reduced_decode: bool = True) -> None:
        if isinstance(num_views, int):
            num_views = [num_views]
        if len(num_views) != len(transforms):
            raise ValueError(f'MultiViewWithGeometry: num_views {num_views} '
                             f'needs one pipeline each, got '
                             f'{len(transforms)} pipelines')
        self.num_views = list(num_views)
        self.fast = fast
        self.reduced_decode = reduced_decode
        if fast:
            from .fast_transforms import FastViewPipeline
            self.pipelines = [
                FastViewPipeline(t, f'MultiViewWithGeometry pipeline {i}')
                for i, t in enumerate(transforms)
            ]
            self.transforms = []
            for pipe, n in zip(self.pipelines, self.num_views):
                self.transforms.extend([pipe] * n)
            return
        self.pipelines = [Compose(t) for t in transforms]
        upstream = _geometric_types()
        for i, pipe in enumerate(self.pipelines):
            for t in pipe.transforms:
                if isinstance(t, upstream) and not isinstance(
                        t, _RecordsGeometry):
                    raise ValueError(
                        f'MultiViewWithGeometry pipeline {i}: '
                        f'{type(t).__name__} changes the geometry without '
                        'recording it; use RandomResizedCropWithGeometry / '
                        'RandomFlipWithGeometry')
        self.transforms = []
        for pipe, n in zip(self.pipelines, self.num_views):
            self.transforms.extend([pipe] * n)

    def _reduction(self, plans: list) -> int:
        """The largest DCT scaling (1, 2, 4, 8) by which every view's crop
        is at least downsampled."""
        ratio = float('inf')
        for pipe, plan in zip(self.transforms, plans):
            crop = pipe.first_crop(plan)
            if crop is None:
                return 1
            _, _, h, w = crop
            out_h, out_w = pipe.transforms[0].scale
            ratio = min(ratio, w / out_w, h / out_h)
        for r in (8, 4, 2):
            if ratio >= r:
                return r
        return 1

    def _run_views(self, results: dict):
        """(image, homography) of each view."""
        from .loading import decode_deferred
        deferred = 'img' not in results and 'img_bytes' in results
        if self.fast:
            from .fast_transforms import ViewState
            shape = tuple(results['ori_shape'][:2]) if deferred else \
                results['img'].shape[:2]
            # draw every view's parameters first (the reference's RNG order)
            plans = [pipe.draw(shape)[0] for pipe in self.transforms]
            scale = 1
            if deferred:
                scale = self._reduction(plans) if self.reduced_decode else 1
                img = decode_deferred(results, scale)
                scale = results['img_reduction']
            else:
                img = results['img']
            for pipe, plan in zip(self.transforms, plans):
                view = pipe.apply(ViewState(img, scale=scale), plan)
                yield view.img, view.homography
            return
        if deferred:  # exactly LoadImageFromFile's decoding
            results['img'] = decode_deferred(results, 1)
        for pipe in self.transforms:
            inputs = copy.deepcopy(results)
            inputs['homography_matrix'] = np.eye(3)
            out = pipe(inputs)
            yield out['img'], np.asarray(
                out['homography_matrix'], dtype=np.float64)

    def transform(self, results: dict) -> dict:
        imgs, Hs, shapes, crops = [], [], [], []
        ori_h, ori_w = (results['img'].shape[:2] if 'img' in results else
                        results['ori_shape'][:2])
        for img, H in self._run_views(results):
            shape = img.shape[:2]
            crop = view_region(H, shape)
            if (crop[0] < -1e-6 or crop[1] < -1e-6 or crop[2] > ori_w + 1e-6
                    or crop[3] > ori_h + 1e-6):
                raise ValueError(
                    f'MultiViewWithGeometry: view region {crop.tolist()} '
                    f'leaves the {ori_w}x{ori_h} image '
                    f'({results.get("img_path", "")}); a geometric '
                    'transform did not record its homography')
            imgs.append(img)
            Hs.append(H)
            shapes.append(shape)
            crops.append(crop)
        results['img'] = imgs
        results['view_homography'] = np.stack(Hs)
        results['view_img_shape'] = np.array(shapes, dtype=np.int64)
        results['view_crop_bbox'] = np.stack(crops)
        return results

    def __repr__(self) -> str:
        s = self.__class__.__name__ + f'(fast={self.fast}, '
        for i, p in enumerate(self.pipelines):
            s += f'\nPipeline {i + 1} with {self.num_views[i]} views:\n{p}'
        return s + ')'


def _ious_below(box: Sequence[float], boxes: Sequence[Sequence[float]],
                thr: float) -> bool:
    """``(bbox_overlaps(box, boxes) < thr).all()`` for one xyxy box against
    a few, in plain Python floats with :func:`bbox_overlaps`' operations in
    its order (so bit-identical), without numpy's per-call overhead (it was
    most of the box sampler's time: ~500 such tests per image)."""
    ax1, ay1, ax2, ay2 = (float(v) for v in box)
    wa, ha = ax2 - ax1, ay2 - ay1
    for bx1, by1, bx2, by2 in boxes:
        iw = min(ax2, bx2) - max(ax1, bx1)
        ih = min(ay2, by2) - max(ay1, by1)
        if iw > 0 and ih > 0:
            inter = iw * ih
            iou = inter / (wa * ha + (bx2 - bx1) * (by2 - by1) - inter)
        else:
            iou = 0.
        if not iou < thr:
            return False
    return True


def sample_scrl_box_pairs(H1: np.ndarray,
                          shape1: Sequence[int],
                          H2: np.ndarray,
                          shape2: Sequence[int],
                          num_boxes: int = 10,
                          min_size: int = 32,
                          iou_thr: float = 0.5,
                          max_tries: int = 50,
                          fallback: str = 'keep_last',
                          randint=np.random.randint,
                          regions: Optional[Sequence[np.ndarray]] = None
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
       candidate (the official code) and ``'skip'`` drops it (the paper's
       description: boxes overlapping too much are not used).
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
        regions (Sequence[ndarray], optional): The two views' crop regions
            ((4,) xyxy in original pixels), when the caller already has
            them (``view_crop_bbox`` of :class:`MultiViewWithGeometry`).
            Defaults to None: computed from ``H`` and the view shape.

    Returns:
        tuple[ndarray, ndarray]: ``boxes1, boxes2``, each ``(n, 4)`` float32
        xyxy in its view's pixels, ``0 <= n <= num_boxes``.
    """
    if fallback not in ('keep_last', 'skip'):
        raise ValueError(f'fallback must be "keep_last" or "skip", '
                         f'got "{fallback}"')
    empty = np.zeros((0, 4), dtype=np.float32)
    if regions is None:
        regions = (view_region(H1, shape1), view_region(H2, shape2))
    r1, r2 = regions
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
            if i == 0 or iou_thr >= 1.0 or _ious_below(cand, kept, iou_thr):
                accepted = True
                break
        if accepted or fallback == 'keep_last':
            kept.append(tuple(float(v) for v in cand))
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


@TRANSFORMS.register_module()
class SCRLBoxPairSampler(BaseTransform):
    """Sample SCRL's spatially matched box pairs for views 1 and 2.

    Runs per sample after :class:`MultiViewWithGeometry`; the sampling is
    :func:`sample_scrl_box_pairs` (official
    ``SCRLBoxGenerator``, grid-based, no jitter). Boxes are padded to a fixed
    K so that ``default_collate`` works; pack them with
    ``PackInputs(algorithm_keys=['scrl_boxes', 'scrl_box_valid'])``.

    **Required keys:** ``view_homography``, ``view_img_shape``;
    ``view_crop_bbox`` is used when present (else computed).

    **Added keys:**

    - ``scrl_boxes``: (2, K, 4) float32 xyxy boxes in view-1 / view-2 pixels,
      paired by index; invalid slots are zeros;
    - ``scrl_box_valid``: (K,) bool; all False when the views do not overlap
      enough (the image is then dropped from the loss, not from the batch).

    Args:
        num_boxes (int): K, pairs per image. Defaults to 10.
        min_size (int): Minimum box side (px) in the less-zoomed view.
            Defaults to 32 (official, for 224-px views and stride-32 C5).
            Scale it with the view size (e.g. 16 for 112 px).
        iou_thr (float): Max IoU among an image's boxes. Defaults to 0.5.
        max_tries (int): Candidates per box. Defaults to 50.
        fallback (str): After ``max_tries`` rejections, ``'keep_last'`` keeps
            the last candidate (official code) or ``'skip'`` drops the slot.
            Defaults to ``'keep_last'``.
    """

    def __init__(self,
                 num_boxes: int = 10,
                 min_size: int = 32,
                 iou_thr: float = 0.5,
                 max_tries: int = 50,
                 fallback: str = 'keep_last') -> None:
        if num_boxes < 1 or min_size < 1 or max_tries < 1:
            raise ValueError('SCRLBoxPairSampler: num_boxes, min_size and '
                             'max_tries must be >= 1, got '
                             f'{num_boxes}, {min_size}, {max_tries}')
        if fallback not in ('keep_last', 'skip'):
            raise ValueError('SCRLBoxPairSampler: fallback must be '
                             f'"keep_last" or "skip", got "{fallback}"')
        self.num_boxes = num_boxes
        self.min_size = min_size
        self.iou_thr = iou_thr
        self.max_tries = max_tries
        self.fallback = fallback

    def transform(self, results: dict) -> dict:
        if 'view_homography' not in results:
            raise KeyError('SCRLBoxPairSampler needs "view_homography" from '
                           'MultiViewWithGeometry earlier in the pipeline')
        Hs, shapes = results['view_homography'], results['view_img_shape']
        if len(Hs) < 2:
            raise ValueError(
                f'SCRLBoxPairSampler needs 2 views, got {len(Hs)}')
        b1, b2 = sample_scrl_box_pairs(
            Hs[0], shapes[0], Hs[1], shapes[1],
            num_boxes=self.num_boxes,
            min_size=self.min_size,
            iou_thr=self.iou_thr,
            max_tries=self.max_tries,
            fallback=self.fallback,
            regions=results.get('view_crop_bbox'))
        n = len(b1)
        boxes = np.zeros((2, self.num_boxes, 4), dtype=np.float32)
        boxes[0, :n], boxes[1, :n] = b1, b2
        valid = np.zeros(self.num_boxes, dtype=bool)
        valid[:n] = True
        results['scrl_boxes'] = boxes
        results['scrl_box_valid'] = valid
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_boxes={self.num_boxes}, '
                f'min_size={self.min_size}, iou_thr={self.iou_thr}, '
                f'max_tries={self.max_tries}, fallback={self.fallback})')
