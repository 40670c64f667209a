# Copyright (c) mmscrl contributors. All rights reserved.
"""Fast, geometry-recording versions of the view transforms.

Every class here subclasses the reference transform of the pre-training
pipelines and **inherits its random-parameter sampler unchanged**
(``rand_crop_params``, ``_choose_direction``, ``_rand_params``,
``random_disable``/``random_magnitude``, ``_random_prob``, ``_draw``,
``random_apply``): with the same seeds, a fast op draws exactly the
parameters its reference draws, from the same generator (numpy's global
one; Python's ``random`` for ``RandomGrayscale``), in the same order. Only
the pixel work is replaced, by the uint8 OpenCV / lookup-table / torch
kernels of :mod:`.fast_ops`, and every op records the view geometry
(crop, resize and flip) in closed form.

Each op splits its work in two:

* ``draw(shape)`` draws the parameters, given only the image size the op
  will see, and returns ``(params, output shape)``;
* ``apply(view, params)`` does the pixel work on a :class:`ViewState`.

So :class:`FastViewPipeline` can draw the parameters of *all* views of an
image first (in the reference order: view 1's ops, then view 2's), then
decode the image once, and only then touch pixels: everything a view needs
is known before decoding. ``transform(results)`` chains both, so each op is
also a drop-in replacement of its reference in any pipeline.

Supported references (their fast version; ``FAST_EQUIVALENTS``):
mmpretrain ``RandomResizedCrop`` and :class:`RandomResizedCropWithGeometry`
(pillow bilinear/bicubic, or cv2), mmcv ``RandomFlip`` and
:class:`RandomFlipWithGeometry`, mmpretrain ``ColorJitter`` (pillow backend,
torchvision's random order of its four operations), mmcv
``RandomGrayscale`` (``keep_channels=True``), mmpretrain ``GaussianBlur``
and ``Solarize``, :class:`ResizeBlur`, mmcv ``RandomApply`` of these.
"""
import copy
from typing import Any, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import RandomApply, RandomGrayscale
from mmpretrain.datasets.transforms import (ColorJitter, GaussianBlur,
                                            Solarize)

from mmscrl.registry import TRANSFORMS
from mmscrl.structures.bbox import (compose_axis_aligned,
                                    crop_resize_homography, flip_homography)
from . import fast_ops
from .scrl_transforms import (RandomFlipWithGeometry,
                              RandomResizedCropWithGeometry, ResizeBlur)

__all__ = [
    'ViewState', 'FastViewPipeline', 'FastRandomResizedCrop',
    'FastRandomFlip', 'FastColorJitter', 'FastRandomGrayscale',
    'FastGaussianBlur', 'FastSolarize', 'FastResizeBlur', 'FastRandomApply',
    'FAST_EQUIVALENTS', 'to_fast_pipeline'
]


class ViewState:
    """One view while its ops run: pixels, their channel order, geometry.

    Args:
        img (ndarray): (H, W, 3) uint8 image (not modified in place).
        rgb (bool): Whether ``img`` is RGB (else BGR). Defaults to False.
        homography (ndarray, optional): (3, 3) original-to-current map.
            Defaults to identity.
        scale (float): The image is the original decoded at ``1 / scale``
            of its size (reduced-size JPEG decoding); crops are then
            resampled from the reduced image. Defaults to 1.
    """

    def __init__(self, img: np.ndarray, rgb: bool = False,
                 homography: Optional[np.ndarray] = None,
                 scale: float = 1.) -> None:
        self.img = img
        self.rgb = rgb
        self.homography = np.eye(3) if homography is None else np.asarray(
            homography, dtype=np.float64)
        self.scale = scale

    def record(self, T: np.ndarray) -> None:
        """Compose a geometric step into the homography (``T @ H``)."""
        self.homography = compose_axis_aligned(T, self.homography)

    def as_rgb(self) -> np.ndarray:
        if not self.rgb:
            self.img = cv2.cvtColor(self.img, cv2.COLOR_BGR2RGB)
            self.rgb = True
        return self.img

    def as_bgr(self) -> np.ndarray:
        if self.rgb:
            self.img = cv2.cvtColor(self.img, cv2.COLOR_RGB2BGR)
            self.rgb = False
        return self.img


class _ShapeOnly:
    """Stands for an image in a sampler that reads ``img.shape`` only."""

    def __init__(self, shape):
        self.shape = tuple(shape)


