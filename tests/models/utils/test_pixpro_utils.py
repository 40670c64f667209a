# Copyright (c) mmscrl contributors. All rights reserved.
"""PixPro pure functions: exact values derived from the official formulas
(positive mask, coordinates, pixel propagation, per-image loss)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmscrl.models.utils.pixpro import (pixel_propagation,
                                        pixpro_instance_loss,
                                        pixpro_pixel_loss,
                                        pixpro_positive_mask,
                                        pixpro_view_coords, ppm_similarity)

FULL = [0., 0., 1., 1.]
HALF = [0., 0., .5, .5]
HALF_ROWS = [[8, 10, 10, 5, 0, 0, 0], [10, 12, 12, 6, 0, 0, 0],
             [10, 12, 12, 6, 0, 0, 0], [5, 6, 6, 3, 0, 0, 0]] + \
    [[0] * 7] * 3


def mask(q, k, size=7, ratio=0.7):
    return pixpro_positive_mask(
        torch.tensor([q]), torch.tensor([k]), size, ratio)[0]


def mirror():
    m = torch.zeros(49, 49)
    for y in range(7):
        for x in range(7):
            m[y * 7 + x, y * 7 + 6 - x] = 1
    return m


@pytest.mark.parametrize('q,k,expected', [
    (FULL, FULL, torch.eye(49)),   # (a) identical crops: identity
    (FULL, [1., 0., 0., 1.], mirror()),  # (b) flipped: mirror permutation
    # (e) anisotropic frame: vertical neighbours (0.447) positive,
    # horizontal ones (0.894) not
    ([0., 0., 1., .5], [0., 0., 1., .5],
     torch.eye(49) + torch.diag(torch.ones(42), 7) +
     torch.diag(torch.ones(42), -7)),
])
def test_mask_exact(q, k, expected):
    torch.testing.assert_close(mask(q, k), expected)


def test_mask_half_crop_counts_and_transpose():
    m = mask(FULL, HALF)  # (c)
    assert int(m.sum()) == 133
    assert m.sum(1).view(7, 7).int().tolist() == HALF_ROWS
    torch.testing.assert_close(mask(HALF, FULL), m.t())


@pytest.mark.parametrize('q,k,total', [
    (FULL, FULL, 49), ([0., 0., 1., .5], [0., 0., 1., .5], 133),
    (HALF, [.6, .6, 1., 1.], 0),  # (d) disjoint crops
])
def test_mask_totals(q, k, total):
    assert int(mask(q, k).sum()) == total


@pytest.mark.parametrize('ratio,total', [
    (0.7, 49),  # strict < and max-diagonal normalisation: 1/sqrt(2) > 0.7
    (0.71, 49 + 4 * 42),  # the 4 neighbours join above 0.7071
])
def test_mask_threshold_is_against_bin_diagonal(ratio, total):
    assert int(mask(FULL, FULL, ratio=ratio).sum()) == total


def test_mask_batch_and_rectangular_map():
    q = torch.tensor([FULL, HALF])
    m = pixpro_positive_mask(q, q.flip(0), (3, 5))
    assert m.shape == (2, 15, 15)
    torch.testing.assert_close(m[1], m[0].t())
    with pytest.raises(ValueError, match='coords'):
        pixpro_positive_mask(q, q[:1], 7)


@pytest.mark.parametrize('flip,expected', [
    (False, [20 / 499, 10 / 374, 219 / 499, 109 / 374]),
    (True, [219 / 499, 10 / 374, 20 / 499, 109 / 374]),
])
def test_view_coords_official_convention(flip, expected):
    # (f) 500x375 image, crop i=10, j=20, h=100, w=200 (pixel-edge xyxy box)
    coords = pixpro_view_coords(
        torch.tensor([[20., 10., 220., 110.]]), torch.tensor([flip]),
        torch.tensor([[375, 500]]))
    torch.testing.assert_close(coords, torch.tensor([expected]))


def test_view_coords_rejects_bad_input():
    with pytest.raises(ValueError, match='at least 2'):
        pixpro_view_coords(torch.zeros(1, 4), torch.tensor([False]),
                           torch.tensor([[1, 5]]))
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        pixpro_view_coords(torch.zeros(1, 3), torch.tensor([False]),
                           torch.tensor([[5, 5]]))


def test_ppm_equal_features_and_orthogonal_features():
    g = torch.nn.Conv2d(8, 8, 1)
    # all pixels equal v: every prediction is normalize(g(v))
    v = torch.randn(1, 8, 1, 1)
    x = v.expand(1, 8, 3, 3).contiguous()
    out = pixel_propagation(x, g(x))
    expected = F.normalize(g(v), dim=1).expand_as(out)
    torch.testing.assert_close(out, expected)
    # one-hot pixels (C >= hw): S = I, so pred_i = normalize(g(x_i))
    x = torch.eye(9).view(1, 9, 3, 3)
    torch.testing.assert_close(ppm_similarity(x)[0], torch.eye(9))
    g = torch.nn.Conv2d(9, 9, 1)
    torch.testing.assert_close(
        pixel_propagation(x, g(x)), F.normalize(g(x), dim=1))


def test_ppm_matches_formula_and_propagates_gradients():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 4, 4, requires_grad=True)
    g = torch.nn.Conv2d(16, 16, 1)
    out = pixel_propagation(x, g(x))
    xn = F.normalize(x.flatten(2), dim=1)
    s = (xn.transpose(1, 2) @ xn).clamp(min=0)**2
    v = F.normalize(g(x).flatten(2), dim=1)
    ref = F.normalize(v @ s.transpose(1, 2), dim=1).view_as(out)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)
    out.sum().backward()  # gradient flows through the similarity too
    assert x.grad.abs().sum() > 0
    # gamma < 1: the official +1e-6 keeps max(cos, 0) ** gamma
    # differentiable at 0; gamma >= 1 is left exact
    assert (ppm_similarity(x.detach(), gamma=.5) >= 1e-3).all()
    assert (ppm_similarity(x.detach(), gamma=1.) == 0).any()


def unit(n, c=4, h=7, w=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, c, h, w, generator=g), dim=1)


def test_loss_minus_four_for_equal_prediction_and_target():
    # (h) pred == target, identical crops: -2 per direction, -4 in total
    z = unit(3)
    m = pixpro_positive_mask(torch.tensor([FULL] * 3),
                             torch.tensor([FULL] * 3), 7)
    loss = pixpro_pixel_loss(z, z, m) + pixpro_pixel_loss(z, z, m)
    assert loss.item() == pytest.approx(-4., abs=1e-5)


def test_loss_is_averaged_per_image_then_over_images():
    # (h) image 0: identical crops, cos 1; image 1: half crop, q orthogonal
    # to k: -2 * (1 + 0) / 2 = -1, not the pooled -2 * 49 / 182
    pred = torch.zeros(2, 2, 7, 7)
    target = torch.zeros(2, 2, 7, 7)
    pred[:, 0] = 1
    target[0, 0] = 1
    target[1, 1] = 1
    m = pixpro_positive_mask(torch.tensor([FULL, FULL]),
                             torch.tensor([FULL, HALF]), 7)
    assert m.sum((1, 2)).tolist() == [49, 133]
    loss = pixpro_pixel_loss(pred, target, m)
    assert loss.item() == pytest.approx(-1., abs=1e-6)
    assert loss.item() != pytest.approx(-2 * 49 / 182, abs=1e-3)


def test_loss_image_without_positives_counts_as_zero():
    z = unit(2)
    m = pixpro_positive_mask(torch.tensor([FULL, HALF]),
                             torch.tensor([FULL, [.6, .6, 1., 1.]]), 7)
    # image 1 has no positives: (-2 + 0) / 2
    assert pixpro_pixel_loss(z, z, m).item() == pytest.approx(-1., abs=1e-5)
    with pytest.raises(ValueError, match='pos_mask'):
        pixpro_pixel_loss(z, z, m[:, :10])


@pytest.mark.parametrize('p,z,expected', [
    ([1., 0.], [1., 0.], -2.), ([1., 0.], [0., 1.], 0.),
    ([1., 0.], [-1., 0.], 2.),
])
def test_instance_loss(p, z, expected):
    assert pixpro_instance_loss(torch.tensor([p]), torch.tensor(
        [z])).item() == pytest.approx(expected)


def test_mask_matches_brute_force_on_random_crops():
    """The vectorised rule equals a per-pair loop written from the rule."""
    rng = np.random.RandomState(0)
    for _ in range(3):
        q = rng.uniform(0, 1, 4)
        k = rng.uniform(0, 1, 4)
        m = mask(q.tolist(), k.tolist(), size=4).numpy()
        ref = np.zeros((16, 16), np.float32)

        def centres(c):
            bw, bh = (c[2] - c[0]) / 4, (c[3] - c[1]) / 4
            return [((x + .5) * bw + c[0], (y + .5) * bh + c[1])
                    for y in range(4) for x in range(4)], np.hypot(bw, bh)

        cq, dq = centres(q)
        ck, dk = centres(k)
        for i, a in enumerate(cq):
            for j, b in enumerate(ck):
                ref[i, j] = np.hypot(a[0] - b[0], a[1] - b[1]) / max(
                    dq, dk) < 0.7
        np.testing.assert_array_equal(m, ref)
