# Copyright (c) mmscrl contributors. All rights reserved.
"""Fixtures shared by the transfer tests (detection, segmentation, linear
probe): one self-supervised checkpoint, the SyncBN -> BN shrink and a runner
of the per-task ``train.py`` tools that hands back the MMEngine Runner."""
import os.path as osp
import subprocess
import sys

import pytest


def _byol_r18():
    """An mmscrl BYOL with a ResNet-18 (online backbone, EMA target)."""
    from mmengine.registry import DefaultScope

    from mmscrl.registry import MODELS
    bn1d = dict(type='BN1d')
    predictor = dict(type='NonLinearNeck', in_channels=32, hid_channels=64,
                     out_channels=32, num_layers=2, with_avg_pool=False,
                     norm_cfg=bn1d)
    cfg = dict(
        type='BYOL',
        backbone=dict(type='ResNet', depth=18, norm_cfg=dict(type='BN')),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=64,
                  out_channels=32, num_layers=2, with_avg_pool=True,
                  norm_cfg=bn1d),
        head=dict(type='LatentPredictHead',
                  loss=dict(type='CosineSimilarityLoss'),
                  predictor=predictor))
    # the transfer tests leave mmdet/mmseg as the default scope
    with DefaultScope.overwrite_default_scope('mmscrl'):
        return MODELS.build(cfg)


@pytest.fixture(scope='module')
def ssl_checkpoints(tmp_path_factory, perturb_weights, repo_root):
    """A full mmscrl training checkpoint and its ``extract_backbone.py``
    output.

    The model is a BYOL-R18 whose online backbone and momentum target both
    carry perturbed (non-default, mutually different) weights and BN
    statistics, saved in the layout MMEngine's Runner writes (``meta``,
    ``state_dict`` with ``backbone.*``, neck, head and ``target_net.*``,
    ``optimizer``). The extracted file is written by running
    ``tools/model_converters/extract_backbone.py`` as a command.

    Returns:
        dict: ``full`` and ``extracted`` (paths), ``model`` (the BYOL) and
        ``backbone`` (a copy of the online backbone's state dict).
    """
    import torch
    from mmengine.runner.checkpoint import weights_to_cpu

    import mmscrl  # noqa: F401
    model = _byol_r18()
    perturb_weights(model.backbone, 0)
    # a target network that differs from the online one (as after training)
    perturb_weights(model.target_net, 1)
    root = tmp_path_factory.mktemp('ssl_ckpt')
    full = str(root / 'byol_r18_iter_10.pth')
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.save(
        dict(
            meta=dict(epoch=1, iter=10, mmengine_version='0.10.7'),
            state_dict=weights_to_cpu(model.state_dict()),
            optimizer=optim.state_dict()), full)
    extracted = str(root / 'byol_r18_backbone.pth')
    tool = osp.join(repo_root, 'tools', 'model_converters',
                    'extract_backbone.py')
    proc = subprocess.run([sys.executable, tool, full, extracted],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    backbone = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    return dict(full=full, extracted=extracted, model=model,
                backbone=backbone)


@pytest.fixture(scope='session')
def syncbn_to_bn(walk_config):
    """``syncbn_to_bn(tree)``: every ``SyncBN`` norm in a config tree
    becomes ``BN`` (single-process CPU tests)."""

    def to_bn(node):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'

    return lambda tree: walk_config(tree, to_bn)


@pytest.fixture
def run_train_tool(tmp_path, monkeypatch):
    """``run_train_tool(tool, cfg, args, before_train=None)`` -> Runner.

    Dumps ``cfg`` to ``tmp_path/tiny.py``, calls
    ``tool.main([tiny.py] + args)`` and returns the Runner the tool
    trained; ``before_train(runner)``, if given, runs just before
    ``Runner.train``.
    """
    from mmengine.runner import Runner
    original = Runner.train

    def run(tool, cfg, args, before_train=None):
        captured = {}

        def train(self):
            captured['runner'] = self
            if before_train is not None:
                before_train(self)
            return original(self)

        cfg_file = str(tmp_path / 'tiny.py')
        cfg.dump(cfg_file)
        monkeypatch.setattr(Runner, 'train', train)
        tool.main([cfg_file] + list(args))
        assert 'runner' in captured, 'the tool never called Runner.train'
        return captured['runner']

    return run


@pytest.fixture(scope='session')
def benchmark_config(repo_root):
    """``benchmark_config(task, relpath)``: the shipped config
    ``configs/benchmarks/<task>/<relpath>`` as a fresh mmengine ``Config``.
    """
    from mmengine.config import Config
    return lambda task, relpath: Config.fromfile(
        osp.join(repo_root, 'configs', 'benchmarks', task, relpath))
