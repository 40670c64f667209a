# Copyright (c) mmscrl contributors. All rights reserved.
"""mmscrl benchmark suite: step time, data throughput and memory, side by side.

Every method is measured against its baseline in ONE process, with the
repeats interleaved (round-robin, rotating order), so load from other
processes hits all models alike; the report gives the median and the minimum
of each model's times and both ratios (the minimum is the least disturbed
estimate on a shared machine).

Sections (``--sections``, comma-separated; default all but ``orl_stage2``):

``steps``
    One training step (data preprocessor, forward, backward, optimizer
    step, EMA/momentum update, enqueue) of SCRL vs mmpretrain BYOL; mmscrl
    DenseCL vs mmpretrain MoCo v2 and vs mmpretrain DenseCL; ORL stage 3 vs
    BYOL; PixPro vs BYOL -- same backbone, batch and resolution. The models
    are the repo's ``configs/_base_/models`` blocks (SyncBN -> BN, channels
    adapted to the ResNet depth). BYOL-family models (PixPro too) step with
    LARS (the SCRL recipe's parameter groups), MoCo-family models with SGD.
    SCRL's boxes come from the real data pipeline (K = 10 pairs per image),
    and so do PixPro's views and their crop geometry
    (``imagenet_pixpro.py``); ORL's four patches are ``96 * size / 224`` px.
    With ``--device cuda`` the peak CUDA memory is recorded: the maximum
    allocated during each model's steps (all models are resident), the peak
    a step adds above what was allocated before it (activations, gradients,
    temporaries) and the model's own resident tensors (weights, buffers,
    optimizer state).
``flops``
    Floating-point operations of one training step of each model (forward
    + backward, ``torch.utils.flop_counter``; mmcv ops are not counted),
    hence each method's inherent cost ratio, independent of machine load.
``memory``
    Peak CPU RSS of a fresh process that builds one model and its batch and
    runs two steps (one child process per model; CPU only).
``data``
    Throughput (images/s) of each pre-training pipeline with our fast view
    ops (the default) and with the reference ops, next to mmpretrain's BYOL
    pipeline and a torchvision/PIL pipeline built as the official SCRL code
    builds it, on ImageNet-like (500x375) and COCO-like (640x480) JPEGs,
    inline (one thread) and through a ``DataLoader`` with
    ``--data-workers`` processes; the ratios against the targets (SCRL fast
    >= 2x the official-style pipeline, every method fast >= 2.5x its
    reference ops) and the time share of each transform of SCRL's pipeline
    (``mmscrl.datasets.pipeline_benchmark``).
``roialign``
    mmcv ``RoIAlign`` (forward + backward, the SCRL 1x1 setting) against
    torchvision's ``roi_align`` on a C5-sized feature map; on CPU also the
    demo detector's RoIAlign (7x7, adaptive sampling, 1024 RoIs on a
    stride-4 FPN map of 128 px images), mmcv against the sparse product of
    ``mmscrl.SparseSingleRoIExtractor``.
``channels_last``
    One training step of the demo SCRL model (``configs/demo``, on the
    steps section's SCRL batch: ``--batch 32 --size 96`` is the demo's
    setting) and of the demo Faster R-CNN R18-FPN (8 images of 128 px,
    random boxes; 2 of 64 px with ``--quick``), each in the NCHW layout and
    converted by ``mmscrl.ChannelsLastHook`` to NHWC: same weights, same
    batch, interleaved repeats; the NCHW / NHWC time ratios and the largest
    difference of the first step's losses.
``orl_stage2``
    ORL stage 2 at COCO scale, from ``tools/benchmarks/orl_stage2_scale.py``
    (when present; its ``--quick`` sizes with ``--quick``).

Outputs in ``--out-dir``: ``results.json``, ``results.md`` (markdown tables),
``ratios.png`` (bar chart of the step-time ratios against their targets) and
``data_ratios.png`` (the data section's ratios).

Examples::

    python tools/benchmarks/run.py                      # CPU, ResNet-18
    python tools/benchmarks/run.py --quick              # smoke, seconds
    python tools/benchmarks/run.py --device cuda --amp --depth 50 \\
        --batch 64                                      # GPU (gpu_check.sh)
"""
import argparse
import copy
import importlib.util
import json
import logging
import os
import os.path as osp
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from mmscrl.utils.cli import make_parser
from mmscrl.utils.fileio import atomic_write_text

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', '_base_')
SECTIONS = ('steps', 'flops', 'memory', 'data', 'roialign', 'channels_last',
            'orl_stage2')
#: default sections; ``orl_stage2`` (ResNet-50 on COCO-sized images, long
#: on a CPU) runs when named
DEFAULT_SECTIONS = SECTIONS[:-1]

