# Copyright (c) mmscrl contributors. All rights reserved.
"""Each fast pixel op against its reference, on the same parameters.

Bounds (the ones the docs state): exact where the table of
``mmscrl.datasets.transforms.fast_ops`` says so; otherwise mean absolute
difference (MAD) within the stated grey levels and PSNR >= 40 dB, on a real
photo (matplotlib's sample) and on synthetic photo-like images.
"""
import os.path as osp

import cv2
import mmcv
import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from mmscrl.datasets.transforms import fast_ops


def photo_like(h, w, seed=0):
    """Smooth colour fields at three scales, discs with hard edges, noise."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for s in (4, 16, 64):
        n = rng.random((max(2, h // s), max(2, w // s), 3)).astype(np.float32)
        img += cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC) * s / 84
    img = (img - img.min()) / (img.max() - img.min()) * 255
    for _ in range(8):
        color = tuple(int(v) for v in rng.integers(0, 255, 3))
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                   int(rng.integers(5, 60)), color, -1)
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def real_photo():
    import matplotlib
    path = osp.join(matplotlib.get_data_path(), 'sample_data',
                    'grace_hopper.jpg')
    return cv2.imread(path)  # 600 x 512, BGR


IMAGES = {
    'photo': real_photo,
    'synthetic': lambda: photo_like(375, 500, seed=1),
}


def mad(a, b):
    return np.abs(a.astype(np.int32) - b.astype(np.int32)).mean()


def psnr(a, b):
    mse = ((a.astype(np.float64) - b.astype(np.float64))**2).mean()
    return float('inf') if mse == 0 else 10 * np.log10(255**2 / mse)


def view224(name, seed=0):
    img = IMAGES[name]()
    rng = np.random.default_rng(seed)
    y = int(rng.integers(0, img.shape[0] - 224))
    x = int(rng.integers(0, img.shape[1] - 224))
    return np.ascontiguousarray(img[y:y + 224, x:x + 224])


@pytest.mark.parametrize('name', sorted(IMAGES))
@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
@pytest.mark.parametrize('box', [(30, 20, 300, 280), (100, 90, 120, 150),
                                 (0, 0, 500, 375), (7, 3, 224, 224),
                                 (250, 200, 40, 31)])
def test_resized_crop_matches_pil(name, interpolation, box):
    img = IMAGES[name]()
    x, y, w, h = box
    crop = np.ascontiguousarray(img[y:y + h, x:x + w])
    ref = mmcv.imresize(crop, (224, 224), interpolation=interpolation,
                        backend='pillow')
    out = fast_ops.resized_crop(img, box, (224, 224), interpolation)
    assert out.shape == ref.shape and out.dtype == np.uint8
    assert mad(out, ref) <= 0.05
    assert psnr(out, ref) >= 50
    assert np.abs(out.astype(int) - ref).max() <= 2


def test_resized_crop_rejects_box_outside():
    with pytest.raises(ValueError, match='not inside'):
        fast_ops.resized_crop(np.zeros((10, 10, 3), np.uint8), (5, 5, 8, 8),
                              (4, 4))
    with pytest.raises(ValueError, match='interpolation'):
        fast_ops.resized_crop(np.zeros((10, 10, 3), np.uint8), (0, 0, 8, 8),
                              (4, 4), 'lanczos')


@pytest.mark.parametrize('name', sorted(IMAGES))
@pytest.mark.parametrize('factor', [0.6, 0.83, 1.0, 1.17, 1.4])
@pytest.mark.parametrize('op,enhancer', [
    ('adjust_brightness', ImageEnhance.Brightness),
    ('adjust_contrast', ImageEnhance.Contrast),
    ('adjust_saturation', ImageEnhance.Color),
])
def test_enhance_ops_are_exact(name, factor, op, enhancer):
    rgb = view224(name)[..., ::-1].copy()
    ref = np.asarray(enhancer(Image.fromarray(rgb)).enhance(factor))
    out = getattr(fast_ops, op)(rgb, factor)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize('name', sorted(IMAGES))
@pytest.mark.parametrize('factor', [-0.1, -0.05, -0.003, 0.0, 0.02, 0.1])
def test_hue_close_to_pil(name, factor):
    bgr = view224(name)
    # the reference: mmcv's pillow backend (PIL HSV), as ColorJitter runs it
    ref = mmcv.adjust_hue(bgr, factor, backend='pillow')
    out = fast_ops.adjust_hue(bgr[..., ::-1].copy(), factor)[..., ::-1]
    assert mad(out, ref) <= 1.0
    assert psnr(out, ref) >= 40


def test_hue_shift_wraps_like_numpy1():
    assert fast_ops.hue_shift(-0.1) == 231  # np.uint8(-25) in numpy 1.x
    assert fast_ops.hue_shift(0.1) == 25
    with pytest.raises(ValueError):
        fast_ops.hue_shift(0.6)


@pytest.mark.parametrize('name', sorted(IMAGES))
def test_grayscale_matches_mmcv(name):
    from mmcv.transforms import RandomGrayscale
    bgr = view224(name)
    weights = (0.114, 0.587, 0.2989)
    ref = RandomGrayscale(prob=1., keep_channels=True,
                          channel_weights=weights)(dict(img=bgr))['img']
    out = fast_ops.to_grayscale(bgr, weights)
    assert out.shape == bgr.shape
    assert np.abs(out.astype(int) - ref).max() <= 1
    assert mad(out, ref) <= 0.01


@pytest.mark.parametrize('name', sorted(IMAGES))
@pytest.mark.parametrize('sigma', [0.1, 0.3, 0.7, 1.0, 1.5, 2.0])
def test_gaussian_blur_close_to_pil(name, sigma):
    img = view224(name)
    ref = np.asarray(Image.fromarray(img).filter(
        ImageFilter.GaussianBlur(radius=sigma)))
    out = fast_ops.gaussian_blur(img, sigma)
    assert mad(out, ref) <= 1.0
    assert psnr(out, ref) >= 40


@pytest.mark.parametrize('name', sorted(IMAGES))
@pytest.mark.parametrize('factor', [1.1, 1.2, 1.5])
def test_resize_blur_matches_pil(name, factor):
    from mmscrl.datasets.transforms.scrl_transforms import ResizeBlur
    img = view224(name)
    ref_t = ResizeBlur(factors=(factor, ), prob=1.)
    ref = ref_t(dict(img=img.copy()))['img']
    out = fast_ops.resize_blur(img, factor)
    assert out.shape == ref.shape
    assert mad(out, ref) <= 0.05
    assert psnr(out, ref) >= 50


@pytest.mark.parametrize('thr', [0, 1, 64, 128, 128.5, 255, 256])
def test_solarize_is_exact(thr):
    img = view224('synthetic')
    np.testing.assert_array_equal(
        fast_ops.solarize(img, thr), mmcv.solarize(img, thr=thr))


def test_hflip_is_exact():
    img = view224('synthetic')
    np.testing.assert_array_equal(fast_ops.hflip(img), img[:, ::-1])
