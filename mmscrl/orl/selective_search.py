# Copyright (c) mmscrl contributors. All rights reserved.
"""Selective-search proposals for ORL stage 2b.

As the official ``openselfsup/datasets/selective_search.py``: the image is
read with PIL, converted to RGB and then to BGR for OpenCV-contrib's
``ximgproc.segmentation`` selective search in *fast* mode (defaults base_k
150, inc_k 150, sigma 0.8), and **all** raw ``(x, y, w, h)`` boxes are kept
in OpenCV's output order (filtering happens in stage 2c).

Determinism (a deliberate difference from the official tool): OpenCV ranks
the merged regions by ``rand() / RAND_MAX * level`` with the C library's
``rand()``, so the box
*order* (and hence the greedy IoU filter of stage 2c) depends on the process'
C RNG state. ``cv2.setRNGSeed`` seeds OpenCV's own ``cv::RNG`` only and does
not make this deterministic (checked with OpenCV 4.11). We therefore call
libc ``srand(seed)`` (and ``cv2.setRNGSeed``) right before each image with a
seed derived from the image's relative path, and run OpenCV single-threaded
in each worker, so a given image always gets the same boxes in the same
order regardless of worker assignment, chunking or resumption. The authors'
released proposal JSON (another RNG draw) can be used instead via
:func:`mmscrl.orl.io.load_proposals`.
"""
import ctypes
import ctypes.util
import multiprocessing as mp
import os.path as osp
import zlib
from functools import partial
from typing import List, Optional, Sequence

import numpy as np

from .io import ORLProposals, flatten_ragged, save_proposals, \
    unflatten_ragged
from .jobs import ChunkedJob, crc32_of, die_with_parent
from .utils import check_image_names, load_rgb

__all__ = [
    'seed_c_rng', 'image_seed', 'selective_search', 'load_rgb',
    'run_selective_search', 'ss_fingerprint'
]

_LIBC = None


def seed_c_rng(seed: int) -> None:
    """Seed the C library ``rand()`` used inside OpenCV, and OpenCV's RNG."""
    global _LIBC
    import cv2
    if _LIBC is None:
        name = ctypes.util.find_library('c')
        try:
            _LIBC = ctypes.CDLL(name) if name else ctypes.CDLL(None)
        except OSError as e:  # pragma: no cover - exotic platforms
            raise RuntimeError(
                'cannot load the C library to seed rand() for a '
                f'deterministic selective search: {e}') from None
    _LIBC.srand(ctypes.c_uint(seed & 0xFFFFFFFF))
    cv2.setRNGSeed(int(seed & 0x7FFFFFFF))


def image_seed(file_name: str, base_seed: int = 0) -> int:
    """Per-image seed: CRC32 of the relative path mixed with ``base_seed``."""
    return (zlib.crc32(file_name.encode('utf-8')) ^
            (base_seed * 0x9E3779B1)) & 0x7FFFFFFF


def selective_search(img_rgb: np.ndarray,
                     mode: str = 'fast',
                     seed: Optional[int] = 0,
                     base_k: int = 150,
                     inc_k: int = 150,
                     sigma: float = 0.8) -> np.ndarray:
    """All raw selective-search boxes of one RGB image.

    Args:
        img_rgb (np.ndarray): (H, W, 3) uint8 RGB image.
        mode (str): ``'fast'`` (ORL) or ``'quality'``. Defaults to 'fast'.
        seed (int, optional): seed for the C RNG that orders the boxes
            (``None``: leave the RNG alone, i.e. the official behaviour).
            Defaults to 0.
        base_k, inc_k, sigma: OpenCV's fast/quality-mode graph-segmentation
            parameters (OpenCV defaults 150, 150, 0.8).

    Returns:
        np.ndarray: (B, 4) float32 ``xywh`` boxes in OpenCV order.
    """
    import cv2
    if img_rgb.ndim != 3 or img_rgb.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) RGB image, got '
                         f'{img_rgb.shape}')
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR))
    if mode == 'fast':
        ss.switchToSelectiveSearchFast(base_k, inc_k, sigma)
    elif mode == 'quality':
        ss.switchToSelectiveSearchQuality(base_k, inc_k, sigma)
    else:
        raise ValueError(f'mode must be "fast" or "quality", got {mode!r}')
    if seed is not None:
        seed_c_rng(seed)
    boxes = ss.process()
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def _init_worker():
    import cv2
    cv2.setNumThreads(1)  # rand() calls from several threads are unordered


def _pool_init():
    die_with_parent()
    _init_worker()


