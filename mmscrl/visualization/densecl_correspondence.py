# Copyright (c) mmscrl contributors. All rights reserved.
"""DenseCL: the dense correspondences between two views of one image.

DenseCL (Wang et al., CVPR 2021) pairs every location of the query view's
C5 grid with the key-view location of highest cosine similarity of the
*backbone* features (query encoder for view 1, momentum encoder for view 2,
as in training). This tool samples two views with recorded geometry
(``RandomResizedCropWithGeometry`` + ``RandomFlipWithGeometry``, no colour
augmentation so the picture stays readable), runs a (trained) model and
draws a line from each view-1 cell to its matched view-2 cell. Because the
views' geometry is known, each match is checked against the true position:
green = within one cell of it, red = elsewhere, grey = the cell shows a
region outside view 2 (no true partner). The header reports the accuracy.
"""
import random
from typing import Dict, Optional

import cv2
import numpy as np

from .draw import (hstack, imwrite_atomic, letterbox, read_image,
                   with_header)

GREEN, RED, GREY = (60, 200, 60), (40, 40, 230), (170, 170, 170)


def build_model_from_config(cfg, checkpoint: Optional[str] = None):
    """Build ``cfg.model`` with :func:`mmscrl.apis.get_model` (CPU, eval,
    SyncBN -> BN) and load ``checkpoint`` if given.

    Args:
        cfg (str | mmengine.Config): config file or object.
        checkpoint (str, optional): checkpoint path or URL. Without it the
            model keeps its random initialisation (``init_weights``).

    Returns:
        tuple: ``(model, cfg)`` with the resolved config.
    """
    from mmengine.logging import MMLogger

    from mmscrl.apis import get_model
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')  # init_weights logs every parameter
    try:
        model = get_model(cfg, pretrained=checkpoint,
                          init_weights=not checkpoint)
    finally:
        logger.setLevel(level)
    return model, model.cfg


def sample_geometric_views(img: np.ndarray, size: int, seed: int = 0,
                           crop_ratio_range=(0.3, 1.)) -> Dict:
    """Two views (random resized crop + flip) with their homographies."""
    from mmengine.registry import DefaultScope

    import mmscrl  # noqa: F401
    from mmscrl.registry import TRANSFORMS
    random.seed(seed)
    np.random.seed(seed)
    view = [
        dict(type='RandomResizedCropWithGeometry', scale=size,
             crop_ratio_range=crop_ratio_range, backend='pillow'),
        dict(type='RandomFlipWithGeometry', prob=0.5),
    ]
    with DefaultScope.overwrite_default_scope('mmscrl'):
        t = TRANSFORMS.build(
            dict(type='MultiViewWithGeometry', num_views=2,
                 transforms=[view]))
    return t(dict(img=img, img_shape=img.shape[:2], img_path=''))


