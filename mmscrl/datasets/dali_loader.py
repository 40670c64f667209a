# Copyright (c) mmscrl contributors. All rights reserved.
"""An optional NVIDIA DALI loader for the two-view pre-training pipelines.

``pip install -e .[dali]`` (``nvidia-dali-cuda120``; its CPU operators run
without a GPU with ``device_id=None``). The loader keeps everything that
decides *what* the views are in mmscrl's own code and hands DALI only the
pixel work:

1. per sample, the file is read and its size taken from the header, then
   the view parameters are drawn by the config's own samplers (the fast ops
   of :class:`MultiViewWithGeometry`: the same draws, from the same seeds,
   as the CPU path, in the same order), the geometry (homographies, crop
   boxes) is recorded, and the transforms after the views that need only
   geometry (e.g. :class:`SCRLBoxPairSampler`) run;
2. DALI decodes each image once and builds the views from those parameters:
   crop + antialiased resize of the crop region, flip, ColorJitter with its
   per-sample order of operations (DALI conditionals), grayscale, Gaussian
   blur or ``ResizeBlur``, solarize;
3. the views are packed by the config's ``PackInputs`` and collated, so the
   batches are those of the CPU loader (``inputs``: list of ``(B, 3, H, W)``
   uint8 BGR tensors; ``data_samples`` with e.g. ``scrl_boxes``), and SCRL,
   DenseCL and ORL stage 1 run on them unchanged.

Pixel differences to the reference ops (measured by
``tests/datasets/test_dali_loader.py``): DALI's brightness, contrast and
saturation round where PIL truncates; the hue rotation is an HSV shift
computed in float in DALI (DALI's own ``hue`` operator rotates in YIQ
space, > 10 grey levels from PIL's HSV shift, so it is not used); DALI's
Gaussian blur is a true Gaussian. Horizontal flips only.

Devices: ``device='cpu'`` runs DALI's CPU operators (``device_id=None``,
no GPU needed; what the test suite runs). ``device='gpu'`` decodes with
DALI's ``mixed`` (nvJPEG) decoder and runs every view operator on the GPU;
the views then arrive as CUDA tensors. The graph is the same on both devices
except for the decoder and where per-sample scalars live: every value that
DALI computes from the pixels (the contrast mean) enters the arithmetic as a
tensor, never as a named argument (GPU outputs cannot be named arguments),
and per-sample scalars used in arithmetic are moved to the GPU there.
Batches are copied into torch tensors by DALI's ``feed_ndarray`` on both
devices, so the CPU tests exercise the whole path but the decoder and the
GPU placement; those two are exercised by ``tools/benchmarks/gpu_check.sh``.

It is an iterable of batches (``model.train_step``, the benchmarks); the
Runner trains on it through the loops of :mod:`mmscrl.engine.dali_loops`
(``train_cfg.type='DALIEpochBasedTrainLoop'``).
"""
import io
import math
import random
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

__all__ = ['DALITwoViewLoader', 'dali_available', 'view_params']


def dali_available() -> bool:
    try:
        import nvidia.dali  # noqa: F401
    except ImportError:
        return False
    return True


def _image_size(data: bytes, path: str) -> tuple:
    """``(h, w)`` as the decoders deliver it (EXIF orientation applied)."""
    from PIL import Image

    from mmscrl.compat import ImageLoadError
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1)
    except Exception as e:  # noqa: BLE001
        raise ImageLoadError(f'cannot read the image header of {path} '
                             f'({len(data)} bytes): {e}') from e
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


#: neutral parameters of one view (what DALI gets when an op is not drawn)
_NEUTRAL = dict(flip=0, jitter=0, order=(0, 1, 2, 3), brightness=1.,
                contrast=1., saturation=1., hue=0, gray=0, sigma=0.,
                rblur=0., solarize=-1.)
#: the fixed order of the DALI graph; a view pipeline must respect it
_STAGES = ('crop', 'flip', 'jitter', 'gray', 'blur', 'solarize')


