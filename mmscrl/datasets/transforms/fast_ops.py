# Copyright (c) mmscrl contributors. All rights reserved.
"""Fast uint8 pixel operations of the two-view pre-training pipelines.

Each function reproduces one reference operation of the pipelines (the PIL
semantics that the official SCRL, DenseCL, ORL and PixPro code and mmcv's
``pillow`` backend use) on ``(H, W, 3)`` uint8 arrays, with the parameters
given (drawing them is the job of :mod:`.fast_transforms`, which reuses the
reference samplers). What each one computes, and how close it is to its
reference (measured by ``tests/datasets/test_fast_ops.py`` on photo-like
images; MAD = mean absolute difference in grey levels):

=====================  ==========================================  =========
function               how                                         vs ref.
=====================  ==========================================  =========
``resized_crop``       torch's antialiased uint8 ``interpolate``   MAD<0.05
                       (PIL's filters: bicubic a=-0.5, support
                       scaled when downsampling), crop region only
``adjust_brightness``  lookup table made by PIL from a ramp         exact
``adjust_contrast``    PIL's grey mean + lookup table made by PIL   exact
``adjust_saturation``  PIL ``ImageEnhance.Color``                   exact
``adjust_hue``         OpenCV ``HSV_FULL`` round trip (PIL's HSV    MAD<1
                       quantises differently)
``to_grayscale``       ``cv2.transform`` in float32, truncated      MAD<0.01
``gaussian_blur``      OpenCV Gaussian (PIL approximates it by      MAD<1
                       three extended box blurs)
``resize_blur``        ``resized_crop`` down then up (PIL bicubic)  MAD<0.05
``solarize``           lookup table                                 exact
``hflip``              ``cv2.flip``                                 exact
=====================  ==========================================  =========

Colour operations take RGB arrays (PIL's order, which decides the grey
weights of contrast and saturation and the hue's channel order); the
pipelines convert once per view.
"""
from functools import lru_cache
from typing import Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance

__all__ = [
    'resized_crop', 'adjust_brightness', 'adjust_contrast',
    'adjust_saturation', 'adjust_hue', 'hue_shift', 'to_grayscale',
    'gaussian_blur', 'resize_blur', 'solarize', 'hflip'
]

_RAMP = Image.fromarray(np.arange(256, dtype=np.uint8)[None])


def resized_crop(img: np.ndarray,
                 box: Sequence[int],
                 size: Tuple[int, int],
                 interpolation: str = 'bilinear') -> np.ndarray:
    """Crop ``box`` and resize it, as PIL ``resize`` of the cropped region.

    Only the crop region is read (a view of ``img``, no copy). torch's
    antialiased uint8 kernels use PIL's filter definitions (bilinear
    triangle / bicubic ``a = -0.5``, support scaled by the downscaling
    factor) and PIL's fixed-point rounding.

    Args:
        img (ndarray): (H, W, C) uint8.
        box (Sequence[int]): ``(x, y, w, h)`` integer crop in ``img``.
        size (tuple[int, int]): Output ``(h, w)``.
        interpolation (str): ``'bilinear'`` or ``'bicubic'``.

    Returns:
        ndarray: ``(size[0], size[1], C)`` uint8.
    """
    if interpolation not in ('bilinear', 'bicubic'):
        raise ValueError('resized_crop: interpolation must be "bilinear" '
                         f'or "bicubic", got "{interpolation}"')
    x, y, w, h = (int(v) for v in box)
    region = img[y:y + h, x:x + w]
    if region.shape[:2] != (h, w) or h <= 0 or w <= 0:
        raise ValueError(f'resized_crop: box {tuple(box)} is not inside the '
                         f'{img.shape[1]}x{img.shape[0]} image')
    out_h, out_w = int(size[0]), int(size[1])
    if (h, w) == (out_h, out_w):
        return np.ascontiguousarray(region)
    # an NHWC (channels-last) tensor over the region's pixels: torch's fast
    # uint8 antialiased kernels need that layout (else it runs planar)
    region = np.ascontiguousarray(region)
    if not region.flags.writeable:  # torch.from_numpy needs writable memory
        region = region.copy()
    c = region.shape[2]
    t = torch.from_numpy(region).as_strided((1, c, h, w),
                                            (h * w * c, 1, w * c, c))
    out = F.interpolate(
        t, size=(out_h, out_w), mode=interpolation, antialias=True,
        align_corners=False)
    return np.ascontiguousarray(out[0].permute(1, 2, 0).numpy())


