# Copyright (c) mmscrl contributors. All rights reserved.
"""Weighted kNN classification of a frozen pre-trained backbone.

::

    python tools/benchmarks/classification/knn_eval.py CONFIG CHECKPOINT \
        [--k 20 200] [--temperature 0.07] [--batch-size N] [--workers N]
        [--out knn.json] [--cfg-options ...] [--launcher {none,pytorch,slurm}]
    # N processes (torchrun): tools/benchmarks/classification/
    #     dist_knn_eval.sh CONFIG CHECKPOINT N [args...]

The standard protocol of self-supervised learning (Wu et al., CVPR 2018;
DINO's ``eval_knn.py``): global-average-pooled features of the last stage,
L2-normalised, of every training and validation image, both through the
*test* pipeline (resize 256, center crop 224 for ImageNet); each validation
image is classified by its ``k`` most similar training images (cosine),
voting with weight ``exp(cos / T)``. mmpretrain 1.2 has no kNN evaluation.

``CONFIG`` is an mmpretrain classification config; its ``model.backbone``,
``model``/top-level ``data_preprocessor``, ``train_dataloader`` (data set
only; its pipeline is replaced by the val one) and ``val_dataloader`` are
used, e.g. the linear-probe configs in
``configs/benchmarks/classification/``. ``CHECKPOINT`` is any layout that
``mmscrl.utils.checkpoint_layout`` reads, or ``random``. Each process
extracts its share of the images (mmengine ``DefaultSampler``), the main
process gathers them (``mmengine.dist.collect_results``) and votes, with a
progress bar.
"""
import json
import os
import os.path as osp
import sys
import time

from mmengine.config import Config

from mmscrl.utils.cli import (add_cfg_options, add_config_arg,
                              add_launcher_arg, make_parser,
                              set_local_rank_env)


def parse_args(argv=None):
    p = make_parser(__doc__)
    add_config_arg(p, 'mmpretrain classification config')
    p.add_argument('checkpoint', help='checkpoint (any layout) or "random"')
    p.add_argument('--k', type=int, nargs='+', default=[20, 200],
                   help='neighbours of the kNN vote (one accuracy per value)')
    p.add_argument('--temperature', type=float, default=0.07,
                   help='temperature T of the vote weights exp(cos / T)')
    p.add_argument('--batch-size', type=int, default=None,
                   help='images per process and step (if omitted: the '
                   "config's loader batch sizes)")
    p.add_argument('--workers', type=int, default=None,
                   help='data loading workers per process (if omitted: the '
                   "config's num_workers)")
    p.add_argument('--out',
                   help='JSON file for the accuracies (if omitted: only '
                   'printed)')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the "random" backbone')
    add_cfg_options(p)
    add_launcher_arg(p, help='job launcher (none: a single process)')
    args = p.parse_args(argv)
    set_local_rank_env(args)
    return args


def _loader_cfg(cfg, name, pipeline, batch_size, workers):
    if cfg.get(name) is None:
        raise KeyError(f'{cfg.filename}: no {name}')
    loader = cfg[name].copy()
    loader.dataset = loader.dataset.copy()
    loader.dataset.pipeline = pipeline
    loader.sampler = dict(type='DefaultSampler', shuffle=False)
    if batch_size:
        loader.batch_size = batch_size
    if workers is not None:
        loader.num_workers = workers
        if workers == 0:
            loader.persistent_workers = False
    return loader


def extract(backbone, preprocessor, loader, device, progress):
    """GAP features (B, C) and labels of this process's share (no grad)."""
    import torch
    results = []
    with torch.no_grad():
        for data in loader:
            data = preprocessor(data, False)
            inputs = data['inputs'].to(device)
            feat = backbone(inputs)
            feat = feat[-1] if isinstance(feat, (tuple, list)) else feat
            feat = feat.float().mean(dim=(2, 3)) if feat.dim() == 4 else feat
            labels = [int(s.gt_label[0]) for s in data['data_samples']]
            for f, lab in zip(feat.cpu(), labels):
                results.append((f, lab))
            if progress is not None:
                progress.update(len(labels) * progress.world_size)
    return results


