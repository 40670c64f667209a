# Copyright (c) mmscrl contributors. All rights reserved.
"""Image kNN retrieval from a stage-1 model, ORL stage 2a.

Pass A extracts the L2-normalised projector feature of every image
(``Resize(256) -> CenterCrop(224)``, eval mode) into chunk files; pass B
ranks each chunk of queries against the whole bank with the blocked
:func:`~mmscrl.orl.knn.knn_search` (self masked by index). Both passes deal
their chunks round-robin over the ``torchrun`` ranks, write each chunk
atomically with the fingerprint of their settings (model content hash,
image list, resize/crop; plus k for pass B) and skip finished chunks on a
restart with the same settings (:class:`~mmscrl.orl.jobs.ChunkedJob`);
rank 0 merges the kNN file
(our npz, or the official kNN JSON for ``*.json``) and optionally the feature
bank (``.npy``, N x D float32, the official ``feature_epoch_800.npy``).
"""
from typing import Optional, Sequence

import numpy as np
import torch

from .io import ORLKnn, save_knn
from .jobs import ChunkedJob, atomic_write, crc32_of, model_digest
from .knn import knn_search
from .utils import check_image_names

__all__ = ['run_image_knn']


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
                  overwrite_stale: bool = False,
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
        overwrite_stale (bool): recompute chunks made with other settings
            instead of raising :class:`~mmscrl.orl.jobs.StaleChunkError`.
            Defaults to False.
        progress_interval (float): seconds between progress updates.

    Returns:
        ORLKnn | None: the result on rank 0, ``None`` on other ranks.

    Raises:
        ValueError: naming the entry, if a name is not a UTF-8 path inside
            ``data_root`` (:func:`~mmscrl.orl.utils.check_image_name`), an
            image cannot be read, or a chunk is stale
            (:class:`~mmscrl.orl.jobs.StaleChunkError`) or damaged.
    """
    from mmengine.dist import barrier, get_dist_info
    from torch.utils.data import DataLoader

    from .features import ImageListDataset, image_features, worker_init
    names = check_image_names(list(file_names), 'run_image_knn: file_names')
    n = len(names)
    rank, world = get_dist_info()
    feat_fp = dict(tool='image_knn.features', model=model_digest(model),
                   resize=resize, crop=crop, num_images=n,
                   image_list_crc=crc32_of(names))
    knn_fp = dict(feat_fp, tool='image_knn.search', k=k)
    jobs = dict(rank=rank, world_size=world, overwrite_stale=overwrite_stale,
                progress_interval=progress_interval)

    # ---- pass A: features ------------------------------------------------
    feat_job = ChunkedJob(work_dir, 'feat', n, feat_chunk, feat_fp,
                          'kNN features', **jobs)

    def features(chunk, prog):
        ds = ImageListDataset(data_root, names, range(chunk.start, chunk.end),
                              resize, crop)
        loader = DataLoader(ds, batch_size=batch_size,
                            num_workers=num_workers, shuffle=False,
                            worker_init_fn=worker_init)
        feats = []
        for _, imgs in loader:
            feats.append(image_features(model, imgs.to(device)).cpu())
            prog.update(len(imgs))
        return dict(feats=torch.cat(feats).numpy().astype(np.float32))

    feat_job.run(features)
    if world > 1:
        barrier()
    bank = torch.from_numpy(
        np.concatenate([feat_job.read(c)['feats']
                        for c in feat_job.chunks])).to(device)

    # ---- pass B: kNN -----------------------------------------------------
    knn_job = ChunkedJob(work_dir, f'knn{k}', n, knn_chunk, knn_fp,
                         'kNN search', **jobs)

    def search(chunk, prog):
        idx, val = knn_search(bank[chunk.start:chunk.end], bank, k,
                              query_offset=chunk.start, device=device)
        prog.update(chunk.end - chunk.start)
        return dict(knn=idx, scores=val)

    knn_job.run(search)
    if world > 1:
        barrier()
    if rank != 0:
        return None

    parts = [knn_job.read(c) for c in knn_job.chunks]
    result = ORLKnn(file_names=names,
                    knn=np.concatenate([z['knn'] for z in parts]),
                    scores=np.concatenate([z['scores'] for z in parts]),
                    info=dict(k=k, resize=resize, crop=crop,
                              feature='projector, L2-normalised',
                              fingerprint=knn_fp))
    save_knn(result, out_file)
    if bank_file:
        bank_np = bank.cpu().numpy()
        atomic_write(bank_file, lambda f: np.save(f, bank_np))
    print(f'[kNN] {n} images, k={k} -> {out_file}', flush=True)
    return result
