# Copyright (c) mmscrl contributors. All rights reserved.
"""Weighted k-nearest-neighbour classification of frozen features.

The standard protocol of self-supervised learning (Wu et al., "Unsupervised
Feature Learning via Non-Parametric Instance Discrimination", CVPR 2018;
official code: zhirongw/lemniscate.pytorch; also used by DINO,
facebookresearch/dino ``eval_knn.py``): features are L2-normalised, the
``k`` training samples of highest cosine similarity vote for their class
with weight ``exp(similarity / T)``, and the class of largest total weight
is predicted. Defaults: ``k`` in (20, 200), ``T = 0.07``.

Pure functions on tensors (no model, no file, no process group).
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F

__all__ = ['knn_scores', 'knn_accuracy', 'topk_accuracy']


def _check(train_feats, train_labels, test_feats, num_classes, k,
           temperature):
    if train_feats.dim() != 2 or test_feats.dim() != 2:
        raise ValueError('kNN: features must be 2-D (N, C); got train '
                         f'{tuple(train_feats.shape)}, test '
                         f'{tuple(test_feats.shape)}')
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f'kNN: train features have {train_feats.shape[1]} '
                         f'channels, test features {test_feats.shape[1]}')
    if train_labels.shape != (train_feats.shape[0], ):
        raise ValueError(f'kNN: {tuple(train_labels.shape)} train labels for '
                         f'{train_feats.shape[0]} train features')
    if len(train_labels) and (int(train_labels.min()) < 0
                              or int(train_labels.max()) >= num_classes):
        raise ValueError(f'kNN: train labels must lie in [0, {num_classes})'
                         f', got [{int(train_labels.min())}, '
                         f'{int(train_labels.max())}]')
    if int(k) < 1:
        raise ValueError(f'kNN: k must be >= 1, got {k}')
    if not temperature > 0:
        raise ValueError(f'kNN: temperature must be > 0, got {temperature}')


def knn_scores(train_feats: torch.Tensor,
               train_labels: torch.Tensor,
               test_feats: torch.Tensor,
               num_classes: int,
               k: int = 20,
               temperature: float = 0.07,
               train_groups: Optional[torch.Tensor] = None,
               test_groups: Optional[torch.Tensor] = None,
               chunk_size: int = 1024) -> torch.Tensor:
    """Class scores of temperature-weighted cosine kNN voting.

    Args:
        train_feats (Tensor): (N, C) features of the labelled set; they are
            L2-normalised here.
        train_labels (Tensor): (N, ) int labels in ``[0, num_classes)``.
        test_feats (Tensor): (M, C) features to classify (L2-normalised
            here).
        num_classes (int): Number of classes.
        k (int): Neighbours voting. Fewer are used when fewer than ``k``
            are available. Defaults to 20.
        temperature (float): Vote weight ``exp(cos / temperature)``.
            Defaults to 0.07.
        train_groups (Tensor, optional): (N, ) int group ids of the
            training samples; with ``test_groups`` (M, ), a training sample
            never votes for a test sample of the same group. Leave-one-out
            evaluation of a set against itself passes ``arange(N)`` for
            both; passing image ids also keeps boxes of the same image from
            voting for each other. Defaults to None (no exclusion).
        test_groups (Tensor, optional): (M, ) group ids. Defaults to None.
        chunk_size (int): Test samples per similarity block (memory
            ``chunk_size * N``). Defaults to 1024.

    Returns:
        Tensor: (M, num_classes) float scores, the sum of the vote weights
        of each class; a test sample without any eligible neighbour scores
        0 everywhere.
    """
    _check(train_feats, train_labels, test_feats, num_classes, k,
           temperature)
    if (train_groups is None) != (test_groups is None):
        raise ValueError('kNN: give both train_groups and test_groups, or '
                         'neither')
    if train_groups is not None and (
            train_groups.shape != (train_feats.shape[0], )
            or test_groups.shape != (test_feats.shape[0], )):
        raise ValueError('kNN: groups must be (N, ) and (M, ); got '
                         f'{tuple(train_groups.shape)} and '
                         f'{tuple(test_groups.shape)}')
    train = F.normalize(train_feats.float(), dim=1)
    test = F.normalize(test_feats.float(), dim=1)
    labels = train_labels.long().to(train.device)
    k = min(int(k), train.shape[0])
    scores = torch.zeros(test.shape[0], num_classes, device=train.device)
    if k == 0 or test.shape[0] == 0:
        return scores
    for start in range(0, test.shape[0], chunk_size):
        sim = test[start:start + chunk_size].to(train.device) @ train.t()
        if train_groups is not None:
            same = test_groups[start:start + chunk_size, None].to(
                train.device) == train_groups[None].to(train.device)
            sim = sim.masked_fill(same, float('-inf'))
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()  # exp(-inf) = 0: no vote
        scores[start:start + chunk_size].scatter_add_(1, labels[top_idx],
                                                      weights)
    return scores


def topk_accuracy(scores: torch.Tensor,
                  labels: torch.Tensor,
                  topk: Sequence[int] = (1, 5)) -> Dict[str, float]:
    """Top-k accuracy (%) of class scores.

    Args:
        scores (Tensor): (M, K) scores.
        labels (Tensor): (M, ) true labels.
        topk (Sequence[int]): Values of k; those larger than K are clipped
            to K. Defaults to (1, 5).

    Returns:
        dict[str, float]: ``{'top1': ..., 'top5': ...}`` in percent; 0 for
        an empty set. A sample whose scores are all 0 counts as wrong.
    """
    if scores.shape[0] != labels.shape[0]:
        raise ValueError(f'{scores.shape[0]} score rows for '
                         f'{labels.shape[0]} labels')
    out = {}
    for t in topk:
        if scores.shape[0] == 0:
            out[f'top{t}'] = 0.
            continue
        pred = scores.topk(min(int(t), scores.shape[1]), dim=1).indices
        hit = (pred == labels.to(pred.device)[:, None]).any(dim=1)
        hit &= scores.max(dim=1).values > 0
        out[f'top{t}'] = 100. * hit.float().mean().item()
    return out


def knn_accuracy(train_feats: torch.Tensor,
                 train_labels: torch.Tensor,
                 test_feats: torch.Tensor,
                 test_labels: torch.Tensor,
                 num_classes: int,
                 ks: Sequence[int] = (20, 200),
                 temperature: float = 0.07,
                 topk: Sequence[int] = (1, 5),
                 train_groups: Optional[torch.Tensor] = None,
                 test_groups: Optional[torch.Tensor] = None,
                 chunk_size: int = 1024) -> Dict[str, float]:
    """kNN top-k accuracies (%) for several ``k``.

    Args:
        train_feats, train_labels, test_feats: see :func:`knn_scores`.
        test_labels (Tensor): (M, ) true labels of the test samples.
        num_classes (int): Number of classes.
        ks (Sequence[int]): Neighbour counts. Defaults to (20, 200).
        temperature (float): Defaults to 0.07.
        topk (Sequence[int]): Accuracies reported. Defaults to (1, 5).
        train_groups, test_groups, chunk_size: see :func:`knn_scores`.

    Returns:
        dict[str, float]: e.g. ``{'k20_top1': ..., 'k20_top5': ...,
        'k200_top1': ..., 'k200_top5': ...}``.
    """
    out = {}
    for k in ks:
        scores = knn_scores(train_feats, train_labels, test_feats,
                            num_classes, k, temperature, train_groups,
                            test_groups, chunk_size)
        for name, acc in topk_accuracy(scores, test_labels, topk).items():
            out[f'k{k}_{name}'] = acc
    return out
