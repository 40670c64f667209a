# Copyright (c) mmscrl contributors. All rights reserved.
from types import SimpleNamespace

import pytest
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import ExponentialMovingAverage
from mmpretrain.models.utils import CosineEMA

from mmscrl.engine.hooks.ema_momentum_hook import (EMAMomentumLoggerHook,
                                                   current_ema_momentum)


@pytest.mark.parametrize('steps,expected', [(0, 0.03), (50, 0.015),
                                            (100, 0.0)])
def test_cosine_ema_momentum(steps, expected):
    ema = CosineEMA(nn.Linear(2, 2), momentum=0.03, end_momentum=0.)
    ema.steps.fill_(steps)
    assert current_ema_momentum(ema, 100) == pytest.approx(expected)


def test_constant_ema_and_other_modules():
    ema = ExponentialMovingAverage(nn.Linear(2, 2), momentum=0.001)
    assert current_ema_momentum(ema, 100) == pytest.approx(0.001)
    assert current_ema_momentum(nn.Linear(2, 2), 100) is None


def test_hook_updates_message_hub():
    model = nn.Module()
    model.backbone = nn.Linear(2, 2)
    model.target_net = CosineEMA(model.backbone, momentum=0.01)
    hub = MessageHub.get_instance('test_ema_momentum_hook')
    runner = SimpleNamespace(model=model, max_iters=10, message_hub=hub)
    hook = EMAMomentumLoggerHook()
    hook.before_train(runner)
    hook.after_train_iter(runner, 0)
    assert hub.get_scalar('train/ema_momentum').current() == \
        pytest.approx(0.01)
    # a model without EMA: nothing logged, no error
    runner2 = SimpleNamespace(model=nn.Linear(2, 2), max_iters=10,
                              message_hub=MessageHub.get_instance('x2'))
    hook.before_train(runner2)
    hook.after_train_iter(runner2, 0)
    assert 'train/ema_momentum' not in runner2.message_hub.log_scalars
