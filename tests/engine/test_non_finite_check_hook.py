# Copyright (c) mmscrl contributors. All rights reserved.
import os
import os.path as osp
import sys

import pytest
import torch

import mmscrl  # noqa: F401
from mmscrl.engine.hooks.non_finite_check_hook import (NonFiniteCheckHook,
                                                       NonFiniteError,
                                                       non_finite_entries)

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                            'reliability'))
from _toy_runner import make_runner  # noqa: E402


def test_non_finite_entries():
    sd = dict(a=torch.ones(3), b=torch.tensor([1., float('nan')]),
              steps=torch.tensor(3), c=torch.tensor([float('-inf')]),
              empty=torch.zeros(0))
    assert non_finite_entries(sd) == ['b', 'c']
    assert non_finite_entries(dict(a=torch.ones(2))) == []


def test_bad_interval():
    with pytest.raises(ValueError, match='param_interval'):
        NonFiniteCheckHook(param_interval=-1)


class _PoisonAt:
    """Sets the loss or a buffer non-finite from iteration ``at`` on."""

    def __init__(self, runner, at, what):
        model = runner.model
        original = model.forward

        def forward(inputs, data_samples=None, mode='tensor'):
            out = original(inputs, data_samples, mode)
            if runner.iter + 1 >= at:
                if what == 'loss':
                    out = dict(loss=out['loss'] * float('nan'))
                else:
                    model.bn.running_var.data.fill_(float('inf'))
            return out

        model.forward = forward


@pytest.mark.parametrize('what,match', [
    ('loss', r'iteration 3 \(epoch 1\): non-finite loss term\(s\) loss '
     r'\(loss=nan\).*last checkpoint written is .*iter_2.pth'),
    ('buffer', r'1 parameter/buffer tensor\(s\) hold NaN/Inf before saving '
     r'the checkpoint of iteration 3 \(bn.running_var\).*last checkpoint '
     r'written is .*iter_2.pth'),
])
def test_stops_before_non_finite_checkpoint(tmp_path, what, match):
    work = str(tmp_path / what)
    runner = make_runner(
        work, max_iters=4, name=f'nf_{what}',
        extra_hooks=dict(non_finite=dict(type='NonFiniteCheckHook')))
    _PoisonAt(runner, 3, what)
    with pytest.raises(NonFiniteError, match=match):
        runner.train()
    # the last complete checkpoint is the finite one of iteration 2
    assert sorted(f for f in os.listdir(work) if f.endswith('.pth')) == [
        'iter_2.pth'
    ]
    state = torch.load(osp.join(work, 'iter_2.pth'))['state_dict']
    assert non_finite_entries(state) == []


def test_param_interval_checks_between_saves(tmp_path):
    work = str(tmp_path / 'w')
    runner = make_runner(
        work, max_iters=4, name='nf_interval',
        extra_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=100,
                            by_epoch=False),
            non_finite=dict(type='NonFiniteCheckHook', param_interval=1)))
    _PoisonAt(runner, 2, 'buffer')
    with pytest.raises(NonFiniteError,
                       match='at iteration 2 .*no checkpoint was written'):
        runner.train()


@pytest.mark.parametrize('log_vars,bad', [
    # mmdet two-stage detector (BaseModel.parse_losses of its loss dict)
    (dict(loss=float('nan'), loss_rpn_cls=0.7, loss_rpn_bbox=0.1,
          loss_cls=float('nan'), acc=25., loss_bbox=float('inf')),
     'loss, loss_cls, loss_bbox'),
    # mmseg encoder-decoder with an auxiliary head (dotted names)
    (dict(loss=float('nan'), **{'decode.loss_ce': float('nan'),
                                'decode.acc_seg': 50.,
                                'aux.loss_ce': 0.4, 'aux.acc_seg': 40.}),
     'loss, decode.loss_ce'),
])
def test_openmmlab_log_vars_layouts(tmp_path, log_vars, bad):
    """The hook reads the ``log_vars`` of mmdet and mmseg models (what
    their ``train_step`` returns to the runner's hooks)."""
    from types import SimpleNamespace
    runner = SimpleNamespace(iter=4, epoch=0, work_dir=str(tmp_path))
    outputs = {k: torch.tensor(v) for k, v in log_vars.items()}
    with pytest.raises(NonFiniteError,
                       match=r'iteration 5 \(epoch 1\): non-finite loss '
                       rf'term\(s\) {bad} \('):
        NonFiniteCheckHook().after_train_iter(runner, 0, None, outputs)
    finite = {k: torch.ones(()) for k in log_vars}
    NonFiniteCheckHook().after_train_iter(runner, 0, None, finite)
