# Copyright (c) mmscrl contributors. All rights reserved.
"""Measure SCRL's extra cost on CPU, side by side in one run.

1. The box-pair sampler per image (``SCRLBoxPairSampler`` after
   ``MultiViewWithGeometry``), against the two-view augmentation pipeline it
   runs next to in the dataloader workers.
2. One SCRL training step (forward + backward + LARS step) against one
   mmpretrain BYOL step with the same backbone, projector/predictor sizes,
   batch and resolution.

Usage::

    python tools/benchmarks/scrl_cost.py [--arch 18|50] [--batch 8]
        [--size 224] [--steps 5] [--images 200] [--threads N] [--out FILE]

Prints the timings and ratios; ``--out`` also writes them as JSON
(atomically).
"""
import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np
import torch


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--arch', type=int, default=18, choices=[18, 50],
                   help='ResNet depth (default 18)')
    p.add_argument('--batch', type=int, default=8, help='images per step')
    p.add_argument('--size', type=int, default=224, help='view size (px)')
    p.add_argument('--steps', type=int, default=5,
                   help='timed training steps per method (after 2 warm-up)')
    p.add_argument('--images', type=int, default=200,
                   help='images for the sampler timing')
    p.add_argument('--threads', type=int, default=None,
                   help='torch CPU threads (default: torch default)')
    p.add_argument('--out', help='optional JSON output file')
    return p.parse_args()


def view_cfg(size):
    # the ImageNet config's views (configs/_base_/datasets/imagenet_scrl.py)
    from mmengine.config import Config
    here = os.path.dirname(os.path.abspath(__file__))
    cfg = Config.fromfile(os.path.join(
        here, '../../configs/_base_/datasets/imagenet_scrl.py'))
    pipe = cfg.train_pipeline
    for view in pipe[1].transforms:
        view[0].scale = size
    pipe[2].min_size = max(1, round(32 * size / 224))
    return pipe[1], pipe[2]


