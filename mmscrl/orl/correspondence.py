# Copyright (c) mmscrl contributors. All rights reserved.
"""Cross-image RoI-pair mining, ORL stage 2c.

For a query image q with filtered boxes ``B_q`` (embeddings ``F_q``) and each
of its K nearest images k: ``S_k = F_q @ F_k.T``; the top
``max(1, int(ratio * |B_q|))`` entries of the flattened ``S_k`` give pairs
``[box_q[flat // |B_k|], box_k[flat % |B_k|]]`` (no similarity threshold).
This is ``Correspondence.forward_test`` of Jiahao000/ORL.

Deliberate change: the official tool recomputes the RoI embeddings of an
image every time it appears (as a query and as anybody's neighbour, ~11x).
:func:`run_correspondence` embeds every image's filtered boxes **once**
(pass 1, one batch per image like the official code) into an embedding
cache and mines the pairs from it (pass 2). The cache holds only the boxes
that survive the filter and is stored in float16 by default (half the disk:
about 17 GB instead of 34 GB for COCO train2017 with ResNet-50); the
similarities are computed in float32 from the stored values, so a pair can
differ from the float32 result only where two candidate similarities are
within float16 rounding (~1e-3) of each other (``emb_dtype='float32'``
gives bit-identical embeddings and pairs to the official recomputation).
:func:`correspondence_reference` is the straightforward
recompute-every-time version, used by the tests and the benchmarks.

Both passes are :class:`~mmscrl.orl.jobs.ChunkedJob` s: chunk files written
atomically into ``work_dir`` with the fingerprint of every setting (model
content hash, proposals hash, image list, filter settings, patch size,
cache dtype; plus kNN hash, k and pair ratio for pass 2); a restart with
the same settings skips finished chunks. Under ``torchrun`` the chunks are
dealt round-robin over the ranks (mmengine.dist); rank 0 merges. The
embedding cache files (``emb_*.npy``, memory-mapped, without the zip CRCs
of the ``.npz`` chunks) are checksummed: their SHA-256, size, shape and
dtype are recorded in their ``emb_*.npz`` chunk when written and verified on
reuse, so a changed byte is recomputed when found at a restart and refused
by name when found at use, never turned into other pairs (see
:mod:`mmscrl.orl.jobs`; a cache of an older mmscrl without a checksum is
refused as stale, ``--overwrite-stale`` recomputes it).
"""
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .io import (ORLCorrespondence, flatten_ragged, save_correspondence,
                 unflatten_ragged)
from .jobs import (NPZ_READ_ERRORS, ChunkedJob, array_digest, atomic_write,
                   crc32_of, model_digest, side_path)
from .utils import check_image_names

__all__ = [
    'num_pairs', 'topk_pairs', 'mine_pairs', 'correspondence_reference',
    'run_correspondence', 'DEFAULT_FILTER_CFG', 'EMB_DTYPES'
]

#: official stage-2 filter (``min_size, max_ratio, max_iou, topN``)
DEFAULT_FILTER_CFG = dict(min_size=96, max_ratio=3, max_iou=0.5, topN=100)


def num_pairs(num_query_boxes: int, ratio: float = 0.1) -> int:
    """``max(1, int(ratio * B_q))`` - the official expression, evaluated in
    the same float arithmetic (``int(0.1 * 30) == 3``)."""
    n = int(ratio * num_query_boxes)
    return n if n > 0 else 1


def topk_pairs(feat_q: torch.Tensor, feat_k: torch.Tensor,
               ratio: float = 0.1) -> Tuple[torch.Tensor, torch.Tensor]:
    """Indices of the most similar (query box, key box) pairs.

    Args:
        feat_q (Tensor): (B_q, C) L2-normalised query embeddings.
        feat_k (Tensor): (B_k, C) L2-normalised key embeddings.
        ratio (float): pairs per query box. Defaults to 0.1.

    Returns:
        tuple[Tensor, Tensor]: query and key box indices, each (P,), most
        similar first, ``P = max(1, int(ratio * B_q))``.
    """
    smap = feat_q @ feat_k.T
    _, flat = torch.topk(smap.flatten(), num_pairs(smap.shape[0], ratio))
    return flat // smap.shape[1], flat % smap.shape[1]


