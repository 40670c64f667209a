# Copyright (c) mmscrl contributors. All rights reserved.
"""The one place where mmscrl repairs its dependency stack.

The tested stack (torch 2.14, numpy 1.26/2.x, mmengine 0.10.7, mmcv 2.1.0,
mmpretrain 1.2.0, mmdet 3.3.0) has breakages that its upstreams never fixed.
Each fix below is small, idempotent, applied once by :func:`apply_all` when
``mmscrl`` is imported (right after the first import of the module it
repairs if that comes later: :data:`mmscrl._lazy.COMPAT_TRIGGERS`), and
covered by ``tests/test_compat.py`` and ``tests/reliability/``. Nothing
else in the package patches third-party code.

Every fix is gated on the versions that need it (:data:`PATCHES`): it is
applied only when each listed package lies in its range. A range ends at
the newest release known to have the problem; on a newer release the fix is
skipped with a warning asking to check whether it is still needed, so a
patch is never applied blindly to code it was not written for.

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
5. Checkpoints are written atomically, for every config and scope (mmscrl,
   mmpretrain and mmdet configs alike). mmengine's ``CheckpointHook``
   deletes the oldest checkpoint *before* writing the new one, and its
   local backend writes straight to the final path, so a kill during a save
   (with ``max_keep_ckpts=1``) leaves a truncated file and a
   ``last_checkpoint`` that points at a deleted one. We make
   ``LocalBackend.put`` write a temporary file in the same folder, fsync it
   and rename it into place; the hook writes ``last_checkpoint`` the same
   way once the checkpoint is complete and only then deletes outdated
   checkpoints. ``Runner`` auto-resume (``--resume`` / ``resume=True``)
   checks the checkpoint that ``last_checkpoint`` names (a complete zip
   archive with the training state ``Runner.resume`` reads, inspected
   without unpickling code) and otherwise falls back, with a warning
   naming the bad file, to the newest such checkpoint of the run itself
   (``iter_N.pth`` / ``epoch_N.pth``, never another file that merely has a
   number in its name), looking in the work dir too when the work dir was
   moved; with none left it raises, saying how to resume explicitly. A
   failed write (e.g. ``ENOSPC``) raises an ``OSError`` naming the file.
6. mmcv's ``LoadImageFromFile`` re-raises OpenCV's decoder error (``!buf.
   empty()`` for a zero-byte file) or an ``AssertionError`` without naming
   the image. We re-raise them as :class:`ImageLoadError` naming the file
   and its size (``ignore_empty=True`` keeps skipping such files).
7. Checkpoints given as ``http(s)://`` URLs (``load_from=``, ``init_cfg``
   ``Pretrained``, ``torchvision://``, ``open-mmlab://``, ``mmcls://``) go
   through mmengine's ``load_url`` = ``torch.hub.load_state_dict_from_url``,
   whose default is ``weights_only=False``: a downloaded file could run
   pickled code. mmengine's ``load_url`` is replaced by the download +
   :func:`mmscrl.utils.checkpoint_layout.load_checkpoint_file` of mmscrl
   (safe unpickler, clear errors), and the local-file scheme passes
   ``weights_only=True`` explicitly instead of relying on torch's default.
"""
import functools
import glob
import io
import os
import os.path as osp
import pickle
import re
import warnings
import zipfile
from importlib import metadata
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from packaging.version import Version

from mmscrl.utils.fileio import atomic_write_bytes  # noqa: F401 (re-export)

_APPLIED = set()
#: name -> why a fix was not applied (version outside its range)
SKIPPED: Dict[str, str] = {}
#: (function, {package: (first version, last known version)}) per fix, in
#: the order :func:`apply_all` applies them. ``None`` leaves a side open.
PATCHES: List[Tuple[Callable, Dict[str, Tuple[Optional[str],
                                              Optional[str]]]]] = []


def package_version(name: str) -> Version:
    """Installed version of ``name`` (local labels such as ``+cu130``
    dropped)."""
    if name == 'torch':
        return Version(Version(torch.__version__).base_version)
    if name == 'numpy':
        return Version(np.__version__)
    if name == 'mmcv':
        # mmcv-lite (mmcv without compiled ops, the GPU benchmark kit's)
        # installs the same ``mmcv`` package under another distribution name
        for dist in ('mmcv', 'mmcv-lite'):
            try:
                return Version(Version(metadata.version(dist)).base_version)
            except metadata.PackageNotFoundError:
                pass
        from mmcv.version import __version__ as mmcv_version
        return Version(Version(mmcv_version).base_version)
    return Version(Version(metadata.version(name)).base_version)