class _FastOp:
    """Mixin: ``draw``/``apply`` and a drop-in ``transform``."""

    geometric = False

    def draw(self, shape: Tuple[int, int]) -> Tuple[Any, Tuple[int, int]]:
        raise NotImplementedError

    def apply(self, view: ViewState, params: Any) -> None:
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        img = results['img']
        params, _ = self.draw(img.shape[:2])
        view = ViewState(img, homography=results.get('homography_matrix'))
        self.apply(view, params)
        results['img'] = np.ascontiguousarray(view.as_bgr())
        if self.geometric:
            results['img_shape'] = view.img.shape[:2]
            results['homography_matrix'] = view.homography
        return results


@TRANSFORMS.register_module()
class FastRandomResizedCrop(_FastOp, RandomResizedCropWithGeometry):
    """:class:`RandomResizedCropWithGeometry` with fast resampling.

    Same arguments and sampler (mmpretrain's ``rand_crop_params``, i.e.
    torchvision's algorithm). With ``backend='pillow'`` (the configs) the
    crop region is resampled by torch's antialiased uint8 kernels, which
    implement PIL's bilinear/bicubic filters (mean absolute difference to
    PIL < 0.02 grey levels); with ``backend='cv2'`` by ``cv2.resize`` as the
    reference. Records the crop/resize homography.
    """

    geometric = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.backend == 'pillow' and self.interpolation not in (
                'bilinear', 'bicubic'):
            raise ValueError(
                'FastRandomResizedCrop (pillow backend) supports bilinear '
                f'and bicubic, got "{self.interpolation}"; use '
                'RandomResizedCropWithGeometry')

    def draw(self, shape):
        params = self.rand_crop_params(_ShapeOnly(shape))
        return params, tuple(self.scale)

    def apply(self, view: ViewState, params) -> None:
        y, x, h, w = params
        out_h, out_w = self.scale
        if view.scale != 1:
            view.img = _reduced_resized_crop(view.img, (x, y, w, h),
                                             view.scale, (out_h, out_w),
                                             self.interpolation)
            view.scale = 1.
        elif self.backend == 'pillow':
            view.img = fast_ops.resized_crop(view.img, (x, y, w, h),
                                             (out_h, out_w),
                                             self.interpolation)
        else:
            import mmcv
            view.img = mmcv.imresize(
                view.img[y:y + h, x:x + w], (out_w, out_h),
                interpolation=self.interpolation, backend=self.backend)
        view.record(crop_resize_homography(x, y, w, h, out_w, out_h))


