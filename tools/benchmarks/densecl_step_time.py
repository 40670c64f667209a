# Copyright (c) mmscrl contributors. All rights reserved.
"""Train-step time of mmscrl DenseCL vs mmpretrain MoCo v2 and DenseCL.

Builds the three algorithms side by side with the same ResNet backbone,
batch, resolution and queue length and times full training steps (two-view
forward, backward, SGD step, momentum update, enqueue), interleaving the
models round-robin so machine load affects all of them alike. Prints the
median/mean seconds per step and the ratios.

Example (what configs/densecl/README.md reports)::

    python tools/benchmarks/densecl_step_time.py --depth 50 --batch 8 \
        --img-size 224 --iters 6 --warmup 2 --out work_dirs/densecl_time.json
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import time

import torch

import mmscrl  # noqa: F401  (registers DenseCLOfficial, applies compat)
from mmengine.registry import DefaultScope

from mmscrl.registry import MODELS


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--depth', type=int, default=50, choices=[18, 34, 50])
    p.add_argument('--batch', type=int, default=8,
                   help='images per step (queue_len must divide by it)')
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--queue-len', type=int, default=65536)
    p.add_argument('--iters', type=int, default=6, help='timed steps/model')
    p.add_argument('--warmup', type=int, default=2, help='untimed steps')
    p.add_argument('--threads', type=int, default=None,
                   help='torch.set_num_threads (default: torch default)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=None, help='optional JSON result file')
    return p.parse_args(argv)


def model_cfgs(depth: int, queue_len: int) -> dict:
    c5 = 512 if depth < 50 else 2048
    backbone = dict(type='ResNet', depth=depth, out_indices=(3, ),
                    norm_cfg=dict(type='BN'), zero_init_residual=False)
    head = dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
                temperature=0.2)
    common = dict(queue_len=queue_len, feat_dim=128, momentum=0.001,
                  backbone=backbone, head=head)
    dense_neck = dict(type='DenseCLNeck', in_channels=c5, hid_channels=c5,
                      out_channels=128, num_grid=None)
    return {
        'mmpretrain MoCo v2': dict(
            common, type='MoCo',
            neck=dict(type='MoCoV2Neck', in_channels=c5, hid_channels=c5,
                      out_channels=128, with_avg_pool=True)),
        'mmpretrain DenseCL': dict(common, type='DenseCL', loss_lambda=0.5,
                                   neck=dense_neck),
        'mmscrl DenseCLOfficial': dict(common, type='DenseCLOfficial',
                                       loss_lambda=0.5, neck=dense_neck),
    }


def _sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def train_step(model, optimizer, views, device):
    _sync(device)
    start = time.perf_counter()
    losses = model.loss(views, None)
    loss = sum(losses.values())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    _sync(device)
    return time.perf_counter() - start


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    models, optims = {}, {}
    with DefaultScope.overwrite_default_scope('mmscrl'):
        for name, cfg in model_cfgs(args.depth, args.queue_len).items():
            model = MODELS.build(cfg).to(args.device).train()
            models[name] = model
            optims[name] = torch.optim.SGD(
                [p for p in model.parameters() if p.requires_grad],
                lr=0.03, momentum=0.9, weight_decay=1e-4)
    g = torch.Generator().manual_seed(args.seed)
    views = [
        torch.randn(args.batch, 3, args.img_size, args.img_size,
                    generator=g).to(args.device) for _ in range(2)
    ]
    print(f'ResNet-{args.depth}, batch {args.batch}, {args.img_size} px, '
          f'queue {args.queue_len}, device {args.device}, '
          f'{torch.get_num_threads()} threads; {args.warmup} warm-up + '
          f'{args.iters} timed steps per model, interleaved', flush=True)
    times = {name: [] for name in models}
    total = args.warmup + args.iters
    for it in range(total):
        for name, model in models.items():
            dt = train_step(model, optims[name], views, args.device)
            if it >= args.warmup:
                times[name].append(dt)
        print(f'  step {it + 1}/{total}: ' + ', '.join(
            f'{n.split()[-1]} {t[-1]:.3f}s' if t else f'{n.split()[-1]} -'
            for n, t in times.items()), flush=True)

    # median: typical step; min: least disturbed by other processes (the
    # better estimate on a shared machine). Ratios are given for both.
    base = {f: f(times['mmpretrain MoCo v2']) for f in (statistics.median,
                                                        min)}
    peer = {f: f(times['mmpretrain DenseCL']) for f in (statistics.median,
                                                        min)}
    rows = {}
    print(f'\n{"model":<24} {"median s":>9} {"min s":>7} '
          f'{"vs MoCo v2 (med/min)":>21} {"vs mmp DenseCL (med/min)":>25}')
    for name, ts in times.items():
        med, low = statistics.median(ts), min(ts)
        rows[name] = dict(
            median_s=med, min_s=low, mean_s=statistics.mean(ts), times_s=ts,
            ratio_vs_mocov2_median=med / base[statistics.median],
            ratio_vs_mocov2_min=low / base[min],
            ratio_vs_mmpretrain_densecl_median=med / peer[statistics.median],
            ratio_vs_mmpretrain_densecl_min=low / peer[min])
        r = rows[name]
        print(f'{name:<24} {med:>9.3f} {low:>7.3f} '
              f'{r["ratio_vs_mocov2_median"]:>12.3f}x/'
              f'{r["ratio_vs_mocov2_min"]:.3f}x '
              f'{r["ratio_vs_mmpretrain_densecl_median"]:>15.3f}x/'
              f'{r["ratio_vs_mmpretrain_densecl_min"]:.3f}x')
    if args.out:
        result = dict(args=vars(args), threads=torch.get_num_threads(),
                      torch=torch.__version__, results=rows)
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        tmp = args.out + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(result, f, indent=2)
        os.replace(tmp, args.out)
        print(f'wrote {args.out}')
    return rows


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
