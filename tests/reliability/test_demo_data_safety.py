# Copyright (c) mmscrl contributors. All rights reserved.
"""The demo data generator never deletes files it did not write."""
import os
import os.path as osp

import pytest

from mmscrl.demo import (MARKER, DemoDataDirError, dataset_is_complete,
                         ensure_demo_dataset, generate_demo_dataset)

KW = dict(num_unlabeled=2, num_train=1, num_val=1, img_size=32, seed=0)


def _tree(root):
    return sorted(
        osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root)
        for f in fs)


def test_refuses_foreign_folder(tmp_path):
    root = tmp_path / 'photos'
    root.mkdir()
    (root / 'holiday.jpg').write_bytes(b'precious')
    (root / 'meta.json').write_text('{}')  # looks like ours, is not
    for fn in (generate_demo_dataset, ensure_demo_dataset):
        with pytest.raises(DemoDataDirError, match='photos.*not a demo'):
            fn(str(root), **KW)
    assert _tree(root) == ['holiday.jpg', 'meta.json']
    assert (root / 'holiday.jpg').read_bytes() == b'precious'
    # nothing left behind next to it either
    assert sorted(os.listdir(tmp_path)) == ['photos']


def test_refuses_file(tmp_path):
    path = tmp_path / 'notes.txt'
    path.write_text('x')
    with pytest.raises(DemoDataDirError, match='not a folder'):
        generate_demo_dataset(str(path), **KW)
    assert path.read_text() == 'x'


def test_empty_folder_and_own_data_set_are_replaced(tmp_path):
    root = tmp_path / 'd'
    root.mkdir()
    generate_demo_dataset(str(root), **KW)
    assert (root / MARKER).is_file() and dataset_is_complete(str(root), **KW)
    generate_demo_dataset(str(root), **dict(KW, seed=1))
    assert dataset_is_complete(str(root), **dict(KW, seed=1))
    assert sorted(os.listdir(tmp_path)) == ['d']


def test_refuses_own_data_set_with_user_files(tmp_path):
    root = tmp_path / 'd'
    generate_demo_dataset(str(root), **KW)
    (root / 'train' / 'mine.png').write_bytes(b'user')
    with pytest.raises(DemoDataDirError, match='mine.png'):
        generate_demo_dataset(str(root), **dict(KW, seed=1))
    assert (root / 'train' / 'mine.png').read_bytes() == b'user'
    assert dataset_is_complete(str(root), **KW)


def test_data_set_without_marker_is_not_complete(tmp_path):
    root = tmp_path / 'd'
    generate_demo_dataset(str(root), **KW)
    os.remove(root / MARKER)  # e.g. an interrupted copy
    assert not dataset_is_complete(str(root), **KW)
    with pytest.raises(DemoDataDirError):
        ensure_demo_dataset(str(root), verbose=False, **KW)
