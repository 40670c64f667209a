# Copyright (c) mmscrl contributors. All rights reserved.
"""A tiny mmengine Runner job (shared by the reliability tests).

Run as a script, it trains and, with ``--kill-writing NAME``, SIGKILLs
itself half-way through writing the file whose name contains ``NAME``
(a real kill: no Python cleanup runs).
"""
import argparse
import os

import torch
from mmengine.model import BaseModel
from torch.utils.data import DataLoader, Dataset


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        self.bn = torch.nn.BatchNorm1d(1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.bn(self.linear(inputs))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return out


class ToyData(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i), 1.0]))


def make_runner(work_dir, max_iters=4, resume=False, name='toy',
                extra_hooks=None, lr=0.01, scope='mmscrl'):
    """A Runner saving every iteration with ``max_keep_ckpts=1``."""
    from mmengine.runner import Runner
    hooks = dict(
        checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False,
                        max_keep_ckpts=1),
        logger=dict(type='LoggerHook', interval=1))
    hooks.update(extra_hooks or {})
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=DataLoader(ToyData(), batch_size=4, shuffle=False),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=hooks,
        resume=resume,
        experiment_name=name,
        default_scope=scope)


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('work_dir')
    p.add_argument('--kill-writing', default=None)
    p.add_argument('--no-mmscrl', action='store_true',
                   help='plain mmengine (no mmscrl.compat fixes)')
    args = p.parse_args()
    if not args.no_mmscrl:
        import mmscrl  # noqa: F401
    if args.kill_writing:
        from _kill_on_write import kill_while_writing
        kill_while_writing(args.kill_writing)
    make_runner(args.work_dir, name=f'toy_{os.getpid()}',
                scope='mmengine' if args.no_mmscrl else 'mmscrl').train()
