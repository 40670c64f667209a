# Copyright (c) mmscrl contributors. All rights reserved.
"""Fast view pipelines against the reference ones, from the same seeds.

For every pre-training pipeline the repo ships, the fast path must draw the
same parameters (identical geometry, identical RNG state afterwards), and
give pixels within the stated bound: mean absolute difference <= 1 grey
level per view on average, PSNR >= 40 dB on average (individual views: MAD
<= 2.5 -- a contrast mean one level apart shifts a whole view by one).
"""
import random

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmscrl  # noqa: F401
from mmscrl.registry import TRANSFORMS
from mmscrl.datasets.transforms.fast_transforms import (
    FAST_EQUIVALENTS, FastColorJitter, FastRandomResizedCrop,
    FastViewPipeline, to_fast_pipeline)

from test_fast_ops import IMAGES, mad, photo_like, psnr

CONFIGS = 'configs/_base_/datasets/'
init_default_scope('mmscrl')


def _cfg(name):
    import os.path as osp
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    return Config.fromfile(osp.join(root, CONFIGS, name))


def _view_pipelines():
    """name -> list of reference view pipelines (configs)."""
    scrl = _cfg('imagenet_scrl.py')
    byol = _cfg('coco_orl_stage1.py')
    moco = _cfg('imagenet_mocov2.py')
    demo = _cfg('demo_scrl.py')
    return {
        'SCRL': [scrl.view_pipeline1, scrl.view_pipeline2],
        'BYOL/ORL stage 1': [byol.view_pipeline1, byol.view_pipeline2],
        'MoCo v2/DenseCL': [moco.view_pipeline, moco.view_pipeline],
        'SCRL demo': [demo.view_pipeline1, demo.view_pipeline2],
    }


def _seed(s):
    np.random.seed(s)
    random.seed(s)


def _rng_state():
    return np.random.get_state()[1].copy(), random.getstate()


def _multi_view(pipes, fast):
    return TRANSFORMS.build(
        dict(type='MultiViewWithGeometry', num_views=[1] * len(pipes),
             transforms=pipes, fast=fast))


@pytest.mark.parametrize('name', sorted(_view_pipelines()))
def test_fast_pipeline_draws_and_records_as_reference(name):
    pipes = _view_pipelines()[name]
    ref_t, fast_t = _multi_view(pipes, False), _multi_view(pipes, True)
    mads, psnrs = [], []
    for trial in range(12):
        img = (IMAGES['photo']() if trial % 2 else photo_like(
            375 + 17 * trial, 500 - 9 * trial, seed=trial))
        _seed(trial)
        ref = ref_t(dict(img=img.copy(), img_path='x.jpg'))
        state_ref = _rng_state()
        _seed(trial)
        out = fast_t(dict(img=img.copy(), img_path='x.jpg'))
        state_fast = _rng_state()
        # same draws: identical RNG streams afterwards, identical geometry
        np.testing.assert_array_equal(state_ref[0], state_fast[0])
        assert state_ref[1] == state_fast[1]
        np.testing.assert_array_equal(ref['view_homography'],
                                      out['view_homography'])
        np.testing.assert_array_equal(ref['view_crop_bbox'],
                                      out['view_crop_bbox'])
        np.testing.assert_array_equal(ref['view_img_shape'],
                                      out['view_img_shape'])
        for a, b in zip(ref['img'], out['img']):
            assert a.shape == b.shape and b.dtype == np.uint8
            assert b.flags['C_CONTIGUOUS']
            mads.append(mad(a, b))
            psnrs.append(min(psnr(a, b), 99.))
            assert mads[-1] <= 2.5, (trial, mads[-1])
    print(f'{name}: per-view MAD mean {np.mean(mads):.3f} max '
          f'{np.max(mads):.3f}, PSNR mean {np.mean(psnrs):.1f} min '
          f'{np.min(psnrs):.1f} dB')
    assert np.mean(mads) <= 1.0, mads
    assert np.mean(psnrs) >= 40, psnrs


def test_box_pairs_identical_after_fast_views():
    """SCRL's boxes come from the geometry: the same with the fast views."""
    cfg = _cfg('imagenet_scrl.py')
    sampler = TRANSFORMS.build(cfg.train_pipeline[2])
    pipes = [cfg.view_pipeline1, cfg.view_pipeline2]
    img = photo_like(375, 500, seed=3)
    for fast in (False, True):
        _seed(5)
        res = sampler(_multi_view(pipes, fast)(dict(img=img.copy())))
        if not fast:
            ref_boxes = res['scrl_boxes']
    np.testing.assert_array_equal(ref_boxes, res['scrl_boxes'])