def time_sampler(n_images, size):
    from mmscrl.registry import TRANSFORMS
    views_cfg, sampler_cfg = view_cfg(size)
    views, sampler = TRANSFORMS.build(views_cfg), TRANSFORMS.build(sampler_cfg)
    rng = np.random.RandomState(0)
    t_views, t_sampler, n_boxes = 0., 0., 0
    for i in range(n_images):
        h, w = rng.randint(300, 500), rng.randint(300, 500)
        img = rng.randint(0, 255, (h, w, 3), np.uint8)
        t0 = time.perf_counter()
        res = views(dict(img=img))
        t1 = time.perf_counter()
        res = sampler(res)
        t2 = time.perf_counter()
        t_views += t1 - t0
        t_sampler += t2 - t1
        n_boxes += int(res['scrl_box_valid'].sum())
        if (i + 1) % max(1, n_images // 4) == 0:
            print(f'  sampler: {i + 1}/{n_images} images', flush=True)
    return dict(
        sampler_ms_per_image=1e3 * t_sampler / n_images,
        views_ms_per_image=1e3 * t_views / n_images,
        boxes_per_image=n_boxes / n_images)


def build_models(arch):
    from mmscrl.registry import MODELS
    ch = 512 if arch == 18 else 2048

    def mlp(i, o, pool):
        return dict(type='NonLinearNeck', in_channels=i, hid_channels=4096,
                    out_channels=o, num_layers=2, with_bias=True,
                    with_last_bn=False, with_last_bias=False,
                    with_avg_pool=pool, norm_cfg=dict(type='BN1d'))

    backbone = dict(type='ResNet', depth=arch, out_indices=(3, ),
                    norm_cfg=dict(type='BN'), zero_init_residual=False)
    scrl = MODELS.build(dict(type='SCRL', backbone=backbone,
                             neck=mlp(ch, 256, False),
                             predictor=mlp(256, 256, False)))
    byol = MODELS.build(dict(
        type='BYOL', base_momentum=0.03, backbone=backbone,
        neck=mlp(ch, 256, True),
        head=dict(type='LatentPredictHead',
                  loss=dict(type='CosineSimilarityLoss'),
                  predictor=mlp(256, 256, False))))
    return scrl, byol


def make_batch(batch, size):
    from mmscrl.registry import TRANSFORMS
    from mmengine.dataset import default_collate
    views_cfg, sampler_cfg = view_cfg(size)
    pipe = [TRANSFORMS.build(views_cfg), TRANSFORMS.build(sampler_cfg),
            TRANSFORMS.build(dict(type='PackInputs', algorithm_keys=[
                'scrl_boxes', 'scrl_box_valid']))]
    rng = np.random.RandomState(0)
    items = []
    for _ in range(batch):
        res = dict(img=rng.randint(0, 255, (375, 500, 3), np.uint8))
        for t in pipe:
            res = t(res)
        items.append(res)
    return default_collate(items)


def time_steps(models, data, steps):
    """Median step time of each model; steps interleave the models so that
    load from other processes hits them alike."""
    from mmengine.optim import build_optim_wrapper
    wrappers = [
        build_optim_wrapper(m, dict(
            type='OptimWrapper',
            optimizer=dict(type='LARS', lr=0.1, momentum=0.9,
                           weight_decay=1e-6),
            paramwise_cfg=dict(custom_keys={
                'bn': dict(decay_mult=0, lars_exclude=True),
                'bias': dict(decay_mult=0, lars_exclude=True),
                'downsample.1': dict(decay_mult=0, lars_exclude=True)})))
        for m in models
    ]
    times = [[] for _ in models]
    for i in range(steps + 2):  # 2 warm-up steps
        for m, w, t in zip(models, wrappers, times):
            m.train()
            t0 = time.perf_counter()
            m.train_step(data, w)
            t.append(time.perf_counter() - t0)
        print(f'  step {i + 1}/{steps + 2}: ' + ', '.join(
            f'{type(m).__name__} {t[-1]:.2f}s' for m, t in zip(models, times)),
            flush=True)
    return [statistics.median(t[2:]) for t in times]


def main():
    args = parse_args()
    import mmscrl  # noqa: F401
    from mmengine.logging import MessageHub, MMLogger
    MMLogger.get_instance('scrl_cost', log_level='WARNING')  # quiet builders
    from mmengine.registry import init_default_scope
    init_default_scope('mmscrl')
    if args.threads:
        torch.set_num_threads(args.threads)
    MessageHub.get_current_instance().update_info('max_iters', 1000)
    torch.manual_seed(0)
    np.random.seed(0)

    print(f'Box sampler on {args.images} images ({args.size}-px views):')
    res = time_sampler(args.images, args.size)
    print(f'Training steps: ResNet-{args.arch}, batch {args.batch}, '
          f'{args.size} px, {torch.get_num_threads()} threads, CPU:')
    scrl, byol = build_models(args.arch)
    data = make_batch(args.batch, args.size)
    res['pairs_in_batch'] = int(sum(
        s.scrl_box_valid.sum() for s in data['data_samples']))
    res['scrl_step_s'], res['byol_step_s'] = time_steps([scrl, byol], data,
                                                        args.steps)
    res.update(
        arch=f'ResNet-{args.arch}', batch=args.batch, size=args.size,
        threads=torch.get_num_threads(),
        sampler_vs_views=res['sampler_ms_per_image'] /
        res['views_ms_per_image'],
        scrl_vs_byol_step=res['scrl_step_s'] / res['byol_step_s'])

    print('\n== SCRL cost (CPU) ==')
    print(f"box sampler      : {res['sampler_ms_per_image']:.3f} ms/image "
          f"({res['boxes_per_image']:.2f} pairs/image)")
    print(f"two-view pipeline: {res['views_ms_per_image']:.3f} ms/image")
    print(f"ratio sampler / view pipeline: {res['sampler_vs_views']:.4f}")
    print(f"SCRL step: {res['scrl_step_s']:.3f} s  "
          f"({res['pairs_in_batch']} box pairs)")
    print(f"BYOL step: {res['byol_step_s']:.3f} s")
    print(f"ratio SCRL / BYOL step: {res['scrl_vs_byol_step']:.3f}")
    if args.out:
        d = os.path.dirname(os.path.abspath(args.out))
        os.makedirs(d, exist_ok=True)
        with tempfile.NamedTemporaryFile('w', dir=d, delete=False,
                                         suffix='.tmp') as f:
            json.dump(res, f, indent=2)
        os.replace(f.name, args.out)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