#: name -> (model config under configs/_base_/models, type override)
MODELS_CFG = {
    'BYOL': ('orl_stage1_r50', None),
    'SCRL': ('scrl_r50', None),
    'ORL stage 3': ('orl_stage3_r50', None),
    'MoCo v2': ('mocov2_r50', None),
    'DenseCL (mmpretrain)': ('densecl_r50', 'DenseCL'),
    'DenseCL (mmscrl)': ('densecl_r50', None),
    'PixPro': ('pixpro_r50', None),
}
#: (label, method, baseline, target ratio)
COMPARISONS = [
    ('SCRL / BYOL', 'SCRL', 'BYOL', 1.05),
    ('DenseCL / MoCo v2', 'DenseCL (mmscrl)', 'MoCo v2', 1.02),
    ('DenseCL / mmpretrain DenseCL', 'DenseCL (mmscrl)',
     'DenseCL (mmpretrain)', 1.0),
    ('ORL stage 3 / BYOL', 'ORL stage 3', 'BYOL', 1.5),
    ('PixPro / BYOL', 'PixPro', 'BYOL', 1.05),
]
#: modules whose ``norm_cfg`` normalises 2-D maps (SyncBN -> BN, not BN1d)
NORM_2D = ('ResNet', 'PixProMLP2d')
MOCO_FAMILY = ('MoCo v2', 'DenseCL (mmpretrain)', 'DenseCL (mmscrl)')


def parse_args(argv=None):
    p = make_parser(__doc__, full_description=True)
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'],
                   help='where the models run (cuda also records peak CUDA '
                   'memory)')
    p.add_argument('--quick', action='store_true',
                   help='tiny sizes (ResNet-18, 32 px, batch 4, 1 repeat, '
                   '1 thread): a smoke run of every section; numbers not '
                   'meaningful')
    p.add_argument('--sections', default=','.join(DEFAULT_SECTIONS),
                   help=f'comma-separated subset of {SECTIONS}')
    p.add_argument('--depth', type=int, default=None,
                   help='ResNet depth (if omitted: 18 on CPU, 50 on CUDA)')
    p.add_argument('--batch', type=int, default=None,
                   help='images per step (if omitted: 8 on CPU, 64 on CUDA)')
    p.add_argument('--size', type=int, default=224, help='view size (px)')
    p.add_argument('--queue-len', type=int, default=65536,
                   help='MoCo/DenseCL queue length')
    p.add_argument('--repeats', type=int, default=7,
                   help='timed steps per model')
    p.add_argument('--warmup', type=int, default=2,
                   help='untimed steps per model')
    p.add_argument('--models', default=None,
                   help='comma-separated subset of the models of the steps '
                   'and memory sections (if omitted: all of '
                   f'{list(MODELS_CFG)})')
    p.add_argument('--amp', action='store_true',
                   help='AmpOptimWrapper (CUDA only)')
    p.add_argument('--data-images', type=int, default=24,
                   help='JPEGs per data round')
    p.add_argument('--data-repeats', type=int, default=3,
                   help='interleaved rounds of the data section (inline)')
    p.add_argument('--data-workers', type=int, default=2,
                   help='DataLoader worker processes of the data section '
                   '(0: inline only)')
    p.add_argument('--data-loader-rounds', type=int, default=2,
                   help='passes per DataLoader in the data section')
    p.add_argument('--threads', type=int, default=None,
                   help='torch CPU threads (if omitted: torch default)')
    p.add_argument('--out-dir', default='work_dirs/benchmarks',
                   help='where results.json/.md and ratios.png go')
    p.add_argument('--memory-child', default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    gpu = args.device == 'cuda'
    if args.depth is None:
        args.depth = 50 if gpu else 18
    if args.batch is None:
        args.batch = 64 if gpu else 8
    if args.quick:
        args.depth, args.batch, args.size = 18, 4, 32
        args.queue_len, args.repeats, args.warmup = 64, 1, 1
        args.data_images, args.data_repeats = 2, 1
        args.data_workers, args.data_loader_rounds = 1, 1
        args.threads = args.threads or 1
    args.sections = [s for s in args.sections.split(',') if s]
    bad = set(args.sections) - set(SECTIONS)
    if bad:
        p.error(f'unknown sections {sorted(bad)}; choose from {SECTIONS}')
    args.models = (list(MODELS_CFG) if args.models is None else
                   [m.strip() for m in args.models.split(',') if m.strip()])
    bad = set(args.models) - set(MODELS_CFG)
    if bad:
        p.error(f'unknown models {sorted(bad)}; choose from '
                f'{list(MODELS_CFG)}')
    if args.amp and not gpu:
        p.error('--amp needs --device cuda')
    import torch
    if gpu and not torch.cuda.is_available():
        p.error('--device cuda but torch.cuda.is_available() is False')
    if args.queue_len % args.batch:
        p.error(f'--queue-len {args.queue_len} must be a multiple of '
                f'--batch {args.batch}')
    return args


# --------------------------------------------------------------------------
# models and batches
# --------------------------------------------------------------------------
def _adapt(obj, depth):
    """SyncBN -> BN (BN1d in the 1-D necks); ResNet depth; 2048-channel C5
    widths for ResNet-18/34."""
    c5 = 2048 if depth >= 50 else 512
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if (k == 'norm_cfg' and isinstance(v, dict)
                    and v.get('type') == 'SyncBN'):
                bn = 'BN' if obj.get('type') in NORM_2D else 'BN1d'
                v = dict(v, type=bn)
            elif k == 'depth' and obj.get('type') == 'ResNet':
                v = depth
            elif k in ('in_channels', 'hid_channels') and v == 2048:
                v = c5
            out[k] = _adapt(v, depth)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_adapt(v, depth) for v in obj)
    return obj