def test_parameter_distributions_match_reference():
    """Two-sample tests on many draws of the fast and the reference op
    (different seeds): crop scale/aspect and jitter factors."""
    from scipy.stats import ks_2samp
    from mmpretrain.datasets.transforms import ColorJitter

    from mmscrl.datasets.transforms.scrl_transforms import \
        RandomResizedCropWithGeometry
    n = 3000
    kw = dict(scale=224, crop_ratio_range=(0.2, 1.), backend='pillow',
              interpolation='bicubic')
    ref, fast = RandomResizedCropWithGeometry(**kw), FastRandomResizedCrop(
        **kw)
    img = np.zeros((375, 500, 3), np.uint8)
    _seed(1)
    a = np.array([ref.rand_crop_params(img) for _ in range(n)], float)
    _seed(2)
    b = np.array([fast.draw((375, 500))[0] for _ in range(n)], float)
    for col in range(4):
        assert ks_2samp(a[:, col], b[:, col]).pvalue > 1e-3
    kw = dict(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)
    cj_ref, cj_fast = ColorJitter(**kw), FastColorJitter(**kw)
    _seed(3)
    a = [cj_ref._rand_params() for _ in range(n)]
    _seed(4)
    b = [cj_fast.draw((224, 224))[0] for _ in range(n)]
    for k in range(1, 5):
        assert ks_2samp([p[k] for p in a], [p[k] for p in b]).pvalue > 1e-3
    firsts_a = np.bincount([p[0][0] for p in a], minlength=4) / n
    firsts_b = np.bincount([p[0][0] for p in b], minlength=4) / n
    assert np.abs(firsts_a - firsts_b).max() < 0.05


@pytest.mark.parametrize('ref_type', sorted(FAST_EQUIVALENTS))
def test_every_fast_op_is_a_drop_in(ref_type):
    """Each fast op alone, in an ordinary pipeline, draws as its reference
    and changes the image as it does (within the per-op bounds)."""
    cfgs = {
        'RandomResizedCrop': dict(scale=96, crop_ratio_range=(0.2, 1.),
                                  backend='pillow'),
        'ColorJitter': dict(brightness=0.4, contrast=0.4, saturation=0.4,
                            hue=0.1),
        'RandomGrayscale': dict(prob=0.5, keep_channels=True,
                                channel_weights=(0.114, 0.587, 0.2989)),
        'GaussianBlur': dict(magnitude_range=(0.1, 2.0), magnitude_std='inf',
                             prob=0.5),
        'Solarize': dict(thr=128, prob=0.5),
        'RandomFlip': dict(prob=0.5),
        'ResizeBlur': dict(prob=0.5),
        'RandomApply': dict(transforms=[dict(type='Solarize', thr=100,
                                             prob=1.)], prob=0.5),
    }
    cfgs['RandomResizedCropWithGeometry'] = cfgs['RandomResizedCrop']
    cfgs['RandomFlipWithGeometry'] = cfgs['RandomFlip']
    cfg = dict(type=ref_type, **cfgs[ref_type])
    ref = TRANSFORMS.build(cfg)
    fast = to_fast_pipeline([cfg])[0]
    assert type(fast).__name__ == FAST_EQUIVALENTS[ref_type]
    mads = []
    for trial in range(6):
        img = photo_like(120, 160, seed=trial)
        _seed(trial)
        a = ref(dict(img=img.copy()))
        sa = _rng_state()
        _seed(trial)
        b = fast(dict(img=img.copy()))
        sb = _rng_state()
        np.testing.assert_array_equal(sa[0], sb[0])
        assert sa[1] == sb[1]
        assert a['img'].shape == b['img'].shape
        mads.append(mad(a['img'], b['img']))
        assert mads[-1] <= 1.5
        if 'homography_matrix' in a:
            np.testing.assert_array_equal(a['homography_matrix'],
                                          b['homography_matrix'])
    assert np.mean(mads) <= 1.0


def test_unsupported_op_names_itself():
    with pytest.raises(ValueError, match='Posterize.*fast=False'):
        FastViewPipeline([dict(type='Posterize', bits=4)], 'my pipeline')
    with pytest.raises(ValueError, match='pillow'):
        to_fast_pipeline([dict(type='ColorJitter', brightness=0.4,
                               backend='cv2')])


def test_orl_multi_view_fast_matches_reference():
    cfg = _cfg('coco_orl_stage3.py')
    mv = [t for t in cfg.train_pipeline if t['type'] == 'ORLMultiView'][0]
    ref_t = TRANSFORMS.build(dict(mv, fast=False))
    fast_t = TRANSFORMS.build(dict(mv, fast=True))
    img = photo_like(375, 500, seed=7)
    patches = [photo_like(96, 96, seed=s) for s in range(4)]

    def sample():
        return dict(img=img.copy(), ipatch=[p.copy() for p in patches[:2]],
                    kpatch=[p.copy() for p in patches[2:]])

    for trial in range(4):
        _seed(trial)
        a = ref_t(sample())
        sa = _rng_state()
        _seed(trial)
        b = fast_t(sample())
        np.testing.assert_array_equal(sa[0], _rng_state()[0])
        assert len(a['img']) == len(b['img']) == 6
        for x, y in zip(a['img'], b['img']):
            assert x.shape == y.shape
            assert mad(x, y) <= 2.5


@pytest.mark.parametrize('box', [(10.4, 20.6, 150.2, 90.7),
                                 (-30, -12, 120, 80), (400, 300, 150, 120),
                                 (0, 0, 500, 375), (100, 50, 40, 30)])
@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
def test_orl_crop_patch_fast_matches_reference(box, interpolation):
    """Zero padding outside the image, rounding and PIL's resize kept."""
    from mmscrl.datasets.transforms.orl_transforms import crop_patch
    img = photo_like(375, 500, seed=11)
    ref = crop_patch(img, box, 96, interpolation)
    out = crop_patch(img, box, 96, interpolation, fast=True)
    assert out.shape == ref.shape == (96, 96, 3)
    assert mad(out, ref) <= 0.05
    assert np.abs(out.astype(int) - ref).max() <= 2
