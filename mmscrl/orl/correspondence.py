# Copyright (c) mmscrl contributors. All rights reserved.
"""Cross-image RoI-pair mining, ORL stage 2c (spec ``orl.md`` §2.5).

For a query image q with filtered boxes ``B_q`` (embeddings ``F_q``) and each
of its K nearest images k: ``S_k = F_q @ F_k.T``; the top
``max(1, int(ratio * |B_q|))`` entries of the flattened ``S_k`` give pairs
``[box_q[flat // |B_k|], box_k[flat % |B_k|]]`` (no similarity threshold).
This is ``Correspondence.forward_test`` of Jiahao000/ORL.

Deliberate change (spec §6 item 6, choice B): the official tool recomputes
the RoI embeddings of an image every time it appears (as a query and as
anybody's neighbour, ~11x). :func:`run_correspondence` embeds every image's
crops **once** (pass 1, one batch per image like the official code, hence
bit-identical embeddings) and mines the pairs from the stored embeddings
(pass 2). :func:`correspondence_reference` is the straightforward
recompute-every-time version, used by the tests and the cost benchmark.

Both passes are split into chunk files written atomically into
``work_dir``; a restart skips finished chunks. Under ``torchrun`` the chunks
are dealt round-robin over the ranks (mmengine.dist); rank 0 merges.
"""
import os
import os.path as osp
import zlib
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .io import (ORLCorrespondence, flatten_ragged, save_correspondence,
                 unflatten_ragged)
from .utils import Progress, chunk_path, chunk_ranges, save_npz_atomic