def model_cfg(name, args):
    from mmengine.config import Config
    base, type_ = MODELS_CFG[name]
    cfg = Config.fromfile(osp.join(CONFIGS, 'models', base + '.py'))
    cfg = _adapt(cfg.to_dict()['model'], args.depth)
    if type_ is not None:
        cfg['type'] = type_
    if 'queue_len' in cfg:
        cfg['queue_len'] = args.queue_len
    return cfg


def build_model(name, args):
    from mmscrl.registry import MODELS
    model = MODELS.build(model_cfg(name, args))
    return model.to(args.device).train()


def build_optim_wrapper(name, model, args):
    from mmengine.optim import build_optim_wrapper as build
    wrapper = 'AmpOptimWrapper' if args.amp else 'OptimWrapper'
    if name in MOCO_FAMILY:
        cfg = dict(type=wrapper, optimizer=dict(
            type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4))
    else:
        excl = dict(decay_mult=0, lars_exclude=True)
        cfg = dict(
            type=wrapper,
            optimizer=dict(type='LARS', lr=0.1, momentum=0.9,
                           weight_decay=1e-6),
            paramwise_cfg=dict(custom_keys={
                'bn': excl, 'bias': excl, 'downsample.1': excl}))
    # the frozen EMA target's parameters: one warning each, hundreds per model
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    quiet = _DropFrozenParamWarnings()
    logger.addFilter(quiet)
    try:
        return build(model, cfg)
    finally:
        logger.removeFilter(quiet)


class _DropFrozenParamWarnings(logging.Filter):
    """Drops mmengine's '<param> is skipped since its requires_grad=False'.
    """

    def filter(self, record):
        return 'since its requires_grad=False' not in record.getMessage()


def scrl_pipeline_cfg(size):
    """The ImageNet SCRL pipeline at ``size`` px (box min size scaled)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIGS, 'datasets', 'imagenet_scrl.py'))
    pipe = copy.deepcopy(cfg.train_pipeline)
    for view in pipe[1]['transforms']:
        view[0]['scale'] = size
    pipe[2]['min_size'] = max(1, round(32 * size / 224))
    return pipe


def pixpro_pipeline_cfg(size):
    """The ImageNet PixPro pipeline at ``size`` px."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIGS, 'datasets',
                                   'imagenet_pixpro.py'))
    pipe = copy.deepcopy(cfg.train_pipeline)
    for view in pipe[1]['transforms']:
        view[0]['scale'] = size
    return pipe


def make_batches(args):
    """The collated batches of every model (built once, reused)."""
    import torch
    from mmengine.dataset import default_collate
    from mmpretrain.structures import DataSample

    from mmscrl.registry import TRANSFORMS
    rng = np.random.RandomState(0)
    pipe = [TRANSFORMS.build(t) for t in scrl_pipeline_cfg(args.size)[1:]]
    items = []
    for _ in range(args.batch):
        res = dict(img=rng.randint(0, 256, (375, 500, 3), np.uint8))
        for t in pipe:
            res = t(res)
        items.append(res)
    scrl = default_collate(items)
    views = scrl['inputs']
    plain = [DataSample() for _ in range(args.batch)]
    patch = max(8, round(96 * args.size / 224))
    patches = [
        torch.from_numpy(
            rng.randint(0, 256, (args.batch, 3, patch, patch), np.uint8))
        for _ in range(4)
    ]
    orl_samples = []
    for _ in range(args.batch):
        s = DataSample()
        s.set_field(True, 'inter_valid')
        orl_samples.append(s)
    plain_batch = dict(inputs=views, data_samples=plain)
    batches = {n: plain_batch for n in MODELS_CFG}
    batches['SCRL'] = scrl
    batches['ORL stage 3'] = dict(inputs=list(views) + patches,
                                  data_samples=orl_samples)
    # PixPro: its own two views and their geometry (crop boxes, flips)
    pipe = [TRANSFORMS.build(t) for t in pixpro_pipeline_cfg(args.size)[1:]]
    items = []
    for _ in range(args.batch):
        res = dict(img=rng.randint(0, 256, (375, 500, 3), np.uint8),
                   ori_shape=(375, 500), img_path='benchmark')
        for t in pipe:
            res = t(res)
        items.append(res)
    batches['PixPro'] = default_collate(items)
    pairs = int(sum(np.asarray(s.scrl_box_valid).sum()
                    for s in scrl['data_samples']))
    return batches, dict(scrl_pairs_per_batch=pairs, orl_patch_px=patch)


def _resident_bytes(model, wrapper):
    """Bytes of a model's own tensors: parameters, buffers (EMA target and
    queues included) and optimizer state."""
    import torch
    seen, total = set(), 0
    tensors = list(model.parameters()) + list(model.buffers())
    for state in wrapper.optimizer.state.values():
        tensors += [v for v in state.values() if torch.is_tensor(v)]
    for t in tensors:
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total


def _sync(device):
    import torch
    if device == 'cuda':
        torch.cuda.synchronize()


def _init_message_hub():
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    hub.update_info('max_iters', 1000)


def timed_step(model, data, wrapper, device):
    _sync(device)
    t0 = time.perf_counter()
    model.train_step(data, wrapper)
    _sync(device)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------