def view_params(pipeline, plan) -> dict:
    """DALI parameters of one view from a :class:`FastViewPipeline` plan.

    Returns:
        dict: ``crop`` ``(y, x, h, w)``, ``size`` ``(h, w)``,
        ``interpolation`` and the per-op values of ``_NEUTRAL``.

    Raises:
        ValueError: an op the DALI graph cannot reproduce, or an order it
            does not follow.
    """
    from .transforms.fast_transforms import (FastColorJitter,
                                             FastGaussianBlur,
                                             FastRandomApply, FastRandomFlip,
                                             FastRandomGrayscale,
                                             FastRandomResizedCrop,
                                             FastResizeBlur, FastSolarize)
    out = dict(_NEUTRAL)
    seen = []  # stages met so far, flips left out (a mirror commutes with
    # the colour ops and the symmetric blurs, so it may stand anywhere)

    def stage(name):
        if name == 'flip':
            return
        if seen and _STAGES.index(name) < _STAGES.index(seen[-1]):
            raise ValueError(f'DALI views: {name} after {seen[-1]} is not '
                             f'supported (order {_STAGES})')
        seen.append(name)

    ops = list(zip(pipeline.transforms, plan))
    if not ops or not isinstance(ops[0][0], FastRandomResizedCrop):
        raise ValueError('DALI views: a view pipeline must start with '
                         'RandomResizedCrop')
    while ops:
        op, p = ops.pop(0)
        if isinstance(op, FastRandomApply):
            ops = [(t, None if p is None else q) for t, q in zip(
                op.transforms.transforms, p or [None] * len(
                    op.transforms.transforms))] + ops
            if p is None:  # not applied: skip its transforms
                ops = ops[len(op.transforms.transforms):]
                for t in op.transforms.transforms:
                    stage(_stage_of(t))
            continue
        name = _stage_of(op)
        stage(name)
        if isinstance(op, FastRandomResizedCrop):
            out.update(crop=tuple(int(v) for v in p), size=tuple(op.scale),
                       interpolation=op.interpolation)
        elif isinstance(op, FastRandomFlip):
            if p not in (None, 'horizontal'):
                raise ValueError(f'DALI views: flip direction {p}')
            out['flip'] = int(p is not None)
        elif isinstance(op, FastColorJitter):
            order, b, c, s, h = p
            out.update(jitter=1, order=tuple(int(i) for i in order),
                       brightness=1. if b is None else float(b),
                       contrast=1. if c is None else float(c),
                       saturation=1. if s is None else float(s),
                       hue=0 if h is None else _hue_bytes(h))
        elif isinstance(op, FastRandomGrayscale):
            if p and tuple(op.channel_weights) != (0.114, 0.587, 0.2989):
                raise ValueError('DALI views: grayscale weights must be '
                                 'the BGR luma weights (0.114, 0.587, '
                                 f'0.2989), got {op.channel_weights}')
            out['gray'] = int(bool(p))
        elif isinstance(op, FastGaussianBlur):
            out['sigma'] = 0. if p is None else float(p)
        elif isinstance(op, FastResizeBlur):
            out['rblur'] = 0. if p is None else float(p)
        elif isinstance(op, FastSolarize):
            out['solarize'] = -1. if p is None else float(p)
    return out


def _stage_of(op) -> str:
    from .transforms.fast_transforms import (FastColorJitter,
                                             FastGaussianBlur, FastRandomFlip,
                                             FastRandomGrayscale,
                                             FastRandomResizedCrop,
                                             FastResizeBlur, FastSolarize)
    for cls, name in ((FastRandomResizedCrop, 'crop'),
                      (FastRandomFlip, 'flip'), (FastColorJitter, 'jitter'),
                      (FastRandomGrayscale, 'gray'),
                      (FastGaussianBlur, 'blur'), (FastResizeBlur, 'blur'),
                      (FastSolarize, 'solarize')):
        if isinstance(op, cls):
            return name
    raise ValueError(f'DALI views: {type(op).__name__} is not supported')


def _hue_bytes(factor: float) -> int:
    from .transforms.fast_ops import hue_shift
    return hue_shift(factor)