def mine_pairs(boxes_q: np.ndarray, feat_q: torch.Tensor,
               boxes_k: Sequence[np.ndarray], feats_k: Sequence[torch.Tensor],
               ratio: float = 0.1) -> List[np.ndarray]:
    """Pairs of one query image with each of its kNN images.

    Returns:
        list[np.ndarray]: per kNN image, (P, 8) float32
        ``[xq, yq, wq, hq, xk, yk, wk, hk]``.
    """
    out = []
    for bk, fk in zip(boxes_k, feats_k):
        qi, ki = topk_pairs(feat_q, fk, ratio)
        qi, ki = qi.cpu().numpy(), ki.cpu().numpy()
        out.append(np.concatenate(
            [np.asarray(boxes_q)[qi], np.asarray(bk)[ki]],
            axis=1).astype(np.float32))
    return out


def correspondence_reference(file_names: Sequence[str],
                             knn: np.ndarray,
                             image_rois: Callable,
                             embed: Callable,
                             ratio: float = 0.1,
                             info: Optional[dict] = None):
    """Recompute-every-time reference (the official stage-2c algorithm).

    Args:
        file_names (Sequence[str]): canonical image order.
        knn (np.ndarray): (N, K) neighbour indices.
        image_rois (Callable): ``i -> (boxes (B, 4), crops (B, 3, P, P))``.
        embed (Callable): ``crops -> (B, C)`` normalised embeddings.
        ratio (float): pair ratio. Defaults to 0.1.
        info (dict, optional): stored in the result.

    Returns:
        tuple[ORLCorrespondence, int]: the result and the number of RoI
        forwards (crops through the backbone).
    """
    boxes, pairs, forwards = [], [], 0
    for i in range(len(file_names)):
        bq, cq = image_rois(i)
        fq = embed(cq)
        forwards += len(cq)
        bks, fks = [], []
        for j in knn[i]:
            bk, ck = image_rois(int(j))
            bks.append(bk)
            fks.append(embed(ck))
            forwards += len(ck)
        boxes.append(np.asarray(bq, dtype=np.float32))
        pairs.append(mine_pairs(bq, fq, bks, fks, ratio))
    return ORLCorrespondence(
        file_names=list(file_names), boxes=boxes,
        knn=np.asarray(knn, dtype=np.int64), pairs=pairs,
        info=dict(info or {})), forwards


class _EmbeddingStore:
    """Random access to the pass-1 chunks (embeddings memory-mapped)."""

    def __init__(self, job: ChunkedJob):
        self.chunks = []
        for c in job.chunks:
            z = job.read(c)
            boxes = [b.copy() for b in unflatten_ragged(
                z['boxes'], z['box_offsets'], c.path, 'box_offsets')]
            offsets = z['box_offsets'].copy()
            emb_p = side_path(c, '.npy')
            try:
                emb = np.load(emb_p, mmap_mode='r')
            except NPZ_READ_ERRORS as e:
                raise ValueError(
                    f'{emb_p}: corrupt or truncated embedding chunk '
                    f'({type(e).__name__}: {e}); delete it and {c.path}, '
                    'then rerun the same command (they will be '
                    'recomputed)') from None
            if emb.ndim != 2 or emb.shape[0] != offsets[-1]:
                raise ValueError(
                    f'{emb_p}: {emb.shape} embeddings but {c.path} lists '
                    f'{offsets[-1]} boxes; delete both and rerun the same '
                    'command (they will be recomputed)')
            self.chunks.append((c.start, boxes, offsets, emb))
        self.starts = np.array([c[0] for c in self.chunks])

    def _chunk(self, i: int):
        return self.chunks[int(
            np.searchsorted(self.starts, i, side='right') - 1)]

    def boxes(self, i: int) -> np.ndarray:
        s, boxes, _, _ = self._chunk(i)
        return boxes[i - s]

    def get(self, i: int) -> Tuple[np.ndarray, torch.Tensor]:
        """Filtered boxes (B, 4) and float32 embeddings (B, C) of image i."""
        s, boxes, offsets, emb = self._chunk(i)
        f = torch.from_numpy(
            np.array(emb[offsets[i - s]:offsets[i - s + 1]],
                     dtype=np.float32))
        return boxes[i - s], f