def bench_steps(args):
    import torch
    names = list(args.models)
    torch.manual_seed(0)
    models = {n: build_model(n, args) for n in names}
    wrappers = {n: build_optim_wrapper(n, models[n], args) for n in names}
    batches, info = make_batches(args)
    times = {n: [] for n in names}
    peak = {n: 0 for n in names}
    step_peak = {n: 0 for n in names}
    gpu = args.device == 'cuda'
    total = args.warmup + args.repeats
    for it in range(total):
        shift = it % len(names)  # rotate the order: no position bias
        for n in names[shift:] + names[:shift]:
            if gpu:
                torch.cuda.reset_peak_memory_stats()
                before = torch.cuda.memory_allocated()
            dt = timed_step(models[n], batches[n], wrappers[n], args.device)
            if gpu:
                top = torch.cuda.max_memory_allocated()
                peak[n] = max(peak[n], top)
                step_peak[n] = max(step_peak[n], top - before)
            if it >= args.warmup:
                times[n].append(dt)
        print(f'  steps {it + 1}/{total}: ' + ', '.join(
            f'{n} {times[n][-1]:.3f}s' for n in names if times[n]),
            flush=True)
    rows = {}
    for n in names:
        rows[n] = dict(median_s=statistics.median(times[n]),
                       min_s=min(times[n]), times_s=times[n])
        if gpu:
            rows[n]['cuda_max_allocated_mb'] = peak[n] / 2**20
            rows[n]['cuda_step_peak_mb'] = step_peak[n] / 2**20
            rows[n]['cuda_resident_mb'] = _resident_bytes(
                models[n], wrappers[n]) / 2**20
    ratios = []
    for label, m, b, target in COMPARISONS:
        if m not in rows or b not in rows:
            continue
        med = rows[m]['median_s'] / rows[b]['median_s']
        low = rows[m]['min_s'] / rows[b]['min_s']
        ratios.append(dict(label=label, method=m, baseline=b, target=target,
                           median_ratio=med, min_ratio=low,
                           met_median=med <= target, met_min=low <= target))
    return dict(models=rows, ratios=ratios, **info)


def bench_flops(args):
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    torch.manual_seed(0)
    batches, _ = make_batches(args)
    rows = {}
    for name in MODELS_CFG:
        model = build_model(name, args)
        wrapper = build_optim_wrapper(name, model, args)
        model.train_step(batches[name], wrapper)  # EMA copy on first update
        with FlopCounterMode(display=False) as counter:
            model.train_step(batches[name], wrapper)
        rows[name] = dict(gflops=counter.get_total_flops() / 1e9)
        del model, wrapper
        print(f'  flops {name}: {rows[name]["gflops"]:.1f} GFLOP', flush=True)
    ratios = {label: rows[m]['gflops'] / rows[b]['gflops']
              for label, m, b, _ in COMPARISONS}
    return dict(models=rows, ratios=ratios)


