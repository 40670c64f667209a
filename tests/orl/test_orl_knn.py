# Copyright (c) mmscrl contributors. All rights reserved.
import numpy as np
import pytest

from mmscrl.orl.knn import knn_brute_force, knn_search


def _feats(n, d, seed=0):
    f = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return f / np.linalg.norm(f, axis=1, keepdims=True)


@pytest.mark.parametrize('n, k, block_q, block_b', [
    (300, 10, 4096, 16384),  # one tile
    (300, 10, 37, 53),  # ragged tiles, self in various tile positions
    (64, 5, 8, 7),  # bank tile smaller than k
    (12, 11, 5, 3),  # k = N - 1
])
def test_knn_equals_brute_force(n, k, block_q, block_b):
    f = _feats(n, 16)
    idx, val = knn_search(f, f, k, block_q=block_q, block_b=block_b)
    ref_idx, ref_val = knn_brute_force(f, k)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(val, ref_val, atol=1e-5)
    assert idx.dtype == np.int64 and idx.shape == (n, k)
    assert not np.any(idx == np.arange(n)[:, None])


def test_knn_query_chunks_with_offset():
    f = _feats(200, 8, seed=1)
    ref_idx, _ = knn_brute_force(f, 4)
    parts = [knn_search(f[s:s + 64], f, 4, query_offset=s, block_b=50)[0]
             for s in range(0, 200, 64)]
    np.testing.assert_array_equal(np.concatenate(parts), ref_idx)


def test_self_excluded_with_duplicates():
    """Identical features tie with self; dropping column 0 (official) could
    then keep the image itself. The index mask never does."""
    base = _feats(20, 8, seed=2)
    f = np.concatenate([base, base, base[:5]])  # 2-3 copies of each row
    n = len(f)
    for block_b in (7, 1000):
        idx, val = knn_search(f, f, 3, block_q=6, block_b=block_b)
        assert not np.any(idx == np.arange(n)[:, None])
        for i in range(n):
            copies = [j for j in range(n)
                      if j != i and np.array_equal(f[j], f[i])]
            # the duplicates come first; their order is that of float32
            # rounding (a copy in another block of the matmul may score one
            # ulp apart from self-similarity on some CPUs' kernels)
            assert sorted(idx[i, :len(copies)].tolist()) == copies[:3]
            np.testing.assert_allclose(val[i, :len(copies)], 1, atol=1e-6)
    # beyond the duplicates, ties between copies are decided by float32
    # rounding; the similarities still equal the brute-force ones
    np.testing.assert_allclose(knn_search(f, f, 3)[1],
                               knn_brute_force(f, 3)[1], atol=1e-5)


def test_knn_all_identical_features():
    f = np.ones((6, 4), np.float32) / 2
    idx, _ = knn_search(f, f, 5, block_b=2)
    for i in range(6):
        assert idx[i].tolist() == [j for j in range(6) if j != i]


def test_knn_bad_arguments():
    f = _feats(5, 4)
    with pytest.raises(ValueError, match='k=5'):
        knn_search(f, f, 5)
    with pytest.raises(ValueError, match='must be'):
        knn_search(f[:, :3], f, 2)
    idx, _ = knn_search(f[:2], f, 5, query_offset=None)  # not in the bank
    assert idx[0, 0] == 0 and idx[1, 0] == 1
