# Copyright (c) mmscrl contributors. All rights reserved.
import hashlib
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmscrl.demo import (CLASSES, MARKER, DemoDataDirError,
                         dataset_is_complete, ensure_demo_dataset,
                         generate_demo_dataset, mask_to_bbox, render_scene)
from mmscrl.demo.colour_probe import (colour_features, colour_probe,
                                      demo_colour_probe,
                                      fit_nearest_centroid,
                                      predict_nearest_centroid)


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
                                  num_val=5, img_size=96, seed=3, version=2)
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
                                  seed=3, version=2)
    assert _digest(demo['root']) == _digest(again['root'])
    other = generate_demo_dataset(str(tmp_path / 'other'), num_unlabeled=6,
                                  num_train=12, num_val=5, img_size=96,
                                  seed=4, version=2)
    assert _digest(other['root']) != _digest(demo['root'])


def test_image_independent_of_split_sizes(demo, tmp_path):
    # image i of a split depends only on (seed, split, i)
    small = generate_demo_dataset(str(tmp_path / 'small'), num_unlabeled=2,
                                  num_train=3, num_val=1, img_size=96, seed=3,
                                  version=2)
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


# ------------------------------------------------- version 3 (issue 20)
def _scene_digest(version=None, size=96):
    """SHA-256 of the pixels, visible masks and classes of six scenes, drawn
    from the same per-image seeds as ``generate_demo_dataset(seed=3)``
    (arrays, not JPEG files: no dependence on the JPEG encoder)."""
    h = hashlib.sha256()
    kw = {} if version is None else dict(version=version)
    for split in range(3):
        for idx in range(2):
            rng = np.random.default_rng([3, split, idx])
            img, objs = render_scene(rng, size, max_objects=5, **kw)
            h.update(img.tobytes())
            for o in objs:
                h.update(bytes([o['category_id']]))
                h.update(np.packbits(o['mask']).tobytes())
    return h.hexdigest()


# recorded from the generator before version 3 was added: version 2 must
# keep drawing the same scenes
V2_SCENES_SHA256 = \
    'aa9235c2a12e56118907b9327d4fcd908212e1c481d90b61f164c9b8ad2b3c96'


def test_version2_unchanged_and_version3_is_the_default():
    assert _scene_digest(version=2) == V2_SCENES_SHA256
    assert _scene_digest(version=3) != V2_SCENES_SHA256
    assert _scene_digest() == _scene_digest(version=3)


def test_version2_metadata(demo):
    with open(osp.join(demo['root'], 'meta.json')) as f:
        meta = json.load(f)
    assert meta == dict(version=2, num_unlabeled=6, num_train=12,
                        num_val=5, img_size=96, seed=3, max_objects=5,
                        classes=list(CLASSES))
    with open(osp.join(demo['root'], MARKER)) as f:
        assert json.load(f)['version'] == 2
    with open(demo['ann_train']) as f:
        assert json.load(f)['info']['version'] == '2'


def test_version3_data_set(demo, tmp_path):
    kw = dict(num_unlabeled=6, num_train=12, num_val=5, img_size=96, seed=3)
    v3 = generate_demo_dataset(str(tmp_path / 'v3'), **kw)  # the default
    with open(osp.join(v3['root'], 'meta.json')) as f:
        assert json.load(f)['version'] == 3
    with open(osp.join(v3['root'], MARKER)) as f:
        assert json.load(f)['version'] == 3
    # the same layout, a valid COCO file of visible masks
    for split in ('unlabeled', 'train', 'val'):
        assert sorted(os.listdir(v3[split])) == \
            sorted(os.listdir(demo[split]))
    coco = COCO(v3['ann_train'])
    assert coco.dataset['info']['version'] == '3'
    for img_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id]))
        assert 1 <= len(anns) <= 5
        masks = np.stack([coco.annToMask(a) for a in anns])
        assert masks.sum(0).max() <= 1
        for a, m in zip(anns, masks):
            assert mask_to_bbox(m) == a['bbox']
    # deterministic, and not version 2
    again = generate_demo_dataset(str(tmp_path / 'again'), version=3, **kw)
    assert _digest(again['root']) == _digest(v3['root'])
    assert _digest(v3['root']) != _digest(demo['root'])


