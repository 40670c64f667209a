# Copyright (c) mmscrl contributors. All rights reserved.
import os.path as osp

import cv2
import numpy as np
import pytest

from mmscrl.visualization.draw import GAP, HEADER_H
from mmscrl.visualization.scrl_boxes import (back_project,
                                             sample_scrl_views,
                                             scrl_pipeline_from_config,
                                             visualize_scrl_boxes)

CFG = 'configs/demo/scrl_resnet18_1xb32-coslr-500i_demo.py'


@pytest.fixture
def image(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    path = str(tmp_path / 'img.jpg')
    cv2.imwrite(path, img)
    return path


def test_back_project_roundtrip():
    H = np.array([[2., 0., -10.], [0., 2., -4.], [0., 0., 1.]])
    np.testing.assert_allclose(back_project(np.array([0, 0, 20, 10.]), H),
                               [5, 2, 15, 7])
    Hflip = np.array([[-1., 0., 50.], [0., 1., 0.], [0., 0., 1.]])
    np.testing.assert_allclose(back_project(np.array([0, 0, 10, 10.]),
                                            Hflip), [40, 0, 50, 10])


def test_pairs_cover_same_region(repo_root, image):
    img = cv2.imread(image)
    pipe = scrl_pipeline_from_config(osp.join(repo_root, CFG))
    res = sample_scrl_views(img, pipe, seed=1)
    valid = res['scrl_box_valid']
    assert valid.any()
    for b1, b2 in zip(res['scrl_boxes'][0][valid],
                      res['scrl_boxes'][1][valid]):
        r1 = back_project(b1, res['view_homography'][0])
        r2 = back_project(b2, res['view_homography'][1])
        np.testing.assert_allclose(r1, r2, atol=1e-3)


@pytest.mark.parametrize('panel,samples', [(128, 1), (160, 2)])
def test_png(repo_root, image, tmp_path, panel, samples):
    out = visualize_scrl_boxes(image, osp.join(repo_root, CFG),
                               str(tmp_path / 'o.png'), panel=panel,
                               num_samples=samples)
    png = cv2.imread(out)
    h = samples * (panel + HEADER_H) + (samples - 1) * GAP
    assert png.shape == (h, 3 * panel + 2 * GAP, 3)
    assert png.std() > 10


def test_rejects_non_scrl_config(repo_root):
    with pytest.raises(KeyError, match='SCRLBoxPairSampler'):
        scrl_pipeline_from_config(
            osp.join(repo_root,
                     'configs/demo/byol_resnet18_1xb8-coslr-20i_demo.py'))
