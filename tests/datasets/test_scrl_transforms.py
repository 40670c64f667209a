# Copyright (c) mmscrl contributors. All rights reserved.
"""SCRL data pipeline: geometry recording, box-pair sampler, ResizeBlur."""
import math

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope

import mmscrl  # noqa: F401
from mmscrl.datasets.transforms.scrl_transforms import sample_scrl_box_pairs
from mmscrl.registry import TRANSFORMS
from mmscrl.structures.bbox import (bbox_overlaps, crop_resize_homography,
                                    flip_homography, map_boxes, view_region)

init_default_scope('mmscrl')


def view_pipeline(size, flip_prob=0.5, blur_prob=0.):
    return [
        dict(type='RandomResizedCropWithGeometry', scale=size,
             crop_ratio_range=(0.2, 1.), interpolation='bicubic',
             backend='pillow'),
        dict(type='RandomFlipWithGeometry', prob=flip_prob),
        dict(type='ResizeBlur', prob=blur_prob),
    ]


def two_views(size=224, flip_prob=0.5):
    return TRANSFORMS.build(
        dict(type='MultiViewWithGeometry', num_views=[1, 1],
             transforms=[view_pipeline(size, flip_prob),
                         view_pipeline(size, flip_prob)]))


def test_crop_and_flip_record_where_pixels_went():
    """The recorded homography moves a marker exactly where the image did."""
    rng = np.random.RandomState(0)
    crop = TRANSFORMS.build(
        dict(type='RandomResizedCropWithGeometry', scale=(96, 128),
             crop_ratio_range=(0.5, 1.), interpolation='nearest'))
    flip = TRANSFORMS.build(dict(type='RandomFlipWithGeometry', prob=1.))
    checked = 0
    for _ in range(20):
        h, w = rng.randint(150, 300), rng.randint(150, 300)
        img = np.zeros((h, w, 3), np.uint8)
        cx = rng.randint(w // 3, 2 * w // 3)
        cy = rng.randint(h // 3, 2 * h // 3)
        img[cy - 4:cy + 4, cx - 4:cx + 4] = 255  # marker [cx-4, cx+4)
        res = flip(crop(dict(img=img)))
        H = res['homography_matrix']
        assert res['flip'] and res['img'].shape[:2] == (96, 128)
        assert 'crop_bbox' not in res  # the region follows from H
        x1, y1, x2, y2 = view_region(H, (96, 128))
        if not (x1 <= cx - 4 and cx + 4 <= x2 and y1 <= cy - 4
                and cy + 4 <= y2):
            continue
        ys, xs = np.nonzero(res['img'][..., 0] > 127)
        expect = map_boxes(np.array([[cx - 4, cy - 4, cx + 4, cy + 4]]), H)[0]
        # pixel centres of the marker's rendering vs its mapped box centre
        assert abs(xs.mean() + 0.5 - (expect[0] + expect[2]) / 2) <= 1.
        assert abs(ys.mean() + 0.5 - (expect[1] + expect[3]) / 2) <= 1.
        checked += 1
    assert checked >= 5


def test_multiview_keeps_geometry_per_view():
    np.random.seed(1)
    out = two_views(64, flip_prob=0.5)(
        dict(img=np.zeros((120, 90, 3), np.uint8)))
    assert len(out['img']) == 2
    assert out['view_homography'].shape == (2, 3, 3)
    assert out['view_img_shape'].tolist() == [[64, 64], [64, 64]]
    for v in range(2):
        H = out['view_homography'][v]
        crop = out['view_crop_bbox'][v]
        assert 0 <= crop[0] < crop[2] <= 90 and 0 <= crop[1] < crop[3] <= 120
        np.testing.assert_allclose(view_region(H, (64, 64)), crop)


def test_multiview_rejects_geometry_losing_transforms():
    with pytest.raises(ValueError, match='RandomResizedCrop'):
        TRANSFORMS.build(
            dict(type='MultiViewWithGeometry', num_views=2,
                 transforms=[[dict(type='RandomResizedCrop', scale=32)]]))
    with pytest.raises(ValueError, match='RandomFlip'):
        TRANSFORMS.build(
            dict(type='MultiViewWithGeometry', num_views=2,
                 transforms=[[dict(type='RandomFlip', prob=0.5)]]))


@pytest.mark.parametrize('seed', range(4))
def test_box_pairs_back_project_to_one_region(seed):
    """Random image sizes, crops and flips: both boxes of a pair cover the
    same original-image rectangle (within 1 px) and lie inside their view."""
    np.random.seed(seed)
    size = 224
    views, sampler = two_views(size), TRANSFORMS.build(
        dict(type='SCRLBoxPairSampler'))
    n_pairs, flips = 0, set()
    for _ in range(25):
        h, w = np.random.randint(60, 700), np.random.randint(60, 700)
        res = sampler(views(dict(img=np.zeros((h, w, 3), np.uint8))))
        boxes, valid = res['scrl_boxes'], res['scrl_box_valid']
        assert boxes.shape == (2, 10, 4) and valid.shape == (10, )
        assert not boxes[:, ~valid].any()
        flips.update(bool(H[0, 0] < 0) for H in res['view_homography'])
        for v in range(2):
            b = boxes[v, valid]
            assert (b[:, :2] >= 0).all() and (b[:, 2:] <= size).all()
            assert (b[:, 2:] > b[:, :2]).all()
        inv = [np.linalg.inv(H) for H in res['view_homography']]
        o1 = map_boxes(boxes[0, valid], inv[0])
        o2 = map_boxes(boxes[1, valid], inv[1])
        assert np.abs(o1 - o2).max(initial=0) <= 1.
        # and inside both views' regions of the original image
        for v, o in enumerate((o1, o2)):
            c = res['view_crop_bbox'][v]
            assert (o[:, :2] >= c[:2] - 1).all()
            assert (o[:, 2:] <= c[2:] + 1).all()
        n_pairs += int(valid.sum())
    assert n_pairs > 100 and flips == {True, False}


def random_view(img_h, img_w, size=224, scale=(0.2, 1.)):
    """torchvision RandomResizedCrop parameters + flip, as a homography."""
    for _ in range(10):
        area = img_h * img_w * np.random.uniform(*scale)
        ratio = math.exp(np.random.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = int(round(math.sqrt(area * ratio))), int(
            round(math.sqrt(area / ratio)))
        if 0 < cw <= img_w and 0 < ch <= img_h:
            x, y = np.random.randint(0, img_w - cw + 1), np.random.randint(
                0, img_h - ch + 1)
            break
    else:
        x, y, cw, ch = 0, 0, img_w, img_h
    H = crop_resize_homography(x, y, cw, ch, size, size)
    if np.random.rand() < 0.5:
        H = flip_homography(size, size) @ H
    return H


@pytest.mark.parametrize('fallback', ['keep_last', 'skip'])
def test_sampler_statistics(fallback):
    """2000 random view pairs of 500x375 images: pairs per image, box sizes,
    IoU violations."""
    np.random.seed(0)
    per_image, fired, min_side, violations, pairs = [], 0, [], 0, 0
    for _ in range(2000):
        H1, H2 = random_view(375, 500), random_view(375, 500)
        b1, b2 = sample_scrl_box_pairs(H1, (224, 224), H2, (224, 224),
                                       fallback=fallback)
        per_image.append(len(b1))
        if len(b1):
            # min size 32 px in the less-zoomed view, per axis
            w = np.minimum(b1[:, 2] - b1[:, 0], b2[:, 2] - b2[:, 0])
            h = np.minimum(b1[:, 3] - b1[:, 1], b2[:, 3] - b2[:, 1])
            min_side.append(min(w.min(), h.min()))
            iou = _iou(b1)
            np.fill_diagonal(iou, 0)
            violations += int((iou.max(1) >= 0.5).sum())
            pairs += len(b1)
    per_image = np.array(per_image)
    assert per_image.max() <= 10
    assert min(min_side) >= 32 - 0.5 - 1e-3  # -0.5: overlap clipping
    frac = (per_image > 0).mean()
    assert 0.96 <= frac <= 1.0  # about 98.9 % of view pairs overlap enough
    if fallback == 'keep_last':
        # a valid image always yields exactly K pairs (official fallback)
        assert set(per_image.tolist()) <= {0, 10}
        assert violations / pairs < 0.03  # fallback fires ~0.008 per pair
    else:
        assert violations == 0
        assert per_image[per_image > 0].mean() > 9.5


def _iou(b):
    return bbox_overlaps(b, b)


def test_sampler_zero_overlap_and_tiny_overlap():
    H1 = crop_resize_homography(0, 0, 100, 100, 224, 224)
    H2 = crop_resize_homography(150, 0, 100, 100, 224, 224)  # disjoint
    b1, b2 = sample_scrl_box_pairs(H1, (224, 224), H2, (224, 224))
    assert b1.shape == b2.shape == (0, 4)
    # overlap of 14 original px = 31.4 view px <= 32: no boxes either
    H3 = crop_resize_homography(86, 0, 100, 100, 224, 224)
    assert len(sample_scrl_box_pairs(H1, (224, 224), H3, (224, 224))[0]) == 0
    # through the transform: zero boxes, all-invalid, still well-formed
    res = TRANSFORMS.build(dict(type='SCRLBoxPairSampler', num_boxes=4))(
        dict(view_homography=np.stack([H1, H2]),
             view_img_shape=np.array([[224, 224], [224, 224]])))
    assert res['scrl_boxes'].shape == (2, 4, 4)
    assert not res['scrl_box_valid'].any() and not res['scrl_boxes'].any()


@pytest.mark.parametrize('flip1,flip2', [(False, False), (True, False),
                                         (False, True), (True, True)])
def test_sampler_matches_official_formula(flip1, flip2):
    """randint -> low end: the box is the top-left min_size square of the
    overlap in the less-zoomed frame; compare with the official mapping
    l_v = box_x s_v / s_min + (int_l - x_v) s_v, flipped l <- 224 - r."""
    c1, c2 = (40, 30, 200, 150), (100, 60, 300, 250)  # x, y, w, h
    Hs = []
    for (x, y, w, h), f in ((c1, flip1), (c2, flip2)):
        H = crop_resize_homography(x, y, w, h, 224, 224)
        Hs.append(flip_homography(224, 224) @ H if f else H)
    b1, b2 = sample_scrl_box_pairs(
        Hs[0], (224, 224), Hs[1], (224, 224), num_boxes=3,
        randint=lambda lo, hi: lo)
    assert len(b1) == 3  # identical candidates: IoU 1, last one kept
    assert len(sample_scrl_box_pairs(
        Hs[0], (224, 224), Hs[1], (224, 224), num_boxes=3, fallback='skip',
        randint=lambda lo, hi: lo)[0]) == 1
    int_l, int_t = 100, 60
    s = [(224 / c[2], 224 / c[3]) for c in (c1, c2)]
    sw_min, sh_min = min(s[0][0], s[1][0]), min(s[0][1], s[1][1])
    for b, c, (sw, sh), f in ((b1, c1, s[0], flip1), (b2, c2, s[1], flip2)):
        l = 0 * sw / sw_min + (int_l - c[0]) * sw
        r = l + 32 * sw / sw_min
        t = 0 * sh / sh_min + (int_t - c[1]) * sh
        btm = t + 32 * sh / sh_min
        if f:
            l, r = 224 - r, 224 - l
        np.testing.assert_allclose(b[0], [l, t, r, btm], atol=1e-3)


def test_resize_blur():
    np.random.seed(0)
    img = np.random.randint(0, 255, (64, 48, 3), np.uint8)
    blur = TRANSFORMS.build(dict(type='ResizeBlur', prob=1.))
    out = blur(dict(img=img.copy()))['img']
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(out.astype(float) - img).mean() > 1  # it blurs
    assert out.std() < img.std()
    keep = TRANSFORMS.build(dict(type='ResizeBlur', prob=0.))
    np.testing.assert_array_equal(keep(dict(img=img.copy()))['img'], img)
    with pytest.raises(ValueError):
        TRANSFORMS.build(dict(type='ResizeBlur', factors=(0.5, )))


def test_config_pipeline_packs_and_collates(repo_root):
    """The ImageNet config's pipeline (minus loading) packs boxes that
    default_collate batches."""
    from mmengine.config import Config
    cfg = Config.fromfile(
        f'{repo_root}/configs/_base_/datasets/imagenet_scrl.py')
    pipe = [TRANSFORMS.build(t) for t in cfg.train_pipeline[1:]]
    np.random.seed(0)
    batch = []
    for i in range(3):
        res = dict(img=np.random.randint(0, 255, (200 + 30 * i, 260, 3),
                                         np.uint8), img_path=f'{i}.jpg')
        for t in pipe:
            res = t(res)
        batch.append(res)
    data = default_collate(batch)
    assert [tuple(x.shape) for x in data['inputs']] == [(3, 3, 224, 224)] * 2
    s = data['data_samples'][0]
    assert tuple(s.scrl_boxes.shape) == (2, 10, 4)
    assert s.scrl_box_valid.dtype in (np.bool_, torch.bool)


def test_sampler_reuses_view_regions():
    """The sampler reads ``view_crop_bbox`` from MultiViewWithGeometry
    instead of recomputing it; both paths draw the same pairs."""
    views = two_views(112)
    sampler = TRANSFORMS.build(dict(type='SCRLBoxPairSampler', min_size=16))
    for seed in range(5):
        np.random.seed(seed)
        res = views(dict(img=np.zeros((150, 200, 3), np.uint8)))
        bare = {k: res[k] for k in ('view_homography', 'view_img_shape')}
        state = np.random.get_state()
        with_regions = sampler(dict(res))
        np.random.set_state(state)
        without = sampler(bare)
        for k in ('scrl_boxes', 'scrl_box_valid'):
            np.testing.assert_array_equal(with_regions[k], without[k])


def test_ious_below_equals_bbox_overlaps():
    """The sampler's scalar IoU test is bbox_overlaps' to the last bit."""
    from mmscrl.datasets.transforms.scrl_transforms import _ious_below
    rng = np.random.default_rng(0)
    for _ in range(2000):
        k = int(rng.integers(1, 10))
        xy = rng.integers(0, 60, (k + 1, 2)).astype(float)
        wh = rng.integers(0, 40, (k + 1, 2)).astype(float)
        if rng.random() < 0.3:
            wh += rng.random((k + 1, 2))  # fractional (clipped) boxes
        boxes = np.concatenate([xy, xy + wh], 1)
        thr = float(rng.choice([0.0, 0.3, 0.5, 0.7]))
        expect = bool((bbox_overlaps(boxes[0], boxes[1:]) < thr).all())
        assert _ious_below(boxes[0], boxes[1:].tolist(), thr) == expect
