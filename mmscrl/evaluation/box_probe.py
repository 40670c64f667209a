# Copyright (c) mmscrl contributors. All rights reserved.
"""Linear probe on box (RoI) features: a second box-level monitor.

Where the box kNN (:mod:`mmscrl.evaluation.box_knn`) asks whether boxes of
one class are *neighbours* in feature space, the linear probe asks whether
the classes are *linearly separable* in it, the question a detector's box
head (linear layers on RoI features) answers. The box features are those of
:func:`mmscrl.evaluation.box_knn.extract_box_features` (RoIAlign inside each
ground-truth box, bins averaged), standardised with the train split's
per-dimension mean and std; a multinomial logistic regression is fitted on
the train split's boxes and scored (top-1 %) on the val split's.

The fit has no tunable schedule: the objective is scikit-learn's
``LogisticRegression`` default (``C=1``, multinomial, L2 on the weights,
unpenalised bias), ``sum_i CE_i + ||W||^2 / 2``, here divided by the number
of samples, minimised by L-BFGS (``torch.optim.LBFGS``, strong-Wolfe line
search) for at most 100 iterations, as scikit-learn's ``max_iter=100``; the
objective is strictly convex in ``W``, so the result does not depend on an
initialisation or a learning rate. Full-batch, float64, CPU.
"""
from typing import Dict, Sequence

import numpy as np
import torch

__all__ = ['fit_linear_probe', 'linear_probe_accuracy', 'box_probe_metrics']


def _check(feats: torch.Tensor, labels: torch.Tensor, num_classes: int,
           name: str):
    if feats.ndim != 2:
        raise ValueError(f'{name}: features must be (N, D), got shape '
                         f'{tuple(feats.shape)}')
    if labels.shape != (feats.shape[0], ):
        raise ValueError(f'{name}: {feats.shape[0]} feature rows but labels '
                         f'of shape {tuple(labels.shape)}')
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'{name}: labels must lie in [0, {num_classes}), '
                         f'got [{int(labels.min())}, {int(labels.max())}]')
    if not torch.isfinite(feats).all():
        raise ValueError(f'{name}: non-finite feature values')


def fit_linear_probe(feats: torch.Tensor,
                     labels: torch.Tensor,
                     num_classes: int,
                     reg: float = 1.,
                     max_iter: int = 100) -> Dict[str, torch.Tensor]:
    """Fit a multinomial logistic regression (full batch, L-BFGS).

    Minimises ``mean_i CE(W x_i + b, y_i) + reg * ||W||^2 / (2 N)`` over
    ``W`` (C, D) and ``b`` (C, ) from zeros, after standardising ``x`` with
    the mean and std of ``feats`` (dimensions of zero std are left
    centred). ``reg=1`` is scikit-learn's default ``C=1``.

    Args:
        feats (Tensor): (N, D) training features.
        labels (Tensor): (N, ) int labels in ``[0, num_classes)``.
        num_classes (int): Number of classes C.
        reg (float): L2 strength (``1 / C`` of scikit-learn). Defaults to 1.
        max_iter (int): L-BFGS iterations at most. Defaults to 100.

    Returns:
        dict: ``weight`` (C, D), ``bias`` (C, ), ``mean`` and ``std`` (D, )
        of the standardisation (float64 tensors), ``loss`` (the final
        objective, a 0-d tensor).

    Raises:
        ValueError: Shapes that do not match, labels out of range, no
            training sample, non-finite features, ``reg < 0`` or
            ``max_iter < 1``.
    """
    feats = torch.as_tensor(feats).detach().to(torch.float64).cpu()
    labels = torch.as_tensor(labels).detach().long().cpu()
    _check(feats, labels, num_classes, 'fit_linear_probe')
    if feats.shape[0] == 0:
        raise ValueError('fit_linear_probe: no training sample')
    if reg < 0 or max_iter < 1:
        raise ValueError(f'fit_linear_probe: need reg >= 0 and max_iter >= '
                         f'1, got reg={reg}, max_iter={max_iter}')
    mean = feats.mean(dim=0)
    std = feats.std(dim=0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    x = (feats - mean) / std
    n = x.shape[0]
    weight = torch.zeros(num_classes, x.shape[1], dtype=torch.float64,
                         requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], lr=1., max_iter=max_iter,
                            history_size=10, tolerance_grad=1e-9,
                            tolerance_change=1e-12,
                            line_search_fn='strong_wolfe')

    def objective():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            x @ weight.t() + bias, labels) + reg * weight.pow(2).sum() / (
                2 * n)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(objective)
        loss = objective().detach()
    return dict(weight=weight.detach(), bias=bias.detach(), mean=mean,
                std=std, loss=loss)