def _normalize(view: np.ndarray, prep: Dict):
    import torch
    mean = np.asarray(prep.get('mean', [123.675, 116.28, 103.53]),
                      np.float32)
    std = np.asarray(prep.get('std', [58.395, 57.12, 57.375]), np.float32)
    img = view[..., ::-1] if prep.get('to_rgb', True) else view  # BGR->RGB
    x = (img.astype(np.float32) - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def view_backbones(model):
    """(query backbone, key backbone) of a model; the key one is DenseCL's
    momentum encoder if present, else the query backbone."""
    key = model.backbone
    enc_k = getattr(model, 'encoder_k', None)
    if enc_k is not None:
        mod = getattr(enc_k, 'module', enc_k)
        try:
            key = mod[0]
        except (TypeError, IndexError):
            key = getattr(mod, 'backbone', model.backbone)
    return model.backbone, key


def compute_matches(model, cfg, views: Dict) -> Dict:
    """Dense argmax matches of view 1 -> view 2 and their correctness.

    Returns:
        dict: ``grid`` (h, w) of C5, ``idx`` (h*w,) matched key cell per
        query cell, ``true_xy`` (h*w, 2) true position in view-2 pixels of
        each query cell centre, ``status`` (h*w,) 1 correct / 0 wrong /
        -1 no partner, ``accuracy`` over cells that have a partner.
    """
    import torch

    from mmscrl.models.utils.dense_correspondence import (dense_argmax_match,
                                                          flatten_normalize)
    prep = cfg.get('data_preprocessor', None) or cfg.model.get(
        'data_preprocessor', None) or {}
    q_bb, k_bb = view_backbones(model)
    with torch.no_grad():
        q = q_bb(_normalize(views['img'][0], prep))[-1]
        k = k_bb(_normalize(views['img'][1], prep))[-1]
        idx = dense_argmax_match(flatten_normalize(q),
                                 flatten_normalize(k))[0].numpy()
    gh, gw = q.shape[-2:]
    (h1, w1), (h2, w2) = views['view_img_shape']
    ys, xs = np.mgrid[0:gh, 0:gw]
    cx1 = (xs.ravel() + 0.5) * w1 / gw
    cy1 = (ys.ravel() + 0.5) * h1 / gh
    H1, H2 = views['view_homography']
    pts = np.stack([cx1, cy1, np.ones_like(cx1)])
    p2 = H2 @ np.linalg.inv(H1) @ pts
    tx, ty = p2[0] / p2[2], p2[1] / p2[2]
    kgh, kgw = k.shape[-2:]
    inside = (tx >= 0) & (tx < w2) & (ty >= 0) & (ty < h2)
    mx = idx % kgw
    my = idx // kgw
    tcx = np.clip(np.floor(tx * kgw / w2), 0, kgw - 1)
    tcy = np.clip(np.floor(ty * kgh / h2), 0, kgh - 1)
    ok = (np.abs(mx - tcx) <= 1) & (np.abs(my - tcy) <= 1)
    status = np.where(inside, ok.astype(int), -1)
    n = int(inside.sum())
    return dict(
        grid=(gh, gw),
        key_grid=(kgh, kgw),
        idx=idx,
        true_xy=np.stack([tx, ty], 1),
        status=status,
        accuracy=float(ok[inside].mean()) if n else float('nan'),
        num_with_partner=n)


def draw_correspondence(views: Dict, matches: Dict,
                        panel: int = 256) -> np.ndarray:
    """View 1 | view 2 with match lines drawn across both panels.

    Returns:
        np.ndarray: BGR image ``(panel + HEADER_H, 2 * panel + GAP, 3)``.
    """
    from .draw import GAP
    v1, s1, o1 = letterbox(np.ascontiguousarray(views['img'][0]), panel)
    v2, s2, o2 = letterbox(np.ascontiguousarray(views['img'][1]), panel)
    gh, gw = matches['grid']
    kgh, kgw = matches['key_grid']
    (h1, w1), (h2, w2) = views['view_img_shape']
    for img, (g_h, g_w), (h, w), s, o in ((v1, (gh, gw), (h1, w1), s1, o1),
                                          (v2, (kgh, kgw), (h2, w2), s2,
                                           o2)):
        for i in range(1, g_w):
            x = int(o[0] + i * w / g_w * s)
            cv2.line(img, (x, o[1]), (x, o[1] + int(h * s)), (255, 255, 255),
                     1)
        for j in range(1, g_h):
            y = int(o[1] + j * h / g_h * s)
            cv2.line(img, (o[0], y), (o[0] + int(w * s), y), (255, 255, 255),
                     1)
    acc = matches['accuracy']
    head1 = with_header(v1, f'view 1, C5 grid {gh}x{gw}')
    head2 = with_header(
        v2, f'view 2: {100 * acc:.0f}% of {matches["num_with_partner"]} '
        'correct' if matches['num_with_partner'] else
        'view 2: views do not overlap')
    canvas = hstack([head1, head2])
    from .draw import HEADER_H
    x_off2 = panel + GAP
    order = np.argsort(matches['status'])  # grey first, then red, green
    for c in order:
        st = matches['status'][c]
        col = GREEN if st == 1 else RED if st == 0 else GREY
        y, x = divmod(c, gw)
        p1 = (o1[0] + (x + 0.5) * w1 / gw * s1,
              HEADER_H + o1[1] + (y + 0.5) * h1 / gh * s1)
        ky, kx = divmod(int(matches['idx'][c]), kgw)
        p2 = (x_off2 + o2[0] + (kx + 0.5) * w2 / kgw * s2,
              HEADER_H + o2[1] + (ky + 0.5) * h2 / kgh * s2)
        p1 = tuple(int(round(v)) for v in p1)
        p2 = tuple(int(round(v)) for v in p2)
        cv2.line(canvas, p1, p2, col, 1, cv2.LINE_AA)
        cv2.circle(canvas, p1, 3, col, -1, cv2.LINE_AA)
        cv2.circle(canvas, p2, 3, col, -1, cv2.LINE_AA)
    return canvas


def visualize_densecl_correspondence(image_path: str, cfg,
                                     checkpoint: Optional[str],
                                     out_file: str, size: int = 128,
                                     seed: int = 0, panel: int = 256,
                                     num_samples: int = 1) -> Dict:
    """Write the correspondence picture(s) of one image; return the stats.

    Args:
        image_path (str): Image file.
        cfg (str | Config): A DenseCL pre-training config.
        checkpoint (str, optional): Its checkpoint (None: random init).
        out_file (str): PNG path.
        size (int): View side in pixels (C5 grid = size / 32). Defaults to
            128.
        seed (int): Seed of the view sampling. Defaults to 0.
        panel (int): Panel side in pixels. Defaults to 256.
        num_samples (int): View pairs, stacked as rows. Defaults to 1.

    Returns:
        dict: ``out_file`` and per-sample ``accuracy``.
    """
    from .draw import vstack
    model, cfg = build_model_from_config(cfg, checkpoint)
    img = read_image(image_path)
    rows, accs = [], []
    for i in range(num_samples):
        views = sample_geometric_views(img, size, seed + i)
        m = compute_matches(model, cfg, views)
        rows.append(draw_correspondence(views, m, panel))
        accs.append(m['accuracy'])
    imwrite_atomic(out_file, vstack(rows))
    return dict(out_file=out_file, accuracy=accs)
