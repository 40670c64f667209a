# Copyright (c) mmscrl contributors. All rights reserved.
"""CheckedCocoDataset: mmdet's CocoDataset data, with the drops counted."""
import json

import pytest

import mmscrl  # noqa: F401
from mmscrl.datasets import coco_detection
from mmscrl.datasets.coco_detection import (CheckedCocoDataset,
                                            classify_dropped_annotation)

CLASSES = ('disk', 'square')


def _ann(i, bbox, cat=1, **kw):
    return dict(id=i, image_id=1, category_id=cat, bbox=bbox,
                area=max(bbox[2], 0) * max(bbox[3], 0), iscrowd=0, **kw)


@pytest.fixture
def ann_file(tmp_path):
    anns = [
        _ann(1, [10, 10, 20, 20]),                # kept
        _ann(2, [30, 30, 40, 50], cat=2),         # kept
        _ann(3, [50, 50, -20, 10]),               # x2 < x1: negative size
        _ann(4, [60, 60, 10, -5]),                # negative size
        _ann(5, [200, 200, 10, 10]),              # outside the image
        _ann(6, [5, 5, 0.5, 10]),                 # too small
        _ann(7, [5, 5, 10, 10], cat=9),           # unknown category
        _ann(8, [5, 5, 10, 10], ignore=True),     # ignored on purpose
    ]
    coco = dict(images=[dict(id=1, file_name='a.jpg', width=100, height=80)],
                annotations=anns,
                categories=[dict(id=1, name='disk'),
                            dict(id=2, name='square')])
    path = tmp_path / 'instances.json'
    path.write_text(json.dumps(coco))
    return str(path)


def test_drops_are_counted_and_logged(ann_file, monkeypatch):
    from mmdet.datasets import CocoDataset
    logged = []
    monkeypatch.setattr(coco_detection, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    kw = dict(ann_file=ann_file, data_prefix=dict(img=''),
              metainfo=dict(classes=CLASSES), pipeline=[],
              filter_cfg=None)
    ours, theirs = CheckedCocoDataset(**kw), CocoDataset(**kw)
    # the same data as mmdet's dataset
    assert ours.get_data_info(0)['instances'] == \
        theirs.get_data_info(0)['instances']
    assert len(ours.get_data_info(0)['instances']) == 2
    assert {k: sorted(v) for k, v in ours.dropped_annotations.items()} == {
        'negative size': [3, 4], 'outside the image': [5],
        'too small': [6], 'unknown category': [7]}
    assert len(logged) == 1 and ann_file in logged[0]
    assert '5 annotations dropped' in logged[0]
    assert '2 negative size (e.g. id [3, 4])' in logged[0]


def test_clean_file_logs_nothing(ann_file, monkeypatch, tmp_path):
    coco = json.load(open(ann_file))
    coco['annotations'] = coco['annotations'][:2]
    clean = tmp_path / 'clean.json'
    clean.write_text(json.dumps(coco))
    logged = []
    monkeypatch.setattr(coco_detection, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    ds = CheckedCocoDataset(ann_file=str(clean), data_prefix=dict(img=''),
                            metainfo=dict(classes=CLASSES), pipeline=[])
    assert ds.dropped_annotations == {} and logged == []


@pytest.mark.parametrize('bbox,expected', [
    ([0, 0, 10, 10], ''), ([20, 0, -10, 10], 'negative size'),
    ([0, 0, 10, 0.5], 'too small'), ([-30, 0, 10, 10], 'outside the image'),
])
def test_classify(bbox, expected):
    ann = _ann(1, bbox)
    assert classify_dropped_annotation(
        ann, dict(width=50, height=50), [1]) == expected
