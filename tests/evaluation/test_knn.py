# Copyright (c) mmscrl contributors. All rights reserved.
import math

import pytest
import torch

from mmscrl.evaluation.knn import knn_accuracy, knn_scores, topk_accuracy


def _reference_scores(train, labels, test, num_classes, k, t):
    """Brute-force weighted vote, one test sample at a time."""
    train = torch.nn.functional.normalize(train, dim=1)
    test = torch.nn.functional.normalize(test, dim=1)
    out = torch.zeros(len(test), num_classes)
    for i, q in enumerate(test):
        sims = [(float(q @ x), int(y)) for x, y in zip(train, labels)]
        sims.sort(key=lambda s: -s[0])
        for s, y in sims[:k]:
            out[i, y] += math.exp(s / t)
    return out


@pytest.mark.parametrize('k', [1, 3, 20])
@pytest.mark.parametrize('temperature', [0.07, 1.0])
@pytest.mark.parametrize('chunk_size', [1, 7, 1024])
def test_scores_match_brute_force(k, temperature, chunk_size):
    g = torch.Generator().manual_seed(k)
    train = torch.randn(15, 6, generator=g)
    labels = torch.randint(0, 4, (15, ), generator=g)
    test = torch.randn(9, 6, generator=g)
    got = knn_scores(train, labels, test, 4, k, temperature,
                     chunk_size=chunk_size)
    ref = _reference_scores(train, labels, test, 4, min(k, 15), temperature)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('scale', [1.0, 10.0])
def test_cosine_is_scale_invariant(scale):
    train = torch.tensor([[1., 0.], [0., 1.]])
    labels = torch.tensor([0, 1])
    test = torch.tensor([[0.9, 0.1]]) * scale
    scores = knn_scores(train, labels, test, 2, k=1)
    assert scores.argmax().item() == 0
    assert scores[0, 1] == 0


def test_temperature_weighting_decides_vote():
    # one very close neighbour of class 0 against two far ones of class 1:
    # a low temperature lets the close one win, a high one the majority
    train = torch.tensor([[1., 0.], [0.2, 1.], [0.2, -1.]])
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[1., 0.05]])
    low = knn_scores(train, labels, test, 2, k=3, temperature=0.07)
    high = knn_scores(train, labels, test, 2, k=3, temperature=100.)
    assert low.argmax().item() == 0
    assert high.argmax().item() == 1


def test_groups_exclude_same_group():
    feats = torch.tensor([[1., 0.], [1., 0.01], [0., 1.], [0.01, 1.]])
    labels = torch.tensor([0, 0, 1, 1])
    # leave-one-out: each sample's twin (same class) is its nearest
    loo = torch.arange(4)
    acc = knn_accuracy(feats, labels, feats, labels, 2, ks=(1, ),
                       topk=(1, ), train_groups=loo, test_groups=loo)
    assert acc == {'k1_top1': 100.}
    # twins in the same group: the only eligible neighbours are the other
    # class -> all wrong
    twins = torch.tensor([0, 0, 1, 1])
    acc = knn_accuracy(feats, labels, feats, labels, 2, ks=(1, ),
                       topk=(1, ), train_groups=twins, test_groups=twins)
    assert acc == {'k1_top1': 0.}
    # without exclusion every sample finds itself
    acc = knn_accuracy(feats, labels, feats, labels, 2, ks=(1, ),
                       topk=(1, ))
    assert acc == {'k1_top1': 100.}


def test_no_eligible_neighbour_scores_zero():
    feats = torch.randn(3, 4)
    labels = torch.tensor([0, 1, 2])
    same = torch.zeros(3, dtype=torch.long)
    scores = knn_scores(feats, labels, feats, 3, k=2, train_groups=same,
                        test_groups=same)
    assert (scores == 0).all()
    assert topk_accuracy(scores, labels, (1, ))['top1'] == 0.


@pytest.mark.parametrize('topk,expected', [((1, ), {'top1': 50.}),
                                           ((1, 2), {'top1': 50.,
                                                     'top2': 100.}),
                                           ((5, ), {'top5': 100.})])
def test_topk_accuracy(topk, expected):
    scores = torch.tensor([[0.9, 0.1, 0.0], [0.6, 0.4, 0.0]])
    labels = torch.tensor([0, 1])
    assert topk_accuracy(scores, labels, topk) == pytest.approx(expected)


def test_knn_accuracy_keys_and_clustered_data():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(3, 16, generator=g) * 5
    labels = torch.arange(3).repeat_interleave(30)
    feats = centers[labels] + torch.randn(90, 16, generator=g)
    test_labels = torch.arange(3).repeat(5)
    test = centers[test_labels] + torch.randn(15, 16, generator=g)
    acc = knn_accuracy(feats, labels, test, test_labels, 3, ks=(20, 200))
    assert set(acc) == {'k20_top1', 'k20_top5', 'k200_top1', 'k200_top5'}
    assert acc['k20_top1'] == 100.
    # random labels: chance level, far from perfect
    shuffled = labels[torch.randperm(90, generator=g)]
    acc = knn_accuracy(feats, shuffled, test, test_labels, 3, ks=(20, ))
    assert acc['k20_top1'] < 80.


@pytest.mark.parametrize('kwargs,match', [
    (dict(k=0), 'k must be'),
    (dict(temperature=0.), 'temperature'),
    (dict(num_classes=2), r'labels must lie in \[0, 2\)'),
    (dict(test=torch.randn(2, 5)), 'channels'),
    (dict(labels=torch.zeros(3, dtype=torch.long)), 'train labels for'),
    (dict(train_groups=torch.zeros(4, dtype=torch.long)), 'both'),
])
def test_bad_input(kwargs, match):
    args = dict(train=torch.randn(4, 4), labels=torch.tensor([0, 1, 2, 2]),
                test=torch.randn(2, 4), num_classes=3, k=2, temperature=0.07)
    groups = kwargs.pop('train_groups', None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        knn_scores(args['train'], args['labels'], args['test'],
                   args['num_classes'], args['k'], args['temperature'],
                   train_groups=groups)
