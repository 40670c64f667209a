# Copyright (c) mmscrl contributors. All rights reserved.
"""Log the momentum of the EMA target network(s) as a training scalar."""
from math import cos, pi
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import ExponentialMovingAverage, is_model_wrapper

from mmscrl.registry import HOOKS


def current_ema_momentum(module, max_iters: int) -> Optional[float]:
    """The momentum the EMA ``module`` applies at its next update.

    mmpretrain ``CosineEMA`` (BYOL, SCRL, ORL) anneals
    ``m = end - (end - m0) * (cos(pi * steps / max_iters) + 1) / 2``;
    mmengine ``ExponentialMovingAverage`` (MoCo, DenseCL) keeps ``m``
    constant. Both use mmpretrain's convention ``m = 1 - tau``. Returns None
    for other modules.
    """
    from mmpretrain.models.utils import CosineEMA
    if isinstance(module, CosineEMA):
        steps = int(module.steps)
        ann = (cos(pi * steps / float(max_iters)) + 1) / 2
        return float(module.end_momentum -
                     (module.end_momentum - module.momentum) * ann)
    if isinstance(module, ExponentialMovingAverage):
        return float(module.momentum)
    return None


@HOOKS.register_module()
class EMAMomentumLoggerHook(Hook):
    """Adds ``ema_momentum`` (``m = 1 - tau``) to the training log.

    After every training iteration the momentum of the first EMA module of
    the model (CosineEMA or ExponentialMovingAverage) is put in the message
    hub as ``train/ema_momentum``, so LoggerHook writes it with the losses
    and lr (``tools/visualization/plot_curves.py`` draws it). No-op for a
    model without an EMA module.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL)

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._ema = None
        for mod in model.modules():
            if isinstance(mod, ExponentialMovingAverage):
                self._ema = mod
                break

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if getattr(self, '_ema', None) is None:
            return
        m = current_ema_momentum(self._ema, runner.max_iters)
        if m is not None:
            runner.message_hub.update_scalar('train/ema_momentum', m)