def _hsv_shift(dmath, fn, types, rgb, shift, dev):
    """PIL's hue shift (HSV, hue in bytes of 1/255 turn, added modulo 256)
    in DALI float arithmetic; ``shift`` is a per-sample scalar."""
    x = fn.cast(rgb, dtype=types.FLOAT)
    r, g, b = x[:, :, 0], x[:, :, 1], x[:, :, 2]
    mx = dmath.max(r, dmath.max(g, b))
    mn = dmath.min(r, dmath.min(g, b))
    d = mx - mn
    dd = d + (d == 0)  # no division by zero (grey pixels keep h = 0)
    h = ((mx == r) * ((g - b) / dd) + (mx != r) * (mx == g) *
         (2. + (b - r) / dd) + (mx != r) * (mx != g) * (4. + (r - g) / dd))
    h = h / 6. + 1.
    h = h - dmath.floor(h)  # in [0, 1)
    hb = dmath.floor(h * 255.)  # PIL's byte
    hb = hb + dev(fn.cast(shift, dtype=types.FLOAT))
    hb = hb - 256. * dmath.floor(hb / 256.)
    s = d / (mx + (mx == 0))
    h6 = hb * 6. / 255.
    i = dmath.floor(h6)
    f = h6 - i
    v = mx
    p = v * (1. - s)
    q = v * (1. - s * f)
    t = v * (1. - s * (1. - f))
    i = i - 6. * dmath.floor(i / 6.)
    sel = [(i == k) for k in range(6)]
    rr = sel[0] * v + sel[1] * q + sel[2] * p + sel[3] * p + sel[4] * t + \
        sel[5] * v
    gg = sel[0] * t + sel[1] * v + sel[2] * v + sel[3] * q + sel[4] * p + \
        sel[5] * p
    bb = sel[0] * p + sel[1] * p + sel[2] * t + sel[3] * v + sel[4] * v + \
        sel[5] * q
    out = fn.stack(rr, gg, bb, axis=2)
    out = dmath.clamp(dmath.floor(out + 0.5), 0., 255.)
    return fn.reshape(fn.cast(out, dtype=types.UINT8), layout='HWC')


def _view_graph(fn, types, dmath, img, prm, size, interpolation,
                gpu=False):
    """The DALI operations of one view.

    Args:
        img (DataNode): Decoded RGB images (on the GPU when ``gpu``).
        prm (dict): Per-sample parameters (CPU DataNodes, ``_KEYS``).
        size (tuple): Output ``(h, w)``.
        interpolation (str): ``'bilinear'`` or ``'bicubic'``.
        gpu (bool): ``img`` lives on the GPU: per-sample scalars that enter
            arithmetic with pixels are moved there (named arguments and
            conditions stay on the CPU, as DALI requires).
    """
    def dev(x):
        return x.gpu() if gpu else x

    interp = {'bilinear': types.INTERP_LINEAR,
              'bicubic': types.INTERP_CUBIC}[interpolation]
    v = fn.resize(img, size=list(size), roi_start=prm['start'],
                  roi_end=prm['end'], roi_relative=False, interp_type=interp,
                  antialias=True)
    v = fn.flip(v, horizontal=prm['flip'])

    def trunc(x):  # PIL's blends truncate where DALI would round
        x = dmath.clamp(dmath.floor(x), 0., 255.)
        return fn.reshape(fn.cast(x, dtype=types.UINT8), layout='HWC')

    if prm['jitter'] == 1:
        for k in range(4):
            op = prm['order'][k]
            if op == 0:
                v = trunc(fn.brightness(v, brightness=prm['brightness'],
                                        dtype=types.FLOAT))
            elif op == 1:
                grey = fn.color_space_conversion(
                    v, image_type=types.RGB, output_type=types.GRAY)
                # PIL: blend towards the rounded grey mean; written as
                # arithmetic (equal to fn.contrast with contrast_center)
                # because a GPU mean cannot be a named argument
                mean = dmath.floor(fn.reductions.mean(grey) + 0.5)
                x = fn.cast(v, dtype=types.FLOAT)
                v = trunc((x - mean) * dev(prm['contrast']) + mean)
            elif op == 2:
                v = trunc(fn.saturation(v, saturation=prm['saturation'],
                                        dtype=types.FLOAT))
            else:
                if prm['hue'] != 0:
                    v = _hsv_shift(dmath, fn, types, v, prm['hue'], dev)
    if prm['gray'] == 1:
        g = fn.color_space_conversion(v, image_type=types.RGB,
                                      output_type=types.GRAY)
        v = fn.cat(g, g, g, axis=2)
    if prm['sigma'] > 0:
        v = fn.gaussian_blur(v, sigma=prm['sigma'])
    if prm['rblur'] > 0:
        small = fn.resize(v, size=prm['rblur_size'], interp_type=interp,
                          antialias=True)
        v = fn.resize(small, size=list(size), interp_type=interp,
                      antialias=True)
    if prm['solarize'] >= 0:
        s = fn.cast(v, dtype=types.FLOAT)
        t = dev(prm['solarize'])
        s = (s < t) * s + (s >= t) * (255. - s)
        v = fn.reshape(fn.cast(s, dtype=types.UINT8), layout='HWC')
    return fn.color_space_conversion(v, image_type=types.RGB,
                                     output_type=types.BGR)


