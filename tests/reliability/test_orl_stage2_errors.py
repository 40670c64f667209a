# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL stage 2: every damaged or malformed input is named.

Truncated/corrupt ``.npz`` result files and ``.parts`` chunks, truncated
images, a malformed ``--ann-file`` and official JSON files with wrong types,
negative box sizes or an image listed as its own neighbour.
"""
import json
import os.path as osp

import numpy as np
import pytest

from mmscrl.orl import (ORLCorrespondence, ORLKnn, ORLProposals,
                        load_correspondence, load_knn, load_proposals,
                        save_correspondence, save_knn, save_proposals)


def _files(tmp_path):
    boxes = [np.array([[0, 0, 10, 12], [1, 2, 30, 40]], np.float32),
             np.array([[5, 5, 20, 20]], np.float32),
             np.array([[0, 0, 8, 8]], np.float32)]
    names = ['a.jpg', 'b.jpg', 'c.jpg']
    knn = np.array([[1], [2], [0]])
    pairs = [[np.concatenate([boxes[i][:1], boxes[knn[i, 0]][:1]], 1)]
             for i in range(3)]
    out = {}
    for kind, obj, save, load in [
            ('props', ORLProposals(boxes, names), save_proposals,
             load_proposals),
            ('knn', ORLKnn(names, knn), save_knn, load_knn),
            ('corr', ORLCorrespondence(names, boxes, knn, pairs),
             save_correspondence, load_correspondence)]:
        path = tmp_path / f'{kind}.npz'
        save(obj, str(path))
        load(str(path))  # intact file reads
        out[kind] = (path, load)
    return out


@pytest.mark.parametrize('kind', ['props', 'knn', 'corr'])
@pytest.mark.parametrize('damage', ['truncate', 'zero', 'garbage', 'flip'])
def test_damaged_npz_is_named(tmp_path, kind, damage):
    path, load = _files(tmp_path)[kind]
    data = path.read_bytes()
    if damage == 'truncate':
        data = data[:len(data) // 2]
    elif damage == 'zero':
        data = b''
    elif damage == 'garbage':
        data = b'not a zip file at all' * 10
    else:  # a flipped byte inside the first member: CRC / header error
        data = data[:60] + bytes([data[60] ^ 0xFF]) + data[61:]
    path.write_bytes(data)
    with pytest.raises(ValueError, match=f'{kind}.npz') as e:
        load(str(path))
    assert 'corrupt or truncated' in str(e.value) or 'format' in str(e.value)


def test_corrupt_chunk_recomputed_or_named(tmp_path, capsys, load_tool,
                                           make_orl_images):
    data = str(tmp_path / 'images')
    make_orl_images(data, n=4, size=(64, 80))
    ss = load_tool('orl/selective_search.py')
    out = str(tmp_path / 'ss.npz')
    args = ['--data-root', data, '--out', out, '--chunk-size', '2']
    ss.main(args)
    want = load_proposals(out)
    chunk = tmp_path / 'ss.npz.parts' / 'ss_000000002_000000004.npz'
    for damage in (lambda b: b[:len(b) // 3], lambda b: b'',
                   lambda b: b'PK\x03\x04' + b[4:40]):
        chunk.write_bytes(damage(chunk.read_bytes()))
        capsys.readouterr()
        ss.main(args)  # found when scanning: named, recomputed
        log = capsys.readouterr().out
        assert f'{chunk}: corrupt or truncated chunk' in log
        assert 'it will be recomputed' in log
        for a, b in zip(load_proposals(out).boxes, want.boxes):
            np.testing.assert_array_equal(a, b)
    # damaged after the scan (e.g. by another process): named on merge
    from mmscrl.orl.jobs import ChunkedJob
    job = ChunkedJob(str(tmp_path / 'ss.npz.parts'), 'ss', 4, 2,
                     want.info['fingerprint'])
    assert job.pending() == []
    chunk.write_bytes(chunk.read_bytes()[:100])
    with pytest.raises(ValueError, match='delete this file') as e:
        job.read(job.chunks[1])
    assert str(chunk) in str(e.value)


def _truncated_jpeg(tmp_path, make_images):
    data = str(tmp_path / 'images')
    names = make_images(data, n=3, size=(64, 80))
    bad = osp.join(data, names[1])
    with open(bad, 'rb') as f:
        blob = f.read()
    with open(bad, 'wb') as f:
        f.write(blob[:len(blob) // 2])
    return data, names, bad


@pytest.mark.parametrize('workers', ['1', '2'])
def test_truncated_image_is_named_selective_search(tmp_path, workers,
                                                   load_tool,
                                                   make_orl_images):
    data, names, bad = _truncated_jpeg(tmp_path, make_orl_images)
    with pytest.raises(ValueError, match='truncated or corrupt') as e:
        load_tool('orl/selective_search.py').main(
            ['--data-root', data, '--out', str(tmp_path / 'ss.npz'),
             '--workers', workers, '--chunk-size', '1'])
    assert bad in str(e.value)


def test_truncated_image_is_named_feature_datasets(tmp_path,
                                                   make_orl_images):
    from mmscrl.orl.features import ImageListDataset, RoICropDataset
    data, names, bad = _truncated_jpeg(tmp_path, make_orl_images)
    with pytest.raises(ValueError, match='truncated or corrupt') as e:
        ImageListDataset(data, names, resize=40, crop=32)[1]
    assert bad in str(e.value)
    raw = [np.array([[0, 0, 40, 40]], np.float32)] * 3
    with pytest.raises(ValueError, match='truncated or corrupt') as e:
        RoICropDataset(data, names, raw, patch_size=16)[1]
    assert bad in str(e.value)


@pytest.mark.parametrize('text, match', [
    ('{"images": [', 'not a valid COCO JSON'),
    ('[1, 2]', 'missing list "images"'),
    ('{"images": [{"id": 1}]}', r'images\[0\] has no "file_name"'),
    ('{"images": [{"file_name": 7}]}', r'images\[0\]\["file_name"\] = 7'),
    ('\x89PNG binary', 'not a valid COCO JSON'),
])
def test_malformed_ann_file_is_named(tmp_path, text, match, load_tool,
                                     make_orl_images):
    data = str(tmp_path / 'images')
    make_orl_images(data, n=2, size=(32, 32))
    ann = tmp_path / 'instances_bad.json'
    ann.write_text(text)
    with pytest.raises(ValueError, match=match) as e:
        load_tool('orl/selective_search.py').main(
            ['--data-root', data, '--ann-file', str(ann), '--out',
             str(tmp_path / 'ss.npz')])
    assert 'instances_bad.json' in str(e.value)


def _deep(depth):
    return '[' * depth + ']' * depth


@pytest.mark.parametrize('kind, text, match', [
    ('proposals', '{"bbox": {"0": [1, 2, 3, 4]}}', '"bbox" is a dict'),
    ('proposals', '{"bbox": [[["1", "2", "3", "4"]]]}', r'bbox\[0\]'),
    ('proposals', '{"bbox": [[[1, 2, 3, 4]], "abcd"]}',
     r'"bbox\[1\]" is a str'),
    ('proposals', '{"bbox": [[[1, 2, -3, 4]]]}', 'negative width/height'),
    ('proposals', '{"bbox": ' + _deep(5000) + '}', 'nested too deeply'),
    ('proposals', '{"bbox": [' + _deep(900) + ']}', r'bbox\[0\]'),
    ('knn', (['images', 'file_name'], 5), '"images.file_name" is a int'),
    ('knn', (['images', 'file_name'], ['a.jpg', 3]),
     r'"file_name"\[1\] = 3 is not a string'),
    ('knn', (['pseudo_annotations', 'knn_image_id'], [['1'], ['0']]),
     'integer indices'),
    ('knn', (['pseudo_annotations', 'knn_image_id'], [[0], [0]]),
     'image 0 is listed as its own neighbour'),
    ('knn', (['pseudo_annotations'], [1, 2]),
     '"pseudo_annotations" is a list'),
    ('knn', (['info'], 'k=1'), '"info" is a str'),
    ('correspondence', (['pseudo_annotations', 'knn_bbox_pair'],
                        [{'a': 1}, []]), r'knn_bbox_pair\[0\]" is a'),
    ('correspondence', (['pseudo_annotations', 'knn_bbox_pair'],
                        [[[[0, 0, 10, 10, 0, 0, -20, 20]]],
                         [[[0, 0, 20, 20, 0, 0, 10, 10]]]]),
     'negative width/height'),
    ('correspondence', (['pseudo_annotations', 'knn_image_id'],
                        [[1], [1]]), 'image 1 is listed as its own'),
    ('correspondence', (['pseudo_annotations', 'bbox'], 'boxes'),
     '"bbox" is a str'),
])
def test_convert_official_bad_types_are_named(tmp_path, kind, text, match,
                                              load_tool, official_orl_json):
    if not isinstance(text, str):  # (key path, value) set in a valid file
        keys, value = text
        data = official_orl_json(kind)
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
        text = json.dumps(data)
    src = tmp_path / f'bad_{kind}.json'
    src.write_text(text)
    with pytest.raises(ValueError, match=match) as e:
        load_tool('orl/convert_official.py').main(
            [kind, str(src), str(tmp_path / 'out.npz')])
    assert f'bad_{kind}.json' in str(e.value)
    assert not (tmp_path / 'out.npz').exists()