__all__ = [
    'num_pairs', 'topk_pairs', 'mine_pairs', 'correspondence_reference',
    'run_correspondence', 'DEFAULT_FILTER_CFG'
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


def _crc(items) -> int:
    return zlib.crc32('\n'.join(map(str, items)).encode('utf-8'))


class _EmbeddingStore:
    """Random access to the pass-1 chunk files (embeddings memory-mapped)."""

    def __init__(self, paths: Sequence[Tuple[int, int, str, str]],
                 names: Sequence[str]):
        self.chunk_of: Dict[int, int] = {}
        self.chunks = []
        for c, (s, e, emb_p, meta_p) in enumerate(paths):
            with np.load(meta_p) as z:
                if (int(z['start']), int(z['end'])) != (s, e) or int(
                        z['names_crc']) != _crc(names[s:e]):
                    raise ValueError(
                        f'{meta_p}: chunk was made for other images (keys '
                        f'"start", "end", "names_crc" differ from images '
                        f'{s}..{e}); use an empty work_dir for new inputs')
                boxes = [b.copy() for b in unflatten_ragged(
                    z['boxes'], z['box_offsets'], meta_p, 'box_offsets')]
                offsets = z['box_offsets'].copy()
            emb = np.load(emb_p, mmap_mode='r')
            if emb.shape[0] != offsets[-1]:
                raise ValueError(f'{emb_p}: {emb.shape[0]} embeddings but '
                                 f'{meta_p} lists {offsets[-1]} boxes')
            self.chunks.append((s, boxes, offsets, emb))
        self.starts = np.array([c[0] for c in self.chunks])

    def boxes(self, i: int) -> np.ndarray:
        c = int(np.searchsorted(self.starts, i, side='right') - 1)
        s, boxes, _, _ = self.chunks[c]
        return boxes[i - s]

    def get(self, i: int) -> Tuple[np.ndarray, torch.Tensor]:
        c = int(np.searchsorted(self.starts, i, side='right') - 1)
        s, boxes, offsets, emb = self.chunks[c]
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
        progress_interval (float): seconds between progress lines.

    Returns:
        tuple[ORLCorrespondence | None, dict]: the merged result (rank 0;
        ``None`` elsewhere) and counters (``roi_forwards`` of this rank).
    """
    from torch.utils.data import DataLoader

    from .features import RoICropDataset, first_collate, roi_embeddings
    filter_cfg = dict(DEFAULT_FILTER_CFG if filter_cfg is None else
                      filter_cfg)
    names = list(file_names)
    n = len(names)
    knn = np.asarray(knn, dtype=np.int64)
    if len(raw_boxes) != n or knn.shape[0] != n:
        raise ValueError(f'{n} images, {len(raw_boxes)} proposal lists and '
                         f'{knn.shape[0]} kNN rows must agree')
    if knn.size and (knn.min() < 0 or knn.max() >= n):
        raise ValueError(f'kNN indices must lie in [0, {n})')
    rank, world = _dist_info()
    os.makedirs(work_dir, exist_ok=True)
    counters = dict(roi_forwards=0)

    # ---- pass 1: filtered boxes + RoI embeddings, once per image --------
    emb_ranges = chunk_ranges(n, emb_chunk)
    emb_paths = [(s, e, chunk_path(work_dir, 'emb', s, e, '.npy'),
                  chunk_path(work_dir, 'emb', s, e, '.npz'))
                 for s, e in emb_ranges]
    mine = [p for c, p in enumerate(emb_paths)
            if c % world == rank and not osp.exists(p[3])]
    prog = Progress(sum(e - s for s, e, _, _ in mine),
                    f'RoI embeddings rank {rank}', progress_interval)
    backbone = model.backbone
    for s, e, emb_p, meta_p in mine:
        ds = RoICropDataset(data_root, names, raw_boxes, range(s, e),
                            patch_size, filter_cfg)
        loader = DataLoader(ds, batch_size=1, num_workers=num_workers,
                            collate_fn=first_collate)
        boxes, feats = [], []
        for _, b, crops in loader:
            f = roi_embeddings(backbone, crops.to(device), roi_batch_size)
            counters['roi_forwards'] += len(crops)
            boxes.append(b)
            feats.append(f.cpu().numpy().astype(np.float32))
            prog.update()
        flat, offsets = flatten_ragged(boxes, 4)
        emb = np.concatenate(feats) if feats else np.zeros((0, 1),
                                                           np.float32)
        from .io import atomic_write
        atomic_write(emb_p, lambda fobj: np.save(fobj, emb))
        save_npz_atomic(meta_p, boxes=flat, box_offsets=offsets,
                        start=np.asarray(s), end=np.asarray(e),
                        names_crc=np.asarray(_crc(names[s:e])))
    if world > 1:
        _barrier()

    # ---- pass 2: pairs from the stored embeddings ------------------------
    store = _EmbeddingStore(emb_paths, names)
    pair_ranges = chunk_ranges(n, pair_chunk)
    pair_paths = [chunk_path(work_dir, 'pairs', s, e) for s, e in pair_ranges]
    mine = [(s, e, p) for c, ((s, e), p) in enumerate(
        zip(pair_ranges, pair_paths))
            if c % world == rank and not osp.exists(p)]
    prog = Progress(sum(e - s for s, e, _ in mine), f'RoI pairs rank {rank}',
                    progress_interval)
    for s, e, p in mine:
        slots = []
        for i in range(s, e):
            bq, fq = store.get(i)
            ks = [store.get(int(j)) for j in knn[i]]
            slots += mine_pairs(bq, fq, [k[0] for k in ks],
                                [k[1] for k in ks], ratio)
            prog.update()
        flat, offsets = flatten_ragged(slots, 8)
        save_npz_atomic(p, pairs=flat, pair_offsets=offsets,
                        start=np.asarray(s), end=np.asarray(e),
                        knn_crc=np.asarray(_crc(knn[s:e].ravel().tolist())))
    if world > 1:
        _barrier()
    if rank != 0:
        return None, counters

    # ---- merge -----------------------------------------------------------
    k = knn.shape[1]
    pairs: List[List[np.ndarray]] = []
    for (s, e), p in zip(pair_ranges, pair_paths):
        with np.load(p) as z:
            if (int(z['start']), int(z['end'])) != (s, e) or int(
                    z['knn_crc']) != _crc(knn[s:e].ravel().tolist()):
                raise ValueError(
                    f'{p}: chunk was made for another kNN (keys "start", '
                    f'"end", "knn_crc" differ for queries {s}..{e}); use an '
                    'empty work_dir for new inputs')
            slots = [a.copy() for a in unflatten_ragged(
                z['pairs'], z['pair_offsets'], p, 'pair_offsets')]
        pairs += [slots[r * k:(r + 1) * k] for r in range(e - s)]
    info = dict(filter_cfg, k=int(k), pair_ratio=ratio)
    corr = ORLCorrespondence(
        file_names=names, boxes=[store.boxes(i) for i in range(n)], knn=knn,
        pairs=pairs, info=info)
    save_correspondence(corr, out_file)
    print(f'[correspondence] {n} images -> {out_file}', flush=True)
    return corr, counters
