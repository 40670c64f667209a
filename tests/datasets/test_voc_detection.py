# Copyright (c) mmscrl contributors. All rights reserved.
"""VOCKeepDifficultDataset: detectron2's training on "difficult" objects,
mmdet's VOCDataset otherwise."""
import os.path as osp

import numpy as np
import pytest

import mmscrl  # noqa: F401
from mmscrl.datasets import voc_detection
from mmscrl.datasets.voc_detection import VOCKeepDifficultDataset

OBJ = ('<object><name>{name}</name><difficult>{difficult}</difficult>'
       '<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>'
       '<ymax>{y2}</ymax></bndbox></object>')
# image id -> (name, difficult, x1, y1, x2, y2) of its objects
OBJECTS = {
    '000001': [('dog', 0, 10, 12, 40, 50), ('cat', 1, 30, 5, 60, 45)],
    '000002': [('person', 0, 5, 5, 55, 40), ('dog', 1, 20, 20, 23, 60),
               ('unknownclass', 0, 1, 1, 30, 30)],
}


def _xml(objects, width=64, height=48):
    body = ''.join(
        OBJ.format(name=n, difficult=d, x1=x1, y1=y1, x2=x2, y2=y2)
        for n, d, x1, y1, x2, y2 in objects)
    return (f'<annotation><size><width>{width}</width><height>{height}'
            f'</height><depth>3</depth></size>{body}</annotation>')


@pytest.fixture
def voc_root(tmp_path):
    """A VOCdevkit with one year and two images (trainval = test)."""
    import cv2
    year = tmp_path / 'VOCdevkit' / 'VOC2007'
    for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        (year / sub).mkdir(parents=True)
    for img_id, objects in OBJECTS.items():
        (year / 'Annotations' / f'{img_id}.xml').write_text(_xml(objects))
        cv2.imwrite(str(year / 'JPEGImages' / f'{img_id}.jpg'),
                    np.full((48, 64, 3), 128, np.uint8))
    for split in ('trainval', 'test'):
        (year / 'ImageSets' / 'Main' / f'{split}.txt').write_text(
            '\n'.join(OBJECTS) + '\n')
    return str(tmp_path / 'VOCdevkit')


def _kw(root, split='trainval', **kw):
    return dict(data_root=root, ann_file=f'VOC2007/ImageSets/Main/{split}.txt',
                data_prefix=dict(sub_data_root='VOC2007/'), pipeline=[], **kw)


def _flags(ds):
    return [[i['ignore_flag'] for i in ds.get_data_info(k)['instances']]
            for k in range(len(ds))]