def test_version3_hues_span_every_class():
    """Every class takes hues all over the circle (v2: one range each)."""
    hues = {c: [] for c in range(1, len(CLASSES) + 1)}
    for i in range(60):
        img, objs = render_scene(np.random.default_rng([7, i]), 64,
                                 version=3)
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        for o in objs:
            sat = hsv[..., 1][o['mask']]
            hues[o['category_id']].append(
                np.median(hsv[..., 0][o['mask']][sat > 80]))
    for cls, h in hues.items():
        h = np.asarray(h)
        h = h[~np.isnan(h)]
        # at least 3 of the 6 hue sextants seen per class
        assert len(np.unique((h // 30).astype(int))) >= 3, (cls, h)


def test_ensure_switches_version(tmp_path):
    root = str(tmp_path / 'd')
    kw = dict(num_unlabeled=1, num_train=1, num_val=1, img_size=48, seed=0)
    ensure_demo_dataset(root, verbose=False, version=2, **kw)
    assert dataset_is_complete(root, version=2, **kw)
    assert not dataset_is_complete(root, version=3, **kw)
    assert not dataset_is_complete(root, **kw)  # the default is 3
    ensure_demo_dataset(root, verbose=False, version=3, **kw)
    assert dataset_is_complete(root, version=3, **kw)
    assert dataset_is_complete(root, **kw)
    # a file of the user's in the set: switching back is refused, nothing
    # is deleted
    (tmp_path / 'd' / 'notes.txt').write_text('mine')
    with pytest.raises(DemoDataDirError, match='notes.txt'):
        ensure_demo_dataset(root, verbose=False, version=2, **kw)
    assert (tmp_path / 'd' / 'notes.txt').read_text() == 'mine'
    assert dataset_is_complete(root, version=3, **kw)


@pytest.mark.parametrize('version', [1, 4, '3', 2.0, True, None])
def test_bad_version(tmp_path, version):
    with pytest.raises(ValueError, match='version must be one of'):
        generate_demo_dataset(str(tmp_path / 'x'), version=version)
    with pytest.raises(ValueError, match='version must be one of'):
        ensure_demo_dataset(str(tmp_path / 'x'), version=version)
    assert not (tmp_path / 'x').exists()


def test_colour_features():
    hsv = np.zeros((4, 4, 3), np.uint8)
    hsv[:2] = (5, 255, 200)  # hue bin 0 of 18
    hsv[2:] = (95, 51, 100)  # hue bin 9
    mask = np.zeros((4, 4), bool)
    mask[1:3] = True  # 4 pixels of each
    f = colour_features(hsv, mask)
    assert f.shape == (20, )
    np.testing.assert_allclose(f[0], 255 / (255 + 51))
    np.testing.assert_allclose(f[9], 51 / (255 + 51))
    np.testing.assert_allclose(f[-2:], [(255 + 51) / 510, 300 / 510])
    f = colour_features(hsv, mask, hue_bins=6, weight_by_saturation=False)
    np.testing.assert_allclose(f[:6], [.5, 0, 0, .5, 0, 0])
    with pytest.raises(ValueError, match='empty mask'):
        colour_features(hsv, np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match='shape'):
        colour_features(hsv, np.ones((3, 4), bool))


def test_nearest_centroid():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (20, 3)),
                        rng.normal(5, 1, (20, 3))])
    x[:, 2] = 7.  # a constant feature is left unscaled
    y = np.repeat([3, 8], 20)
    model = fit_nearest_centroid(x, y)
    assert model['classes'].tolist() == [3, 8]
    assert (predict_nearest_centroid(model, x) == y).mean() > 0.95
    assert predict_nearest_centroid(model, [[6., 5., 7.]]).tolist() == [8]
    with pytest.raises(ValueError, match='fit_nearest_centroid'):
        fit_nearest_centroid(x, y[:5])


def test_colour_probe_errors(demo, tmp_path):
    with pytest.raises(FileNotFoundError, match='no annotation file'):
        colour_probe((str(tmp_path / 'none.json'), demo['train']),
                     (demo['ann_val'], demo['val']))
    with pytest.raises(FileNotFoundError, match='000000.jpg'):
        colour_probe((demo['ann_train'], str(tmp_path)),
                     (demo['ann_val'], demo['val']))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": 3}')
    with pytest.raises(ValueError, match='bad.json'):
        colour_probe((str(bad), demo['train']),
                     (demo['ann_val'], demo['val']))
    with pytest.raises(ValueError, match='unlabeled.*no object'):
        colour_probe((demo['ann_unlabeled'], demo['unlabeled']),
                     (demo['ann_val'], demo['val']))


@pytest.fixture(scope='module')
def probe_sets(tmp_path_factory):
    """Labelled splits of both versions, same seed and sizes."""
    root = tmp_path_factory.mktemp('probe')
    kw = dict(num_unlabeled=0, num_train=200, num_val=100, img_size=64,
              seed=0)
    return {v: generate_demo_dataset(str(root / f'v{v}'), version=v, **kw)
            for v in (2, 3)}


def test_colour_alone_cannot_tell_the_class(probe_sets):
    """Issue 20: a nearest-centroid classifier on the colour of the
    visible pixels of each object names the class on version 2 (so the
    measurement can fail) and is near chance (0.2) on version 3."""
    acc = {v: demo_colour_probe(p['root']) for v, p in probe_sets.items()}
    for res in acc.values():
        assert res['chance'] == pytest.approx(1 / len(CLASSES))
        assert res['num_train'] > 200 and res['num_val'] > 100
    assert acc[2]['accuracy'] > 0.9, acc[2]
    assert acc[3]['accuracy'] < acc[3]['chance'] + 0.15, acc[3]


def test_generate_tool_version_and_probe(repo_root, tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'demo_generate_demo_data',
        osp.join(repo_root, 'tools', 'demo', 'generate_demo_data.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tool.main([
        '--out-dir', str(tmp_path / 'd'), '--num-unlabeled', '1',
        '--num-train', '8', '--num-val', '4', '--img-size', '48',
        '--data-version', '3', '--colour-probe'
    ])
    assert dataset_is_complete(str(tmp_path / 'd'), num_unlabeled=1,
                               num_train=8, num_val=4, img_size=48,
                               version=3)
    log = capsys.readouterr().out
    assert 'colour-only nearest-centroid accuracy on val' in log
    assert 'data version 3' in log
    assert 0. <= out['colour_probe']['accuracy'] <= 1.
    with pytest.raises(SystemExit):
        tool.main(['--out-dir', str(tmp_path / 'e'), '--data-version', '4'])
