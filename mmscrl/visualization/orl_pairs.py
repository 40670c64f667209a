# Copyright (c) mmscrl contributors. All rights reserved.
"""ORL: a query's kNN images and its intra-/inter-RoI pairs.

Reads the stage-2 correspondence file of ORL (Xie et al., NeurIPS 2021;
``tools/orl/generate_correspondence.py``, our ``.npz`` or the official JSON)
and draws for one query image:

* row 1: the query and its K nearest images (image-level kNN from the
  stage-1 BYOL features; cosine scores if a kNN file is given);
* row 2: intra-RoI pairs -- filtered selective-search boxes of the query
  (solid) and their jittered partners (thin, same colour; ORL's
  ``aug_bbox`` rule,
  :func:`mmscrl.datasets.transforms.orl_transforms.jitter_box`)
  -- then, for the first neighbours that have pairs, the query and the
  neighbour with the mined inter-RoI pairs in matching colours.
"""
import os.path as osp
from typing import Dict, Optional

import numpy as np

from .draw import (GAP, HEADER_H, draw_box, hstack, imwrite_atomic,
                   letterbox, map_boxes, palette, read_image, vstack,
                   with_header)


def _xyxy(b):
    b = np.asarray(b, np.float64).reshape(-1, 4).copy()
    b[:, 2:] += b[:, :2]
    return b


def orl_pairs_figure(corr, data_root: str, index: int, panel: int = 160,
                     num_intra: int = 4, num_inter: int = 2,
                     knn_scores: Optional[np.ndarray] = None,
                     seed: int = 0) -> np.ndarray:
    """Draw the kNN row and the intra/inter pair row of image ``index``.

    Args:
        corr (ORLCorrespondence): Stage-2 result.
        data_root (str): Folder the ``corr.file_names`` are relative to.
        index (int): Query position in the canonical order.
        panel (int): Side of each square panel. Defaults to 160.
        num_intra (int): Intra pairs to draw. Defaults to 4.
        num_inter (int): Neighbours whose inter pairs are drawn. Defaults
            to 2.
        knn_scores (np.ndarray, optional): (N, K) cosine similarities.
        seed (int): Seed of the box choice and jitter. Defaults to 0.

    Returns:
        np.ndarray: BGR image; its height is ``2 * (panel + HEADER_H) +
        GAP`` and its width ``max(1 + K, 1 + 2 * m) * panel`` plus the
        gaps, with ``m`` the neighbours drawn in row 2.
    """
    from mmscrl.datasets.transforms.orl_transforms import jitter_box
    n = len(corr.file_names)
    if not 0 <= index < n:
        raise IndexError(f'query index {index} out of range [0, {n})')
    rng = np.random.default_rng(seed)

    def load(i):
        return read_image(osp.join(data_root, corr.file_names[i]))

    query = load(index)
    knn = corr.knn[index]
    row1 = [with_header(letterbox(query, panel)[0], f'query #{index}')]
    for slot, j in enumerate(knn):
        title = f'{slot + 1}-NN #{int(j)}'
        if knn_scores is not None:
            title += f' ({knn_scores[index, slot]:.2f})'
        row1.append(with_header(letterbox(load(int(j)), panel)[0], title))

    # intra-RoI pairs: box + jittered partner in the same colour
    qh, qw = query.shape[:2]
    intra, s, o = letterbox(query, panel)
    boxes = np.asarray(corr.boxes[index]).reshape(-1, 4)
    pick = rng.permutation(len(boxes))[:num_intra]
    cols = palette(max(len(pick), num_inter * 8, 1))
    for c, bi in enumerate(pick):
        jit = jitter_box(boxes[bi], qw, qh, rng)
        draw_box(intra, map_boxes(_xyxy(boxes[bi]), s, o)[0], cols[c], 2)
        draw_box(intra, map_boxes(_xyxy(jit), s, o)[0], cols[c], 1)
    row2 = [with_header(intra, f'intra pairs ({len(pick)}/{len(boxes)})')]

    # inter-RoI pairs with the first neighbours that have some
    drawn = 0
    for slot, j in enumerate(knn):
        pairs = np.asarray(corr.pairs[index][slot]).reshape(-1, 8)
        if len(pairs) == 0:
            continue
        nb = load(int(j))
        qpan, qs, qo = letterbox(query, panel)
        kpan, ks, ko = letterbox(nb, panel)
        for c, p in enumerate(pairs[:8]):
            draw_box(qpan, map_boxes(_xyxy(p[:4]), qs, qo)[0], cols[c], 2,
                     str(c))
            draw_box(kpan, map_boxes(_xyxy(p[4:]), ks, ko)[0], cols[c], 2,
                     str(c))
        row2.append(with_header(qpan, f'inter: query ({len(pairs)} pairs)'))
        row2.append(with_header(kpan, f'inter: {slot + 1}-NN #{int(j)}'))
        drawn += 1
        if drawn >= num_inter:
            break
    return vstack([hstack(row1), hstack(row2)])


def visualize_orl_pairs(correspondence: str, data_root: str, out_file: str,
                        index: int = 0, knn_file: Optional[str] = None,
                        panel: int = 160, num_intra: int = 4,
                        num_inter: int = 2, seed: int = 0) -> Dict:
    """Load a correspondence (and optional kNN) file, write the PNG."""
    from mmscrl.orl.io import load_correspondence, load_knn
    corr = load_correspondence(correspondence)
    scores = None
    if knn_file:
        knn = load_knn(knn_file)
        if knn.scores is not None and knn.knn.shape == corr.knn.shape \
                and (knn.knn == corr.knn).all():
            scores = knn.scores
    img = orl_pairs_figure(corr, data_root, index, panel, num_intra,
                           num_inter, scores, seed)
    imwrite_atomic(out_file, img)
    return dict(out_file=out_file, shape=img.shape)


__all__ = ['orl_pairs_figure', 'visualize_orl_pairs', 'HEADER_H', 'GAP']