def ss_fingerprint(file_names: Sequence[str], mode: str = 'fast',
                   base_seed: Optional[int] = 0, base_k: int = 150,
                   inc_k: int = 150, sigma: float = 0.8) -> dict:
    """Every setting that changes the proposals of a chunk (stored in each
    chunk and in the merged file's ``info['fingerprint']``)."""
    import cv2
    return dict(tool='selective_search', mode=mode, seed=base_seed,
                base_k=base_k, inc_k=inc_k, sigma=sigma,
                opencv=cv2.__version__, num_images=len(file_names),
                image_list_crc=crc32_of(file_names))


def _compute_chunk(chunk, progress, names, data_root, mode, base_seed,
                   ss_kwargs):
    boxes = []
    for name in names:
        img = load_rgb(osp.join(data_root, name))
        seed = None if base_seed is None else image_seed(name, base_seed)
        boxes.append(selective_search(img, mode, seed, **ss_kwargs))
        if progress is not None:
            progress.update()
    flat, offsets = flatten_ragged(boxes, 4)
    return dict(boxes=flat, box_offsets=offsets)


def run_selective_search(data_root: str,
                         file_names: Sequence[str],
                         out_file: str,
                         work_dir: str,
                         workers: int = 1,
                         chunk_size: int = 64,
                         mode: str = 'fast',
                         base_seed: Optional[int] = 0,
                         base_k: int = 150,
                         inc_k: int = 150,
                         sigma: float = 0.8,
                         overwrite_stale: bool = False,
                         progress_interval: float = 10.) -> ORLProposals:
    """Selective search over a list of images, resumable and parallel.

    Images are processed in contiguous chunks (:class:`~.jobs.ChunkedJob`)
    by ``workers`` processes that die with their parent; each finished chunk
    is written atomically to ``work_dir`` with the fingerprint of the
    settings (:func:`ss_fingerprint`) and skipped on a restart with the same
    settings. At the end all chunks are merged into ``out_file`` (our npz,
    or the official JSON for ``*.json``).

    Args:
        data_root (str): folder the ``file_names`` are relative to.
        file_names (Sequence[str]): canonical image order.
        out_file (str): merged output.
        work_dir (str): folder for the chunk files.
        workers (int): worker processes. Defaults to 1.
        chunk_size (int): images per chunk file. Defaults to 64.
        mode (str): ``'fast'`` or ``'quality'``. Defaults to 'fast'.
        base_seed (int, optional): see :func:`image_seed`; ``None`` leaves
            the C RNG unseeded (official, non-deterministic order).
        base_k, inc_k, sigma: OpenCV graph-segmentation parameters.
            Defaults to 150, 150, 0.8.
        overwrite_stale (bool): recompute chunks made with other settings
            instead of raising :class:`~.jobs.StaleChunkError`. Defaults to
            False.
        progress_interval (float): seconds between progress updates.

    Returns:
        ORLProposals: the merged proposals (``info['fingerprint']`` set).

    Raises:
        ValueError: naming the entry, if a name is not a UTF-8 path inside
            ``data_root`` (:func:`~mmscrl.orl.utils.check_image_name`), an
            image cannot be read, or a chunk is stale
            (:class:`~.jobs.StaleChunkError`) or damaged.
    """
    names = check_image_names(list(file_names), 'run_selective_search: '
                              'file_names')
    fp = ss_fingerprint(names, mode, base_seed, base_k, inc_k, sigma)
    job = ChunkedJob(work_dir, 'ss', len(names), chunk_size, fp,
                     'selective search', overwrite_stale,
                     progress_interval=progress_interval)
    compute = partial(_compute_chunk, data_root=data_root, mode=mode,
                      base_seed=base_seed,
                      ss_kwargs=dict(base_k=base_k, inc_k=inc_k,
                                     sigma=sigma))

    def chunk_names(c):
        return (names[c.start:c.end], )

    if workers > 1:
        # fork: no re-import of the heavy stack in each worker; the
        # workers only run OpenCV (no CUDA) and seed rand() per image
        ctx = mp.get_context(
            'fork' if 'fork' in mp.get_all_start_methods() else 'spawn')
        with ctx.Pool(workers, initializer=_pool_init) as pool:
            job.run(compute, pool, chunk_names)
    else:
        _init_worker()
        job.run(compute, None, chunk_names)
    boxes: List[np.ndarray] = []
    for c in job.chunks:
        z = job.read(c)
        boxes += [b.copy() for b in unflatten_ragged(
            z['boxes'], z['box_offsets'], c.path, 'box_offsets')]
        if len(boxes) != c.end:
            raise ValueError(f'{c.path}: holds {len(boxes) - c.start} '
                             f'images, expected {c.end - c.start}; delete '
                             'it and rerun, it will be recomputed')
    props = ORLProposals(boxes=boxes, file_names=names,
                         info=dict(fingerprint=fp))
    save_proposals(props, out_file)
    print(f'[selective search] {len(names)} images, '
          f'{sum(len(b) for b in boxes)} boxes -> {out_file}', flush=True)
    return props
