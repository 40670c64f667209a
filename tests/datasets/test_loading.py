# Copyright (c) mmscrl contributors. All rights reserved.
"""LoadImageForViews + MultiViewWithGeometry: one decode per image, at
reduced size when every view is downsampled >= 2x, geometry unchanged."""
import random

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmscrl  # noqa: F401
from mmscrl.compat import ImageLoadError
from mmscrl.registry import TRANSFORMS
from test_fast_ops import mad, photo_like, psnr, real_photo

init_default_scope('mmscrl')


def _pipes():
    import os.path as osp
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(
        osp.join(root, 'configs/_base_/datasets/imagenet_scrl.py'))
    return [cfg.view_pipeline1, cfg.view_pipeline2]


def _mv(fast, **kw):
    return TRANSFORMS.build(
        dict(type='MultiViewWithGeometry', num_views=[1, 1],
             transforms=_pipes(), fast=fast, **kw))


def _seed(s):
    np.random.seed(s)
    random.seed(s)


@pytest.fixture(scope='module')
def jpegs(tmp_path_factory):
    root = tmp_path_factory.mktemp('jpegs')
    big = cv2.resize(real_photo(), (1600, 1200), interpolation=cv2.INTER_CUBIC)
    small = photo_like(375, 500, seed=2)
    paths = dict(big=str(root / 'big.jpg'), small=str(root / 'small.jpg'),
                 png=str(root / 'small.png'), gray=str(root / 'gray.jpg'))
    cv2.imwrite(paths['big'], big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(paths['small'], small)
    cv2.imwrite(paths['png'], small)
    cv2.imwrite(paths['gray'], cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
    return paths


def test_reference_ops_decode_exactly_as_load_image_from_file(jpegs):
    load = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    lazy = TRANSFORMS.build(dict(type='LoadImageForViews'))
    mv = _mv(False)
    for name in ('big', 'small', 'gray', 'png'):
        deferred = lazy(dict(img_path=jpegs[name]))
        assert ('img' not in deferred) == (name != 'png'), name
        _seed(1)
        a = mv(load(dict(img_path=jpegs[name])))
        _seed(1)
        b = mv(deferred)
        for x, y in zip(a['img'], b['img']):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(a['view_homography'],
                                      b['view_homography'])


def test_reduced_decode_keeps_geometry_and_pixels(jpegs):
    load = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    lazy = TRANSFORMS.build(dict(type='LoadImageForViews'))
    ref_t, fast_t = _mv(False), _mv(True)
    reductions, mads, psnrs = [], [], []
    for s in range(16):
        _seed(s)
        a = ref_t(load(dict(img_path=jpegs['big'])))
        state = np.random.get_state()[1].copy(), random.getstate()
        _seed(s)
        b = fast_t(lazy(dict(img_path=jpegs['big'])))
        np.testing.assert_array_equal(state[0], np.random.get_state()[1])
        assert state[1] == random.getstate()
        np.testing.assert_array_equal(a['view_homography'],
                                      b['view_homography'])
        np.testing.assert_array_equal(a['view_crop_bbox'],
                                      b['view_crop_bbox'])
        reductions.append(b['img_reduction'])
        for x, y in zip(a['img'], b['img']):
            assert x.shape == y.shape
            mads.append(mad(x, y))
            psnrs.append(psnr(x, y))
    # 1600x1200 with 224-px views: every view is downsampled >= 2x
    assert min(reductions) >= 2 and max(reductions) >= 4
    assert np.mean(mads) <= 1.0 and max(mads) <= 2.0
    assert np.mean(psnrs) >= 40


def test_reduced_decode_only_when_every_view_allows_it(jpegs):
    lazy = TRANSFORMS.build(dict(type='LoadImageForViews'))
    fast_t = _mv(True)
    for s in range(8):  # 500x375: crops of <= 375 px never reach 2x of 224
        _seed(s)
        assert fast_t(lazy(dict(img_path=jpegs['small'])))[
            'img_reduction'] == 1
    off = _mv(True, reduced_decode=False)
    _seed(0)
    assert off(lazy(dict(img_path=jpegs['big'])))['img_reduction'] == 1


def test_exif_rotated_jpeg_is_decoded_at_once(tmp_path):
    from PIL import Image
    img = Image.fromarray(photo_like(60, 80, seed=1)[..., ::-1])
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90
    path = str(tmp_path / 'rot.jpg')
    img.save(path, exif=exif)
    out = TRANSFORMS.build(dict(type='LoadImageForViews'))(
        dict(img_path=path))
    assert 'img' in out and out['img'].shape[:2] == (80, 60)


def test_corrupt_jpeg_body_names_the_file(tmp_path):
    src = photo_like(120, 160, seed=3)
    ok, buf = cv2.imencode('.jpg', src)
    data = bytearray(buf.tobytes())
    cut = tmp_path / 'cut.jpg'
    cut.write_bytes(bytes(data[:400]))  # header intact, body gone
    lazy = TRANSFORMS.build(dict(type='LoadImageForViews'))
    for fast in (True, False):  # refused at loading or at decoding: named
        with pytest.raises(ImageLoadError, match='cut.jpg'):
            _mv(fast)(lazy(dict(img_path=str(cut))))
    with pytest.raises(ImageLoadError, match='missing.jpg'):
        lazy(dict(img_path=str(tmp_path / 'missing.jpg')))


def test_undecodable_deferred_jpeg_names_the_file(jpegs, monkeypatch):
    """Header fine, body undecodable: the decoder's failure names the file."""
    from mmscrl.datasets.transforms import loading
    res = TRANSFORMS.build(dict(type='LoadImageForViews'))(
        dict(img_path=jpegs['small']))
    monkeypatch.setattr(loading.cv2, 'imdecode', lambda *a: None)
    with pytest.raises(ImageLoadError, match='small.jpg'):
        _mv(True)(res)
