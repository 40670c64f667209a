# Copyright (c) mmscrl contributors. All rights reserved.
"""Stop a diverging run before it writes a non-finite checkpoint."""
import math
import os.path as osp
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmpretrain.utils import get_ori_model

from mmscrl.registry import HOOKS
# the shared NaN/Inf check (also used for pre-trained weights); re-exported
from mmscrl.utils.checkpoint_layout import non_finite_entries

__all__ = ['NonFiniteError', 'NonFiniteCheckHook', 'non_finite_entries']


class NonFiniteError(RuntimeError):
    """Training produced a NaN/Inf loss, parameter or buffer."""


def _fmt(value) -> str:
    value = float(value.detach() if torch.is_tensor(value) else value)
    return repr(value) if not math.isfinite(value) else f'{value:.4g}'


@HOOKS.register_module()
class NonFiniteCheckHook(Hook):
    """Stop training on a NaN/Inf loss term, parameter or buffer.

    Every iteration, each loss term returned by ``model.train_step`` (the
    ``log_vars``: ``loss`` and its parts) is checked; a non-finite one
    raises :class:`NonFiniteError` naming the iteration and every term.
    Before each checkpoint is written (``before_save_checkpoint``), every
    floating-point tensor of the checkpoint's ``state_dict`` -- parameters
    *and* buffers such as BatchNorm running statistics and EMA targets --
    is checked, so a run whose loss stays finite while a buffer diverges
    (SCRL/BYOL with LARS at a too high learning rate: ``running_var``
    becomes Inf first) is stopped too, and no checkpoint of a diverged
    model is ever written. The hook runs before ``CheckpointHook`` (higher
    priority), so the iteration whose loss is non-finite saves nothing.

    mmengine's ``CheckInvalidLossHook`` is not used because it checks only
    every ``interval`` iterations (a checkpoint can be saved in between),
    only the total ``loss``, never parameters or buffers, and reports by
    ``assert`` (gone under ``python -O``).

    In distributed training each rank checks its own loss; the rank that
    raises ends the job (``torchrun`` stops the others).

    Args:
        param_interval (int): Also check the model's parameters and buffers
            every ``param_interval`` iterations (one host sync per device);
            0 checks them only before each checkpoint save. Defaults to 0.
    """

    priority = 'VERY_HIGH'

    def __init__(self, param_interval: int = 0) -> None:
        if int(param_interval) < 0:
            raise ValueError('NonFiniteCheckHook: param_interval must be '
                             f'>= 0, got {param_interval}')
        self.param_interval = int(param_interval)

    @staticmethod
    def _last_ckpt(runner) -> str:
        # CheckpointHook writes <work_dir>/last_checkpoint once a save is
        # complete (the message hub's ``last_ckpt`` names the file being
        # saved already)
        path = osp.join(runner.work_dir, 'last_checkpoint')
        last = None
        if osp.isfile(path):
            with open(path) as f:
                last = f.read().strip()
        return (f'the last checkpoint written is {last}' if last else
                'no checkpoint was written')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        it = runner.iter + 1
        if outputs:
            terms = {
                k: v
                for k, v in outputs.items()
                if isinstance(v, torch.Tensor) and v.is_floating_point()
            }
            bad = non_finite_entries(terms)
            if bad:
                values = ', '.join(f'{k}={_fmt(v.float().mean())}'
                                   for k, v in terms.items())
                raise NonFiniteError(
                    f'training diverged at iteration {it} (epoch '
                    f'{runner.epoch + 1}): non-finite loss term(s) '
                    f'{", ".join(bad)} ({values}). Stopped before saving '
                    f'this state; {self._last_ckpt(runner)}. Lower the '
                    'learning rate or add gradient clipping.')
        if self.param_interval and self.every_n_train_iters(
                runner, self.param_interval):
            self._check_state(
                get_ori_model(runner.model).state_dict(), runner,
                f'at iteration {it}')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict', None)
        if state is not None:
            meta = checkpoint.get('meta', {})
            where = (f'before saving the checkpoint of iteration '
                     f'{meta.get("iter", runner.iter)}')
            self._check_state(state, runner, where)

    def _check_state(self, state: dict, runner, where: str) -> None:
        bad = non_finite_entries(state)
        if not bad:
            return
        shown = ', '.join(bad[:8]) + (' ...' if len(bad) > 8 else '')
        raise NonFiniteError(
            f'training diverged: {len(bad)} parameter/buffer tensor(s) hold '
            f'NaN/Inf {where} ({shown}). Nothing was saved; '
            f'{self._last_ckpt(runner)}. Lower the learning rate or add '
            'gradient clipping.')