def _dist_info():
    from mmengine.dist import get_dist_info
    return get_dist_info()


def _barrier():
    from mmengine.dist import barrier
    barrier()


EMB_DTYPES = ('float16', 'float32')


def run_correspondence(model,
                       data_root: str,
                       file_names: Sequence[str],
                       raw_boxes: Sequence[np.ndarray],
                       knn: np.ndarray,
                       out_file: str,
                       work_dir: str,
                       filter_cfg: Optional[dict] = None,
                       ratio: float = 0.1,
                       patch_size: int = 224,
                       device='cpu',
                       num_workers: int = 2,
                       emb_chunk: int = 256,
                       pair_chunk: int = 4096,
                       roi_batch_size: Optional[int] = None,
                       emb_dtype: str = 'float16',
                       overwrite_stale: bool = False,
                       progress_interval: float = 10.):
    """Cached two-pass stage 2c (see module docstring).

    Args:
        model (nn.Module): stage-1 model (its ``backbone`` is used), eval.
        data_root (str): folder of the relative ``file_names``.
        file_names (Sequence[str]): canonical image order (N).
        raw_boxes (Sequence[np.ndarray]): raw proposals per image (N).
        knn (np.ndarray): (N, K) neighbour indices.
        out_file (str): merged output (npz, or official JSON for ``.json``).
        work_dir (str): chunk files (``emb_*.npy/.npz``, ``pairs_*.npz``).
        filter_cfg (dict, optional): :func:`box_filter` arguments; defaults
            to :data:`DEFAULT_FILTER_CFG`.
        ratio (float): pairs per query box. Defaults to 0.1.
        patch_size (int): RoI crop size. Defaults to 224.
        device: device of the forwards.
        num_workers (int): DataLoader workers decoding and cropping.
        emb_chunk (int): images per pass-1 chunk file. Defaults to 256.
        pair_chunk (int): queries per pass-2 chunk file. Defaults to 4096.
        roi_batch_size (int, optional): see :func:`roi_embeddings`.
        emb_dtype (str): storage dtype of the embedding cache,
            ``'float16'`` or ``'float32'``. Defaults to 'float16'.
        overwrite_stale (bool): recompute chunks made with other settings
            instead of raising :class:`~mmscrl.orl.jobs.StaleChunkError`.
            Defaults to False.
        progress_interval (float): seconds between progress updates.

    Returns:
        tuple[ORLCorrespondence | None, dict]: the merged result (rank 0;
        ``None`` elsewhere) and counters (``roi_forwards`` of this rank).

    Raises:
        ValueError: naming the entry or file, if a name is not a UTF-8 path
            inside ``data_root``, the inputs disagree, an image cannot be
            read, a chunk is stale (:class:`~mmscrl.orl.jobs.StaleChunkError`)
            or damaged, or a cached embedding file does not match the
            checksum recorded when it was written.
    """
    from torch.utils.data import DataLoader

    from .features import (RoICropDataset, first_collate, roi_embeddings,
                           worker_init)
    filter_cfg = dict(DEFAULT_FILTER_CFG if filter_cfg is None else
                      filter_cfg)
    if emb_dtype not in EMB_DTYPES:
        raise ValueError(f'emb_dtype must be one of {EMB_DTYPES}, got '
                         f'{emb_dtype!r}')
    names = check_image_names(list(file_names),
                              'run_correspondence: file_names')
    n = len(names)
    knn = np.asarray(knn, dtype=np.int64)
    if len(raw_boxes) != n or knn.ndim != 2 or knn.shape[0] != n:
        raise ValueError(f'{n} images, {len(raw_boxes)} proposal lists and '
                         f'{knn.shape[0]} kNN rows must agree')
    if knn.size and (knn.min() < 0 or knn.max() >= n):
        raise ValueError(f'kNN indices must lie in [0, {n})')
    rank, world = _dist_info()
    counters = dict(roi_forwards=0)
    emb_fp = dict(
        tool='correspondence.embeddings', model=model_digest(model),
        num_images=n, image_list_crc=crc32_of(names),
        proposals=array_digest(
            np.asarray(b, dtype=np.float32) for b in raw_boxes),
        patch_size=patch_size, emb_dtype=emb_dtype,
        **{f'filter_{k}': v for k, v in sorted(filter_cfg.items())})
    pair_fp = dict(emb_fp, tool='correspondence.pairs', pair_ratio=ratio,
                   k=int(knn.shape[1]), knn=array_digest([knn]))
    jobs = dict(rank=rank, world_size=world, overwrite_stale=overwrite_stale,
                progress_interval=progress_interval)

    # ---- pass 1: filtered boxes + RoI embeddings, once per image --------
    emb_job = ChunkedJob(work_dir, 'emb', n, emb_chunk, emb_fp,
                         'RoI embeddings', side_suffixes=('.npy', ), **jobs)
    backbone = model.backbone

    def embed(chunk, prog):
        ds = RoICropDataset(data_root, names, raw_boxes,
                            range(chunk.start, chunk.end), patch_size,
                            filter_cfg)
        loader = DataLoader(ds, batch_size=1, num_workers=num_workers,
                            collate_fn=first_collate,
                            worker_init_fn=worker_init)
        boxes, feats = [], []
        for _, b, crops in loader:
            f = roi_embeddings(backbone, crops.to(device), roi_batch_size)
            counters['roi_forwards'] += len(crops)
            boxes.append(b)
            feats.append(f.cpu().numpy().astype(emb_dtype))
            prog.update()
        flat, offsets = flatten_ragged(boxes, 4)
        emb = np.concatenate(feats) if feats else np.zeros((0, 1),
                                                           emb_dtype)
        # the embeddings first: the chunk file marks the pair as complete
        atomic_write(side_path(chunk, '.npy'), lambda f: np.save(f, emb))
        return dict(boxes=flat, box_offsets=offsets)

    emb_job.run(embed)
    if world > 1:
        _barrier()

    # ---- pass 2: pairs from the stored embeddings ------------------------
    store = _EmbeddingStore(emb_job)
    pair_job = ChunkedJob(work_dir, 'pairs', n, pair_chunk, pair_fp,
                          'RoI pairs', **jobs)

    def pairs_of(chunk, prog):
        slots = []
        for i in range(chunk.start, chunk.end):
            bq, fq = store.get(i)
            ks = [store.get(int(j)) for j in knn[i]]
            slots += mine_pairs(bq, fq, [k[0] for k in ks],
                                [k[1] for k in ks], ratio)
            prog.update()
        flat, offsets = flatten_ragged(slots, 8)
        return dict(pairs=flat, pair_offsets=offsets)

    pair_job.run(pairs_of)
    if world > 1:
        _barrier()
    if rank != 0:
        return None, counters

    # ---- merge -----------------------------------------------------------
    k = knn.shape[1]
    pairs: List[List[np.ndarray]] = []
    for c in pair_job.chunks:
        z = pair_job.read(c)
        slots = [a.copy() for a in unflatten_ragged(
            z['pairs'], z['pair_offsets'], c.path, 'pair_offsets')]
        if len(slots) != (c.end - c.start) * k:
            raise ValueError(f'{c.path}: {len(slots)} (image, kNN) slots, '
                             f'expected {(c.end - c.start) * k}; delete it '
                             'and rerun, it will be recomputed')
        pairs += [slots[r * k:(r + 1) * k] for r in range(c.end - c.start)]
    info = dict(filter_cfg, k=int(k), pair_ratio=ratio, fingerprint=pair_fp)
    corr = ORLCorrespondence(
        file_names=names, boxes=[store.boxes(i) for i in range(n)], knn=knn,
        pairs=pairs, info=info)
    save_correspondence(corr, out_file)
    print(f'[correspondence] {n} images -> {out_file}', flush=True)
    return corr, counters
