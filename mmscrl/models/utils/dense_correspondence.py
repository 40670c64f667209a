# Copyright (c) mmscrl contributors. All rights reserved.
"""Pure functions of DenseCL's contrastive logits and dense matching.

Shapes follow `DenseCL <https://arxiv.org/abs/2011.09157>`_ and the official
code (WXinlong/DenseCL ``openselfsup/models/densecl.py``): ``N`` images,
``C`` channels, ``S2 = H * W`` grid locations of a C5 map, ``K`` queue
entries. Every input is expected to be L2-normalised along ``C`` already
(:func:`flatten_normalize` does that for a C5 map); nothing here has state.
"""
from typing import Tuple

import torch
import torch.nn.functional as F

__all__ = [
    'flatten_normalize', 'dense_argmax_match', 'gather_matched',
    'global_contrastive_logits', 'dense_contrastive_logits'
]


def flatten_normalize(feat: torch.Tensor) -> torch.Tensor:
    """Flatten a feature map's grid and L2-normalise along channels.

    Args:
        feat (Tensor): ``(N, C, H, W)`` or already flat ``(N, C, S2)``.

    Returns:
        Tensor: ``(N, C, H*W)``, unit norm along dim 1.
    """
    if feat.dim() not in (3, 4):
        raise ValueError('flatten_normalize expects (N, C, H, W) or '
                         f'(N, C, S2), got shape {tuple(feat.shape)}')
    feat = feat.reshape(feat.size(0), feat.size(1), -1)
    return F.normalize(feat, dim=1)


def dense_argmax_match(q_feat: torch.Tensor,
                       k_feat: torch.Tensor) -> torch.Tensor:
    """For every query location, the key location of highest cosine sim.

    DenseCL matches the two views with their *backbone* features:
    ``sim = q_feat^T k_feat`` (``N x S2_q x S2_k``) and ``idx = argmax`` over
    key locations.

    Args:
        q_feat (Tensor): ``(N, C, S2_q)`` normalised query-view features.
        k_feat (Tensor): ``(N, C, S2_k)`` normalised key-view features.

    Returns:
        Tensor: ``(N, S2_q)`` long indices into the key grid.
    """
    if q_feat.shape[:2] != k_feat.shape[:2]:
        raise ValueError('dense_argmax_match: query and key features differ '
                         f'in (N, C): {tuple(q_feat.shape)} vs '
                         f'{tuple(k_feat.shape)}')
    sim = torch.matmul(q_feat.transpose(1, 2), k_feat)
    return sim.argmax(dim=2)


def gather_matched(k_grid: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Pick, for every query location, the matched key-grid vector.

    Args:
        k_grid (Tensor): ``(N, C, S2_k)`` key dense-head vectors.
        idx (Tensor): ``(N, S2_q)`` indices from :func:`dense_argmax_match`.

    Returns:
        Tensor: ``(N, C, S2_q)``, ``out[n, :, i] = k_grid[n, :, idx[n, i]]``.
    """
    index = idx.unsqueeze(1).expand(-1, k_grid.size(1), -1)
    return torch.gather(k_grid, 2, index)


def global_contrastive_logits(
        q: torch.Tensor, k: torch.Tensor,
        queue: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """MoCo logits of the global branch.

    Args:
        q (Tensor): ``(N, C)`` normalised queries.
        k (Tensor): ``(N, C)`` normalised positive keys.
        queue (Tensor): ``(C, K)`` negatives (treated as a constant).

    Returns:
        tuple[Tensor, Tensor]: ``l_pos`` ``(N, 1)`` and ``l_neg`` ``(N, K)``.
    """
    l_pos = (q * k).sum(dim=1, keepdim=True)
    l_neg = torch.matmul(q, queue.detach())
    return l_pos, l_neg


def dense_contrastive_logits(
        q_grid: torch.Tensor, k_grid: torch.Tensor, idx: torch.Tensor,
        queue: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Dense logits: one contrastive row per query location.

    Args:
        q_grid (Tensor): ``(N, C, S2_q)`` normalised query dense vectors.
        k_grid (Tensor): ``(N, C, S2_k)`` normalised key dense vectors.
        idx (Tensor): ``(N, S2_q)`` matched key location of each query one.
        queue (Tensor): ``(C, K)`` dense negatives (pooled key-head vectors),
            treated as a constant.

    Returns:
        tuple[Tensor, Tensor]: ``l_pos_dense`` ``(N*S2_q, 1)`` and
        ``l_neg_dense`` ``(N*S2_q, K)``; rows are image-major
        (``row = n * S2_q + i``).
    """
    matched = gather_matched(k_grid, idx)
    l_pos = (q_grid * matched).sum(dim=1).reshape(-1, 1)
    q_rows = q_grid.transpose(1, 2).reshape(-1, q_grid.size(1))
    l_neg = torch.matmul(q_rows, queue.detach())
    return l_pos, l_neg
