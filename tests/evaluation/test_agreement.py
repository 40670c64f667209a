# Copyright (c) mmscrl contributors. All rights reserved.
"""Spearman's rank correlation and the mean +- std over seeds."""
import math

import numpy as np
import pytest

from mmscrl.evaluation.agreement import (average_ranks, mean_std,
                                         spearman_rank_correlation)


def test_average_ranks_ties():
    np.testing.assert_array_equal(average_ranks([10, 20, 20, 5]),
                                  [2, 3.5, 3.5, 1])
    np.testing.assert_array_equal(average_ranks([7, 7, 7]), [2, 2, 2])
    np.testing.assert_array_equal(average_ranks([3., 1., 2.]), [3, 1, 2])
    assert average_ranks([]).shape == (0, )


@pytest.mark.parametrize('x,y,rho', [
    ([1, 2, 3, 4], [10, 20, 30, 40], 1.),
    ([1, 2, 3, 4], [9, 7, 5, 1], -1.),
    ([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], 0.8),  # 1 - 6 * 4 / (5 * 24)
    # ties: ranks x = [1.5, 1.5, 3], y = [1, 2, 3]; Pearson of the ranks
    ([5, 5, 9], [1, 2, 3], 1.5 / math.sqrt(1.5 * 2)),
])
def test_spearman_exact(x, y, rho):
    assert spearman_rank_correlation(x, y) == pytest.approx(rho)
    assert spearman_rank_correlation(y, x) == pytest.approx(rho)


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip('scipy.stats')
    rng = np.random.default_rng(0)
    for n in (2, 3, 7, 21, 60):
        for _ in range(20):
            # few distinct values: many ties in both samples
            x = rng.integers(0, 4, n).astype(float)
            y = rng.integers(0, 3, n) + 0.5 * x
            want = stats.spearmanr(x, y).statistic
            got = spearman_rank_correlation(x, y)
            if np.isnan(want):
                assert math.isnan(got)
            else:
                assert got == pytest.approx(want, abs=1e-12)


def test_spearman_constant_and_bad_input():
    assert math.isnan(spearman_rank_correlation([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match='3 x values but 2 y'):
        spearman_rank_correlation([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match='at least 2 pairs'):
        spearman_rank_correlation([1], [1])
    with pytest.raises(ValueError, match='index 1 is not a finite'):
        spearman_rank_correlation([1, float('nan'), 3], [1, 2, 3])


def test_mean_std_is_the_sample_std():
    out = mean_std([48.8, 50.3, 50.8])
    assert out['n'] == 3
    assert out['mean'] == pytest.approx(49.9667, abs=1e-4)
    # squared deviations 1.36 + 0.11 + 0.69 = 2.1667, over n - 1 = 2
    assert out['std'] == pytest.approx(math.sqrt(2.16667 / 2), abs=1e-4)
    assert out['std'] == pytest.approx(np.std([48.8, 50.3, 50.8], ddof=1))
    assert mean_std([3.]) == dict(mean=3., std=None, n=1)
    with pytest.raises(ValueError, match='no values'):
        mean_std([])
    with pytest.raises(ValueError, match='not a finite'):
        mean_std([1., float('inf')])
