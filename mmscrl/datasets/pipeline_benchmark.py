# Copyright (c) mmscrl contributors. All rights reserved.
"""Throughput of the two-view pre-training data pipelines, side by side.

Used by the ``data`` section of ``tools/benchmarks/run.py``. For each
method's pipeline (the shipped ``configs/_base_/datasets`` files) it
measures our fast default (``fast=True``), the reference ops of the same
config (``fast=False``), and two outside baselines:

* ``mmpretrain BYOL``: mmpretrain's own ``imagenet_bs32_byol.py`` pipeline;
* ``DALI CPU`` (when ``nvidia-dali-cuda120`` is installed): the DALI loader
  of :mod:`mmscrl.datasets.dali_loader` with its CPU operators; ``DALI GPU``
  (inline only, when a CUDA device is present too): the same loader with
  the nvJPEG decoder and GPU operators;
* ``torchvision (official SCRL)``: one PIL decode and two views built as
  kakaobrain/scrl builds them (torchvision ``RandomResizedCrop`` 224 bicubic
  scale (0.2, 1), flip, ``ColorJitter(0.4, 0.4, 0.2, 0.1)`` p 0.8,
  grayscale p 0.2, PIL ``ResizeBlur`` p 1.0 / 0.1, solarize p 0 / 0.2,
  ``ToTensor`` + ``Normalize``, and the ``[i, j, h, w, flipped]`` record).

Each is timed on the same JPEGs (ImageNet-like 500x375, COCO-like 640x480
and camera-sized 1600x1200 crops of a real photo; at 1600x1200 every 224-px
view is downsampled >= 2x, so the fast path decodes the JPEG at reduced
size), **inline** (one process, one thread, every
pipeline in turn per image, the order rotating, so machine load hits all
alike) and through a real ``torch.utils.data.DataLoader`` with worker
processes (the loaders take turns, one pass each per round). Numbers are
images per second; for the loaders also per worker.
"""
import os
import os.path as osp
import random
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

IMAGE_SETS = {'ImageNet-like 500x375': (500, 375),
              'COCO-like 640x480': (640, 480),
              'photos 1600x1200': (1600, 1200)}
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATASETS = osp.join(REPO, 'configs', '_base_', 'datasets')

#: method -> (dataset config, indices of the transforms with ``fast``)
METHODS = {
    'SCRL': ('imagenet_scrl.py', (1, )),
    'BYOL / ORL stage 1': ('coco_orl_stage1.py', (1, )),
    'MoCo v2 / DenseCL': ('imagenet_mocov2.py', (1, )),
    'ORL stage 3': ('coco_orl_stage3.py', (1, 2)),
}


