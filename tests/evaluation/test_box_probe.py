# Copyright (c) mmscrl contributors. All rights reserved.
"""The linear probe on box features (mmscrl/evaluation/box_probe.py)."""
import numpy as np
import pytest
import torch

from mmscrl.evaluation.box_probe import (box_probe_metrics, fit_linear_probe,
                                         linear_probe_accuracy)


def _problem(seed=0, n=240, dim=12, classes=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)) * rng.uniform(0.1, 10, dim)  # scales
    w = rng.normal(size=(classes, dim))
    y = (x / x.std(0) @ w.T + rng.normal(size=(n, classes))).argmax(1)
    return x, y


def test_probe_reaches_the_optimum_of_its_objective():
    """The L-BFGS fit is the minimiser of mean CE + ||W||^2 / (2 N) on the
    standardised features: scipy's L-BFGS-B on the same objective agrees."""
    optimize = pytest.importorskip('scipy.optimize')
    x, y = _problem()
    n, dim, c = x.shape[0], x.shape[1], 4
    probe = fit_linear_probe(torch.from_numpy(x), torch.from_numpy(y), c)
    xs = (x - x.mean(0)) / x.std(0)

    def objective(theta):
        w, b = theta[:c * dim].reshape(c, dim), theta[c * dim:]
        z = xs @ w.T + b
        z = z - z.max(1, keepdims=True)
        lse = np.log(np.exp(z).sum(1))
        loss = (lse - z[np.arange(n), y]).mean() + (w**2).sum() / (2 * n)
        p = np.exp(z - lse[:, None])
        p[np.arange(n), y] -= 1
        p /= n
        return loss, np.concatenate([(p.T @ xs + w / n).ravel(), p.sum(0)])

    ref = optimize.minimize(objective, np.zeros(c * dim + c), jac=True,
                            method='L-BFGS-B',
                            options=dict(gtol=1e-10, ftol=1e-15,
                                         maxiter=2000))
    assert float(probe['loss']) == pytest.approx(ref.fun, abs=1e-8)
    np.testing.assert_allclose(probe['weight'].numpy(),
                               ref.x[:c * dim].reshape(c, dim), atol=1e-3)


def test_separable_classes_and_accuracy():
    # two classes split by the sign of dimension 0; dimension 1 is noise
    # of zero variance in train (left centred, not divided by 0)
    train = torch.tensor([[-2., 1.], [-1., 1.], [1., 1.], [3., 1.]])
    test = torch.tensor([[-5., 0.], [0.5, 3.], [4., -1.]])
    acc = linear_probe_accuracy(train, torch.tensor([0, 0, 1, 1]), test,
                                torch.tensor([0, 1, 1]), 2)
    assert acc == 100.
    acc = linear_probe_accuracy(train, torch.tensor([0, 0, 1, 1]), test,
                                torch.tensor([1, 0, 0]), 2)
    assert acc == 0.
    x, y = _problem(1)
    acc = linear_probe_accuracy(torch.from_numpy(x[:160]),
                                torch.from_numpy(y[:160]),
                                torch.from_numpy(x[160:]),
                                torch.from_numpy(y[160:]), 4)
    assert 50. < acc <= 100.  # chance is about 25


def test_regularisation_shrinks_the_weights():
    x, y = _problem(2)
    norms = [float(fit_linear_probe(torch.from_numpy(x), torch.from_numpy(y),
                                    4, reg=r)['weight'].norm())
             for r in (0.1, 1., 100.)]
    assert norms[0] > norms[1] > norms[2]


def test_box_probe_metrics_and_bad_input():
    x, y = _problem(3, n=40)
    feats = dict(box_feats=torch.from_numpy(x[:30]))
    val = dict(box_feats=torch.from_numpy(x[30:]))
    labels = [y[:10], y[10:30]]  # two train images
    out = box_probe_metrics(feats, labels, 4, val, [y[30:]])
    assert out['num_boxes'] == 10. and 0. <= out['box_probe_top1'] <= 100.
    with pytest.raises(ValueError, match='needs a val set'):
        box_probe_metrics(feats, labels, 4, None, None)
    with pytest.raises(ValueError, match=r'labels must lie in \[0, 4\)'):
        fit_linear_probe(torch.zeros(2, 3), torch.tensor([0, 4]), 4)
    with pytest.raises(ValueError, match='3 feature rows'):
        fit_linear_probe(torch.zeros(3, 3), torch.tensor([0, 1]), 4)
    with pytest.raises(ValueError, match='non-finite'):
        fit_linear_probe(torch.full((2, 3), float('nan')),
                         torch.tensor([0, 1]), 4)
    with pytest.raises(ValueError, match='3-d train but 2-d test'):
        linear_probe_accuracy(torch.zeros(2, 3), torch.tensor([0, 1]),
                              torch.zeros(1, 2), torch.tensor([0]), 2)
