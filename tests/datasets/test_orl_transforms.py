# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stage-3 geometry: box jitter, patch crops, RNG seeding, views."""
import numpy as np
import pytest
import torch
from PIL import Image

from mmscrl.datasets.transforms import orl_transforms as T
from mmscrl.datasets.transforms.orl_transforms import (ORLCropPatches,
                                                       ORLMultiView,
                                                       crop_patch, jitter_box)
from mmscrl.structures.bbox import bbox_overlaps


def box_iou_xywh(a, b):
    return bbox_overlaps(a, b, box_format='xywh')[0, 0]


@pytest.fixture(autouse=True)
def mmscrl_scope():
    from mmengine.registry import init_default_scope
    init_default_scope('mmscrl')


@pytest.mark.parametrize('seed', range(4))
def test_jitter_box_properties(seed):
    """Jittered boxes are integer, inside the image and IoU > 0.5, or the
    box itself; most draws succeed for a box well inside the image."""
    rng = np.random.default_rng(seed)
    img_w, img_h = 320, 240
    changed = 0
    for _ in range(200):
        w, h = rng.uniform(20, 150), rng.uniform(20, 150)
        box = np.array([rng.uniform(0, img_w - w), rng.uniform(0, img_h - h),
                        w, h], dtype=np.float32)
        out = jitter_box(box, img_w, img_h, rng)
        assert out.shape == (4, ) and out.dtype == np.float32
        if np.array_equal(out, box):
            continue
        changed += 1
        assert np.array_equal(out, np.round(out))
        x, y, bw, bh = out
        assert x >= 0 and y >= 0 and x + bw <= img_w and y + bh <= img_h
        assert box_iou_xywh(out, box) > 0.5
        # area within the sampled scale range up to integer rounding
        assert 0.5 * w * h * 0.8 <= bw * bh <= 2 * w * h * 1.25
    assert changed > 150


def test_jitter_box_fallback_and_iou_threshold():
    rng = np.random.default_rng(0)
    # whole-image box and only larger areas: nothing fits -> the box itself
    box = np.array([0, 0, 64, 48], dtype=np.float32)
    out = jitter_box(box, 64, 48, rng, scale=(1.5, 2.))
    np.testing.assert_array_equal(out, box)
    # unreachable IoU -> fallback after max_attempts
    box = np.array([30.5, 20.2, 40, 30], dtype=np.float32)
    out = jitter_box(box, 200, 200, rng, iou_thr=0.9999)
    np.testing.assert_array_equal(out, box)
    # without the IoU test, jitter stays inside and usually changes the box
    outs = [jitter_box(box, 200, 200, rng, iou_thr=None) for _ in range(20)]
    assert sum(not np.array_equal(o, box) for o in outs) >= 15


def test_jitter_box_reproducible():
    box = (10, 10, 50, 40)
    a = [jitter_box(box, 100, 100, np.random.default_rng(3)) for _ in '12']
    np.testing.assert_array_equal(a[0], a[1])


