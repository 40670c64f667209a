# Copyright (c) mmscrl contributors. All rights reserved.
"""ORLDataset: sampling from a correspondence file and the packed sample."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope

from mmscrl.datasets import ORLDataset
from mmscrl.orl import ORLCorrespondence, save_correspondence
from mmscrl.registry import MODELS

PATCH = 24
GLOBAL = 40


def _pipeline():
    view = [dict(type='RandomResizedCrop', scale=GLOBAL,
                 crop_ratio_range=(0.2, 1.), interpolation='bilinear',
                 backend='pillow'),
            dict(type='RandomFlip', prob=0.5),
            dict(type='Solarize', thr=128, prob=0.2)]
    return [
        dict(type='LoadImageFromFile'),
        dict(type='ORLCropPatches', patch_size=PATCH),
        dict(type='ORLMultiView', global_transforms=[view, view],
             patch_transforms=[view[1:], view[1:]]),
        dict(type='PackInputs', algorithm_keys=['inter_valid'],
             meta_keys=['sample_idx', 'img_path', 'knn_idx']),
    ]


def _make_corr(root, n=5, k=3):
    rng = np.random.default_rng(0)
    names, boxes, pairs = [], [], []
    (root / 'imgs').mkdir()
    for i in range(n):
        h, w = 60 + 4 * i, 80
        cv2.imwrite(str(root / 'imgs' / f'{i}.png'),
                    rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        names.append(f'{i}.png')
        boxes.append(np.array([[2, 3, 30, 30], [20, 10, 40, 44],
                               [40, 25, 35, 30]], np.float32))
    knn = np.array([[(i + j + 1) % n for j in range(k)] for i in range(n)])
    for i in range(n):
        # pair j of slot s: query box j, key box (j + s) % 3 of the kNN image
        pairs.append([
            np.concatenate([boxes[i][:2], boxes[knn[i, s]][[s % 3, 0]]],
                           axis=1) for s in range(k)
        ])
    return ORLCorrespondence(names, boxes, knn, pairs, dict(k=k))


@pytest.fixture(autouse=True)
def mmscrl_scope():
    init_default_scope('mmscrl')


@pytest.fixture
def corr_file(tmp_path):
    corr = _make_corr(tmp_path)
    path = str(tmp_path / 'corr.npz')
    save_correspondence(corr, path)
    return corr, path, str(tmp_path / 'imgs')


@pytest.mark.parametrize('ext', ['npz', 'json'])
def test_sample_structure_and_draws(tmp_path, ext):
    corr = _make_corr(tmp_path)
    path = str(tmp_path / f'corr.{ext}')
    save_correspondence(corr, path)
    ds = ORLDataset(ann_file=path, data_prefix=str(tmp_path / 'imgs'),
                    topk_knn_image=2, pipeline=_pipeline())
    assert len(ds) == 5
    seen_slots = set()
    for _ in range(12):
        out = ds[1]
        views = out['inputs']
        assert [tuple(v.shape) for v in views] == \
            [(3, GLOBAL, GLOBAL)] * 2 + [(3, PATCH, PATCH)] * 4
        assert all(v.dtype == torch.uint8 for v in views)
        ds_ = out['data_samples']
        assert ds_.inter_valid is True and ds_.sample_idx == 1
        assert ds_.img_path.endswith('1.png')
        # topk_knn_image=2: only the first two kNN slots are drawn
        assert ds_.knn_idx in corr.knn[1, :2].tolist()
        seen_slots.add(ds_.knn_idx)
    assert seen_slots == set(corr.knn[1, :2].tolist())


def test_raw_draws_come_from_the_file(corr_file):
    corr, path, prefix = corr_file
    ds = ORLDataset(ann_file=path, data_prefix=prefix, topk_knn_image=3)
    for _ in range(20):
        r = ds[2]  # empty pipeline: the drawn results
        slot = corr.knn[2].tolist().index(r['knn_idx'])
        assert any(np.array_equal(r['inter_pair'], p)
                   for p in corr.pairs[2][slot])
        assert any(np.array_equal(r['intra_box'], b) for b in corr.boxes[2])
        assert r['knn_img_path'].endswith(corr.file_names[r['knn_idx']])
        assert r['inter_valid']


def test_empty_pair_lists(tmp_path):
    corr = _make_corr(tmp_path)
    corr.pairs[0][0] = np.zeros((0, 8), np.float32)
    corr.pairs[0][2] = np.zeros((0, 8), np.float32)
    for s in range(3):
        corr.pairs[3][s] = np.zeros((0, 8), np.float32)
    corr.boxes[4] = np.zeros((0, 4), np.float32)
    path = str(tmp_path / 'corr.npz')
    save_correspondence(corr, path)
    ds = ORLDataset(ann_file=path, data_prefix=str(tmp_path / 'imgs'),
                    topk_knn_image=3, pipeline=_pipeline())
    raw = ORLDataset(ann_file=path, data_prefix=str(tmp_path / 'imgs'),
                     topk_knn_image=3)
    # slots without pairs are skipped
    assert {raw[0]['knn_idx'] for _ in range(10)} == {int(corr.knn[0, 1])}
    # no pair at all: sample kept, inter term masked
    out = ds[3]
    assert out['data_samples'].inter_valid is False
    # no box: the whole image is the intra box
    assert raw[4]['intra_box'] is None
    assert ds[4]['inputs'][2].shape == (3, PATCH, PATCH)
    # a batch mixing both collates and preprocesses into 6 view tensors
    batch = default_collate([ds[i] for i in range(5)])
    pre = MODELS.build(dict(type='SelfSupDataPreprocessor',
                            mean=[123.675, 116.28, 103.53],
                            std=[58.395, 57.12, 57.375], to_rgb=True))
    data = pre(batch, True)
    assert [tuple(v.shape) for v in data['inputs']] == \
        [(5, 3, GLOBAL, GLOBAL)] * 2 + [(5, 3, PATCH, PATCH)] * 4
    assert [d.inter_valid for d in data['data_samples']] == \
        [True, True, True, False, True]


def test_bad_arguments(corr_file):
    _, path, prefix = corr_file
    with pytest.raises(ValueError, match='topk_knn_image=4 exceeds'):
        ORLDataset(ann_file=path, data_prefix=prefix, topk_knn_image=4)
    with pytest.raises(ValueError, match='topk_knn_image must be'):
        ORLDataset(ann_file=path, data_prefix=prefix, topk_knn_image=0)


def test_data_root_joins_paths(corr_file, tmp_path):
    _, _, _ = corr_file
    ds = ORLDataset(ann_file='corr.npz', data_root=str(tmp_path),
                    data_prefix='imgs/', topk_knn_image=3)
    assert ds.get_data_info(0)['img_path'] == str(tmp_path / 'imgs' / '0.png')
