# Copyright (c) mmscrl contributors. All rights reserved.
"""Summaries over seeds and the agreement of a monitor with transfer.

Pure functions on plain sequences of numbers (no I/O, no state), used by
``tools/demo/run_all_demos.py`` to report each init's detection AP and
monitor values as mean +- sample std over seeds, and how well a monitor
(box/image kNN, linear probe) ranks the pre-trainings the way detection AP
ranks them: Spearman's rank correlation over all (init, seed) pairs.

Spearman's rho is Pearson's correlation of the ranks, with tied values given
the average of the ranks they span (C. Spearman, *The proof and measurement
of association between two things*, Am. J. Psychol. 15, 1904; the tie rule
of ``scipy.stats.spearmanr``/``scipy.stats.rankdata(method='average')``).
"""
import math
from typing import Dict, Optional, Sequence

import numpy as np

__all__ = ['average_ranks', 'spearman_rank_correlation', 'mean_std']


def _finite_vector(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f'{name}: expected a 1-D sequence of numbers, got '
                         f'shape {arr.shape}')
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f'{name}: value {arr[bad[0]]!r} at index '
                         f'{int(bad[0])} is not a finite number')
    return arr


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """1-based ranks of ``values``; tied values share their average rank.

    Args:
        values (Sequence[float]): Finite numbers.

    Returns:
        ndarray: float64 ranks, e.g. ``[10, 20, 20, 5] -> [2, 3.5, 3.5, 1]``.

    Raises:
        ValueError: ``values`` is not 1-D or holds a non-finite number.
    """
    arr = _finite_vector(values, 'average_ranks')
    order = np.argsort(arr, kind='mergesort')
    sorted_vals = arr[order]
    ranks = np.empty(arr.size, np.float64)
    start = 0
    while start < arr.size:  # one tie group [start, stop) at a time
        stop = start + 1
        while stop < arr.size and sorted_vals[stop] == sorted_vals[start]:
            stop += 1
        ranks[order[start:stop]] = (start + 1 + stop) / 2.
        start = stop
    return ranks


def spearman_rank_correlation(x: Sequence[float],
                              y: Sequence[float]) -> float:
    """Spearman's rank correlation of two paired samples.

    Pearson's correlation of :func:`average_ranks` of ``x`` and ``y``
    (ties -> average ranks), the value ``scipy.stats.spearmanr`` returns.

    Args:
        x (Sequence[float]): Finite numbers, e.g. a monitor's value per
            (init, seed) pair.
        y (Sequence[float]): As many finite numbers, e.g. the detection AP
            of the same pairs.

    Returns:
        float: rho in [-1, 1]; NaN when ``x`` or ``y`` is constant (no
        ranking to compare, as scipy).

    Raises:
        ValueError: Different lengths, fewer than 2 pairs, or a value that
            is not a finite number (named with its index).
    """
    rx = average_ranks(x)
    ry = average_ranks(y)
    if rx.size != ry.size:
        raise ValueError(f'spearman_rank_correlation: {rx.size} x values '
                         f'but {ry.size} y values')
    if rx.size < 2:
        raise ValueError('spearman_rank_correlation: needs at least 2 '
                         f'pairs, got {rx.size}')
    dx, dy = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy)))
    if denom == 0.:
        return float('nan')
    return max(-1., min(1., float(np.dot(dx, dy)) / denom))


def mean_std(values: Sequence[float]) -> Dict[str, Optional[float]]:
    """Mean and sample standard deviation (n - 1 in the denominator).

    Args:
        values (Sequence[float]): Finite numbers (at least one).

    Returns:
        dict: ``mean``, ``std`` (None for a single value: a sample std
        needs two) and ``n``.

    Raises:
        ValueError: ``values`` is empty or holds a non-finite number.
    """
    arr = _finite_vector(values, 'mean_std')
    if arr.size == 0:
        raise ValueError('mean_std: no values')
    std = float(arr.std(ddof=1)) if arr.size > 1 else None
    return dict(mean=float(arr.mean()), std=std, n=int(arr.size))
