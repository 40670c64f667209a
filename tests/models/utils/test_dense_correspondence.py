# Copyright (c) mmscrl contributors. All rights reserved.
"""DenseCL matching and logits (mmscrl.models.utils.dense_correspondence)."""
import pytest
import torch
import torch.nn.functional as F

from mmscrl.models.utils.dense_correspondence import (
    dense_argmax_match, dense_contrastive_logits, flatten_normalize,
    gather_matched, global_contrastive_logits)


def _feature_map(n, c, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, h, w, generator=g)


@pytest.mark.parametrize('n,c,h,w', [(1, 8, 3, 3), (2, 32, 7, 7),
                                     (3, 16, 2, 5)])
def test_argmax_recovers_known_permutation(n, c, h, w):
    q = _feature_map(n, c, h, w)
    s2 = h * w
    perms = [torch.randperm(s2, generator=torch.Generator().manual_seed(i))
             for i in range(n)]
    q_flat = q.reshape(n, c, s2)
    # key location j holds query location perm[j]
    k_flat = torch.stack([q_flat[i][:, perms[i]] for i in range(n)])
    idx = dense_argmax_match(flatten_normalize(q), flatten_normalize(k_flat))
    assert idx.shape == (n, s2) and idx.dtype == torch.long
    for i in range(n):
        # query location perm[j] is matched to key location j
        expected = torch.argsort(perms[i])
        assert torch.equal(idx[i], expected)


@pytest.mark.parametrize('flip_dims', [(-1, ), (-2, ), (-2, -1)])
def test_argmax_recovers_flips(flip_dims):
    n, c, h, w = 2, 24, 4, 6
    q = _feature_map(n, c, h, w, seed=3)
    k = q.flip(flip_dims)
    idx = dense_argmax_match(flatten_normalize(q), flatten_normalize(k))
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    if -2 in flip_dims:
        ys = h - 1 - ys
    if -1 in flip_dims:
        xs = w - 1 - xs
    expected = (ys * w + xs).reshape(-1)
    for i in range(n):
        assert torch.equal(idx[i], expected)


def test_argmax_is_invariant_to_feature_scale():
    """Cosine matching: rescaling key locations does not change it."""
    q = _feature_map(1, 16, 3, 3, seed=5)
    k = q.flip(-1) * torch.rand(1, 1, 3, 3) * 10 + 0.0
    idx1 = dense_argmax_match(flatten_normalize(q), flatten_normalize(k))
    idx2 = dense_argmax_match(
        flatten_normalize(q), flatten_normalize(q.flip(-1)))
    assert torch.equal(idx1, idx2)


def test_gather_matched_matches_loop():
    k_grid = torch.randn(2, 5, 9)
    idx = torch.randint(0, 9, (2, 4))
    out = gather_matched(k_grid, idx)
    assert out.shape == (2, 5, 4)
    for n in range(2):
        for i in range(4):
            assert torch.equal(out[n, :, i], k_grid[n, :, idx[n, i]])


@pytest.mark.parametrize('n,c,s2,k_len', [(1, 4, 4, 8), (3, 16, 9, 32)])
def test_dense_logits_match_naive_loops(n, c, s2, k_len):
    q_grid = F.normalize(torch.randn(n, c, s2), dim=1)
    k_grid = F.normalize(torch.randn(n, c, s2), dim=1)
    queue = F.normalize(torch.randn(c, k_len), dim=0)
    idx = torch.randint(0, s2, (n, s2))
    l_pos, l_neg = dense_contrastive_logits(q_grid, k_grid, idx, queue)
    assert l_pos.shape == (n * s2, 1) and l_neg.shape == (n * s2, k_len)
    for b in range(n):
        for i in range(s2):
            row = b * s2 + i
            ref_pos = torch.dot(q_grid[b, :, i], k_grid[b, :, idx[b, i]])
            torch.testing.assert_close(l_pos[row, 0], ref_pos)
            torch.testing.assert_close(l_neg[row], q_grid[b, :, i] @ queue)


def test_global_logits_and_contrastive_loss_by_hand():
    from mmpretrain.models.heads import ContrastiveHead
    q = F.normalize(torch.randn(4, 8), dim=1)
    k = F.normalize(torch.randn(4, 8), dim=1)
    queue = F.normalize(torch.randn(8, 16), dim=0)
    l_pos, l_neg = global_contrastive_logits(q, k, queue)
    torch.testing.assert_close(l_pos[:, 0], (q * k).sum(1))
    torch.testing.assert_close(l_neg, q @ queue)
    head = ContrastiveHead(loss=dict(type='CrossEntropyLoss'),
                           temperature=0.2)
    loss = head.loss(l_pos, l_neg)
    logits = torch.cat([l_pos, l_neg], 1) / 0.2
    ref = (torch.logsumexp(logits, 1) - logits[:, 0]).mean()
    torch.testing.assert_close(loss, ref)


def test_logits_do_not_backprop_into_queue():
    q = F.normalize(torch.randn(2, 4), dim=1).requires_grad_()
    queue = torch.randn(4, 8, requires_grad=True)
    _, l_neg = global_contrastive_logits(q, q.detach(), queue)
    l_neg.sum().backward()
    assert queue.grad is None and q.grad is not None


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match='flatten_normalize'):
        flatten_normalize(torch.randn(2, 3))
    with pytest.raises(ValueError, match='differ'):
        dense_argmax_match(torch.randn(2, 4, 9), torch.randn(2, 5, 9))