def version_gate(
        requires: Dict[str, Tuple[Optional[str], Optional[str]]],
        version_of: Callable[[str], Version] = package_version
) -> Tuple[bool, str]:
    """Whether every package of ``requires`` lies in its version range.

    Args:
        requires (dict): ``{package: (low, high)}``: the fix is needed from
            ``low`` up to and including ``high`` (the newest release known
            to need it). ``None`` leaves that side open.
        version_of (callable): Maps a package name to its installed
            :class:`~packaging.version.Version`. Defaults to
            :func:`package_version`.

    Returns:
        tuple[bool, str]: Whether to apply, and the reason when not:
        ``'newer'`` (a package is past ``high``: the fix may be obsolete)
        or ``'older'`` (a package is below ``low``: not needed).
    """
    for pkg, (low, high) in requires.items():
        ver = version_of(pkg)
        if low is not None and ver < Version(low):
            return False, f'older: {pkg} {ver} < {low}'
        if high is not None and ver > Version(high):
            return False, f'newer: {pkg} {ver} > {high}'
    return True, ''


def _patch(**requires):
    """Register a fix, applied once, when ``requires`` holds.

    Keyword names are package names (``mmcv``, ``mmengine``, ``numpy``,
    ``torch``); values are ``(low, high)`` as in :func:`version_gate`.
    """

    def deco(fn):

        @functools.wraps(fn)
        def wrapper():
            if fn.__name__ in _APPLIED:
                return
            fn()
            _APPLIED.add(fn.__name__)

        PATCHES.append((wrapper, requires))
        return wrapper

    return deco


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
    # concrete dtype classes (np.dtypes.Float64DType, ...) of dtype pickles
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [
            getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')
        ]
    return safe


@_patch(torch=('2.6', None), mmengine=(None, '0.10.7'))
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


@_patch(numpy=('2.0', None), mmcv=('2.0.0', '2.2.0'))
def patch_mmcv_adjust_hue():
    import mmcv
    import mmcv.image
    import mmcv.image.photometric as photometric
    for mod in (mmcv, mmcv.image, photometric):
        mod.adjust_hue = _adjust_hue_numpy2


@_patch(mmengine=('0.7.0', '0.10.7'))
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


@_patch(mmengine=('0.7.0', '0.10.7'))
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


def checkpoint_is_complete(path: str) -> bool:
    """Whether ``path`` is a complete ``torch.save`` zip archive.

    A checkpoint cut short (killed writer, full disk) lacks the zip central
    directory at its end or fails a member's CRC check. Reads the whole file.
    """
    if not osp.isfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False


#: file names that mmengine's ``CheckpointHook`` gives a run's checkpoints
#: (its default ``filename_tmpl``: ``iter_{}.pth`` / ``epoch_{}.pth``)
RUN_CHECKPOINT_NAME = re.compile(r'^(iter|epoch)_(\d+)\.pth$')
#: top-level keys ``Runner.resume`` reads, and the keys of their ``meta``
RESUME_KEYS = ('meta', 'state_dict', 'message_hub')
RESUME_META_KEYS = ('epoch', 'iter')


def _checkpoint_number(path: str) -> int:
    """The step ``N`` of a run's ``iter_N.pth`` / ``epoch_N.pth`` (-1 for
    any other name: such a file is not a checkpoint of the run)."""
    match = RUN_CHECKPOINT_NAME.match(osp.basename(path))
    return int(match.group(2)) if match else -1


