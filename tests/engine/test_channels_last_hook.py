# Copyright (c) mmscrl contributors. All rights reserved.
import logging
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmscrl.engine.hooks import ChannelsLastHook

CL = torch.channels_last


class ToyConvNet(BaseModel):
    """conv-BN-ReLU-conv-pool-linear, a regression loss."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1),
                                  nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, 8, 3, stride=2, padding=1))
        self.fc = nn.Linear(8, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.fc(self.body(x).mean((2, 3)))[:, 0]
        if mode == 'loss':
            return dict(loss=((out - torch.stack(targets))**2).mean())
        return out


class ToyData(torch.utils.data.Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(inputs=torch.randn(3, 12, 12, generator=g),
                    targets=torch.tensor(float(i % 3)))


def _train(tmp_path, hooks, name, max_iters=4, resume=False):
    """Trains ToyConvNet in ``tmp_path / name`` (a checkpoint every 4
    iterations); ``resume`` continues the run saved there."""
    torch.manual_seed(0)
    runner = Runner(
        model=ToyConvNet(),
        work_dir=str(tmp_path / name),
        train_dataloader=dict(dataset=ToyData(), batch_size=4,
                              sampler=dict(type='DefaultSampler',
                                           shuffle=False),
                              collate_fn=pseudo_collate),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        custom_hooks=hooks,
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=4, by_epoch=False)),
        resume=resume,
        default_scope='mmscrl',
        experiment_name=f'channels_last_{name}_{resume}_{id(tmp_path)}')
    runner.train()
    return runner


def _fake_runner(model):
    return SimpleNamespace(model=model, logger=logging.getLogger('t'))


def test_converts_every_4d_parameter():
    model = ToyConvNet()
    ChannelsLastHook().before_run(_fake_runner(model))
    convs = [p for p in model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=CL) for p in convs)
    assert not all(p.is_contiguous() for p in convs)
    out = model.body(torch.randn(2, 3, 12, 12))  # NCHW input
    assert out.is_contiguous(memory_format=CL)  # runs NHWC


def test_model_wrapper_and_disabled():
    from mmengine.model import MMDistributedDataParallel
    model = ToyConvNet()
    wrapper = MMDistributedDataParallel.__new__(MMDistributedDataParallel)
    nn.Module.__init__(wrapper)
    wrapper.module = model
    ChannelsLastHook().before_run(_fake_runner(wrapper))
    assert model.body[0].weight.is_contiguous(memory_format=CL)
    other = ToyConvNet()
    ChannelsLastHook(enabled=False).before_run(_fake_runner(other))
    assert other.body[0].weight.is_contiguous()
    assert not other.body[0].weight.is_contiguous(memory_format=CL)
    with pytest.raises(TypeError, match='enabled must be a bool'):
        ChannelsLastHook(enabled='yes')


def test_training_matches_nchw_and_checkpoint_is_layout_free(tmp_path):
    ref = _train(tmp_path, [], 'nchw')
    ema = dict(type='EMAHook', momentum=0.5)
    run = _train(tmp_path, [dict(type='ChannelsLastHook'), ema], 'nhwc')
    ref_sd = ref.model.state_dict()
    sd = run.model.state_dict()
    assert list(sd) == list(ref_sd)
    for k in sd:  # same training, up to float summation order
        torch.testing.assert_close(sd[k], ref_sd[k], rtol=1e-4, atol=1e-5)
    # the hook ran before mmengine's EMAHook copied the model
    ema_model = run.hooks[[type(h).__name__ for h in run.hooks].index(
        'EMAHook')].ema_model
    conv = ema_model.module.body[0].weight
    assert conv.is_contiguous(memory_format=CL)
    # the NHWC run's checkpoint (EMA weights, as EMAHook saves it) loads
    # into a plain NCHW model and into an NHWC one: same outputs
    ckpt = torch.load(tmp_path / 'nhwc' / 'iter_4.pth', map_location='cpu',
                      weights_only=False)
    plain, nhwc = ToyConvNet(), ToyConvNet()
    ChannelsLastHook().before_run(_fake_runner(nhwc))
    for m in (plain, nhwc):
        m.load_state_dict(ckpt['state_dict'])
        m.eval()
    assert plain.body[0].weight.is_contiguous()
    assert nhwc.body[0].weight.is_contiguous(memory_format=CL)
    x = torch.randn(3, 3, 12, 12)
    torch.testing.assert_close(plain(x), nhwc(x), rtol=1e-5, atol=1e-6)


def test_resume_into_nhwc(tmp_path):
    """An NCHW checkpoint (optimizer momentum included) resumes in NHWC."""
    _train(tmp_path, [], 'first')
    runner = _train(tmp_path, [dict(type='ChannelsLastHook')], 'first',
                    max_iters=6, resume=True)
    assert runner.iter == 6
    w = runner.model.body[0].weight
    assert w.is_contiguous(memory_format=CL) and torch.isfinite(w).all()
