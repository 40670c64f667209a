# Copyright (c) mmscrl contributors. All rights reserved.
import json

import numpy as np
import pytest
import torch

from mmscrl.demo.generator import CLASSES, generate_demo_dataset
from mmscrl.evaluation.box_knn import (box_knn_metrics, dominant_labels,
                                       extract_box_features,
                                       load_coco_detection, load_images,
                                       roi_box_features)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('boxknn') / 'demo'
    return generate_demo_dataset(
        str(root), num_unlabeled=0, num_train=6, num_val=3, img_size=64)


def test_load_coco_detection(demo):
    data = load_coco_detection(demo['ann_train'], demo['train'])
    assert data['classes'] == list(CLASSES)
    with open(demo['ann_train']) as f:
        coco = json.load(f)
    assert sum(len(r['boxes']) for r in data['images']) == len(
        coco['annotations'])
    rec = data['images'][0]
    assert rec['boxes'].shape[1] == 4 and rec['boxes'].dtype == np.float32
    assert (rec['boxes'][:, 2:] > rec['boxes'][:, :2]).all()
    assert rec['labels'].min() >= 0 and rec['labels'].max() < len(CLASSES)
    assert len(load_coco_detection(demo['ann_train'], demo['train'],
                                   max_images=2)['images']) == 2


@pytest.mark.parametrize('edit,match', [
    (lambda c: c.pop('annotations'), '"annotations" list'),
    (lambda c: c['annotations'][0].update(bbox=[1, 2]), r'expected \[x, y'),
    (lambda c: c['annotations'][0].update(category_id=99), 'category_id 99'),
    (lambda c: c.update(annotations=[]), 'no image with a box'),
])
def test_load_coco_detection_bad_input(demo, tmp_path, edit, match):
    with open(demo['ann_train']) as f:
        coco = json.load(f)
    edit(coco)
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=match):
        load_coco_detection(str(bad), demo['train'])
    with pytest.raises(FileNotFoundError, match='no annotation file'):
        load_coco_detection(str(tmp_path / 'none.json'), demo['train'])


def test_load_images_scales_boxes(demo):
    data = load_coco_detection(demo['ann_train'], demo['train'])
    out = load_images(data['images'], 32)
    assert out['imgs'].shape == (6, 3, 32, 32)
    assert out['imgs'].dtype == torch.uint8
    np.testing.assert_allclose(out['boxes'][0].numpy(),
                               data['images'][0]['boxes'] / 2)


@pytest.mark.parametrize('boxes,labels,expected', [
    ([[[0, 0, 2, 2], [0, 0, 5, 5]]], [[3, 1]], [1]),
    ([[[0, 0, 4, 4], [0, 0, 2, 8]]], [[2, 0]], [2]),  # tie: first
    ([[[0, 0, 1, 1]], [[0, 0, 9, 1], [0, 0, 2, 2]]], [[4], [0, 3]], [4, 0]),
])
def test_dominant_labels(boxes, labels, expected):
    got = dominant_labels([np.array(b) for b in boxes],
                          [np.array(lab) for lab in labels])
    assert got.tolist() == expected


@pytest.mark.parametrize('scale', [1.0, 0.5, 0.25])
def test_roi_box_features_reads_inside_the_box(scale):
    # a map with value 1 in the top-left quadrant, 3 in the bottom-right
    size = int(32 * scale)
    feat = torch.zeros(1, 2, size, size)
    h = size // 2
    feat[0, :, :h, :h] = 1.
    feat[0, :, h:, h:] = 3.
    boxes = [torch.tensor([[0., 0., 16., 16.], [16., 16., 32., 32.]])]
    out = roi_box_features(feat, boxes, scale, roi_size=2)
    assert out.shape == (2, 2)
    assert out[0].tolist() == pytest.approx([1., 1.], abs=0.15)
    assert out[1].tolist() == pytest.approx([3., 3.], abs=0.3)


def test_roi_box_features_batch_order():
    feat = torch.arange(3.).view(3, 1, 1, 1).expand(3, 1, 8, 8).contiguous()
    boxes = [torch.tensor([[0., 0., 8., 8.]]), torch.zeros(0, 4),
             torch.tensor([[0., 0., 4., 4.], [2., 2., 6., 6.]])]
    out = roi_box_features(feat, boxes, 1.0)
    assert out[:, 0].tolist() == pytest.approx([0., 2., 2.])
    with pytest.raises(ValueError, match='box sets'):
        roi_box_features(feat, boxes[:2], 1.0)


def _synthetic(labels_per_image, noise, seed=0):
    """Features = class centre + noise, for boxes and images."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(5, 8, generator=g) * 4
    labels = [np.array(lab) for lab in labels_per_image]
    boxes = [np.array([[0, 0, 10 - j, 10 - j] for j in range(len(lab))],
                      np.float32) for lab in labels]
    box_l = torch.from_numpy(np.concatenate(labels))
    img_l = torch.from_numpy(dominant_labels(boxes, labels))
    feats = dict(
        box_feats=centres[box_l] + noise * torch.randn(len(box_l), 8,
                                                       generator=g),
        image_feats=centres[img_l] + noise * torch.randn(len(img_l), 8,
                                                         generator=g))
    return feats, labels, boxes


@pytest.mark.parametrize('protocol', ['loo', 'train_val'])
def test_box_knn_metrics_separable(protocol):
    labels = [[i % 5, (i + 1) % 5] for i in range(20)]
    feats, labels, boxes = _synthetic(labels, noise=0.1)
    kwargs = {}
    if protocol == 'train_val':
        # same class centres (seed 0), other noise draws than the train set
        vf, vl, vb = _synthetic([[(i + 2) % 5, i % 5] for i in range(5)],
                                0.1)
        kwargs = dict(val_feats=vf, val_labels=vl, val_boxes=vb)
    out = box_knn_metrics(feats, labels, boxes, 5, ks=(5, ), **kwargs)
    assert out['box_k5_top1'] == 100.
    assert out['image_k5_top1'] == 100.
    assert out['num_boxes'] == (40. if protocol == 'loo' else 10.)


def test_box_knn_loo_excludes_same_image():
    # each image holds two boxes of one class, and no other image has that
    # class: only the same image could give the right answer
    labels = [[i, i] for i in range(5)]
    feats, labels, boxes = _synthetic(labels, noise=0.01)
    out = box_knn_metrics(feats, labels, boxes, 5, ks=(1, ))
    assert out['box_k1_top1'] == 0.


def test_extract_box_features_shapes_and_mode(demo):
    from mmpretrain.models import ResNet
    data = load_coco_detection(demo['ann_val'], demo['val'])
    loaded = load_images(data['images'], 64)
    backbone = ResNet(depth=18, out_indices=(2, 3))
    backbone.train()
    out = extract_box_features(backbone, loaded['imgs'], loaded['boxes'],
                               batch_size=2)
    n_boxes = sum(len(b) for b in loaded['boxes'])
    assert out['box_feats'].shape == (n_boxes, 512)
    assert out['image_feats'].shape == (len(loaded['boxes']), 512)
    assert backbone.training  # mode restored
    out3 = extract_box_features(backbone, loaded['imgs'], loaded['boxes'],
                                stage=0)
    assert out3['box_feats'].shape == (n_boxes, 256)
    metrics = box_knn_metrics(out, [r['labels'] for r in data['images']],
                              loaded['boxes'], len(CLASSES), ks=(3, ))
    assert 0. <= metrics['box_k3_top1'] <= 100.
