# Copyright (c) mmscrl contributors. All rights reserved.
import os.path as osp
import sys

import pytest

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
for path in (HERE, osp.join(REPO, 'tools', 'demo')):
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture(scope='session')
def tiny_demo_data(tmp_path_factory):
    """A 16-image demo data set at 64 px (unlabeled only, plus 2 labeled)."""
    from mmscrl.demo import ensure_demo_dataset
    root = str(tmp_path_factory.mktemp('reliability') / 'demo')
    ensure_demo_dataset(root, verbose=False, num_unlabeled=16, num_train=2,
                        num_val=2, img_size=64, seed=0)
    return root
