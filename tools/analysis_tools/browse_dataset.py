# Copyright (c) mmscrl contributors. All rights reserved.
"""Save what the model sees: the training views of a pre-training config.

    python tools/analysis_tools/browse_dataset.py CONFIG
        [--output-dir work_dirs/browse] [--num 4] [--image-dir DIR]
        [--panel 192] [--seed 0] [--cfg-options k=v ...]

Builds the config's ``train_dataloader.dataset`` in the config's own scope
(mmpretrain's ``browse_dataset.py`` forces the ``mmpretrain`` scope, where
mmscrl's transforms do not exist), draws every view of each sample side by
side and writes one PNG per sample: SCRL's box pairs in matching colours
on view 1 / view 2 (numbered by pair; the row title counts the filled
slots), ORL stage 3's
global views, intra-RoI and inter-RoI patches, two views for BYOL/MoCo/
DenseCL. ``--image-dir`` swaps the dataset for a folder of images (any
layout, labels ignored) so a config can be browsed before its dataset is
downloaded; ORL stage 3 also needs its stage-2 correspondence file, pass
it with ``--cfg-options train_dataloader.dataset.ann_file=...``.
"""
import os.path as osp
import random

import numpy as np
from mmengine.config import Config

from mmscrl.utils.cli import add_cfg_options, add_config_arg, make_parser

ORL_VIEW_NAMES = ('view 1', 'view 2', 'intra-RoI 1', 'intra-RoI 2',
                  'inter-RoI (query)', 'inter-RoI (kNN image)')


def parse_args(argv=None):
    parser = make_parser(
        'Save the training views of a pre-training config as PNG files.')
    add_config_arg(parser)
    parser.add_argument('--output-dir', default='work_dirs/browse',
                        help='where the PNG files go')
    parser.add_argument('--num', type=int, default=4,
                        help='number of samples to draw')
    parser.add_argument(
        '--image-dir', default=None,
        help='use this folder of images instead of the config\'s dataset '
        '(mmpretrain CustomDataset, with_label=False, searched '
        'recursively); the config\'s pipeline is kept')
    parser.add_argument('--panel', type=int, default=192,
                        help='side of each view panel in pixels')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed of the augmentations')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def dataset_cfg_for_browsing(cfg: Config, image_dir=None) -> dict:
    """The config's training dataset, or ``image_dir`` with its pipeline."""
    if cfg.get('train_dataloader', None) is None or \
            'dataset' not in cfg.train_dataloader:
        raise KeyError(f'{cfg.filename}: no train_dataloader.dataset')
    ds_cfg = cfg.train_dataloader.dataset.copy()
    if image_dir is None:
        return ds_cfg
    if not osp.isdir(image_dir):
        raise FileNotFoundError(f'--image-dir {image_dir} is not a folder')
    ds_type = str(ds_cfg.get('type', ''))
    if ds_type.split('.')[-1] == 'ORLDataset':
        ds_cfg.data_root = image_dir
        ds_cfg.data_prefix = ''
        return ds_cfg  # images from image_dir, boxes from ann_file
    if 'pipeline' not in ds_cfg:
        raise KeyError(f'{cfg.filename}: train_dataloader.dataset has no '
                       'pipeline to apply to --image-dir')
    return dict(type='mmpretrain.CustomDataset', data_root=image_dir,
                data_prefix='', with_label=False,
                pipeline=ds_cfg.pipeline)


def _to_bgr(t) -> np.ndarray:
    """(C, H, W) uint8/float tensor as packed by PackInputs -> HWC uint8."""
    img = t.detach().cpu().numpy()
    if img.ndim == 2:
        img = img[None]
    img = np.ascontiguousarray(img.transpose(1, 2, 0))
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return img


def draw_sample(sample: dict, panel: int = 192) -> np.ndarray:
    """One row of labelled view panels for a packed sample.

    Args:
        sample (dict): ``dataset[i]``: ``inputs`` (list of (C, H, W) view
            tensors, or one tensor) and ``data_samples`` (a DataSample that
            may carry ``scrl_boxes`` (2, K, 4) / ``scrl_box_valid`` (K,)).
        panel (int): side of each square panel. Defaults to 192.

    Returns:
        np.ndarray: the BGR picture.
    """
    from mmscrl.visualization.draw import (draw_box, hstack, letterbox,
                                           map_boxes, palette, with_header)
    inputs = sample['inputs']
    if not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    ds = sample.get('data_samples', None)
    boxes = valid = None
    if ds is not None and 'scrl_boxes' in ds:
        boxes = np.asarray(ds.scrl_boxes)
        valid = np.asarray(ds.scrl_box_valid).astype(bool)
    names = ORL_VIEW_NAMES if len(inputs) == 6 else [
        f'view {i + 1}' for i in range(len(inputs))
    ]
    panels = []
    for i, t in enumerate(inputs):
        img = _to_bgr(t)
        box_img, scale, offset = letterbox(img, panel)
        title = f'{names[i]} {img.shape[1]}x{img.shape[0]}'
        if boxes is not None and i < 2:
            cols = palette(len(valid))
            for k, box in enumerate(map_boxes(boxes[i], scale, offset)):
                if valid[k]:
                    draw_box(box_img, box, cols[k], 2, str(k))
        panels.append(with_header(box_img, title))
    return hstack(panels)


def browse(config, output_dir='work_dirs/browse', num=4, image_dir=None,
           panel=192, seed=0, cfg_options=None):
    """Write ``num`` PNGs of training views; return their paths."""
    from mmengine.registry import DefaultScope
    from mmengine.utils import ProgressBar

    import mmscrl  # noqa: F401
    from mmscrl.registry import DATASETS
    from mmscrl.visualization.draw import imwrite_atomic, vstack, with_header
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    ds_cfg = dataset_cfg_for_browsing(cfg, image_dir)
    random.seed(seed)
    np.random.seed(seed)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmscrl')):
        dataset = DATASETS.build(ds_cfg)
        if len(dataset) == 0:
            raise ValueError(f'{cfg.filename}: the dataset is empty '
                             f'({ds_cfg.get("data_root", "")})')
        paths = []
        total = min(num, len(dataset))
        progress = ProgressBar(total) if total > 1 else None
        for i in range(total):
            sample = dataset[i]
            img_path = sample['data_samples'].get('img_path', '') \
                if sample.get('data_samples') is not None else ''
            title = f'#{i} {osp.basename(str(img_path))}'
            ds = sample.get('data_samples', None)
            if ds is not None and 'scrl_box_valid' in ds:
                valid = np.asarray(ds.scrl_box_valid).astype(bool)
                title += f'  SCRL box pairs: {int(valid.sum())}/{len(valid)}'
            row = with_header(draw_sample(sample, panel), title)
            out = osp.join(output_dir, f'{i:04d}.png')
            paths.append(imwrite_atomic(out, vstack([row])))
            if progress is not None:
                progress.update()
        if progress is not None:
            progress.file.write('\n')
    return paths


def main(argv=None):
    args = parse_args(argv)
    if args.num <= 0:
        raise SystemExit(f'--num must be positive, got {args.num}')
    paths = browse(args.config, args.output_dir, args.num, args.image_dir,
                   args.panel, args.seed, args.cfg_options)
    print(f'wrote {len(paths)} images to {args.output_dir}')
    return paths


if __name__ == '__main__':
    main()
