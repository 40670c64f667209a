# Copyright (c) mmscrl contributors. All rights reserved.
"""The one place where mmscrl repairs its dependency stack.

The tested stack (torch 2.14, numpy 1.26/2.x, mmengine 0.10.7, mmcv 2.1.0,
mmpretrain 1.2.0, mmdet 3.3.0) has breakages that its upstreams never fixed.
Each fix below is small, idempotent, applied once by :func:`apply_all` when
``mmscrl`` is imported, and covered by ``tests/test_compat.py``. Nothing else
in the package patches third-party code.

1. ``torch.load`` defaults to ``weights_only=True`` since torch 2.6, but
   mmengine 0.10.7 calls it without the argument, so loading or resuming any
   mmengine checkpoint fails (``HistoryBuffer`` and numpy scalars/arrays in
   the message hub are not allow-listed). We allow-list exactly the classes
   mmengine checkpoints contain; ``weights_only`` stays on.
2. numpy 2 makes mmcv 2.1.0's ``adjust_hue`` raise ``OverflowError`` for a
   negative hue (``np.uint8(negative)``), which crashes the standard
   ``ColorJitter``. We replace it with an equivalent that computes the shift
   in a wide integer type (only when numpy >= 2).
3. Configs inheriting ``mmpretrain::`` bases get ``_scope_`` injected into
   ``collate_fn`` dicts; the Runner forwards it to ``default_collate`` as a
   keyword (``TypeError``). We drop ``_scope_`` there and resolve the function
   in that scope.
4. Distributed training without GPUs: mmengine's ``init_dist`` calls
   ``torch.cuda.set_device`` and defaults to NCCL, and the Runner passes
   ``device_ids=[LOCAL_RANK]`` to DDP, which torch rejects for CPU modules,
   and torch's SyncBatchNorm refuses CPU tensors. Without CUDA we use gloo,
   skip ``set_device``, drop ``device_ids`` for CPU modules and revert SyncBN
   to BN (logged), so ``tools/dist_train.sh CFG 2`` runs on a CPU-only box.
"""
import functools
import os
import warnings

import numpy as np
import torch

_APPLIED = set()


def _once(fn):

    @functools.wraps(fn)
    def wrapper():
        if fn.__name__ in _APPLIED:
            return
        fn()
        _APPLIED.add(fn.__name__)

    return wrapper


def _history_buffer_getattr(obj, name):
    """A ``getattr`` that only resolves ``HistoryBuffer``'s own functions.

    mmengine pickles ``HistoryBuffer._statistics_methods`` (``min``, ``max``,
    ``current``, ``mean``), and pickle spells a function with a dotted
    qualname as ``builtins.getattr(HistoryBuffer, 'min')``. Allow-listing the
    real ``getattr`` would let a checkpoint reach any attribute of any allowed
    class; this stand-in is registered under the name ``builtins.getattr``
    for the weights-only unpickler and refuses everything else.
    """
    import pickle

    from mmengine.logging.history_buffer import HistoryBuffer
    if (obj is HistoryBuffer and isinstance(name, str)
            and not name.startswith('_')
            and callable(HistoryBuffer.__dict__.get(name))):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'weights-only load: getattr({obj!r}, {name!r}) is not allowed '
        '(mmscrl allows it for mmengine HistoryBuffer methods only)')