def _peak_rss_mb():
    """This process's peak RSS in MB: ``VmHWM`` on Linux (``ru_maxrss``
    would carry over the parent's peak across fork + exec)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(args):
    """Peak RSS of this process after building one model + 2 steps."""
    import torch
    _init_message_hub()
    name = args.memory_child
    before = _peak_rss_mb()
    torch.manual_seed(0)
    model = build_model(name, args)
    wrapper = build_optim_wrapper(name, model, args)
    batches, _ = make_batches(args)
    for _ in range(2):
        model.train_step(batches[name], wrapper)
    return dict(model=name, peak_rss_mb=_peak_rss_mb(),
                rss_before_model_mb=before)


def bench_memory(args):
    rows = {}
    for name in args.models:
        cmd = [sys.executable, osp.abspath(__file__), '--memory-child', name,
               '--depth', str(args.depth), '--batch', str(args.batch),
               '--size', str(args.size), '--queue-len', str(args.queue_len)]
        if args.threads:
            cmd += ['--threads', str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if out.returncode != 0:
            raise RuntimeError(f'memory child for {name} failed:\n'
                               f'{out.stderr[-3000:]}')
        rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f'  memory {name}: {rows[name]["peak_rss_mb"]:.0f} MB',
              flush=True)
    return rows


def bench_data(args):
    """Throughput of every pre-training pipeline (fast and reference ops)
    next to mmpretrain's BYOL pipeline and a torchvision pipeline built as
    the official SCRL code builds it
    (:mod:`mmscrl.datasets.pipeline_benchmark`), plus the time share of each
    transform of our (fast) SCRL pipeline."""
    from mmcv.transforms import Compose

    from mmscrl.datasets import pipeline_benchmark as pb
    tmp = tempfile.mkdtemp(prefix='mmscrl_bench_data_')
    try:
        sets = list(pb.IMAGE_SETS)[:1] if args.quick else list(pb.IMAGE_SETS)
        res = pb.run(tmp, n_images=max(2, args.data_images),
                     rounds=args.data_repeats,
                     loader_rounds=args.data_loader_rounds,
                     workers=args.data_workers, image_sets=sets,
                     loader_repeat=1 if args.quick else 4,
                     log=lambda m: print(m, flush=True))
        # where the time of the fast SCRL pipeline goes, transform by transform
        paths = pb.write_jpegs(osp.join(tmp, 'share'),
                               max(2, args.data_images), (500, 375))
        pipe = Compose(scrl_pipeline_cfg(args.size))
        per_t = [0.] * len(pipe.transforms)
        np.random.seed(0)
        for path in paths:
            r = dict(img_path=path)
            for k, t in enumerate(pipe.transforms):
                t0 = time.perf_counter()
                r = t(r)
                per_t[k] += time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = sum(per_t)
    res['scrl_transform_share'] = {
        f'{k}:{type(t).__name__}': per_t[k] / total
        for k, t in enumerate(pipe.transforms)}
    res['scrl_box_sampler_share'] = sum(
        v for k, v in res['scrl_transform_share'].items()
        if k.endswith('SCRLBoxPairSampler'))
    return res


def bench_roialign(args):
    import torch
    from mmcv.ops import RoIAlign
    from torchvision.ops import roi_align
    dev = args.device
    c = 2048 if args.depth >= 50 else 512
    n_img = 2 * args.batch
    side = max(1, args.size // 32)
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(n_img, c, side, side, generator=g).to(dev)
    k = 10
    xy = torch.rand(n_img * k, 2, generator=g) * args.size * 0.6
    wh = 8 + torch.rand(n_img * k, 2, generator=g) * args.size * 0.4
    idx = torch.arange(n_img).repeat_interleave(k)[:, None].float()
    rois = torch.cat([idx, xy, (xy + wh).clamp(max=args.size)], 1).to(dev)
    mm = RoIAlign(1, 1 / 32, 0, aligned=False).to(dev)

    def run_mmcv(f):
        return mm(f, rois)

    def run_tv(f):
        return roi_align(f, rois, 1, 1 / 32, -1, aligned=False)

    fns = dict(mmcv=run_mmcv, torchvision=run_tv)
    times = {n: [] for n in fns}
    for it in range(args.warmup + max(3, args.repeats)):
        for n, fn in fns.items():
            f = feat.detach().requires_grad_(True)
            _sync(dev)
            t0 = time.perf_counter()
            fn(f).sum().backward()
            _sync(dev)
            if it >= args.warmup:
                times[n].append(time.perf_counter() - t0)
    out = {n: dict(median_ms=1e3 * statistics.median(t), min_ms=1e3 * min(t))
           for n, t in times.items()}
    same = torch.allclose(run_mmcv(feat), run_tv(feat), atol=1e-5)
    out.update(rois=int(rois.shape[0]), feature=[n_img, c, side, side],
               mmcv_equals_torchvision=bool(same))
    if dev == 'cpu':
        out['detector'] = _bench_detector_roialign(args)
    return out


def _bench_detector_roialign(args):
    """The demo detector's RoIAlign on CPU: mmcv's kernel against the
    sparse product (forward + backward, interleaved repeats)."""
    import torch
    from mmcv.ops import RoIAlign

    from mmscrl.models.utils.roi_layers import SparseRoIAlign
    g = torch.Generator().manual_seed(0)
    n_img, c, side, per_img = (2, 32, 16, 32) if args.quick else \
        (8, 128, 32, 128)
    feat = torch.randn(n_img, c, side, side, generator=g)
    n = n_img * per_img
    xy = torch.rand(n, 2, generator=g) * side * 4 * 0.8
    wh = 4 + torch.rand(n, 2, generator=g) * 60
    idx = torch.arange(n_img).repeat_interleave(per_img)[:, None].float()
    rois = torch.cat([idx, xy, xy + wh], 1)
    layers = dict(mmcv=RoIAlign(7, 1 / 4, 0, aligned=True),
                  sparse=SparseRoIAlign(7, 1 / 4, 0, aligned=True))
    times = {n: [] for n in layers}
    for it in range(args.warmup + max(3, args.repeats)):
        for name, layer in layers.items():
            f = feat.detach().requires_grad_(True)
            t0 = time.perf_counter()
            layer(f, rois).sum().backward()
            if it >= args.warmup:
                times[name].append(time.perf_counter() - t0)
    out = {n: dict(median_ms=1e3 * statistics.median(t), min_ms=1e3 * min(t))
           for n, t in times.items()}
    out.update(rois=n, feature=[n_img, c, side, side],
               speedup=out['mmcv']['median_ms'] / out['sparse']['median_ms'],
               equal=bool(torch.allclose(layers['mmcv'](feat, rois),
                                         layers['sparse'](feat, rois),
                                         atol=1e-5)))
    return out


def _demo_detector_batch(args):
    """8 demo-sized detection images (2 with ``--quick``) with 1-5 random
    ground-truth boxes each, as mmdet's ``PackDetInputs`` packs them."""
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(0)
    n, size = (2, 64) if args.quick else (8, 128)
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(torch.randint(0, 256, (3, size, size), generator=g,
                                    dtype=torch.uint8))
        k = int(torch.randint(1, 6, (1, ), generator=g))
        xy = torch.rand(k, 2, generator=g) * size * 0.6
        wh = 6 + torch.rand(k, 2, generator=g) * size * 0.4
        s = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            scale_factor=(1., 1.), pad_shape=(size, size)))
        s.gt_instances = InstanceData(
            bboxes=torch.cat([xy, (xy + wh).clamp(max=size)], 1),
            labels=torch.randint(0, 5, (k, ), generator=g))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def bench_channels_last(args):
    """Demo SCRL and demo detector steps, NCHW against NHWC."""
    import torch
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper as build_wrapper
    from mmengine.registry import MODELS as ROOT_MODELS

    from mmscrl.engine.hooks import ChannelsLastHook
    from mmscrl.registry import MODELS
    demo = osp.join(REPO, 'configs', 'demo')

    def nhwc(model):
        runner = type('R', (), dict(model=model, logger=logging.getLogger(
            'mmscrl_bench')))()
        ChannelsLastHook().before_run(runner)
        return model

    torch.manual_seed(0)
    scrl_cfg = Config.fromfile(osp.join(
        demo, 'scrl_resnet18_1xb32-coslr-500i_demo.py')).model.to_dict()
    det_cfg = Config.fromfile(osp.join(
        demo, 'faster-rcnn_r18_fpn_1xb8-300i_demo.py')).model.to_dict()
    det_cfg['backbone'].pop('init_cfg', None)  # random init, no checkpoint
    scrl = MODELS.build(scrl_cfg).to(args.device).train()
    det = ROOT_MODELS.build(Config(dict(det_cfg, _scope_='mmdet'))).to(
        args.device).train()
    models = {'SCRL NCHW': scrl, 'SCRL NHWC': nhwc(copy.deepcopy(scrl)),
              'detector NCHW': det, 'detector NHWC': nhwc(copy.deepcopy(det))}
    wrappers = {}
    for n, m in models.items():
        wrappers[n] = (build_optim_wrapper('SCRL', m, args) if 'SCRL' in n
                       else build_wrapper(m, dict(type='OptimWrapper',
                                                  optimizer=dict(
                                                      type='SGD', lr=1e-3,
                                                      momentum=0.9))))
    scrl_batch = make_batches(args)[0]['SCRL']
    det_batch = _demo_detector_batch(args)
    batches = {n: scrl_batch if 'SCRL' in n else det_batch for n in models}
    first_loss = {}
    times = {n: [] for n in models}
    names = list(models)
    total = args.warmup + max(3, args.repeats)
    for it in range(total):
        shift = it % len(names)
        for n in names[shift:] + names[:shift]:
            _sync(args.device)
            t0 = time.perf_counter()
            # the same random draws (RPN/RoI sampling) for both layouts
            torch.manual_seed(it)
            log = models[n].train_step(batches[n], wrappers[n])
            _sync(args.device)
            if it >= args.warmup:
                times[n].append(time.perf_counter() - t0)
            if it == 0:
                first_loss[n] = float(log['loss'])
        print(f'  channels_last {it + 1}/{total}', flush=True)
    out = {n: dict(median_s=statistics.median(t), min_s=min(t), times_s=t)
           for n, t in times.items()}
    for m in ('SCRL', 'detector'):
        out[m] = dict(
            median_ratio=out[f'{m} NCHW']['median_s'] /
            out[f'{m} NHWC']['median_s'],
            min_ratio=out[f'{m} NCHW']['min_s'] / out[f'{m} NHWC']['min_s'],
            first_loss_diff=abs(first_loss[f'{m} NCHW'] -
                                first_loss[f'{m} NHWC']))
    out['scrl_batch'] = [args.batch, args.size]
    out['detector_batch'] = [len(det_batch['inputs']),
                             int(det_batch['inputs'][0].shape[-1])]
    return out


