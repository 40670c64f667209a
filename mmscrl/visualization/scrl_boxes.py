# Copyright (c) mmscrl contributors. All rights reserved.
"""SCRL: two augmented views with their spatially matched box pairs.

Runs the SCRL data pipeline of a config (``MultiViewWithGeometry`` +
``SCRLBoxPairSampler``) on one image and draws, side by side, the original
image with each view's crop outline and the boxes mapped back to it, then
view 1 and view 2 with paired boxes in the same colour (pair ``i`` covers
the same region of the original image in both views).
"""
import random
from typing import Dict, List, Optional

import numpy as np

from .draw import (draw_box, hstack, letterbox, map_boxes, palette,
                   read_image, with_header)


def scrl_pipeline_from_config(cfg) -> List[dict]:
    """The SCRL train pipeline of ``cfg`` (a Config or path), minus packing.

    Raises:
        KeyError: if the pipeline has no ``SCRLBoxPairSampler``.
    """
    from mmengine.config import Config
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    ds = cfg.train_dataloader.dataset
    while 'pipeline' not in ds and 'dataset' in ds:
        ds = ds.dataset
    pipeline = [t for t in ds.pipeline if t['type'] not in (
        'PackInputs', 'PackSelfSupInputs')]
    if not any(t['type'] == 'SCRLBoxPairSampler' for t in pipeline):
        raise KeyError(f'{cfg.filename}: train pipeline has no '
                       'SCRLBoxPairSampler (not an SCRL config)')
    return [t for t in pipeline
            if t['type'] not in ('LoadImageFromFile', 'LoadImageForViews')]


def sample_scrl_views(img: np.ndarray, pipeline: List[dict],
                      seed: int = 0) -> Dict:
    """Apply the SCRL view + box pipeline to a BGR image.

    Returns:
        dict: The transform results: ``img`` (list of 2 BGR views),
        ``scrl_boxes`` (2, K, 4), ``scrl_box_valid`` (K,),
        ``view_homography`` (2, 3, 3), ``view_crop_bbox`` (2, 4).
    """
    import torch
    from mmengine.registry import DefaultScope

    import mmscrl  # noqa: F401 (registers the transforms)
    from mmscrl.registry import TRANSFORMS
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmscrl'):
        transforms = [TRANSFORMS.build(t) for t in pipeline]
    results = dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                   img_path='')
    for t in transforms:
        results = t(results)
        if results is None:
            raise RuntimeError(f'{type(t).__name__} dropped the sample')
    return results


def back_project(box: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Axis-aligned xyxy box in the original image of a view box.

    ``H`` maps original -> view pixels; the four corners go through
    ``H^-1``.
    """
    x1, y1, x2, y2 = box
    pts = np.array([[x1, y1, 1], [x2, y1, 1], [x2, y2, 1], [x1, y2, 1]],
                   np.float64).T
    q = np.linalg.inv(H) @ pts
    q = q[:2] / q[2:]
    return np.array([q[0].min(), q[1].min(), q[0].max(), q[1].max()])


def draw_scrl_pairs(img: np.ndarray, results: Dict,
                    panel: int = 256) -> np.ndarray:
    """Draw original + 2 views with matched boxes (same colour per pair).

    Args:
        img (np.ndarray): The original BGR image.
        results (dict): Output of :func:`sample_scrl_views`.
        panel (int): Side of each square panel in pixels. Defaults to 256.

    Returns:
        np.ndarray: BGR image of shape
        ``(panel + HEADER_H, 3 * panel + 2 * GAP, 3)``.
    """
    boxes = np.asarray(results['scrl_boxes'])
    valid = np.asarray(results['scrl_box_valid'], bool)
    Hs = np.asarray(results['view_homography'])
    k = int(valid.sum())
    cols = palette(max(k, 1))

    ori, s0, o0 = letterbox(img, panel)
    for v, style in ((0, (255, 255, 255)), (1, (0, 0, 0))):
        crop = map_boxes(results['view_crop_bbox'][v], s0, o0)[0]
        draw_box(ori, crop, style, thickness=1, label=f'view {v + 1}')
    views = []
    for v in range(2):
        view, s, o = letterbox(np.ascontiguousarray(results['img'][v]),
                               panel)
        vb = map_boxes(boxes[v][valid], s, o)
        for i, b in enumerate(vb):
            draw_box(view, b, cols[i], 2, label=str(i))
        views.append(view)
    for i, b in enumerate(boxes[0][valid]):
        ob = map_boxes(back_project(b, Hs[0]), s0, o0)[0]
        draw_box(ori, ob, cols[i], 1)
    titles = ['original: view crops, pairs', f'view 1 ({k} boxes)',
              'view 2 (same colour = pair)']
    return hstack([with_header(p, t) for p, t in zip([ori] + views, titles)])


def visualize_scrl_boxes(image_path: str, cfg, out_file: str,
                         seed: int = 0, panel: int = 256,
                         num_samples: int = 1) -> Optional[str]:
    """Sample ``num_samples`` view pairs of one image and write a PNG.

    Rows are stacked vertically (one per sample, seeds ``seed + i``).
    """
    from .draw import imwrite_atomic, vstack
    img = read_image(image_path)
    pipeline = scrl_pipeline_from_config(cfg)
    rows = [
        draw_scrl_pairs(img, sample_scrl_views(img, pipeline, seed + i),
                        panel) for i in range(num_samples)
    ]
    return imwrite_atomic(out_file, vstack(rows))
