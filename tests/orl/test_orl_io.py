# Copyright (c) mmscrl contributors. All rights reserved.
import json

import numpy as np
import pytest

from mmscrl.orl.io import (ORLCorrespondence, ORLKnn, ORLProposals,
                           load_correspondence, load_knn, load_proposals,
                           save_correspondence, save_knn, save_proposals)


def _random_corr(n=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    boxes = [np.round(rng.random((rng.integers(1, 6), 4)) * 100).astype(
        np.float32) for _ in range(n)]
    knn = np.array([[(i + j + 1) % n for j in range(k)] for i in range(n)])
    pairs = [[np.round(rng.random((rng.integers(1, 4), 8)) * 100).astype(
        np.float32) for _ in range(k)] for _ in range(n)]
    return ORLCorrespondence([f'img/{i}.jpg' for i in range(n)], boxes, knn,
                             pairs, dict(min_size=96, max_ratio=3,
                                         max_iou=0.5, topN=100, k=k,
                                         pair_ratio=0.1))


def _assert_corr_equal(a, b):
    assert a.file_names == b.file_names
    assert len(a.boxes) == len(b.boxes)
    for x, y in zip(a.boxes, b.boxes):
        np.testing.assert_array_equal(x, y)
        assert y.dtype == np.float32 and y.shape[1] == 4
    np.testing.assert_array_equal(a.knn, b.knn)
    assert b.knn.dtype == np.int64
    for ra, rb in zip(a.pairs, b.pairs):
        assert len(ra) == len(rb)
        for x, y in zip(ra, rb):
            np.testing.assert_array_equal(x, y)
            assert y.dtype == np.float32 and y.shape[1] == 8
    assert a.info == b.info


@pytest.mark.parametrize('ext', ['npz', 'json'])
def test_correspondence_roundtrip(tmp_path, ext):
    corr = _random_corr()
    path = tmp_path / f'corr.{ext}'
    save_correspondence(corr, str(path))
    _assert_corr_equal(corr, load_correspondence(str(path)))
    # atomic write: no temporary files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == [f'corr.{ext}']


def test_official_correspondence_json(tmp_path):
    """A hand-written file in the official correspondence JSON layout."""
    data = {
        'info': {'bbox_min_size': 96, 'bbox_max_aspect_ratio': 3,
                 'bbox_max_iou': 0.5, 'intra_bbox_num': 100,
                 'knn_image_num': 2, 'knn_bbox_pair_ratio': 0.1},
        'images': {'file_name': ['a.jpg', 'b.jpg', 'c.jpg'],
                   'id': [139, 285, 632]},
        'pseudo_annotations': {
            'image_id': [139, 285, 632],
            'bbox': [[[0, 0, 100, 120], [10, 20, 130, 100]],
                     [[5, 5, 200, 150]],
                     [5, 6, 100, 110]],  # squeezed single box, tolerated
            'knn_image_id': [[1, 2], [0, 2], [1, 0]],
            'knn_bbox_pair': [
                [[[0, 0, 100, 120, 5, 5, 200, 150]],
                 [[10, 20, 130, 100, 5, 6, 100, 110]]],
                [[[5, 5, 200, 150, 0, 0, 100, 120]],
                 [[5, 5, 200, 150, 5, 6, 100, 110]]],
                [[[5, 6, 100, 110, 5, 5, 200, 150]],
                 [5, 6, 100, 110, 10, 20, 130, 100]]]}}  # squeezed pair
    path = tmp_path / 'train2017_10nn_instance_correspondence.json'
    path.write_text(json.dumps(data))
    corr = load_correspondence(str(path))
    assert corr.file_names == ['a.jpg', 'b.jpg', 'c.jpg']
    assert [b.shape for b in corr.boxes] == [(2, 4), (1, 4), (1, 4)]
    np.testing.assert_array_equal(corr.boxes[2], [[5, 6, 100, 110]])
    np.testing.assert_array_equal(corr.knn, [[1, 2], [0, 2], [1, 0]])
    assert corr.pairs[2][1].shape == (1, 8)
    np.testing.assert_array_equal(corr.pairs[0][1][0],
                                  [10, 20, 130, 100, 5, 6, 100, 110])
    assert corr.info == dict(min_size=96, max_ratio=3, max_iou=0.5,
                             topN=100, k=2, pair_ratio=0.1)
    # npz conversion keeps everything
    save_correspondence(corr, str(tmp_path / 'c.npz'))
    _assert_corr_equal(corr, load_correspondence(str(tmp_path / 'c.npz')))


def test_official_proposals_json_squeeze(tmp_path):
    """The official SS tool squeezes an image with exactly one box to a flat
    [x, y, w, h]; an image with no box becomes []."""
    data = {'bbox': [[[0, 0, 10, 20], [1, 2, 3, 4], [5, 5, 50, 40]],
                     [7, 8, 90, 100],
                     [],
                     [[1, 1, 2, 2], [3, 3, 4, 4], [5, 5, 6, 6],
                      [7, 7, 8, 8]]]}
    path = tmp_path / 'train2017_selective_search_proposal.json'
    path.write_text(json.dumps(data))
    props = load_proposals(str(path))
    assert props.file_names == []
    assert [b.shape for b in props.boxes] == [(3, 4), (1, 4), (0, 4), (4, 4)]
    np.testing.assert_array_equal(props.boxes[1], [[7, 8, 90, 100]])
    # writing JSON reproduces the official squeeze, npz round-trips
    save_proposals(props, str(tmp_path / 'out.json'))
    assert json.loads((tmp_path / 'out.json').read_text()) == data
    props.file_names = ['a', 'b', 'c', 'd']
    save_proposals(props, str(tmp_path / 'p.npz'))
    back = load_proposals(str(tmp_path / 'p.npz'))
    assert back.file_names == ['a', 'b', 'c', 'd']
    for x, y in zip(props.boxes, back.boxes):
        np.testing.assert_array_equal(x, y)
    # a list of files is concatenated (COCO+)
    both = load_proposals([str(path), str(path)])
    assert len(both.boxes) == 8


def test_official_knn_json(tmp_path):
    data = {'info': {'knn_image_num': 2},
            'images': {'file_name': ['a.jpg', 'b.jpg', 'c.jpg'],
                       'id': [1, 2, 3]},
            'pseudo_annotations': {'image_id': [1, 2, 3],
                                   'knn_image_id': [[1, 2], [2, 0], [0, 1]]}}
    path = tmp_path / 'train2017_10nn_instance.json'
    path.write_text(json.dumps(data))
    knn = load_knn(str(path))
    assert knn.file_names == ['a.jpg', 'b.jpg', 'c.jpg']
    np.testing.assert_array_equal(knn.knn, [[1, 2], [2, 0], [0, 1]])
    assert knn.info['k'] == 2
    save_knn(knn, str(tmp_path / 'k.npz'))
    back = load_knn(str(tmp_path / 'k.npz'))
    np.testing.assert_array_equal(back.knn, knn.knn)
    save_knn(back, str(tmp_path / 'k.json'))
    again = json.loads((tmp_path / 'k.json').read_text())
    assert again['pseudo_annotations']['knn_image_id'] == \
        data['pseudo_annotations']['knn_image_id']
    assert again['images']['file_name'] == data['images']['file_name']


@pytest.mark.parametrize('mutate, match', [
    (lambda d: d['pseudo_annotations'].pop('knn_bbox_pair'),
     '"knn_bbox_pair"'),
    (lambda d: d.pop('images'), '"images"'),
    (lambda d: d['pseudo_annotations'].update(knn_image_id=[[1], [2]]),
     r'knn_image_id"\[1\]\[0\] = 2 is out of range'),
    (lambda d: d['pseudo_annotations'].update(
        bbox=[[[0, 0, 10]], [[0, 0, 20, 20]]]), r'bbox\[0\]'),
    (lambda d: d['pseudo_annotations'].update(bbox=[[[0, 0, 10, 10]]]),
     '"bbox" has 1 images'),
    (lambda d: d['pseudo_annotations']['knn_bbox_pair'][1].append([]),
     r'"knn_bbox_pair"\[1\] has 2 kNN'),
    (lambda d: d['pseudo_annotations'].update(knn_image_id=[[1], [0, 1]]),
     '"knn_image_id"'),
])
def test_malformed_json_names_file_and_key(tmp_path, mutate, match,
                                           official_orl_json):
    data = official_orl_json('correspondence')
    # the unmodified dict is valid
    ok = tmp_path / 'ok.json'
    ok.write_text(json.dumps(data))
    load_correspondence(str(ok))
    mutate(data)
    bad = tmp_path / 'bad_corr.json'
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=match) as e:
        load_correspondence(str(bad))
    assert 'bad_corr.json' in str(e.value)


