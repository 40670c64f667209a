# Copyright (c) mmscrl contributors. All rights reserved.
import hashlib
import json
import os
import os.path as osp

import numpy as np
import pytest
from pycocotools.coco import COCO

from mmscrl.demo import (CLASSES, dataset_is_complete, ensure_demo_dataset,
                         generate_demo_dataset, mask_to_bbox, render_scene)


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = osp.join(dirpath, name)
            h.update(osp.relpath(path, root).encode())
            with open(path, 'rb') as f:
                h.update(f.read())
    return h.hexdigest()


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo') / 'data'
    paths = generate_demo_dataset(str(root), num_unlabeled=6, num_train=12,
                                  num_val=5, img_size=96, seed=3)
    return paths


def test_layout(demo):
    assert len(os.listdir(demo['unlabeled'])) == 6
    assert len(os.listdir(demo['train'])) == 12
    assert len(os.listdir(demo['val'])) == 5
    for key in ('ann_train', 'ann_val', 'ann_unlabeled'):
        assert osp.isfile(demo[key])
    assert not [n for n in os.listdir(osp.dirname(demo['root']))
                if n.startswith('.demo_')]


def test_deterministic(demo, tmp_path):
    again = generate_demo_dataset(str(tmp_path / 'again'), num_unlabeled=6,
                                  num_train=12, num_val=5, img_size=96,
                                  seed=3)
    assert _digest(demo['root']) == _digest(again['root'])
    other = generate_demo_dataset(str(tmp_path / 'other'), num_unlabeled=6,
                                  num_train=12, num_val=5, img_size=96,
                                  seed=4)
    assert _digest(other['root']) != _digest(demo['root'])


def test_image_independent_of_split_sizes(demo, tmp_path):
    # image i of a split depends only on (seed, split, i)
    small = generate_demo_dataset(str(tmp_path / 'small'), num_unlabeled=2,
                                  num_train=3, num_val=1, img_size=96, seed=3)
    for split in ('unlabeled', 'train', 'val'):
        with open(osp.join(small[split], '000000.jpg'), 'rb') as f1, \
                open(osp.join(demo[split], '000000.jpg'), 'rb') as f2:
            assert f1.read() == f2.read()


@pytest.mark.parametrize('split', ['train', 'val'])
def test_valid_coco(demo, split):
    coco = COCO(demo[f'ann_{split}'])
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == \
        list(CLASSES)
    assert len(coco.getImgIds()) == len(os.listdir(demo[split]))
    ann_ids = coco.getAnnIds()
    assert len(ann_ids) >= len(coco.getImgIds())  # >= 1 object per image
    ids = [a['id'] for a in coco.loadAnns(ann_ids)]
    assert len(set(ids)) == len(ids)
    for ann in coco.loadAnns(ann_ids):
        img = coco.loadImgs(ann['image_id'])[0]
        assert img['width'] == img['height'] == 96
        assert osp.isfile(osp.join(demo[split], img['file_name']))
        mask = coco.annToMask(ann)
        assert mask.shape == (96, 96)
        # masks and boxes agree exactly; area is the mask area
        assert mask_to_bbox(mask) == ann['bbox']
        assert ann['area'] == float(mask.sum()) > 0
        assert ann['iscrowd'] == 0
        assert 1 <= ann['category_id'] <= len(CLASSES)


def test_masks_disjoint_and_visible(demo):
    coco = COCO(demo['ann_train'])
    occluded = 0
    for img_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id]))
        masks = np.stack([coco.annToMask(a) for a in anns])
        # visible masks never overlap (occluded parts are removed)
        assert masks.sum(0).max() <= 1
        occluded += len(anns) > 1
    assert occluded > 0


def test_unlabeled_has_no_annotations(demo):
    with open(demo['ann_unlabeled']) as f:
        data = json.load(f)
    assert len(data['images']) == 6 and data['annotations'] == []


def test_render_scene_occlusion_rule():
    rng = np.random.default_rng(0)
    for _ in range(20):
        img, objs = render_scene(rng, 64, max_objects=6,
                                 min_visible_fraction=0.5)
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8
        for o in objs:
            assert o['mask'].dtype == bool and o['mask'].any()


def test_ensure_reuses_and_regenerates(tmp_path):
    root = str(tmp_path / 'd')
    kw = dict(num_unlabeled=1, num_train=1, num_val=1, img_size=48, seed=0)
    ensure_demo_dataset(root, verbose=False, **kw)
    assert dataset_is_complete(root, **kw)
    stamp = os.stat(osp.join(root, 'meta.json')).st_mtime_ns
    ensure_demo_dataset(root, verbose=False, **kw)
    assert os.stat(osp.join(root, 'meta.json')).st_mtime_ns == stamp
    kw['seed'] = 1
    assert not dataset_is_complete(root, **kw)
    ensure_demo_dataset(root, verbose=False, **kw)
    assert dataset_is_complete(root, **kw)


@pytest.mark.parametrize('kwargs', [
    dict(num_train=-1),
    dict(img_size=16),
    dict(max_objects=0),
])
def test_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        generate_demo_dataset(str(tmp_path / 'x'), **kwargs)