_KEYS = ('start', 'end', 'flip', 'jitter', 'order', 'brightness', 'contrast',
         'saturation', 'hue', 'gray', 'sigma', 'rblur', 'rblur_size',
         'solarize')


def _as_arrays(p: dict) -> List[np.ndarray]:
    y, x, h, w = p['crop']
    out_h, out_w = p['size']
    f = p['rblur']
    rsize = (max(1., float(out_h // f)), max(1., float(out_w // f))) if f \
        else (1., 1.)
    vals = dict(start=np.array([y, x], np.float32),
                end=np.array([y + h, x + w], np.float32),
                flip=np.array(p['flip'], np.int32),
                jitter=np.array(p['jitter'], np.int32),
                order=np.array(p['order'], np.int32),
                brightness=np.array(p['brightness'], np.float32),
                contrast=np.array(p['contrast'], np.float32),
                saturation=np.array(p['saturation'], np.float32),
                hue=np.array(p['hue'], np.int32),
                gray=np.array(p['gray'], np.int32),
                sigma=np.array(p['sigma'], np.float32),
                rblur=np.array(f, np.float32),
                rblur_size=np.array(rsize, np.float32),
                solarize=np.array(p['solarize'], np.float32))
    return [vals[k] for k in _KEYS]


class DALITwoViewLoader:
    """Batches of a two-view pre-training dataset, views built by DALI.

    Args:
        dataset (BaseDataset): An mmengine dataset whose pipeline holds a
            ``MultiViewWithGeometry(fast=True)`` (the shipped pre-training
            configs, e.g. ``Runner.build_dataloader(cfg.train_dataloader)
            .dataset``). Transforms before it only locate the file; the ones
            after it run as in the CPU pipeline.
        batch_size (int): Samples per batch.
        num_threads (int): DALI CPU threads. Defaults to 2.
        shuffle (bool): Shuffle each epoch. Defaults to True.
        seed (int): Seeds the order and the view samplers (numpy's and
            Python's global generators, as MMEngine seeds a worker; reseeded
            at each epoch with ``seed + epoch * world_size + rank``, so the
            first epoch of rank 0 draws as the CPU path seeded with
            ``seed``). Defaults to 0.
        drop_last (bool): Drop the last incomplete batch. Defaults to True.
        epochs (int, optional): Each iteration over the loader yields this
            many epochs, starting at the epoch set by :meth:`set_epoch`.
            Defaults to None (endless, as MMEngine's ``InfiniteSampler``).
        device (str): ``'cpu'`` (DALI CPU operators, no GPU needed) or
            ``'gpu'`` (nvJPEG ``mixed`` decoder and GPU operators; the views
            arrive as CUDA tensors). Defaults to ``'cpu'``.
        device_id (int, optional): The CUDA device of ``device='gpu'``.
            Defaults to None (``torch.cuda.current_device()``).
        rank (int): This process's rank in distributed training. Defaults
            to 0.
        world_size (int): Number of processes. Each rank takes every
            ``world_size``-th sample of the epoch's permutation, padded at
            the end as MMEngine's ``DefaultSampler`` pads, so all ranks run
            the same number of batches. Defaults to 1.

    Yields:
        dict: ``inputs`` (list of ``(B, 3, H, W)`` uint8 BGR tensors, one
        per view, on the CPU or the GPU) and ``data_samples``, as the CPU
        loader's collated batches.
    """

    def __init__(self, dataset, batch_size: int, num_threads: int = 2,
                 shuffle: bool = True, seed: int = 0,
                 drop_last: bool = True,
                 epochs: Optional[int] = None, device: str = 'cpu',
                 device_id: Optional[int] = None, rank: int = 0,
                 world_size: int = 1) -> None:
        from nvidia.dali import fn, pipeline_def, types
        import nvidia.dali.math as dmath

        from .transforms.scrl_transforms import MultiViewWithGeometry
        if device not in ('cpu', 'gpu'):
            raise ValueError(f"DALITwoViewLoader: device must be 'cpu' or "
                             f"'gpu', got {device!r}")
        gpu = device == 'gpu'
        if not 0 <= rank < world_size:
            raise ValueError(f'DALITwoViewLoader: rank {rank} is not in '
                             f'[0, world_size={world_size})')
        self.rank, self.world_size = int(rank), int(world_size)
        self._epoch = 0
        if gpu:
            import torch
            if not torch.cuda.is_available():
                raise RuntimeError("DALITwoViewLoader(device='gpu'): torch "
                                   'sees no CUDA device; use '
                                   "device='cpu'")
            if device_id is None:
                device_id = torch.cuda.current_device()
        self.device, self.device_id = device, device_id
        transforms = list(dataset.pipeline.transforms)
        idx = [i for i, t in enumerate(transforms)
               if isinstance(t, MultiViewWithGeometry)]
        if len(idx) != 1 or not transforms[idx[0]].fast:
            raise ValueError(
                'DALITwoViewLoader needs a pipeline with one '
                'MultiViewWithGeometry(fast=True); got '
                f'{[type(t).__name__ for t in transforms]}')
        per_rank = math.ceil(len(dataset) / world_size)
        if len(dataset) == 0 or (drop_last and per_rank < batch_size):
            raise ValueError(
                f'DALITwoViewLoader: {len(dataset)} samples ({per_rank} per '
                f'rank of {world_size}) make no batch of {batch_size} '
                f'(drop_last={drop_last})')
        self.multi_view = transforms[idx[0]]
        self.post = transforms[idx[0] + 1:]
        self.dataset, self.batch_size = dataset, batch_size
        self.shuffle, self.seed = shuffle, seed
        self.drop_last, self.epochs = drop_last, epochs
        self._pending: List[Dict] = []
        views = self.multi_view.transforms
        # view settings fixed by the config: output size, interpolation
        probe = []
        for v in views:
            crop = v.transforms[0] if v.transforms else None
            if type(crop).__name__ != 'FastRandomResizedCrop':
                raise ValueError('DALI views: a view pipeline must start '
                                 'with RandomResizedCrop')
            probe.append(dict(size=tuple(crop.scale),
                              interpolation=crop.interpolation))
        n_in = 1 + len(_KEYS) * len(views)

        @pipeline_def(enable_conditionals=True)
        def graph():
            inputs = fn.external_source(source=self._feed, num_outputs=n_in,
                                        batch=True)
            img = fn.decoders.image(inputs[0],
                                    device='mixed' if gpu else 'cpu',
                                    output_type=types.RGB)
            outs = []
            for k, p in enumerate(probe):
                prm = dict(zip(_KEYS, inputs[1 + k * len(_KEYS):1 +
                                             (k + 1) * len(_KEYS)]))
                outs.append(
                    _view_graph(fn, types, dmath, img, prm, p['size'],
                                p['interpolation'], gpu=gpu))
            return tuple(outs)

        self.pipe = graph(batch_size=batch_size, num_threads=num_threads,
                          device_id=device_id if gpu else None,
                          prefetch_queue_depth=1, exec_async=False,
                          exec_pipelined=False)
        self.pipe.build()

    def _order(self, epoch: int) -> np.ndarray:
        """This rank's sample indices of ``epoch`` (``DefaultSampler``'s
        sharding: one permutation for all ranks, padded with its head to a
        multiple of ``world_size``, every ``world_size``-th taken)."""
        n = len(self.dataset)
        order = (np.random.default_rng([self.seed, epoch]).permutation(n)
                 if self.shuffle else np.arange(n))
        total = math.ceil(n / self.world_size) * self.world_size
        order = np.concatenate([order, np.resize(order, total - n)])
        return order[self.rank:total:self.world_size]

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration over the loader starts at (the
        epoch-based DALI train loop sets it before each epoch)."""
        self._epoch = int(epoch)

    def _sample(self, index: int) -> tuple:
        """Draw one sample's views (the CPU path's draws, in its order)."""
        from mmengine import fileio

        from mmscrl.structures.bbox import (compose_axis_aligned,
                                            crop_resize_homography,
                                            flip_homography, view_region)
        results = self.dataset.get_data_info(index)
        data = fileio.get(results['img_path'])
        shape = _image_size(data, results['img_path'])
        results.update(ori_shape=shape, img_shape=shape)
        views = self.multi_view.transforms
        plans = [v.draw(shape)[0] for v in views]
        params, Hs, shapes, crops = [], [], [], []
        for v, plan in zip(views, plans):
            p = view_params(v, plan)
            params.append(p)
            # geometry of the plan (crop/resize, flip) without pixels
            y, x, h, w = p['crop']
            out_h, out_w = p['size']
            H = crop_resize_homography(x, y, w, h, out_w, out_h)
            if p['flip']:
                H = compose_axis_aligned(
                    flip_homography(out_w, out_h, 'horizontal'), H)
            Hs.append(H)
            shapes.append((out_h, out_w))
            crops.append(view_region(H, (out_h, out_w)))
        results['view_homography'] = np.stack(Hs)
        results['view_img_shape'] = np.array(shapes, dtype=np.int64)
        results['view_crop_bbox'] = np.stack(crops)
        # geometry-only transforms after the views (e.g. the box sampler)
        # draw now, as they do right after the views in the CPU pipeline
        pack = []
        for t in self.post:
            if type(t).__name__ == 'PackInputs':
                pack = self.post[self.post.index(t):]
                break
            results = t(results)
        return results, data, params, pack

    def _feed(self):
        batch = self._pending
        cols = [[np.frombuffer(d, np.uint8) for _, d, _, _ in batch]]
        for k in range(len(self.multi_view.transforms)):
            arrays = [_as_arrays(p[k]) for _, _, p, _ in batch]
            for j in range(len(_KEYS)):
                cols.append([a[j] for a in arrays])
        return cols

    def _run(self, indices: Sequence[int]) -> dict:
        from mmengine.dataset import default_collate
        self._pending = [self._sample(int(i)) for i in indices]
        outs = [self._to_torch(o) for o in self.pipe.run()]
        samples = []
        for b, (results, _, _, pack) in enumerate(self._pending):
            # (3, H, W) views: PackInputs passes tensors through as they are
            results['img'] = [o[b].permute(2, 0, 1) for o in outs]
            for t in pack:
                results = t(results)
            samples.append(results)
        return default_collate(samples)

    def _to_torch(self, tensor_list):
        """A DALI batch of ``(H, W, 3)`` views as one ``(B, H, W, 3)``
        uint8 torch tensor on the loader's device (DALI's copy)."""
        import torch
        from nvidia.dali.plugin.pytorch import feed_ndarray
        shapes = {tuple(s) for s in tensor_list.shape()}
        if len(shapes) != 1:
            raise RuntimeError(f'DALI views of one batch differ in shape: '
                               f'{sorted(shapes)}')
        shape = (len(tensor_list), ) + shapes.pop()
        if self.device == 'gpu':
            out = torch.empty(shape, dtype=torch.uint8,
                              device=f'cuda:{self.device_id}')
            feed_ndarray(tensor_list.as_tensor(), out,
                         cuda_stream=torch.cuda.current_stream(out.device))
        else:
            out = torch.empty(shape, dtype=torch.uint8)
            feed_ndarray(tensor_list.as_tensor(), out)
        return out

    def __iter__(self) -> Iterator[dict]:
        start = epoch = self._epoch
        while self.epochs is None or epoch < start + self.epochs:
            s = self.seed + epoch * self.world_size + self.rank
            np.random.seed(s % 2**32)
            random.seed(s)
            order = self._order(epoch)
            n = len(order)
            stop = n - n % self.batch_size if self.drop_last else n
            for s in range(0, stop, self.batch_size):
                idx = order[s:s + self.batch_size]
                if len(idx) < self.batch_size:
                    # DALI runs fixed-size batches: pad, then drop the pad
                    pad = np.concatenate([idx, order[:self.batch_size -
                                                     len(idx)]])
                    batch = self._run(pad)
                    yield _take(batch, len(idx))
                else:
                    yield self._run(idx)
            epoch += 1

    def __len__(self) -> int:
        """Batches per epoch of this rank."""
        n = math.ceil(len(self.dataset) / self.world_size)
        return n // self.batch_size if self.drop_last else math.ceil(
            n / self.batch_size)


def _take(batch: dict, n: int) -> dict:
    out = dict(batch)
    out['inputs'] = [v[:n] for v in batch['inputs']]
    out['data_samples'] = batch['data_samples'][:n]
    return out
