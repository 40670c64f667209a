# Copyright (c) mmscrl contributors. All rights reserved.
"""Blocked cosine kNN with explicit self-exclusion (ORL stage 2a).

The official notebook (Jiahao000/ORL ``tools/coco_knn_image_retrieval.ipynb``)
ranks the full N x N similarity matrix, takes the top ``k + 1`` and drops
column 0 assuming it is the image itself. Two deliberate changes:

* the query's own index is masked (``-inf``) before ranking, so a duplicate
  image (identical feature, tied similarity) can never push the query out of
  column 0 and leave itself in the result;
* the similarity is computed in (query block x bank block) tiles and merged
  into a running top-k, so memory is ``O(block_q * block_b)`` instead of
  ``O(N^2)`` (COCO: N = 118287, full matrix 56 GB in fp32).

Ties are ordered by ascending bank index, so results are deterministic.
"""
from typing import Optional, Tuple

import numpy as np
import torch

__all__ = ['knn_search', 'knn_brute_force']


def _merge_topk(scores: torch.Tensor, index: torch.Tensor,
                k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Top-k along dim 1, ties broken by ascending index."""
    order = torch.argsort(index, dim=1)
    scores = torch.gather(scores, 1, order)
    index = torch.gather(index, 1, order)
    order = torch.sort(scores, dim=1, descending=True, stable=True)[1][:, :k]
    return torch.gather(scores, 1, order), torch.gather(index, 1, order)


@torch.no_grad()
def knn_search(query,
               bank,
               k: int = 10,
               query_offset: Optional[int] = 0,
               block_q: int = 4096,
               block_b: int = 16384,
               device=None) -> Tuple[np.ndarray, np.ndarray]:
    """Top-k inner-product neighbours of ``query`` rows among ``bank`` rows.

    With L2-normalised features (as stored by the stage-2a extractor) the
    inner product is the cosine similarity.

    Args:
        query (array-like | Tensor): (Q, D) query features.
        bank (array-like | Tensor): (N, D) bank features.
        k (int): neighbours per query. Defaults to 10.
        query_offset (int, optional): bank index of query row 0: query row
            ``i`` is bank row ``query_offset + i`` and that index is excluded
            from its result. ``None`` disables self-exclusion (queries that
            are not in the bank). Defaults to 0.
        block_q (int): query rows per tile. Defaults to 4096.
        block_b (int): bank rows per tile. Defaults to 16384.
        device (str | torch.device, optional): where to compute; defaults to
            the device of ``bank`` if it is a tensor, else CPU.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(index, score)``, (Q, k) int64 bank
        indices (most similar first) and their (Q, k) float32 similarities.
    """
    bank_t = torch.as_tensor(bank)
    device = torch.device(device) if device is not None else bank_t.device
    bank_t = bank_t.to(device=device, dtype=torch.float32)
    query_t = torch.as_tensor(query).to(device=device, dtype=torch.float32)
    if bank_t.ndim != 2 or query_t.ndim != 2 or \
            bank_t.shape[1] != query_t.shape[1]:
        raise ValueError(f'query {tuple(query_t.shape)} and bank '
                         f'{tuple(bank_t.shape)} must be (Q, D) and (N, D)')
    n, q = bank_t.shape[0], query_t.shape[0]
    avail = n - (1 if query_offset is not None else 0)
    if not 0 < k <= avail:
        raise ValueError(f'k={k} must be in [1, {avail}] for a bank of {n}')
    if query_offset is not None and query_offset + q > n:
        raise ValueError(f'queries {query_offset}..{query_offset + q} '
                         f'exceed the bank size {n}')
    out_idx = torch.empty(q, k, dtype=torch.int64)
    out_val = torch.empty(q, k, dtype=torch.float32)
    for qs in range(0, q, block_q):
        qb = query_t[qs:qs + block_q]
        run_val = torch.full((len(qb), k), -float('inf'), device=device)
        run_idx = torch.full((len(qb), k), -1, dtype=torch.int64,
                             device=device)
        for bs in range(0, n, block_b):
            sim = qb @ bank_t[bs:bs + block_b].T
            if query_offset is not None:
                rows = torch.arange(len(qb), device=device)
                cols = rows + query_offset + qs - bs
                inside = (cols >= 0) & (cols < sim.shape[1])
                sim[rows[inside], cols[inside]] = -float('inf')
            kk = min(k, sim.shape[1])
            val, idx = torch.topk(sim, kk, dim=1)
            run_val, run_idx = _merge_topk(
                torch.cat([run_val, val], 1),
                torch.cat([run_idx, idx + bs], 1), k)
        out_idx[qs:qs + len(qb)] = run_idx.cpu()
        out_val[qs:qs + len(qb)] = run_val.cpu()
    return out_idx.numpy(), out_val.numpy()


def knn_brute_force(feats: np.ndarray,
                    k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Reference: full similarity matrix, self masked, stable descending
    sort (ties by ascending index). O(N^2) memory; for tests only."""
    feats = np.asarray(feats, dtype=np.float64)
    sim = feats @ feats.T
    np.fill_diagonal(sim, -np.inf)
    order = np.argsort(-sim, axis=1, kind='stable')[:, :k]
    return order.astype(np.int64), np.take_along_axis(sim, order, 1)