def _reduced_resized_crop(img, box, scale, size, interpolation):
    """Crop ``box`` (original pixels) of an image decoded at ``1 / scale``
    and resize it: PIL ``resize`` with the fractional box in reduced pixels
    (the geometry stays the original crop exactly)."""
    from PIL import Image
    x, y, w, h = box
    rbox = (x / scale, y / scale, (x + w) / scale, (y + h) / scale)
    rbox = (max(0., rbox[0]), max(0., rbox[1]),
            min(float(img.shape[1]), rbox[2]),
            min(float(img.shape[0]), rbox[3]))
    resample = {'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC}
    pil = Image.fromarray(img)
    out = pil.resize((size[1], size[0]), resample[interpolation], box=rbox)
    return np.array(out)


@TRANSFORMS.register_module()
class FastRandomFlip(_FastOp, RandomFlipWithGeometry):
    """:class:`RandomFlipWithGeometry` with ``cv2.flip`` (exact).

    Same arguments and sampler (mmcv's ``_choose_direction``). Records the
    flip homography.
    """

    geometric = True
    _CODES = {'horizontal': 1, 'vertical': 0, 'diagonal': -1}

    def draw(self, shape):
        return self._choose_direction(), shape

    def apply(self, view: ViewState, direction) -> None:
        if direction is None:
            return
        h, w = view.img.shape[:2]
        view.img = cv2.flip(view.img, self._CODES[direction])
        view.record(flip_homography(w, h, direction))

    def transform(self, results: dict) -> dict:
        direction, _ = self.draw(results['img'].shape[:2])
        results['flip'] = direction is not None
        results['flip_direction'] = direction
        view = ViewState(
            results['img'], homography=results.get('homography_matrix'))
        self.apply(view, direction)
        results['img'] = view.img
        results['homography_matrix'] = view.homography
        return results


@TRANSFORMS.register_module()
class FastColorJitter(_FastOp, ColorJitter):
    """mmpretrain ``ColorJitter`` (pillow backend) on uint8 lookup tables.

    Same arguments and sampler (a random order of the four operations, then
    one factor each, as torchvision's). Brightness, contrast and saturation
    are exact; hue uses OpenCV's HSV conversion (mean absolute difference
    to PIL's < 1 grey level). See :mod:`.fast_ops`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.backend != 'pillow':
            raise ValueError(
                'FastColorJitter reproduces the pillow backend (torchvision '
                f'semantics); got backend="{self.backend}": use ColorJitter')

    def draw(self, shape):
        return self._rand_params(), shape

    def apply(self, view: ViewState, params) -> None:
        order, b, c, s, h = params
        rgb = view.as_rgb()
        for index in order:
            if index == 0 and b is not None:
                rgb = fast_ops.adjust_brightness(rgb, b)
            elif index == 1 and c is not None:
                rgb = fast_ops.adjust_contrast(rgb, c)
            elif index == 2 and s is not None:
                rgb = fast_ops.adjust_saturation(rgb, s)
            elif index == 3 and h is not None:
                rgb = fast_ops.adjust_hue(rgb, h)
        view.img = rgb


@TRANSFORMS.register_module()
class FastRandomGrayscale(_FastOp, RandomGrayscale):
    """mmcv ``RandomGrayscale`` (``keep_channels=True``, BGR input) with
    ``cv2.transform``. Same arguments and sampler (Python's ``random``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.keep_channels or self.color_format != 'bgr':
            raise ValueError('FastRandomGrayscale supports keep_channels='
                             'True on BGR images; use RandomGrayscale')

    def draw(self, shape):
        return self._random_prob() < self.prob, shape

    def apply(self, view: ViewState, apply: bool) -> None:
        if not apply:
            return
        # channel_weights are given for the BGR image
        weights = list(self.channel_weights)
        if view.rgb:
            weights = weights[::-1]
        view.img = fast_ops.to_grayscale(view.img, weights)


@TRANSFORMS.register_module()
class FastGaussianBlur(_FastOp, GaussianBlur):
    """mmpretrain ``GaussianBlur`` (PIL's, ``radius`` = sigma) with OpenCV's
    Gaussian. Same arguments and sampler (``random_disable`` then
    ``random_magnitude``)."""

    def draw(self, shape):
        if self.random_disable():
            return None, shape
        radius = self.radius if self.radius is not None else \
            self.random_magnitude()
        return radius, shape

    def apply(self, view: ViewState, radius) -> None:
        if radius is not None:
            view.img = fast_ops.gaussian_blur(view.img, radius)


@TRANSFORMS.register_module()
class FastSolarize(_FastOp, Solarize):
    """mmpretrain ``Solarize`` with a lookup table (exact). Same arguments
    and sampler."""

    def draw(self, shape):
        if self.random_disable():
            return None, shape
        thr = self.thr if self.thr is not None else self.random_magnitude()
        return thr, shape

    def apply(self, view: ViewState, thr) -> None:
        if thr is not None:
            view.img = fast_ops.solarize(view.img, thr)


@TRANSFORMS.register_module()
class FastResizeBlur(_FastOp, ResizeBlur):
    """:class:`ResizeBlur` (PIL bicubic down and up) with torch's
    antialiased uint8 resampling. Same arguments and sampler."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.backend != 'pillow' or self.interpolation not in (
                'bilinear', 'bicubic'):
            raise ValueError(
                'FastResizeBlur reproduces the pillow bilinear/bicubic '
                f'resize, got {self.backend}/{self.interpolation}: use '
                'ResizeBlur')

    def draw(self, shape):
        return self._draw(), shape

    def apply(self, view: ViewState, factor) -> None:
        if factor is not None:
            view.img = fast_ops.resize_blur(view.img, factor,
                                            self.interpolation)


@TRANSFORMS.register_module()
class FastRandomApply(_FastOp, RandomApply):
    """mmcv ``RandomApply`` of fast ops: draws ``random_apply()`` and then,
    when applied, the parameters of its transforms, as the reference."""

    def __init__(self, transforms, prob: float = 0.5) -> None:
        super().__init__(
            transforms=to_fast_pipeline(transforms, 'FastRandomApply'),
            prob=prob)

    @property
    def geometric(self):
        return any(t.geometric for t in self.transforms.transforms)

    def draw(self, shape):
        if not self.random_apply():
            return None, shape
        params = []
        for t in self.transforms.transforms:
            p, shape = t.draw(shape)
            params.append(p)
        return params, shape

    def apply(self, view: ViewState, params) -> None:
        if params is None:
            return
        for t, p in zip(self.transforms.transforms, params):
            t.apply(view, p)


#: reference transform type -> its fast version
FAST_EQUIVALENTS = {
    'RandomResizedCrop': 'FastRandomResizedCrop',
    'RandomResizedCropWithGeometry': 'FastRandomResizedCrop',
    'RandomFlip': 'FastRandomFlip',
    'RandomFlipWithGeometry': 'FastRandomFlip',
    'ColorJitter': 'FastColorJitter',
    'RandomGrayscale': 'FastRandomGrayscale',
    'GaussianBlur': 'FastGaussianBlur',
    'Solarize': 'FastSolarize',
    'ResizeBlur': 'FastResizeBlur',
    'RandomApply': 'FastRandomApply',
}


def to_fast_pipeline(transforms: Sequence, owner: str = 'pipeline'
                     ) -> List[_FastOp]:
    """Build the fast version of a list of reference transform configs.

    Args:
        transforms (Sequence[dict | _FastOp]): Reference configs (``type``
            in :data:`FAST_EQUIVALENTS`, optionally scoped like
            ``'mmpretrain.ColorJitter'``) or fast ops / their configs.
        owner (str): Named in errors. Defaults to ``'pipeline'``.

    Returns:
        list: Built fast ops.

    Raises:
        ValueError: a transform has no fast version (the error names it and
            how to keep the reference ops).
    """
    ops = []
    for t in transforms:
        if isinstance(t, _FastOp):
            ops.append(t)
            continue
        if not isinstance(t, dict) or 'type' not in t:
            raise ValueError(f'{owner}: fast views need transform configs '
                             f'(dicts with a "type"), got {t!r}')
        cfg = copy.deepcopy(dict(t))
        name = cfg['type'] if isinstance(cfg['type'], str) else getattr(
            cfg['type'], '__name__', str(cfg['type']))
        short = name.split('.')[-1]
        if short in FAST_EQUIVALENTS.values():
            cfg['type'] = short
        elif short in FAST_EQUIVALENTS:
            cfg['type'] = FAST_EQUIVALENTS[short]
        else:
            raise ValueError(
                f'{owner}: "{name}" has no fast version (supported: '
                f'{", ".join(sorted(FAST_EQUIVALENTS))}); set fast=False '
                'to run the reference transforms')
        ops.append(TRANSFORMS.build(cfg))
    return ops


class FastViewPipeline:
    """A view pipeline of fast ops, split into drawing and pixel work.

    Args:
        transforms (Sequence[dict | _FastOp]): Reference or fast transform
            configs (converted by :func:`to_fast_pipeline`).
        owner (str): Named in errors. Defaults to ``'pipeline'``.
    """

    def __init__(self, transforms: Sequence, owner: str = 'pipeline'):
        self.transforms = to_fast_pipeline(transforms, owner)

    def draw(self, shape: Tuple[int, int]) -> Tuple[list, Tuple[int, int]]:
        """Draw every op's parameters for an input of ``shape`` ``(h, w)``
        (the reference's RNG calls, in its order); returns the plan and the
        output shape."""
        plan = []
        for t in self.transforms:
            p, shape = t.draw(shape)
            plan.append(p)
        return plan, shape

    def first_crop(self, plan: list) -> Optional[Tuple[int, int, int, int]]:
        """``(y, x, h, w)`` of the plan's leading crop, if it starts with
        one (what reduced-size decoding needs to know)."""
        if self.transforms and isinstance(self.transforms[0],
                                          FastRandomResizedCrop):
            return plan[0]
        return None

    def apply(self, view: ViewState, plan: list) -> ViewState:
        """Run the pixel work of ``plan`` on ``view``; returns it (BGR)."""
        for t, p in zip(self.transforms, plan):
            t.apply(view, p)
        view.as_bgr()
        view.img = np.ascontiguousarray(view.img)
        return view

    def __call__(self, img: np.ndarray,
                 homography: Optional[np.ndarray] = None) -> ViewState:
        plan, _ = self.draw(img.shape[:2])
        return self.apply(ViewState(img, homography=homography), plan)

    def __repr__(self) -> str:
        inner = ''.join(f'\n    {t!r}' for t in self.transforms)
        return f'{self.__class__.__name__}({inner})'