class _Progress:
    """mmengine's ProgressBar, on the main process, counting all ranks."""

    def __init__(self, total, world_size):
        from mmengine.utils import ProgressBar
        self.bar = ProgressBar(total)
        self.world_size = world_size
        self.done, self.total = 0, total

    def update(self, n):
        n = min(n, self.total - self.done)
        self.done += n
        if n > 0:
            self.bar.update(n)


def main(argv=None):
    args = parse_args(argv)
    import torch
    from mmengine.dist import (collect_results, get_dist_info, init_dist,
                               is_main_process)
    from mmengine.registry import DefaultScope, init_default_scope
    from mmengine.runner import Runner

    import mmscrl  # noqa: F401  (compat fixes, PretrainedBackbone)
    from mmscrl.evaluation.knn import knn_accuracy
    from mmscrl.models.utils.pretrained_backbone import PretrainedBackbone

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.launcher != 'none':
        init_dist(args.launcher)
    rank, world_size = get_dist_info()
    device = torch.device(
        f'cuda:{torch.cuda.current_device()}'
        if torch.cuda.is_available() else 'cpu')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    from mmpretrain.registry import MODELS

    backbone_cfg = cfg.model.backbone.copy()
    backbone_cfg.pop('init_cfg', None)
    backbone_cfg.pop('frozen_stages', None)
    pre_cfg = cfg.model.get('data_preprocessor') or cfg.get(
        'data_preprocessor') or {}
    pre_cfg = dict(pre_cfg)
    pre_cfg.setdefault('type', 'ClsDataPreprocessor')
    scope = cfg.get('default_scope', 'mmpretrain')
    with DefaultScope.overwrite_default_scope(scope):
        torch.manual_seed(args.seed)
        backbone = MODELS.build(backbone_cfg)
        preprocessor = MODELS.build(pre_cfg)
    if args.checkpoint == 'random':
        backbone.init_weights()
    else:
        PretrainedBackbone(args.checkpoint)(backbone)
    backbone.to(device).eval()
    preprocessor.to(device)

    val_pipeline = cfg.val_dataloader.dataset.get('pipeline')
    if val_pipeline is None:
        raise KeyError(f'{args.config}: val_dataloader.dataset has no '
                       'pipeline')
    sets = {}
    for split in ('train', 'val'):
        loader = Runner.build_dataloader(
            _loader_cfg(cfg, f'{split}_dataloader', val_pipeline,
                        args.batch_size, args.workers),
            seed=0)
        n = len(loader.dataset)
        if is_main_process():
            print(f'[knn] {split}: extracting {n} images on {world_size} '
                  f'process(es)', flush=True)
        progress = _Progress(n, world_size) if is_main_process() else None
        start = time.perf_counter()
        part = extract(backbone, preprocessor, loader, device, progress)
        if is_main_process():
            print(f'\n[knn] {split}: {time.perf_counter() - start:.1f} s',
                  flush=True)
        results = collect_results(part, n, device='cpu')
        if is_main_process():
            feats = torch.stack([r[0] for r in results])
            labels = torch.tensor([r[1] for r in results])
            sets[split] = (feats, labels)
    if not is_main_process():
        return None
    classes = getattr(loader.dataset, 'CLASSES', None) or \
        loader.dataset.metainfo.get('classes')
    num_classes = len(classes) if classes else int(
        max(sets['train'][1].max(), sets['val'][1].max())) + 1
    knn_device = device if device.type == 'cuda' else torch.device('cpu')
    acc = knn_accuracy(sets['train'][0].to(knn_device), sets['train'][1],
                       sets['val'][0].to(knn_device), sets['val'][1],
                       num_classes, ks=args.k, temperature=args.temperature)
    print(f'[knn] {args.checkpoint}, T={args.temperature}: ' + ', '.join(
        f'{key} {value:.2f}' for key, value in acc.items()), flush=True)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(checkpoint=args.checkpoint, config=args.config,
                           k=args.k, temperature=args.temperature,
                           num_train=len(sets['train'][1]),
                           num_val=len(sets['val'][1]), accuracy=acc), f,
                      indent=1)
    return acc


if __name__ == '__main__':
    main()
    sys.exit(0)
