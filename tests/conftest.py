# Copyright (c) mmscrl contributors. All rights reserved.
import os
import os.path as osp
import sys

import numpy as np
import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# keep CPU tests predictable on small machines
os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope='session')
def python_exe():
    return sys.executable


@pytest.fixture(scope='session')
def random_image_dir(tmp_path_factory):
    """16 random JPEGs under ``<root>/unlabeled/`` (the demo-data layout)."""
    import cv2
    root = tmp_path_factory.mktemp('random_images')
    os.makedirs(root / 'unlabeled')
    rng = np.random.default_rng(0)
    for i in range(16):
        img = rng.integers(0, 255, (80 + 4 * i, 112, 3), dtype=np.uint8)
        cv2.imwrite(str(root / 'unlabeled' / f'{i:03d}.jpg'), img)
    return root