def test_crop_patch_matches_pil_resized_crop():
    """Same as the official TF.resized_crop on a PIL image (PIL crop with
    zero padding outside the image + PIL bilinear resize)."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    for box in [(10, 5, 40, 30), (0, 0, 80, 60), (-10, 50, 30, 20),
                (70.4, 3.6, 20, 25.2)]:
        x, y, w, h = box
        ref = Image.fromarray(img).crop(
            (round(x), round(y), round(x + w), round(y + h))).resize(
                (16, 16), Image.BILINEAR)
        out = crop_patch(img, box, 16)
        assert out.shape == (16, 16, 3) and out.dtype == np.uint8
        np.testing.assert_array_equal(out, np.asarray(ref))
    with pytest.raises(ValueError, match='no area'):
        crop_patch(img, (5, 5, 0, 10), 16)


def test_get_orl_rng_per_rank_and_worker(monkeypatch):

    class Info:

        def __init__(self, seed):
            self.seed = seed

    def draws(seed, rank):
        monkeypatch.setattr(torch.utils.data, 'get_worker_info',
                            lambda: None if seed is None else Info(seed))
        monkeypatch.setattr(T, 'get_dist_info', lambda: (rank, 2))
        T._RNG_STATE['key'] = None
        rng = T.get_orl_rng()
        assert T.get_orl_rng() is rng  # cached within the worker
        return rng.integers(0, 2**31, 4)

    base = draws(123, 0)
    np.testing.assert_array_equal(base, draws(123, 0))  # reproducible
    assert not np.array_equal(base, draws(123, 1))  # other rank
    assert not np.array_equal(base, draws(124, 0))  # other worker / epoch
    torch.manual_seed(5)
    main = draws(None, 0)  # no workers: from torch.initial_seed()
    torch.manual_seed(5)
    np.testing.assert_array_equal(main, draws(None, 0))
    T._RNG_STATE['key'] = None


def _image(h=60, w=80, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3),
                                                dtype=np.uint8)


def test_orl_crop_patches(tmp_path):
    import cv2
    knn_img = _image(50, 70, seed=1)
    knn_path = str(tmp_path / 'knn.png')
    cv2.imwrite(knn_path, knn_img)
    img = _image()
    t = ORLCropPatches(patch_size=24)
    pair = np.array([1, 2, 30, 20, 5, 6, 40, 30], dtype=np.float32)
    res = t(dict(img=img, intra_box=np.array([10, 10, 30, 30], np.float32),
                 inter_pair=pair, inter_valid=True, knn_img_path=knn_path))
    assert [p.shape for p in res['ipatch'] + res['kpatch']] == [(24, 24, 3)
                                                               ] * 4
    np.testing.assert_array_equal(res['ipatch'][0],
                                  crop_patch(img, (10, 10, 30, 30), 24))
    np.testing.assert_array_equal(res['intra_boxes'][0], [10, 10, 30, 30])
    assert box_iou_xywh(res['intra_boxes'][1], (10, 10, 30, 30)) > 0.5
    np.testing.assert_array_equal(res['ipatch'][1],
                                  crop_patch(img, res['intra_boxes'][1], 24))
    np.testing.assert_array_equal(res['kpatch'][0],
                                  crop_patch(img, pair[:4], 24))
    np.testing.assert_array_equal(res['kpatch'][1],
                                  crop_patch(knn_img, pair[4:], 24))
    assert res['knn_img_shape'] == (50, 70)

    # no box -> whole image; no pair -> kpatches are placeholders
    res = t(dict(img=img, intra_box=None, inter_pair=np.zeros(8),
                 inter_valid=False, knn_img_path='/nonexistent.png'))
    np.testing.assert_array_equal(res['intra_boxes'][0], [0, 0, 80, 60])
    for k, i in zip(res['kpatch'], res['ipatch']):
        np.testing.assert_array_equal(k, i)


def test_orl_multi_view_order_and_pipelines():
    """Globals from the image; view-1 pipeline for ipatch1/kpatch1, view-2
    for ipatch2/kpatch2; order img1, img2, ipatch1, ipatch2, kpatch1,
    kpatch2."""
    g = [[dict(type='Resize', scale=(32, 32))],
         [dict(type='Resize', scale=(40, 40))]]
    p = [[], [dict(type='Solarize', thr=0, prob=1.)]]  # 2: invert all
    t = ORLMultiView(global_transforms=g, patch_transforms=p)
    patches = [np.full((8, 8, 3), v, np.uint8) for v in (10, 20, 30, 40)]
    res = t(dict(img=_image(), ipatch=patches[:2], kpatch=patches[2:]))
    views = res['img']
    assert [v.shape[:2] for v in views] == [(32, 32), (40, 40)] + [(8, 8)] * 4
    assert [int(v[0, 0, 0]) for v in views[2:]] == [10, 255 - 20, 30, 255 - 40]
    assert 'ipatch' not in res and 'kpatch' not in res
    with pytest.raises(ValueError, match='exactly two'):
        ORLMultiView(global_transforms=g[:1], patch_transforms=p)