def bench_orl_stage2(args):
    path = osp.join(osp.dirname(osp.abspath(__file__)),
                    'orl_stage2_scale.py')
    if not osp.exists(path):
        return None
    spec = importlib.util.spec_from_file_location('orl_stage2_scale', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.main(['--quick'] if args.quick else [])
    res['markdown'] = mod.markdown(res)
    return res


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def markdown(res):
    a = res['setup']
    gpu_name = f", {a['gpu']}" if a.get('gpu') else ''
    lines = [
        f"ResNet-{a['depth']}, batch {a['batch']}, {a['size']} px, "
        f"{a['device']}{' AMP' if a['amp'] else ''}, torch threads "
        f"{a['threads']}, {a['cpu']}{gpu_name}; {a['repeats']} timed steps "
        f"per model after {a['warmup']} warm-up, interleaved; RoIAlign from "
        f"{a.get('roi_align', 'mmcv.ops')}.", ''
    ]
    if 'steps' in res:
        st = res['steps']
        gpu = a['device'] == 'cuda'
        fl = (res.get('flops') or {}).get('ratios', {})
        lines += ['| comparison | median ratio | min ratio | target | met |'
                  ' FLOP ratio |', '|---|---|---|---|---|---|']
        for r in st['ratios']:
            met = ('yes' if r['met_median'] and r['met_min'] else
                   'min only' if r['met_min'] else
                   'median only' if r['met_median'] else 'no')
            flop = f"{fl[r['label']]:.3f}x" if r['label'] in fl else '-'
            lines.append(f"| {r['label']} | {r['median_ratio']:.3f}x | "
                         f"{r['min_ratio']:.3f}x | <= {r['target']}x | "
                         f"{met} | {flop} |")
        mem = res.get('memory') or {}
        flm = (res.get('flops') or {}).get('models', {})
        head = '| model | median step s | min step s |'
        sep = '|---|---|---|'
        if flm:
            head, sep = head + ' GFLOP/step |', sep + '---|'
        if gpu:
            head += (' CUDA max alloc MB (all models resident) | CUDA step'
                     ' peak MB | CUDA model + optimizer MB |')
            sep += '---|---|---|'
        if mem:
            head, sep = head + ' peak RSS MB |', sep + '---|'
        lines += ['', head, sep]
        for n, r in st['models'].items():
            row = f"| {n} | {r['median_s']:.3f} | {r['min_s']:.3f} |"
            if flm:
                row += (f" {flm[n]['gflops']:.1f} |" if n in flm else
                        ' - |')
            if gpu:
                row += (f" {r['cuda_max_allocated_mb']:.0f} |"
                        f" {r['cuda_step_peak_mb']:.0f} |"
                        f" {r['cuda_resident_mb']:.0f} |")
            if mem:
                row += (f" {mem[n]['peak_rss_mb']:.0f} |" if n in mem else
                        ' - |')
            lines.append(row)
        lines.append(f"\nSCRL box pairs in the batch: "
                     f"{st['scrl_pairs_per_batch']}; ORL patches "
                     f"{st['orl_patch_px']} px.")
    if res.get('data'):
        lines += ['', data_markdown(res['data'])]
    if res.get('roialign'):
        r = res['roialign']
        lines += ['', f"RoIAlign 1x1 fwd+bwd, {r['rois']} RoIs on "
                  f"{tuple(r['feature'])}: mmcv {r['mmcv']['median_ms']:.2f}"
                  f" ms, torchvision {r['torchvision']['median_ms']:.2f} ms "
                  f"(median; same output: {r['mmcv_equals_torchvision']})."]
        d = r.get('detector')
        if d:
            lines += ['', f"Demo detector RoIAlign 7x7 fwd+bwd, {d['rois']} "
                      f"RoIs on {tuple(d['feature'])}: mmcv "
                      f"{d['mmcv']['median_ms']:.1f} ms, sparse product "
                      f"{d['sparse']['median_ms']:.1f} ms (median; "
                      f"{d['speedup']:.2f}x; same output: {d['equal']})."]
    if res.get('channels_last'):
        c = res['channels_last']
        lines += ['', '| training step (demo models) | NCHW s | NHWC s | '
                  'NCHW / NHWC median | min | first-step loss diff |',
                  '|---|---:|---:|---:|---:|---:|']
        for m, what in (('SCRL', 'SCRL, batch %d at %d px' %
                         tuple(c['scrl_batch'])),
                        ('detector', 'Faster R-CNN R18-FPN, batch %d at %d '
                         'px' % tuple(c['detector_batch']))):
            lines.append(
                f"| {what} | {c[m + ' NCHW']['median_s']:.3f} | "
                f"{c[m + ' NHWC']['median_s']:.3f} | "
                f"{c[m]['median_ratio']:.2f}x | {c[m]['min_ratio']:.2f}x | "
                f"{c[m]['first_loss_diff']:.1e} |")
    if res.get('orl_stage2'):
        lines += ['', '### ORL stage 2 at COCO scale', '',
                  res['orl_stage2']['markdown']]
    return '\n'.join(lines) + '\n'


#: the issue's targets: (ratio name, target)
DATA_TARGETS = {'SCRL fast / torchvision official': 2.0}
DATA_METHOD_TARGET = 2.5  # each method: fast / reference


def data_markdown(data):
    """Tables of the data section: images/s and the ratios per image set."""
    sets = [k for k, v in data.items() if isinstance(v, dict)
            and 'inline' in v]
    workers = next(iter(data[sets[0]].get(
        'loader', {'-': {'workers': 0}}).values()))['workers']
    head = '| pipeline |' + ''.join(
        f' {s} inline | {s} DataLoader |' for s in sets)
    lines = [
        'Images per second (median of the rounds; inline: one process, one '
        f'thread; DataLoader: {workers} worker processes, all images of a '
        'pass).', '', head,
        '|---|' + '---:|---:|' * len(sets)
    ]
    names = list(data[sets[0]]['inline'])
    for n in names:
        row = f'| {n} |'
        for s in sets:
            row += f" {data[s]['inline'][n]['img_per_s_median']:.1f} |"
            loader = data[s].get('loader')
            row += (f" {loader[n]['img_per_s_median']:.1f} |"
                    if loader else ' - |')
        lines.append(row)
    lines += ['', '| ratio | target |' + ''.join(
        f' {s} inline | {s} DataLoader |' for s in sets),
        '|---|---:|' + '---:|---:|' * len(sets)]
    for r in data[sets[0]]['inline_ratios']:
        target = DATA_TARGETS.get(r, DATA_METHOD_TARGET if r.endswith(
            'fast / reference') else None)
        row = f"| {r} | {'>= %.1fx' % target if target else '-'} |"
        for s in sets:
            row += f" {data[s]['inline_ratios'][r]:.2f}x |"
            lr = data[s].get('loader_ratios')
            row += f" {lr[r]:.2f}x |" if lr else ' - |'
        lines.append(row)
    share = data.get('scrl_box_sampler_share')
    if share is not None:
        lines.append(f'\nSCRL box-pair sampler: {share:.1%} of the (fast) '
                     'SCRL pipeline time.')
    return '\n'.join(lines)


def plot_data(data, path):
    """Bar chart of the data-section ratios against their targets."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    sets = [k for k in data if isinstance(data[k], dict)
            and 'inline_ratios' in data[k]]
    names = list(data[sets[0]]['inline_ratios'])
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=80)
    x = np.arange(len(names))
    bars = [(s, m) for s in sets for m in ('inline', 'loader')
            if data[s].get(f'{m}_ratios')]
    width = 0.8 / max(1, len(bars))
    colors = ['#2f5f8f', '#8fb8de', '#a8582f', '#e8b08c', '#3f8f4f',
              '#9fd8a8']
    for k, (s, m) in enumerate(bars):
        vals = [data[s][f'{m}_ratios'][n] for n in names]
        ax.bar(x - 0.4 + width * (k + 0.5), vals, width,
               label=f"{s}, {'DataLoader' if m == 'loader' else m}",
               color=colors[k % len(colors)])
    for i, n in enumerate(names):
        t = DATA_TARGETS.get(n, DATA_METHOD_TARGET if n.endswith(
            'fast / reference') else None)
        if t:
            ax.plot([i - 0.45, i + 0.45], [t] * 2, color='#c03030', lw=2,
                    label='target' if i == 0 else None)
    ax.axhline(1.0, color='grey', lw=0.8, ls=':')
    ax.set_xticks(x)
    ax.set_xticklabels([n.replace(': ', ':\n').replace(' / ', '\n/ ')
                        for n in names], fontsize=7)
    ax.set_ylabel('throughput ratio')
    ax.set_title('two-view data pipelines: images/s ratios (CPU)',
                 fontsize=9)
    ax.legend(fontsize=7, loc='upper center', bbox_to_anchor=(0.5, -0.3),
              ncol=4, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot(res, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ratios = res['steps']['ratios']
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=80)
    x = np.arange(len(ratios))
    ax.bar(x - 0.2, [r['median_ratio'] for r in ratios], 0.4,
           label='median ratio', color='#4878a8')
    ax.bar(x + 0.2, [r['min_ratio'] for r in ratios], 0.4,
           label='min ratio', color='#9cc0e0')
    for i, r in enumerate(ratios):
        ax.plot([i - 0.45, i + 0.45], [r['target']] * 2, color='#c03030',
                lw=2, label='target' if i == 0 else None)
    flops = (res.get('flops') or {}).get('ratios')
    if flops:
        ax.scatter(x, [flops[r['label']] for r in ratios], marker='D',
                   color='black', s=18, zorder=3, label='FLOP ratio')
    ax.axhline(1.0, color='grey', lw=0.8, ls=':')
    ax.set_xticks(x)
    ax.set_xticklabels([r['label'].replace(' / ', '\n/ ') for r in ratios],
                       fontsize=8)
    ax.set_ylabel('step time ratio')
    a = res['setup']
    ax.set_title(f"ResNet-{a['depth']}, batch {a['batch']}, {a['size']} px,"
                 f" {a['device']}{' AMP' if a['amp'] else ''}", fontsize=9)
    ax.legend(fontsize=8, loc='upper left')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope

    import mmscrl  # noqa: F401  (registers modules, applies compat)
    from mmscrl.models.utils.roi_layers import roi_align_backend
    MMLogger.get_instance('mmscrl_bench', log_level='WARNING')
    init_default_scope('mmscrl')
    if args.memory_child:
        print(json.dumps(memory_child(args)))
        return None
    _init_message_hub()
    res = dict(setup=dict(
        device=args.device, amp=args.amp, depth=args.depth, batch=args.batch,
        size=args.size, queue_len=args.queue_len, repeats=args.repeats,
        warmup=args.warmup, threads=torch.get_num_threads(),
        quick=args.quick, torch=torch.__version__,
        cpu=f'{platform.processor() or platform.machine()}, '
        f'{os.cpu_count()} logical CPUs',
        gpu=torch.cuda.get_device_name() if args.device == 'cuda' else None,
        roi_align=roi_align_backend()))
    for sec in args.sections:
        if sec == 'memory' and args.device == 'cuda':
            continue  # CUDA memory is measured with the steps
        print(f'== {sec}', flush=True)
        res[sec] = globals()[f'bench_{sec}'](args)
    os.makedirs(args.out_dir, exist_ok=True)
    atomic_write_text(osp.join(args.out_dir, 'results.json'),
                      json.dumps(res, indent=2, default=str))
    md = markdown(res)
    atomic_write_text(osp.join(args.out_dir, 'results.md'), md)
    written = ['results.json', 'results.md']
    if res.get('steps', {}).get('ratios'):
        plot(res, osp.join(args.out_dir, 'ratios.png'))
        written.append('ratios.png')
    if res.get('data'):
        plot_data(res['data'], osp.join(args.out_dir, 'data_ratios.png'))
        written.append('data_ratios.png')
    print('\n' + md, flush=True)
    print(f'wrote {args.out_dir}/' + ', '.join(written))
    return res


if __name__ == '__main__':
    main()