def linear_probe_accuracy(train_feats: torch.Tensor,
                          train_labels: torch.Tensor,
                          test_feats: torch.Tensor,
                          test_labels: torch.Tensor,
                          num_classes: int,
                          reg: float = 1.,
                          max_iter: int = 100) -> float:
    """Top-1 accuracy (%) on ``test`` of a probe fitted on ``train``.

    Args:
        train_feats, train_labels: (N, D) features and (N, ) labels fitted.
        test_feats, test_labels: (M, D) features and (M, ) labels scored.
        num_classes (int): Number of classes.
        reg, max_iter: See :func:`fit_linear_probe`.

    Returns:
        float: Percentage of test samples whose arg-max class is their
        label.
    """
    test_feats = torch.as_tensor(test_feats).detach().to(
        torch.float64).cpu()
    test_labels = torch.as_tensor(test_labels).detach().long().cpu()
    _check(test_feats, test_labels, num_classes, 'linear_probe_accuracy')
    if test_feats.shape[0] == 0:
        raise ValueError('linear_probe_accuracy: no test sample')
    probe = fit_linear_probe(train_feats, train_labels, num_classes, reg,
                             max_iter)
    if test_feats.shape[1] != probe['weight'].shape[1]:
        raise ValueError(f'linear_probe_accuracy: {train_feats.shape[1]}-d '
                         f'train but {test_feats.shape[1]}-d test features')
    logits = ((test_feats - probe['mean']) / probe['std']) @ probe[
        'weight'].t() + probe['bias']
    return float((logits.argmax(dim=1) == test_labels).double().mean() * 100)


def box_probe_metrics(feats: Dict,
                      labels: Sequence[np.ndarray],
                      num_classes: int,
                      val_feats: Dict,
                      val_labels: Sequence[np.ndarray],
                      reg: float = 1.,
                      max_iter: int = 100) -> Dict[str, float]:
    """Box-level linear-probe top-1 (%): fitted on one set, scored on another.

    Args:
        feats (dict): :func:`~mmscrl.evaluation.box_knn.extract_box_features`
            output of the fitted (train) set; ``box_feats`` is used.
        labels (Sequence[ndarray]): (K_i, ) box labels per train image.
        num_classes (int): Number of classes.
        val_feats (dict): The same for the scored (val) set.
        val_labels (Sequence[ndarray]): Its box labels per image.
        reg, max_iter: See :func:`fit_linear_probe`.

    Returns:
        dict[str, float]: ``box_probe_top1`` and ``num_boxes`` (scored).

    Raises:
        ValueError: ``val_feats`` is None (a probe needs a held-out set).
    """
    if val_feats is None or val_labels is None:
        raise ValueError('box_probe_metrics: the linear probe needs a val '
                         'set (it is fitted on the train set); '
                         'leave-one-out is not supported')
    train_l = torch.from_numpy(np.concatenate(labels)).long()
    val_l = torch.from_numpy(np.concatenate(val_labels)).long()
    acc = linear_probe_accuracy(feats['box_feats'], train_l,
                                val_feats['box_feats'], val_l, num_classes,
                                reg, max_iter)
    return dict(box_probe_top1=acc, num_boxes=float(len(val_l)))
