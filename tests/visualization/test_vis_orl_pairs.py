# Copyright (c) mmscrl contributors. All rights reserved.
import cv2
import numpy as np
import pytest

from mmscrl.orl.io import (ORLCorrespondence, ORLKnn, save_correspondence,
                           save_knn)
from mmscrl.visualization.draw import GAP, HEADER_H
from mmscrl.visualization.orl_pairs import visualize_orl_pairs


@pytest.fixture
def stage2(tmp_path):
    rng = np.random.default_rng(0)
    names = []
    for i in range(5):
        img = rng.integers(0, 255, (60 + 5 * i, 80, 3), dtype=np.uint8)
        names.append(f'img{i}.jpg')
        cv2.imwrite(str(tmp_path / names[-1]), img)
    knn = np.array([[(i + d) % 5 for d in (1, 2, 3)] for i in range(5)])
    boxes = [np.array([[2, 3, 30, 20], [10, 10, 40, 30], [0, 0, 50, 40]],
                      np.float32) for _ in range(5)]
    pairs = [[np.array([[2, 3, 30, 20, 5, 5, 20, 20]], np.float32),
              np.zeros((0, 8), np.float32),
              np.array([[10, 10, 40, 30, 0, 0, 50, 40],
                        [2, 3, 30, 20, 1, 1, 10, 10]], np.float32)]
             for _ in range(5)]
    corr = ORLCorrespondence(names, boxes, knn, pairs, info=dict(k=3))
    save_correspondence(corr, str(tmp_path / 'corr.npz'))
    save_knn(ORLKnn(names, knn, scores=np.full((5, 3), 0.5, np.float32),
                    info=dict(k=3)), str(tmp_path / 'knn.npz'))
    return tmp_path


@pytest.mark.parametrize('num_inter,panel', [(1, 96), (2, 80)])
def test_png(stage2, num_inter, panel):
    out = str(stage2 / 'out.png')
    visualize_orl_pairs(str(stage2 / 'corr.npz'), str(stage2), out,
                        index=1, knn_file=str(stage2 / 'knn.npz'),
                        panel=panel, num_inter=num_inter)
    png = cv2.imread(out)
    cols = max(1 + 3, 1 + 2 * num_inter)
    assert png.shape == (2 * (panel + HEADER_H) + GAP,
                         cols * panel + (cols - 1) * GAP, 3)
    assert png.std() > 10


def test_bad_index(stage2):
    with pytest.raises(IndexError, match='out of range'):
        visualize_orl_pairs(str(stage2 / 'corr.npz'), str(stage2),
                            str(stage2 / 'x.png'), index=7)