class _Inert:
    """What :class:`_KeysOnlyUnpickler` returns for every global a pickle
    names: nothing is imported, and calling, building or filling it does
    nothing, so no code of the file runs."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def append(self, item):
        pass

    def extend(self, items):
        pass


class _KeysOnlyUnpickler(pickle.Unpickler):
    """Reads the structure of a ``torch.save`` ``data.pkl`` (dicts, lists,
    strings, numbers) and replaces every class, function and tensor storage
    by :class:`_Inert` / None, without importing or calling anything."""

    def find_class(self, module, name):
        return _Inert

    def persistent_load(self, pid):
        return None


def checkpoint_resume_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from, or None if it can.

    A resumable checkpoint is a complete ``torch.save`` zip archive (no
    member fails its CRC check) whose top-level dict has the keys
    ``Runner.resume`` reads (:data:`RESUME_KEYS`, and ``epoch`` / ``iter``
    in ``meta``). The file is read once (the CRC check); its small
    ``data.pkl`` member is then parsed by :class:`_KeysOnlyUnpickler`,
    which imports and runs nothing, so a crafted file cannot run code here.

    Args:
        path (str): A local checkpoint file.

    Returns:
        str | None: The problem, phrased to follow the file name (``'is
        missing'``, ``'is empty (0 bytes)'``, ``'is truncated or corrupt
        ...'``, ``'has no training state ...'``), or None.
    """
    if not osp.isfile(path):
        return 'is missing'
    size = osp.getsize(path)
    if size == 0:
        return 'is empty (0 bytes)'
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                return (f'is corrupt ({size} bytes; member {bad} fails its '
                        'CRC check)')
            pkl = [n for n in zf.namelist()
                   if n == 'data.pkl' or n.endswith('/data.pkl')]
            if not pkl:
                return (f'is not a torch.save archive ({size} bytes; no '
                        'data.pkl member)')
            data = zf.read(pkl[0])
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        return (f'is truncated or corrupt ({size} bytes; not a complete '
                f'torch.save zip archive: {e})')
    try:
        obj = _KeysOnlyUnpickler(io.BytesIO(data)).load()
    except Exception as e:  # noqa: BLE001  (malformed pickles vary)
        return (f'is corrupt ({size} bytes; its data.pkl cannot be parsed: '
                f'{type(e).__name__}: {e})')
    if not isinstance(obj, dict):
        return (f'has no training state (it holds a '
                f'{type(obj).__name__}, not a dict with '
                f'{", ".join(RESUME_KEYS)})')
    missing = [repr(k) for k in RESUME_KEYS if k not in obj]
    meta = obj.get('meta')
    if isinstance(meta, dict):
        missing += [f"meta[{k!r}]" for k in RESUME_META_KEYS
                    if k not in meta]
    if missing:
        return (f'has no training state (no {", ".join(missing)}; e.g. a '
                'backbone-only or converted file)')
    return None


