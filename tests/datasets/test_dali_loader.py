# Copyright (c) mmscrl contributors. All rights reserved.
"""The optional DALI loader (CPU operators) against the CPU pipeline.

Skipped unless ``nvidia-dali-cuda120`` is installed (``pip install -e
.[dali]``; ``.ci/run`` installs it). Same seeds -> the same view parameters,
geometry and SCRL boxes as the CPU loader; pixels within the stated bound.
"""
import os.path as osp
import random

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip('nvidia.dali')

from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import mmscrl  # noqa: F401,E402
from mmscrl.datasets.dali_loader import (DALITwoViewLoader,  # noqa: E402
                                         view_params)
from test_fast_ops import mad, photo_like, real_photo  # noqa: E402

init_default_scope('mmscrl')
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def image_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('dali_imgs')
    photo = real_photo()
    for i in range(6):
        img = photo_like(375 + 10 * i, 500, seed=i) if i % 2 else \
            cv2.resize(photo, (500 - 20 * i, 375))
        cv2.imwrite(str(root / f'{i:03d}.jpg'), img,
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
    return str(root)


def _dataset(cfg_file, root):
    from mmpretrain.datasets import CustomDataset
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/datasets', cfg_file))
    return CustomDataset(data_root=root, data_prefix='', with_label=False,
                         pipeline=cfg.train_pipeline)


def _cpu_batch(dataset, indices, seed):
    from mmengine.dataset import default_collate
    np.random.seed(seed)
    random.seed(seed)
    return default_collate([dataset[int(i)] for i in indices])


@pytest.mark.parametrize('cfg_file', ['imagenet_scrl.py',
                                      'coco_orl_stage1.py',
                                      'imagenet_mocov2.py'])
def test_dali_views_match_cpu_pipeline(image_dir, cfg_file):
    dataset = _dataset(cfg_file, image_dir)
    loader = DALITwoViewLoader(dataset, batch_size=3, num_threads=1,
                               shuffle=False, seed=7, epochs=1)
    batches = list(loader)
    assert len(batches) == len(loader) == 2
    dali = batches[0]
    cpu = _cpu_batch(dataset, range(3), seed=7)
    assert len(dali['inputs']) == len(cpu['inputs']) == 2
    mads = []
    for a, b in zip(dali['inputs'], cpu['inputs']):
        assert a.shape == b.shape and a.dtype == b.dtype == torch.uint8
        for x, y in zip(a, b):
            mads.append(mad(x.permute(1, 2, 0).numpy(),
                            y.permute(1, 2, 0).numpy()))
    for ds, cs in zip(dali['data_samples'], cpu['data_samples']):
        for key in ('scrl_boxes', 'scrl_box_valid'):
            if key in cs:
                np.testing.assert_array_equal(np.asarray(ds.get(key)),
                                              np.asarray(cs.get(key)))
    print(f'{cfg_file}: DALI vs CPU fast views, MAD per view '
          f'{np.round(mads, 2).tolist()}')
    assert np.mean(mads) <= 1.0 and max(mads) <= 2.0


def test_view_params_refuse_what_dali_cannot_do():
    from mmscrl.datasets.transforms.fast_transforms import FastViewPipeline
    bad = FastViewPipeline([
        dict(type='RandomResizedCrop', scale=32),
        dict(type='Solarize', thr=128, prob=1.),
        dict(type='ColorJitter', brightness=0.4)])
    with pytest.raises(ValueError, match='jitter after solarize'):
        view_params(bad, bad.draw((64, 64))[0])
    no_crop = FastViewPipeline([dict(type='Solarize', thr=128, prob=1.)])
    with pytest.raises(ValueError, match='start with RandomResizedCrop'):
        view_params(no_crop, no_crop.draw((64, 64))[0])


def test_too_few_samples_for_a_batch_is_refused(image_dir):
    dataset = _dataset('imagenet_scrl.py', image_dir)
    msg = r'6 samples \(6 per rank of 1\) make no batch of 8'
    with pytest.raises(ValueError, match=msg):
        DALITwoViewLoader(dataset, batch_size=8, drop_last=True)


def test_bad_device_is_refused(image_dir):
    dataset = _dataset('imagenet_scrl.py', image_dir)
    with pytest.raises(ValueError, match="'cpu' or 'gpu', got 'tpu'"):
        DALITwoViewLoader(dataset, batch_size=2, device='tpu')
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match='no CUDA device'):
            DALITwoViewLoader(dataset, batch_size=2, device='gpu')


def test_arithmetic_contrast_equals_dali_contrast():
    """The graph blends towards the grey mean with arithmetic (a GPU mean
    cannot be a named argument); it must equal ``fn.contrast``."""
    from nvidia.dali import fn, pipeline_def, types
    import nvidia.dali.math as dmath
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
            for _ in range(3)]
    factors = [np.array(f, np.float32) for f in (0.6, 1.0, 1.4)]

    @pipeline_def
    def graph():
        v, c = fn.external_source(source=lambda: (imgs, factors),
                                  num_outputs=2, batch=True)
        grey = fn.color_space_conversion(v, image_type=types.RGB,
                                         output_type=types.GRAY)
        mean = dmath.floor(fn.reductions.mean(grey) + 0.5)
        ref = fn.contrast(v, contrast=c, contrast_center=mean,
                          dtype=types.FLOAT)
        alt = (fn.cast(v, dtype=types.FLOAT) - mean) * c + mean
        return ref, alt

    pipe = graph(batch_size=3, num_threads=1, device_id=None)
    pipe.build()
    ref, alt = pipe.run()
    for b in range(3):
        np.testing.assert_allclose(np.array(alt[b]), np.array(ref[b]),
                                   atol=1e-4)


def test_ranks_shard_as_default_sampler(image_dir):
    dataset = _dataset('imagenet_scrl.py', image_dir)
    n = len(dataset)
    orders = []
    for rank in range(4):
        loader = DALITwoViewLoader(dataset, batch_size=1, rank=rank,
                                   world_size=4, epochs=1)
        orders.append(loader._order(0))
        assert len(loader) == 2  # ceil(6 / 4), padded
    assert len({len(o) for o in orders}) == 1
    flat = np.concatenate(orders)
    assert set(flat.tolist()) == set(range(n)) and len(flat) == 8
    with pytest.raises(ValueError, match=r'rank 4 is not in \[0, '):
        DALITwoViewLoader(dataset, batch_size=1, rank=4, world_size=4)


def test_epochs_draw_different_views(image_dir):
    dataset = _dataset('imagenet_scrl.py', image_dir)
    loader = DALITwoViewLoader(dataset, batch_size=2, num_threads=1,
                               shuffle=False, seed=5, epochs=1)
    first = next(iter(loader))
    again = next(iter(loader))  # same epoch again: same views
    loader.set_epoch(1)
    second = next(iter(loader))
    assert torch.equal(first['inputs'][0], again['inputs'][0])
    assert not torch.equal(first['inputs'][0], second['inputs'][0])
