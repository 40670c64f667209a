# Copyright (c) mmscrl contributors. All rights reserved.
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmscrl.visualization.densecl_correspondence import (
    build_model_from_config, compute_matches, draw_correspondence,
    visualize_densecl_correspondence)
from mmscrl.visualization.draw import GAP, HEADER_H

CFG = 'configs/demo/densecl_resnet18_1xb8-coslr-20i_demo.py'


@pytest.fixture(scope='module')
def model_cfg(repo_root):
    torch.manual_seed(0)
    return build_model_from_config(osp.join(repo_root, CFG))


@pytest.fixture
def image(tmp_path):
    rng = np.random.default_rng(0)
    img = cv2.resize(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8),
                     (160, 120), interpolation=cv2.INTER_NEAREST)
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, img)
    return path


def test_identical_views_match_themselves(model_cfg, image):
    model, cfg = model_cfg
    img = cv2.resize(cv2.imread(image), (128, 128))
    views = dict(img=[img, img.copy()],
                 view_homography=np.stack([np.eye(3), np.eye(3)]),
                 view_img_shape=np.array([[128, 128], [128, 128]]))
    m = compute_matches(model, cfg, views)
    assert m['grid'] == (4, 4)
    np.testing.assert_array_equal(m['idx'], np.arange(16))
    assert m['accuracy'] == 1.0 and (m['status'] == 1).all()
    out = draw_correspondence(views, m, panel=96)
    assert out.shape == (96 + HEADER_H, 2 * 96 + GAP, 3)


def test_no_overlap_is_grey(model_cfg, image):
    model, cfg = model_cfg
    img = cv2.resize(cv2.imread(image), (64, 64))
    shift = np.array([[1., 0., -1000.], [0., 1., 0.], [0., 0., 1.]])
    views = dict(img=[img, img],
                 view_homography=np.stack([np.eye(3), shift]),
                 view_img_shape=np.array([[64, 64], [64, 64]]))
    m = compute_matches(model, cfg, views)
    assert (m['status'] == -1).all() and m['num_with_partner'] == 0


@pytest.mark.parametrize('use_ckpt', [False, True])
def test_png_from_checkpoint(repo_root, model_cfg, image, tmp_path,
                             use_ckpt):
    ckpt = None
    if use_ckpt:
        ckpt = str(tmp_path / 'ckpt.pth')
        torch.save(dict(state_dict=model_cfg[0].state_dict()), ckpt)
    res = visualize_densecl_correspondence(
        image, osp.join(repo_root, CFG), ckpt, str(tmp_path / 'o.png'),
        size=96, panel=128, num_samples=2)
    png = cv2.imread(res['out_file'])
    assert png.shape == (2 * (128 + HEADER_H) + GAP, 2 * 128 + GAP, 3)
    assert len(res['accuracy']) == 2
    assert png.std() > 10