def _inside(path: str, folder: str) -> bool:
    path, folder = osp.abspath(path), osp.abspath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def find_latest_complete_checkpoint(work_dir: str,
                                    find_latest: Callable = None
                                    ) -> Optional[str]:
    """The checkpoint to auto-resume from: the run's own, complete one.

    Reads ``<work_dir>/last_checkpoint`` (mmengine's record of the last
    save) and returns the file it names if that can be resumed from
    (:func:`checkpoint_resume_problem`). Otherwise, with a warning saying
    why and what was taken instead:

    * if the named file is missing and lies outside ``work_dir`` (a work
      dir that was moved or copied keeps the old absolute path), the file
      of the same name in ``work_dir`` is used;
    * else the run's newest resumable checkpoint: a file named
      ``iter_N.pth`` / ``epoch_N.pth`` (mmengine ``CheckpointHook`` names,
      of the same kind as the named file), largest ``N`` first, searched
      in the named file's folder and in ``work_dir``. Other ``*.pth`` files
      (backups, converted backbones, other runs) never qualify; how many
      were passed over is reported.

    An empty ``last_checkpoint`` is handled the same way (warning, then the
    newest resumable checkpoint). Remote paths (``s3://`` ...) and folders
    (DeepSpeed) are returned unchecked.

    Args:
        work_dir (str): The run's work directory.
        find_latest (callable, optional): mmengine's
            ``find_latest_checkpoint``. Defaults to the one in
            ``mmengine.runner.checkpoint``.

    Returns:
        str | None: Checkpoint path, or None when nothing was saved (no
        ``last_checkpoint``).

    Raises:
        FileNotFoundError: ``last_checkpoint`` exists but no checkpoint of
            the run can be resumed from; the message names the files and
            says how to resume explicitly (``--resume PATH``) or start over.
    """
    if find_latest is None:
        from mmengine.runner.checkpoint import find_latest_checkpoint
        find_latest = find_latest_checkpoint
    record = osp.join(work_dir, 'last_checkpoint')
    last = find_latest(work_dir)
    if last is None:
        return None
    last = last.strip()
    if last and ('://' in last or osp.isdir(last)):
        return last  # remote storage or deepspeed folder: not checked here
    folders = [work_dir]
    checked = set()  # files already judged (and explained in ``why``)
    if last:
        problem = checkpoint_resume_problem(last)
        if problem is None:
            return last
        checked.add(osp.abspath(last))
        why = f'{last} (named by {record}) {problem}'
        moved = not osp.exists(last) and not _inside(last, work_dir)
        if moved:
            same = osp.join(work_dir, osp.basename(last))
            problem = checkpoint_resume_problem(same)
            if problem is None:
                warnings.warn(
                    f'resume: {why}; the work dir was probably moved or '
                    f'copied: resuming from {same}, the file of the same '
                    'name in the work dir')
                return same
            checked.add(osp.abspath(same))
            why += f' (the work dir was probably moved; {same} {problem})'
        elif osp.isdir(osp.dirname(last)):
            folders.insert(0, osp.dirname(last))
    else:
        why = (f'{record} is empty (e.g. written by an interrupted run or '
               'an editor) and names no checkpoint')
    folders = list(dict.fromkeys(osp.abspath(f) for f in folders))
    kind = RUN_CHECKPOINT_NAME.match(osp.basename(last))
    ours, others = [], []
    for folder in folders:
        for path in glob.glob(osp.join(glob.escape(folder), '*.pth')):
            match = RUN_CHECKPOINT_NAME.match(osp.basename(path))
            if osp.abspath(path) in checked:
                continue
            if match and (kind is None or match.group(1) == kind.group(1)):
                ours.append(path)
            else:
                others.append(osp.basename(path))
    ours.sort(key=lambda p: (_checkpoint_number(p), os.stat(p).st_mtime),
              reverse=True)
    skipped = []
    for cand in ours:
        problem = checkpoint_resume_problem(cand)
        if problem is None:
            note = ''
            if skipped:
                note += (f'; passed over {len(skipped)} newer file(s): '
                         + '; '.join(skipped))
            if others:
                note += (f'; ignored {len(others)} .pth file(s) not named '
                         f'like this run\'s checkpoints: {others[:5]}')
            warnings.warn(f'resume: {why}; resuming from {cand}, the '
                          f'newest complete checkpoint of this run{note}')
            return cand
        skipped.append(f'{osp.basename(cand)} {problem}')
    detail = ''
    if skipped:
        detail += f'; unusable: {"; ".join(skipped)}'
    if others:
        detail += (f'; ignored {len(others)} .pth file(s) not named like '
                   f"this run's checkpoints: {others[:5]}")
    raise FileNotFoundError(
        f'resume: {why}, and {" / ".join(folders)} holds no checkpoint of '
        'this run (iter_N.pth / epoch_N.pth with training state) to resume '
        f'from{detail}. To resume from a checkpoint elsewhere, pass it '
        f'explicitly: tools/train.py CONFIG --work-dir {work_dir} '
        '--resume PATH (or load_from=PATH and resume=True in the config); '
        f'to start over instead, delete {record}.')