def test_train_split_keeps_difficult_objects(voc_root, monkeypatch):
    from mmdet.datasets import VOCDataset
    logged = []
    monkeypatch.setattr(voc_detection, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    ours = VOCKeepDifficultDataset(**_kw(voc_root))
    theirs = VOCDataset(**_kw(voc_root))
    assert _flags(ours) == [[0, 0], [0, 0]]  # 'unknownclass' skipped
    assert _flags(theirs) == [[0, 1], [0, 1]]
    assert ours.num_difficult_kept == 2
    assert len(logged) == 1 and '2 "difficult" objects kept' in logged[0]
    assert ours.ann_file in logged[0]
    # otherwise mmdet's data: boxes (1 subtracted), labels, meta
    for k in range(2):
        a, b = ours.get_data_info(k), theirs.get_data_info(k)
        for inst in a['instances'] + b['instances']:
            inst.pop('ignore_flag')
        assert a == b
    assert ours.get_data_info(0)['instances'][1] == dict(
        bbox=[29, 4, 59, 44], bbox_label=ours.cat2label['cat'], ignore_flag=0)
    assert ours.metainfo['dataset_type'] == 'VOC2007'
    assert ours.metainfo['classes'] == theirs.metainfo['classes']


def test_keep_difficult_false_is_mmdets(voc_root):
    from mmdet.datasets import VOCDataset
    ours = VOCKeepDifficultDataset(keep_difficult=False, **_kw(voc_root))
    theirs = VOCDataset(**_kw(voc_root))
    assert ours.num_difficult_kept == 0
    assert [ours.get_data_info(k) for k in range(2)] == \
        [theirs.get_data_info(k) for k in range(2)]
    with pytest.raises(TypeError, match='keep_difficult must be a bool'):
        VOCKeepDifficultDataset(keep_difficult='yes', **_kw(voc_root))


def test_test_split_flags_difficult_objects(voc_root):
    """In test_mode difficult objects stay ignored: they reach the metric
    as ``ignored_instances`` (what VOCCocoStyleMetric skips)."""
    pipeline = [
        dict(type='mmdet.LoadAnnotations', with_bbox=True),
        dict(type='mmdet.PackDetInputs', meta_keys=('img_id', ))
    ]
    test = VOCKeepDifficultDataset(
        test_mode=True, **dict(_kw(voc_root, 'test'), pipeline=pipeline))
    assert _flags(test) == [[0, 1], [0, 1]]
    assert test.num_difficult_kept == 0
    sample = test[0]['data_samples']
    assert sample.gt_instances.bboxes.tensor.tolist() == [[9, 11, 39, 49]]
    assert sample.ignored_instances.bboxes.tensor.tolist() == [
        [29, 4, 59, 44]]
    train = VOCKeepDifficultDataset(
        **dict(_kw(voc_root), pipeline=pipeline))
    sample = train[0]['data_samples']
    assert len(sample.gt_instances) == 2
    assert len(sample.ignored_instances) == 0


def test_min_size_still_ignores(voc_root):
    """filter_cfg.bbox_min_size ignores small boxes, difficult or not (the
    difficult dog of 000002 is 3 px wide)."""
    ds = VOCKeepDifficultDataset(
        **_kw(voc_root, filter_cfg=dict(bbox_min_size=5)))
    assert _flags(ds) == [[0, 0], [0, 1]]
    assert ds.num_difficult_kept == 1
    with pytest.raises(ValueError, match='bbox_min_size=5 is for training'):
        VOCKeepDifficultDataset(
            test_mode=True,
            **_kw(voc_root, 'test', filter_cfg=dict(bbox_min_size=5)))


def test_in_a_config_concat(voc_root):
    """Built by name from an mmdet-scoped ConcatDataset, as the VOC07+12
    transfer config does."""
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    ds = DATASETS.build(
        dict(type='ConcatDataset', ignore_keys=['dataset_type'], datasets=[
            dict(type='mmscrl.VOCKeepDifficultDataset', **_kw(voc_root)),
            dict(type='mmscrl.VOCKeepDifficultDataset', **_kw(voc_root)),
        ]))
    assert len(ds) == 4
    assert all(i['ignore_flag'] == 0 for k in range(4)
               for i in ds.get_data_info(k)['instances'])


@pytest.mark.parametrize('xml, match', [
    ('<annotation><size><width>64', 'not well-formed XML'),
    (_xml([]).replace('<width>64</width>', ''), 'malformed VOC annotation'),
    (_xml([('dog', 0, 1, 2, 3, 4)]).replace('<bndbox>', '<box>').replace(
        '</bndbox>', '</box>'), r"<object> #0 \('dog'\) has no <bndbox>"),
    (_xml([('dog', 0, 1, 2, 3, 4)]).replace('<xmax>3', '<xmax>3a'),
     "<xmax> is not a number: '3a'"),
    (_xml([('dog', 0, 1, 2, 3, 4)]).replace('<name>dog</name>', ''),
     '<object> #0 has no <name>'),
    (_xml([('dog', 0, 1, 2, 3, 4)]).replace(
        '<difficult>0</difficult>', '<difficult/>'),
     'has no <difficult> value'),
])
def test_malformed_xml_names_the_file(voc_root, xml, match):
    bad = osp.join(voc_root, 'VOC2007', 'Annotations', '000002.xml')
    with open(bad, 'w') as f:
        f.write(xml)
    with pytest.raises(ValueError, match=match) as err:
        VOCKeepDifficultDataset(**_kw(voc_root))
    assert bad in str(err.value)
