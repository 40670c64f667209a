# Copyright (c) mmscrl contributors. All rights reserved.
"""The SCRL/ORL recipes' mixed precision on machines with and without a GPU
(issue 22, item 1): ``SelfSupOptimWrapperConstructor`` builds the recipe's
``AmpOptimWrapper`` where it can run, falls back to fp32 in one log line
where it cannot, and lets ``optim_wrapper.type=OptimWrapper`` override it."""
import logging
import os.path as osp

import pytest
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import AmpOptimWrapper, OptimWrapper, build_optim_wrapper
from mmengine.registry import DefaultScope

import mmscrl  # noqa: F401
from mmscrl.engine import optim_wrapper_constructor as owc

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONSTRUCTOR = 'SelfSupOptimWrapperConstructor'
AMP_RECIPES = [
    'scrl/scrl_resnet50_8xb256-lars-coslr-200e_in1k.py',
    'scrl/scrl_resnet50_8xb256-lars-coslr-1000e_in1k.py',
    'scrl/scrl_resnet50_8xb256-lars-coslr-2000e_coco.py',
    'orl/orl_resnet50_8xb64-stage1-coslr-800e_coco.py',
    'orl/orl_resnet50_8xb64-stage3-coslr-800e_coco.py',
]


class Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.online = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
        self.target_net = nn.Sequential(nn.Conv2d(3, 4, 1),
                                        nn.BatchNorm2d(4))
        for p in self.target_net.parameters():
            p.requires_grad = False


class Records(logging.Handler):

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, level=logging.INFO):
        return [r.getMessage() for r in self.records if r.levelno >= level]


@pytest.fixture
def log(tmp_path):
    name = f'optim_{osp.basename(str(tmp_path))}'
    logger = MMLogger.get_instance(name, log_level='INFO')
    handler = Records()
    logger.addHandler(handler)
    with DefaultScope.overwrite_default_scope('mmscrl'):
        yield handler
    logger.removeHandler(handler)


def _cfg(rel, options=None):
    cfg = Config.fromfile(osp.join(REPO, 'configs', rel))
    if options:
        cfg.merge_from_dict(options)
    return cfg.optim_wrapper


def _no_gpu(monkeypatch):
    monkeypatch.setattr(owc, 'amp_device_available', lambda: False)


def _gpu(monkeypatch):
    """Pretend a CUDA device, for this constructor and mmengine's
    AmpOptimWrapper (its GradScaler disables itself without CUDA)."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    monkeypatch.setattr(owc, 'amp_device_available', lambda: True)
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)


@pytest.mark.parametrize('rel', AMP_RECIPES)
def test_amp_recipe_falls_back_to_fp32_in_one_line(rel, log, monkeypatch):
    _no_gpu(monkeypatch)
    wrapper = build_optim_wrapper(Toy(), _cfg(rel))
    assert type(wrapper) is OptimWrapper
    warnings = log.messages(logging.WARNING)
    assert len(warnings) == 1, warnings
    assert 'AmpOptimWrapper needs a GPU' in warnings[0]
    assert "loss_scale='dynamic'" in warnings[0] and 'fp32' in warnings[0]
    assert 'optim_wrapper.type=OptimWrapper' in warnings[0]


def test_amp_recipe_runs_on_this_machine(log):
    """No patching: the recipe's wrapper builds here, whatever the device
    (it crashed with AssertionError on a CPU-only machine)."""
    wrapper = build_optim_wrapper(Toy(), _cfg(AMP_RECIPES[0]))
    assert isinstance(wrapper, AmpOptimWrapper) == (
        owc.amp_device_available())


@pytest.mark.parametrize('rel', AMP_RECIPES)
def test_amp_recipe_on_gpu_is_unchanged(rel, log, monkeypatch):
    _gpu(monkeypatch)
    wrapper = build_optim_wrapper(Toy(), _cfg(rel))
    assert type(wrapper) is AmpOptimWrapper
    assert wrapper._scale_update_param is None  # loss_scale='dynamic'
    assert not [m for m in log.messages() if 'optim_wrapper:' in m and
                'requires_grad' not in m]


@pytest.mark.parametrize('gpu', [False, True])
def test_type_override_drops_amp_keys(gpu, log, monkeypatch):
    (_gpu if gpu else _no_gpu)(monkeypatch)
    cfg = _cfg(AMP_RECIPES[0], {'optim_wrapper.type': 'OptimWrapper'})
    wrapper = build_optim_wrapper(Toy(), cfg)
    assert type(wrapper) is OptimWrapper
    lines = [m for m in log.messages() if 'mixed-precision' in m]
    assert len(lines) == 1, log.messages()
    assert "OptimWrapper does not take" in lines[0]
    assert "loss_scale='dynamic'" in lines[0]
    assert not log.messages(logging.WARNING)


def test_plain_wrapper_is_untouched(log):
    cfg = dict(type='OptimWrapper', constructor=CONSTRUCTOR,
               optimizer=dict(type='SGD', lr=0.1))
    wrapper = build_optim_wrapper(Toy(), cfg)
    assert type(wrapper) is OptimWrapper
    assert not log.messages()  # no paramwise_cfg: nothing to summarise


def test_unknown_keys_still_fail(log, monkeypatch):
    """Only AmpOptimWrapper's own arguments are dropped; a typo is not."""
    _no_gpu(monkeypatch)
    cfg = dict(type='OptimWrapper', constructor=CONSTRUCTOR,
               loss_scal='dynamic', optimizer=dict(type='SGD', lr=0.1))
    with pytest.raises(TypeError, match='loss_scal'):
        build_optim_wrapper(Toy(), cfg)


def test_frozen_parameters_summarised(log):
    cfg = dict(type='OptimWrapper', constructor=CONSTRUCTOR,
               optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4),
               paramwise_cfg=dict(custom_keys={'bn': dict(decay_mult=0)}))
    wrapper = build_optim_wrapper(Toy(), cfg)
    msgs = log.messages()
    assert not [m for m in msgs if 'is skipped since' in m], msgs
    summary = [m for m in msgs if 'requires_grad=False' in m]
    assert summary == ['optim_wrapper: 4 parameters with requires_grad=False '
                       'are not optimized: target_net.* (4)']
    params = [p for g in wrapper.optimizer.param_groups for p in g['params']]
    assert len(params) == 4  # the online conv + BN only
