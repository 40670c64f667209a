# Copyright (c) mmscrl contributors. All rights reserved.
"""Image kNN retrieval from a stage-1 model, ORL stage 2a (spec §2.3).

Pass A extracts the L2-normalised projector feature of every image
(``Resize(256) -> CenterCrop(224)``, eval mode) into chunk files; pass B
ranks each chunk of queries against the whole bank with the blocked
:func:`~mmscrl.orl.knn.knn_search` (self masked by index). Both passes deal
their chunks round-robin over the ``torchrun`` ranks, write each chunk
atomically and skip finished chunks on a restart; rank 0 merges the kNN file
(our npz, or the official kNN JSON for ``*.json``) and optionally the feature
bank (``.npy``, N x D float32, the official ``feature_epoch_800.npy``).
"""
import os
import os.path as osp
import zlib
from typing import Optional, Sequence

import numpy as np
import torch

from .io import ORLKnn, atomic_write, save_knn
from .knn import knn_search
from .utils import Progress, chunk_path, chunk_ranges, save_npz_atomic

__all__ = ['run_image_knn']


def _crc(names) -> int:
    return zlib.crc32('\n'.join(names).encode('utf-8'))


def run_image_knn(model,
                  data_root: str,
                  file_names: Sequence[str],
                  out_file: str,
                  work_dir: str,
                  k: int = 10,
                  resize: int = 256,
                  crop: int = 224,
                  batch_size: int = 64,
                  num_workers: int = 2,
                  device='cpu',
                  feat_chunk: int = 4096,
                  knn_chunk: int = 8192,
                  bank_file: Optional[str] = None,
                  progress_interval: float = 10.):
    """Extract features and retrieve the k nearest images of every image.

    Args:
        model (nn.Module): stage-1 model (``backbone`` + ``neck``), eval.
        data_root (str): folder of the relative ``file_names``.
        file_names (Sequence[str]): canonical image order (N).
        out_file (str): kNN output (npz or official ``.json``).
        work_dir (str): chunk files (``feat_*.npz``, ``knn_*.npz``).
        k (int): neighbours per image. Defaults to 10.
        resize (int): shorter side before the centre crop. Defaults to 256.
        crop (int): centre-crop size. Defaults to 224.
        batch_size (int): images per forward. Defaults to 64.
        num_workers (int): DataLoader workers. Defaults to 2.
        device: device of the forwards and the similarity products.
        feat_chunk (int): images per feature chunk file. Defaults to 4096.
        knn_chunk (int): queries per kNN chunk file. Defaults to 8192.
        bank_file (str, optional): also save the N x D bank as ``.npy``.
        progress_interval (float): seconds between progress lines.

    Returns:
        ORLKnn | None: the result on rank 0, ``None`` on other ranks.
    """
    from mmengine.dist import barrier, get_dist_info
    from torch.utils.data import DataLoader

    from .features import ImageListDataset, image_features
    names = list(file_names)
    n = len(names)
    rank, world = get_dist_info()
    os.makedirs(work_dir, exist_ok=True)

    # ---- pass A: features ------------------------------------------------
    f_ranges = chunk_ranges(n, feat_chunk)
    f_paths = [chunk_path(work_dir, 'feat', s, e) for s, e in f_ranges]
    mine = [(s, e, p) for c, ((s, e), p) in enumerate(zip(f_ranges, f_paths))
            if c % world == rank and not osp.exists(p)]
    prog = Progress(sum(e - s for s, e, _ in mine),
                    f'kNN features rank {rank}', progress_interval)
    for s, e, p in mine:
        ds = ImageListDataset(data_root, names, range(s, e), resize, crop)
        loader = DataLoader(ds, batch_size=batch_size,
                            num_workers=num_workers, shuffle=False)
        feats = []
        for _, imgs in loader:
            feats.append(image_features(model, imgs.to(device)).cpu())
            prog.update(len(imgs))
        save_npz_atomic(p, feats=torch.cat(feats).numpy().astype(np.float32),
                        start=np.asarray(s), end=np.asarray(e),
                        names_crc=np.asarray(_crc(names[s:e])))
    if world > 1:
        barrier()
    parts = []
    for (s, e), p in zip(f_ranges, f_paths):
        with np.load(p) as z:
            if (int(z['start']), int(z['end'])) != (s, e) or int(
                    z['names_crc']) != _crc(names[s:e]):
                raise ValueError(
                    f'{p}: chunk was made for other images (keys "start", '
                    f'"end", "names_crc" differ from images {s}..{e}); use '
                    'an empty work_dir for a new image list')
            parts.append(z['feats'])
    bank = torch.from_numpy(np.concatenate(parts)).to(device)

    # ---- pass B: kNN -----------------------------------------------------
    q_ranges = chunk_ranges(n, knn_chunk)
    q_paths = [chunk_path(work_dir, f'knn{k}', s, e) for s, e in q_ranges]
    mine = [(s, e, p) for c, ((s, e), p) in enumerate(zip(q_ranges, q_paths))
            if c % world == rank and not osp.exists(p)]
    prog = Progress(sum(e - s for s, e, _ in mine), f'kNN search rank {rank}',
                    progress_interval)
    for s, e, p in mine:
        idx, val = knn_search(bank[s:e], bank, k, query_offset=s,
                              device=device)
        save_npz_atomic(p, knn=idx, scores=val, start=np.asarray(s),
                        end=np.asarray(e),
                        names_crc=np.asarray(_crc(names)))
        prog.update(e - s)
    if world > 1:
        barrier()
    if rank != 0:
        return None

    idx, val = [], []
    for (s, e), p in zip(q_ranges, q_paths):
        with np.load(p) as z:
            if int(z['names_crc']) != _crc(names):
                raise ValueError(f'{p}: chunk was made for another image '
                                 'list (key "names_crc"); use an empty '
                                 'work_dir')
            idx.append(z['knn'])
            val.append(z['scores'])
    result = ORLKnn(file_names=names, knn=np.concatenate(idx),
                    scores=np.concatenate(val),
                    info=dict(k=k, resize=resize, crop=crop,
                              feature='projector, L2-normalised'))
    save_knn(result, out_file)
    if bank_file:
        bank_np = bank.cpu().numpy()
        atomic_write(bank_file, lambda f: np.save(f, bank_np))
    print(f'[kNN] {n} images, k={k} -> {out_file}', flush=True)
    return result