def _save_checkpoint_with_step(self, runner, step, meta):
    """``CheckpointHook._save_checkpoint_with_step``, deleting old files last.

    Same bookkeeping as mmengine 0.10.7 (``keep_ckpt_ids`` and ``last_ckpt``
    in the message hub, the checkpoint name, the arguments of
    ``runner.save_checkpoint``), but outdated checkpoints are removed only
    after the new checkpoint and ``last_checkpoint`` are complete, and
    ``last_checkpoint`` is written atomically.
    """
    from mmengine.dist import is_main_process
    outdated = []
    if self.max_keep_ckpts > 0:
        if not (len(self.keep_ckpt_ids) > 0
                and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
    ckpt_filename = self.filename_tmpl.format(step)
    self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
    runner.message_hub.update_info('last_ckpt', self.last_ckpt)
    runner.save_checkpoint(
        self.out_dir,
        ckpt_filename,
        self.file_client_args,
        save_optimizer=self.save_optimizer,
        save_param_scheduler=self.save_param_scheduler,
        meta=meta,
        by_epoch=self.by_epoch,
        backend_args=self.backend_args,
        **self.args)
    if not is_main_process():
        return
    atomic_write_bytes(
        osp.join(runner.work_dir, 'last_checkpoint'),
        str(self.last_ckpt).encode())
    for old in outdated:
        path = self.file_backend.join_path(self.out_dir,
                                           self.filename_tmpl.format(old))
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed checkpoints
            self.file_backend.rmtree(path)


@_patch(mmengine=('0.8.0', '0.10.7'))
def patch_atomic_checkpoints():
    from mmengine.fileio.backends.local_backend import LocalBackend
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import runner as runner_mod

    def put(self, obj: bytes, filepath) -> None:
        atomic_write_bytes(str(filepath), obj)

    put.__doc__ = LocalBackend.put.__doc__
    LocalBackend.put = put
    CheckpointHook._save_checkpoint_with_step = _save_checkpoint_with_step
    original = runner_mod.find_latest_checkpoint
    runner_mod.find_latest_checkpoint = functools.partial(
        find_latest_complete_checkpoint, find_latest=original)


def _safe_load_url(url, model_dir=None, map_location=None, progress=False,
                   check_hash=False, file_name=None):
    """mmengine ``load_url`` with the safe unpickler (fix 7)."""
    from mmscrl.utils.checkpoint_layout import (download_checkpoint,
                                                load_checkpoint_file)
    path = download_checkpoint(url, model_dir=model_dir, file_name=file_name,
                               check_hash=check_hash, progress=progress)
    return load_checkpoint_file(path, map_location=map_location)


def _safe_load_from_local(filename, map_location=None):
    """mmengine ``load_from_local`` with ``weights_only=True`` (fix 7)."""
    from mmscrl.utils.checkpoint_layout import load_checkpoint_file
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} can not be found.')
    return load_checkpoint_file(filename, map_location=map_location)


@_patch(mmengine=('0.4.0', '0.10.7'))
def patch_safe_checkpoint_loading():
    import mmengine.utils.dl_utils as dl_utils
    import mmengine.utils.dl_utils.hub as hub
    from mmengine.runner import checkpoint as ckpt_mod
    for mod in (ckpt_mod, dl_utils, hub):
        mod.load_url = _safe_load_url
    ckpt_mod.CheckpointLoader.register_scheme(
        prefixes='', loader=_safe_load_from_local, force=True)


class ImageLoadError(OSError):
    """An image file could not be read or decoded (the path is named)."""


@_patch(mmcv=('2.0.0', '2.2.0'))
def patch_load_image_named_error():
    from mmcv.transforms import LoadImageFromFile
    original = LoadImageFromFile.transform

    @functools.wraps(original)
    def transform(self, results):
        try:
            return original(self, results)
        except Exception as e:
            path = results.get('img_path')
            try:
                size = f'{os.path.getsize(path)} bytes'
            except (OSError, TypeError):
                size = 'size unknown'
            raise ImageLoadError(
                f'cannot load image {path} ({size}): {type(e).__name__}: '
                f'{e}. Delete or replace the file, or set '
                'ignore_empty=True in LoadImageFromFile to skip unreadable '
                'images.') from e

    LoadImageFromFile.transform = transform


def apply_all(version_of: Callable[[str], Version] = package_version,
              names: Optional[List[str]] = None):
    """Apply every fix whose version gate holds; safe to call many times.

    A fix skipped because a package is newer than its range is reported
    once with a warning (and recorded in :data:`SKIPPED`).

    Args:
        version_of (callable): See :func:`version_gate`.
        names (list[str], optional): Only the fixes of these function names
            (``import mmscrl`` applies each one when the module it repairs
            is imported, see :mod:`mmscrl._lazy`). Defaults to all.
    """
    for fn, requires in PATCHES:
        if names is not None and fn.__name__ not in names:
            continue
        ok, why = version_gate(requires, version_of)
        if ok:
            fn()
            continue
        if fn.__name__ not in SKIPPED and why.startswith('newer'):
            warnings.warn(
                f'mmscrl.compat: {fn.__name__} not applied ({why}); it '
                'was written for older releases; check whether the problem '
                'it fixes still exists.')
        SKIPPED[fn.__name__] = why