def write_jpegs(root: str, n: int, size: Sequence[int],
                seed: int = 0) -> List[str]:
    """``n`` JPEGs of ``size`` (w, h): random crops of matplotlib's sample
    photo, resized, half of them mirrored (quality 90, as OpenCV's
    default 95 would make decoding slower than typical datasets')."""
    import cv2
    import matplotlib
    src = cv2.imread(osp.join(matplotlib.get_data_path(), 'sample_data',
                              'grace_hopper.jpg'))
    rng = np.random.default_rng(seed)
    w, h = size
    os.makedirs(root, exist_ok=True)
    paths = []
    for i in range(n):
        s = rng.uniform(0.6, 1.0)
        ch, cw = int(src.shape[0] * s), int(src.shape[1] * s)
        y = rng.integers(0, src.shape[0] - ch + 1)
        x = rng.integers(0, src.shape[1] - cw + 1)
        img = cv2.resize(src[y:y + ch, x:x + cw], (w, h),
                         interpolation=cv2.INTER_CUBIC)
        if rng.random() < 0.5:
            img = img[:, ::-1]
        paths.append(osp.join(root, f'{w}x{h}_{i:04d}.jpg'))
        cv2.imwrite(paths[-1], np.ascontiguousarray(img),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
    return paths


class OfficialSCRLViews:
    """kakaobrain/scrl's two-view augmentation, rebuilt with torchvision on
    PIL (``augment/transforms.py``, ``augment/gaussian_blur.py``): the
    baseline the issue compares against. Returns the two normalised tensors
    and each view's ``[i, j, h, w, flipped]``."""

    def __init__(self, size: int = 224):
        import torchvision.transforms as T
        self.T = T
        self.size = size
        self.jitter = T.ColorJitter(0.4, 0.4, 0.2, 0.1)
        self.gray = T.RandomGrayscale(0.2)
        self.norm = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        self.to_tensor = T.ToTensor()

    def _resize_blur(self, img):
        from PIL import Image
        f = random.choice((1.1, 1.2, 1.5))
        w, h = img.size
        small = img.resize((int(w // f), int(h // f)), Image.BICUBIC)
        return small.resize((w, h), Image.BICUBIC)

    def _view(self, img, blur_p, solarize_p):
        import torchvision.transforms.functional as F
        from PIL import ImageOps
        i, j, h, w = self.T.RandomResizedCrop.get_params(
            img, scale=(0.2, 1.), ratio=(3 / 4, 4 / 3))
        v = F.resized_crop(img, i, j, h, w, [self.size, self.size],
                           self.T.InterpolationMode.BICUBIC)
        flipped = random.random() < 0.5
        if flipped:
            v = F.hflip(v)
        if random.random() < 0.8:
            v = self.jitter(v)
        v = self.gray(v)
        if random.random() < blur_p:
            v = self._resize_blur(v)
        if random.random() < solarize_p:
            v = ImageOps.solarize(v, 128)
        return self.norm(self.to_tensor(v)), [i, j, h, w, int(flipped)]

    def __call__(self, results: dict) -> dict:
        from PIL import Image
        with Image.open(results['img_path']) as f:
            img = f.convert('RGB')
        v1, t1 = self._view(img, 1.0, 0.0)
        v2, t2 = self._view(img, 0.1, 0.2)
        return dict(inputs=[v1, v2], transf=[t1, t2])


def build_pipelines(size: int = 224) -> Dict[str, Callable]:
    """name -> callable(results) -> results, for every measured pipeline."""
    from mmcv.transforms import Compose
    from mmengine.config import Config

    pipes = {}
    for method, (cfg_file, indices) in METHODS.items():
        cfg = Config.fromfile(osp.join(DATASETS, cfg_file))
        for variant, fast in (('fast', True), ('reference', False)):
            pipeline = [dict(t) for t in cfg.train_pipeline]
            for idx in indices:
                pipeline[idx] = dict(pipeline[idx], fast=fast)
            pipes[f'{method} ({variant})'] = Compose(pipeline)
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import TRANSFORMS as PT
    import mmpretrain
    byol = Config.fromfile(
        osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs',
                 '_base_', 'datasets', 'imagenet_bs32_byol.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pipes['BYOL (mmpretrain)'] = Compose(
            [PT.build(t) for t in byol.train_pipeline])
    pipes['SCRL (torchvision, official-style)'] = OfficialSCRLViews(size)
    return pipes


def _orl_inputs(i: int, paths: List[str]) -> dict:
    """What ORL stage 3's dataset adds to a sample (boxes, the kNN image)."""
    j = (i + 1) % len(paths)
    return dict(intra_box=np.array([60, 40, 200, 180], np.float32),
                inter_pair=np.array([60, 40, 200, 180, 150, 100, 220, 200],
                                    np.float32),
                inter_valid=True, knn_img_path=paths[j], sample_idx=i,
                knn_idx=j)


def _sample(name: str, i: int, paths: List[str]) -> dict:
    res = dict(img_path=paths[i], sample_idx=i)
    if name.startswith('ORL stage 3'):
        res.update(_orl_inputs(i, paths))
    return res


def bench_inline(pipes: Dict[str, Callable], paths: List[str],
                 rounds: int = 3, seed: int = 0) -> Dict[str, dict]:
    """Images/s of each pipeline run in this process (one thread)."""
    names = list(pipes)
    totals = {n: [] for n in names}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        np.random.seed(seed)
        random.seed(seed)
        torch.manual_seed(seed)
        for _ in range(rounds):
            spent = {n: 0. for n in names}
            for i in range(len(paths)):
                shift = i % len(names)
                for n in names[shift:] + names[:shift]:
                    res = _sample(n, i, paths)
                    t0 = time.perf_counter()
                    pipes[n](res)
                    spent[n] += time.perf_counter() - t0
            for n in names:
                totals[n].append(len(paths) / spent[n])
    finally:
        torch.set_num_threads(threads)
    return {n: dict(img_per_s_median=statistics.median(v),
                    img_per_s_max=max(v), rounds=v)
            for n, v in totals.items()}


class _Images(torch.utils.data.Dataset):

    def __init__(self, name, pipe, paths, repeat=1):
        self.name, self.pipe, self.paths = name, pipe, paths
        self.repeat = repeat

    def __len__(self):
        return len(self.paths) * self.repeat

    def __getitem__(self, i):
        i %= len(self.paths)
        out = self.pipe(_sample(self.name, i, self.paths))
        return len(out)  # the views stay in the worker: pipeline cost only


def _worker_init(worker_id):
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def bench_loader(pipes: Dict[str, Callable], paths: List[str],
                 workers: int = 2, rounds: int = 2,
                 batch_size: int = 8, repeat: int = 4) -> Dict[str, dict]:
    """Images/s of each pipeline through a ``DataLoader`` with ``workers``
    worker processes (started once per loader, warmed up by one pass); a
    pass reads the images ``repeat`` times, so that it lasts long enough
    for the pass boundaries not to matter."""
    names = list(pipes)
    loaders = {
        n: torch.utils.data.DataLoader(
            _Images(n, pipes[n], paths, repeat), batch_size=batch_size,
            num_workers=workers, persistent_workers=True,
            worker_init_fn=_worker_init, collate_fn=len)
        for n in names
    }
    totals = {n: [] for n in names}
    try:
        for n in names:  # start the workers, warm up
            for k, _ in enumerate(loaders[n]):
                if k * batch_size >= len(paths):
                    break
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                t0 = time.perf_counter()
                count = sum(b for b in loaders[n])
                totals[n].append(count / (time.perf_counter() - t0))
    finally:
        for loader in loaders.values():
            it = getattr(loader, '_iterator', None)
            if it is not None:
                it._shutdown_workers()
    return {n: dict(img_per_s_median=statistics.median(v),
                    img_per_s_max=max(v),
                    img_per_s_per_worker=statistics.median(v) / workers,
                    rounds=v, workers=workers)
            for n, v in totals.items()}


#: methods whose two-view pipelines the DALI loader can build
DALI_METHODS = ('SCRL', 'BYOL / ORL stage 1', 'MoCo v2 / DenseCL')


def bench_dali(paths: List[str], threads: int, rounds: int = 3,
               batch_size: int = 8, device: str = 'cpu') -> Dict[str, dict]:
    """Images/s of the DALI loader (``threads`` DALI CPU threads; the view
    operators on ``device``: ``'cpu'`` or ``'gpu'``) on the same images,
    for each method of :data:`DALI_METHODS`; one batch of warm-up, then
    ``rounds`` passes over the images (a GPU run waits for the device
    before each clock reading)."""
    from mmengine.config import Config
    from mmpretrain.datasets import CustomDataset

    from .dali_loader import DALITwoViewLoader
    root = osp.dirname(paths[0])
    batch_size = min(batch_size, len(set(paths)))
    rows = {}
    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for method in DALI_METHODS:
            cfg = Config.fromfile(osp.join(DATASETS, METHODS[method][0]))
            ds = CustomDataset(data_root=root, data_prefix='',
                               with_label=False,
                               pipeline=cfg.train_pipeline)
            loader = DALITwoViewLoader(ds, batch_size=batch_size,
                                       num_threads=threads, shuffle=True,
                                       seed=0, device=device)
            sync = torch.cuda.synchronize if device == 'gpu' else (
                lambda: None)
            it = iter(loader)
            next(it)  # warm-up
            per_round = max(1, len(paths) // batch_size)  # paths may repeat
            totals = []
            for _ in range(rounds):
                sync()
                t0 = time.perf_counter()
                for _ in range(per_round):
                    next(it)
                sync()
                totals.append(per_round * batch_size /
                              (time.perf_counter() - t0))
            rows[f'{method} (DALI {device.upper()})'] = dict(
                img_per_s_median=statistics.median(totals),
                img_per_s_max=max(totals), rounds=totals, threads=threads)
    finally:
        torch.set_num_threads(threads_before)
    return rows


def ratios(rows: Dict[str, dict], key: str = 'img_per_s_median'
           ) -> Dict[str, float]:
    """The issue's ratios: fast / reference for each method, and our SCRL
    (fast and reference) / the torchvision official-style SCRL."""
    out = {}
    for method in METHODS:
        fast, ref = rows.get(f'{method} (fast)'), rows.get(
            f'{method} (reference)')
        if fast and ref:
            out[f'{method}: fast / reference'] = fast[key] / ref[key]
    tv = rows.get('SCRL (torchvision, official-style)')
    if tv:
        for v in ('fast', 'reference'):
            if f'SCRL ({v})' in rows:
                out[f'SCRL {v} / torchvision official'] = (
                    rows[f'SCRL ({v})'][key] / tv[key])
    for dev in ('CPU', 'GPU'):
        dali = rows.get(f'SCRL (DALI {dev})')
        if tv and dali:
            out[f'SCRL DALI {dev} / torchvision official'] = (
                dali[key] / tv[key])
    byol = rows.get('BYOL (mmpretrain)')
    if byol and 'BYOL / ORL stage 1 (fast)' in rows:
        out['BYOL fast / mmpretrain BYOL'] = (
            rows['BYOL / ORL stage 1 (fast)'][key] / byol[key])
    return out


def run(root: str, n_images: int = 24, rounds: int = 3,
        loader_rounds: int = 2, workers: int = 2, loader_repeat: int = 4,
        image_sets: Optional[Sequence[str]] = None,
        log: Callable[[str], None] = print,
        dali: Optional[bool] = None) -> dict:
    """Every image set, inline and through loaders; see the module doc.
    ``dali``: also measure the DALI loader (default: when installed; the
    DataLoader column then gives it as many DALI threads as workers; with
    a CUDA device, the GPU operators are measured too)."""
    from .dali_loader import dali_available
    if dali is None:
        dali = dali_available()
    pipes = build_pipelines()
    result = {}
    for set_name in image_sets or IMAGE_SETS:
        size = IMAGE_SETS[set_name]
        paths = write_jpegs(osp.join(root, f'{size[0]}x{size[1]}'),
                            n_images, size)
        log(f'  data {set_name}: inline, {len(pipes)} pipelines x '
            f'{n_images} images x {rounds} rounds')
        inline = bench_inline(pipes, paths, rounds)
        if dali:
            log(f'  data {set_name}: DALI loader (CPU operators), 1 thread')
            inline.update(bench_dali(paths, 1, rounds))
            if torch.cuda.is_available():
                log(f'  data {set_name}: DALI loader (GPU operators), '
                    '1 thread')
                inline.update(bench_dali(paths, 1, rounds, device='gpu'))
        entry = dict(inline=inline, inline_ratios=ratios(inline))
        if workers > 0 and loader_rounds > 0:
            log(f'  data {set_name}: DataLoader with {workers} workers')
            loader = bench_loader(pipes, paths, workers, loader_rounds,
                                  repeat=loader_repeat)
            if dali:
                log(f'  data {set_name}: DALI loader, {workers} threads')
                loader.update(
                    bench_dali(paths * loader_repeat, workers, loader_rounds))
            entry.update(loader=loader, loader_ratios=ratios(loader))
        result[set_name] = entry
        log('    ' + ', '.join(f'{k} {v:.2f}x'
                               for k, v in entry['inline_ratios'].items()))
    return result