@lru_cache(maxsize=4096)
def _brightness_lut(factor: float) -> np.ndarray:
    return np.asarray(ImageEnhance.Brightness(_RAMP).enhance(factor))[0]


def adjust_brightness(img: np.ndarray, factor: float) -> np.ndarray:
    """PIL ``ImageEnhance.Brightness(img).enhance(factor)`` (exact)."""
    return cv2.LUT(img, _brightness_lut(float(factor)))


def _pil_grey_mean(rgb: np.ndarray) -> int:
    """``int(ImageStat.Stat(img.convert('L')).mean[0] + 0.5)``."""
    grey = np.asarray(Image.fromarray(rgb, mode='RGB').convert('L'))
    return int(grey.mean() + 0.5)


def adjust_contrast(rgb: np.ndarray, factor: float) -> np.ndarray:
    """PIL ``ImageEnhance.Contrast(img).enhance(factor)`` on RGB (exact):
    a blend with the image's rounded mean grey level."""
    mean = _pil_grey_mean(rgb)
    lut = np.asarray(
        Image.blend(Image.new('L', (256, 1), mean), _RAMP, float(factor)))[0]
    return cv2.LUT(rgb, lut)


def adjust_saturation(rgb: np.ndarray, factor: float) -> np.ndarray:
    """PIL ``ImageEnhance.Color(img).enhance(factor)`` on RGB (exact; it is
    PIL itself, which is faster than any numpy rewrite of its blend)."""
    pil = Image.fromarray(rgb, mode='RGB')
    return np.array(ImageEnhance.Color(pil).enhance(float(factor)))


def hue_shift(factor: float) -> int:
    """The uint8 hue shift of a hue factor in ``[-0.5, 0.5]``, as torchvision
    and mmcv compute it (``np.uint8(factor * 255)``, wrapping)."""
    if not -0.5 <= factor <= 0.5:
        raise ValueError(f'hue factor {factor} is not in [-0.5, 0.5]')
    return int(factor * 255) % 256


def adjust_hue(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Rotate the hue by ``factor`` turns, PIL-style (``HSV`` with hue in
    0-255, shift added modulo 256), with OpenCV's ``HSV_FULL`` conversion
    (PIL's own HSV round trip costs ~20x more and quantises slightly
    differently: mean absolute difference < 1 grey level)."""
    shift = hue_shift(factor)
    if shift == 0:
        return rgb.copy()
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)
    h = hsv[..., 0]
    np.add(h, np.uint8(shift), out=h, casting='unsafe')
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)


def to_grayscale(img: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """mmcv ``RandomGrayscale`` (``keep_channels=True``): the weighted sum of
    the channels with normalised ``weights`` (in the array's channel order),
    truncated to uint8, repeated on every channel."""
    w = np.asarray(weights, dtype=np.float64)
    w = (w / w.sum()).astype(np.float32)[None]
    grey = cv2.transform(img.astype(np.float32), w)
    grey = grey.astype(np.uint8)  # truncation, as mmcv's astype
    return cv2.merge([grey] * img.shape[2])


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of standard deviation ``sigma`` (the ``radius`` of PIL's
    ``ImageFilter.GaussianBlur``), edges replicated as PIL does."""
    if sigma <= 0:
        return img.copy()
    return cv2.GaussianBlur(
        img, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma),
        borderType=cv2.BORDER_REPLICATE)


def resize_blur(img: np.ndarray, factor: float,
                interpolation: str = 'bicubic') -> np.ndarray:
    """SCRL's ``ResizeBlur``: resize to ``(h // factor, w // factor)`` and
    back, both with PIL's ``interpolation`` filter."""
    h, w = img.shape[:2]
    dn = (max(1, int(h // factor)), max(1, int(w // factor)))
    small = resized_crop(img, (0, 0, w, h), dn, interpolation)
    return resized_crop(small, (0, 0, dn[1], dn[0]), (h, w), interpolation)


@lru_cache(maxsize=512)
def _solarize_lut(thr: float) -> np.ndarray:
    v = np.arange(256)
    return np.where(v < thr, v, 255 - v).astype(np.uint8)


def solarize(img: np.ndarray, thr: float = 128) -> np.ndarray:
    """``mmcv.solarize`` / PIL ``ImageOps.solarize``: invert the pixels
    ``>= thr`` (exact)."""
    return cv2.LUT(img, _solarize_lut(float(thr)))


def hflip(img: np.ndarray) -> np.ndarray:
    """Horizontal mirror (exact)."""
    return cv2.flip(img, 1)