def mmengine_checkpoint_safe_globals() -> list:
    """The exact non-tensor globals found in mmengine training checkpoints.

    Found by disassembling checkpoints written by mmengine 0.10.7 Runners
    (message hub, optimizer, scheduler and meta states): ``HistoryBuffer``,
    numpy arrays/scalars/dtypes, and ``getattr`` for HistoryBuffer's methods.
    numpy 1.x and 2.x name their reconstruction helpers differently; both
    spellings are registered so either numpy reads the other's checkpoints.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    try:
        from numpy._core import multiarray as _ma  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray as _ma
    safe = [HistoryBuffer, np.ndarray, np.dtype,
            (_history_buffer_getattr, 'builtins.getattr')]
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        safe += [(_ma._reconstruct, f'{mod}._reconstruct'),
                 (_ma.scalar, f'{mod}.scalar')]
    # concrete dtype classes (np.dtypes.Float64DType, ...) used by dtype pickles
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return safe


@_once
def patch_torch_load_safe_globals():
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(mmengine_checkpoint_safe_globals())


def _hue_shift_uint8(hue_factor: float) -> np.uint8:
    """``np.uint8(hue_factor * 255)`` as numpy 1.x computes it (wrapping)."""
    return np.uint8(int(hue_factor * 255) % 256)


def _adjust_hue_numpy2(img, hue_factor, backend=None):
    """mmcv 2.1.0 ``adjust_hue`` with its uint8 shift computed numpy-2-safely.

    Identical to the original (BGR input, cv2/pillow backends) except that
    ``np.uint8(hue_factor * 255)`` -- an OverflowError for negative values in
    numpy 2 -- is replaced by :func:`_hue_shift_uint8`.
    """
    import cv2
    from mmcv.image import io as mmcv_io
    from PIL import Image
    if backend is None:
        backend = mmcv_io.imread_backend
    if backend not in ['cv2', 'pillow']:
        raise ValueError(f'backend: {backend} is not supported.'
                         f"Supported backends are 'cv2', 'pillow'")
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and (img.ndim in {2, 3})):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    shift = _hue_shift_uint8(hue_factor)
    if backend == 'pillow':
        assert img.dtype == np.uint8, 'Pillow backend only support uint8 type'
        pil_image = Image.fromarray(img[..., ::-1], mode='RGB')
        input_mode = pil_image.mode
        h, s, v = pil_image.convert('HSV').split()
        np_h = np.array(h, dtype=np.uint8)
        with np.errstate(over='ignore'):
            np_h += shift
        h = Image.fromarray(np_h, 'L')
        pil_image = Image.merge('HSV', (h, s, v)).convert(input_mode)
        return np.array(pil_image, dtype=img.dtype)[..., ::-1]
    dtype = img.dtype
    img = img.astype(np.uint8)
    hsv_img = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)
    h, s, v = cv2.split(hsv_img)
    h = h.astype(np.uint8)
    with np.errstate(over='ignore'):
        h += shift
    hsv_img = cv2.merge([h, s, v])
    return cv2.cvtColor(hsv_img, cv2.COLOR_HSV2BGR_FULL).astype(dtype)


@_once
def patch_mmcv_adjust_hue():
    if int(np.__version__.split('.')[0]) < 2:
        return
    import mmcv
    import mmcv.image
    import mmcv.image.photometric as photometric
    for mod in (mmcv, mmcv.image, photometric):
        mod.adjust_hue = _adjust_hue_numpy2


@_once
def patch_runner_collate_scope():
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    original = Runner.build_dataloader

    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        if isinstance(dataloader, dict):
            collate = dataloader.get('collate_fn')
            if isinstance(collate, dict) and '_scope_' in collate:
                collate = dict(collate)
                scope = collate.pop('_scope_')
                dataloader = dict(dataloader, collate_fn=collate)
                with DefaultScope.overwrite_default_scope(scope):
                    return original(dataloader, seed, diff_rank_seed)
        return original(dataloader, seed, diff_rank_seed)

    Runner.build_dataloader = staticmethod(build_dataloader)


@_once
def patch_cpu_distributed():
    import torch.distributed as torch_dist
    from mmengine.dist import utils as dist_utils
    from mmengine.model import MMDistributedDataParallel
    from mmengine.model.utils import revert_sync_batchnorm
    original_init_pytorch = dist_utils._init_dist_pytorch

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs):
        if torch.cuda.is_available():
            return original_init_pytorch(backend, init_backend, **kwargs)
        if backend != 'gloo':
            warnings.warn(f'No CUDA device: using the gloo backend instead of '
                          f'"{backend}".')
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **kwargs)

    dist_utils._init_dist_pytorch = _init_dist_pytorch

    original_ddp_init = MMDistributedDataParallel.__init__

    def ddp_init(self, module, detect_anomalous_params=False, **kwargs):
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        if on_cpu:
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
            has_sync_bn = any(
                isinstance(m, torch.nn.SyncBatchNorm)
                for m in module.modules())
            if has_sync_bn:
                from mmengine.logging import print_log
                print_log(
                    'SyncBatchNorm needs GPUs; reverting it to per-process '
                    'BatchNorm for this CPU distributed run.',
                    logger='current')
                module = revert_sync_batchnorm(module)
        original_ddp_init(
            self,
            module=module,
            detect_anomalous_params=detect_anomalous_params,
            **kwargs)

    MMDistributedDataParallel.__init__ = ddp_init


def apply_all():
    """Apply every fix; safe to call many times."""
    patch_torch_load_safe_globals()
    patch_mmcv_adjust_hue()
    patch_runner_collate_scope()
    patch_cpu_distributed()
