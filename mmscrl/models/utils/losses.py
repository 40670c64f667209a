# Copyright (c) mmscrl contributors. All rights reserved.
"""Loss math shared by the BYOL-family algorithms (SCRL, ORL), as pure functions."""
import torch
import torch.nn.functional as F


def normalized_regression_loss(pred: torch.Tensor,
                               target: torch.Tensor) -> torch.Tensor:
    """BYOL's per-sample regression loss ``2 - 2 cos(pred, target)``.

    Both inputs are L2-normalized along the last dimension first, so
    ``||p - z||^2 = 2 - 2 cos(p, z)`` (Grill et al., NeurIPS 2020; identical
    in kakaobrain/scrl ``models/heads.py`` and Jiahao000/ORL
    ``latent_pred_head.py``). The target is detached.

    Args:
        pred (Tensor): Online predictions, shape (N, C).
        target (Tensor): Target projections, shape (N, C).

    Returns:
        Tensor: Per-sample losses in [0, 4], shape (N,). Empty if N == 0.
    """
    if pred.shape != target.shape:
        raise ValueError(f'pred {tuple(pred.shape)} and target '
                         f'{tuple(target.shape)} must have the same shape')
    pred = F.normalize(pred, dim=-1)
    target = F.normalize(target.detach(), dim=-1)
    return 2 - 2 * (pred * target).sum(dim=-1)


def symmetric_regression_loss(pred1: torch.Tensor, target2: torch.Tensor,
                              pred2: torch.Tensor,
                              target1: torch.Tensor) -> torch.Tensor:
    """Symmetrized BYOL loss: ``mean(l(p1, z2)) + mean(l(p2, z1))``.

    Args:
        pred1, pred2 (Tensor): Online predictions of view 1 / 2, (N, C).
        target1, target2 (Tensor): Target projections of view 1 / 2, (N, C).

    Returns:
        Tensor: Scalar in [0, 8]. With N == 0 it is ``0`` and still connected
        to the graph of ``pred1``/``pred2`` (zero gradients), so a batch
        without any pair keeps DDP and the optimizer consistent.
    """
    if pred1.shape[0] == 0:
        return (pred1.sum() + pred2.sum()) * 0.
    return (normalized_regression_loss(pred1, target2).mean() +
            normalized_regression_loss(pred2, target1).mean())