def test_malformed_npz(tmp_path):
    corr = _random_corr()
    path = tmp_path / 'c.npz'
    save_correspondence(corr, str(path))
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays['pair_offsets'] = arrays['pair_offsets'][:-1]
    np.savez(tmp_path / 'broken.npz', **arrays)
    with pytest.raises(ValueError, match='broken.npz.*pair_offsets'):
        load_correspondence(str(tmp_path / 'broken.npz'))
    # a kNN file is not a correspondence file
    save_knn(ORLKnn(['a', 'b'], np.array([[1], [0]])), str(tmp_path / 'k.npz'))
    with pytest.raises(ValueError, match='k.npz.*"format"'):
        load_correspondence(str(tmp_path / 'k.npz'))
    (tmp_path / 'x.json').write_text('{"bbox": ')
    with pytest.raises(ValueError, match='x.json.*not valid JSON'):
        load_proposals(str(tmp_path / 'x.json'))
    with pytest.raises(ValueError, match='missing key "bbox"'):
        (tmp_path / 'y.json').write_text('{"boxes": []}')
        load_proposals(str(tmp_path / 'y.json'))


def test_validation_in_memory():
    with pytest.raises(ValueError, match='out of range'):
        ORLKnn(['a', 'b'], np.array([[1], [5]])).validate()
    with pytest.raises(ValueError, match='shape'):
        ORLProposals([np.zeros((2, 5))]).validate()
