# Copyright (c) mmscrl contributors. All rights reserved.
"""Linear-probe configs: resolve to mmpretrain's protocols with our
initializer, build, load a checkpoint and train 2 iterations on tiny data;
the kNN evaluation tool on the same tiny data (1 and 2 processes)."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmscrl  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {  # under configs/benchmarks/classification/
    'sgd': 'imagenet/resnet50_linear-8xb32-steplr-100e_in1k.py',
    'lars': 'imagenet/resnet50_linear-8xb512-lars-coslr-90e_in1k.py',
    'scrl': 'imagenet/resnet50_linear-8xb512-lars-nesterov-coslr-80e_in1k.py',
    'byol': 'imagenet/resnet50_linear-8xb128-nesterov-coslr-80e_in1k.py',
}
# optimizer, lr, weight decay, epochs, batch per GPU of each protocol
PROTOCOL = {
    'sgd': ('SGD', 30., 0., 100, 32),
    'lars': ('LARS', 1.6, 0., 90, 512),
    'scrl': ('LARS', 3.2, 0., 80, 512),
    'byol': ('SGD', 0.8, 0., 80, 128),
}
TOOLS = osp.join(REPO, 'tools', 'benchmarks', 'classification')


@pytest.fixture(scope='module')
def train_tool(load_tool):
    return load_tool('benchmarks/classification/train.py')


@pytest.fixture(scope='module')
def knn_tool(load_tool):
    return load_tool('benchmarks/classification/knn_eval.py')


@pytest.fixture(scope='module')
def tiny_cls(tmp_path_factory):
    """Two colour classes, 6 train + 4 val images each (folder layout)."""
    root = tmp_path_factory.mktemp('cls')
    rng = np.random.default_rng(0)
    colours = {'red': (0, 0, 220), 'blue': (220, 0, 0)}
    for split, n in (('train', 6), ('val', 4)):
        for name, colour in colours.items():
            d = root / split / name
            d.mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 60, (40, 40, 3)).astype(np.uint8)
                x, y = rng.integers(0, 16, 2)
                img[y:y + 24, x:x + 24] = colour
                cv2.imwrite(str(d / f'{i}.png'), img)
    return root


def shrink(cfg, root):
    cfg.model.backbone.depth = 18
    cfg.model.head.in_channels = 512
    cfg.model.head.num_classes = 2
    cfg.model.head.topk = (1, )
    cfg.data_preprocessor.num_classes = 2
    small = [dict(type='LoadImageFromFile'),
             dict(type='Resize', scale=(32, 32)), dict(type='PackInputs')]
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(batch_size=4, num_workers=0, persistent_workers=False)
        loader.dataset = dict(
            type='CustomDataset', data_root=str(root),
            data_prefix='val' if split == 'test' else split,
            pipeline=small)
    cfg.val_evaluator = cfg.test_evaluator = dict(type='Accuracy', topk=(1, ))
    cfg.train_cfg = dict(by_epoch=False, max_iters=2, val_interval=2)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    return cfg


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_protocol(name, benchmark_config):
    cfg = benchmark_config('classification', CONFIGS[name])
    assert cfg.default_scope == 'mmpretrain'
    bb = cfg.model.backbone
    assert bb.type == 'ResNet' and bb.depth == 50 and bb.frozen_stages == 4
    assert bb.zero_init_residual is False
    assert dict(bb.init_cfg) == dict(type='mmscrl.PretrainedBackbone',
                                     checkpoint=None)
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    opt = cfg.optim_wrapper.optimizer
    optim, lr, decay, epochs, batch = PROTOCOL[name]
    assert (opt.type, opt.weight_decay) == (optim, decay)
    assert opt.lr == pytest.approx(lr)
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.train_dataloader.batch_size == batch
    if name == 'sgd':
        assert cfg.param_scheduler[0].milestones == [60, 80]


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_train_two_iterations_frozen(name, tiny_cls, ssl_checkpoints,
                                     tmp_path, train_tool, run_train_tool,
                                     benchmark_config):
    ref = ssl_checkpoints['backbone']
    cfg = shrink(benchmark_config('classification', CONFIGS[name]),
                 tiny_cls)
    runner = run_train_tool(train_tool, cfg, [
        '--pretrained', ssl_checkpoints['full'], '--work-dir',
        str(tmp_path / 'work')
    ])
    assert runner.iter == 2
    assert 'val/accuracy/top1' in runner.message_hub.log_scalars
    if name == 'scrl':
        # SCRL: LARS on the weight, not on the bias; Nesterov momentum
        head = runner.model.head.fc
        groups = runner.optim_wrapper.optimizer.param_groups
        by_param = {id(p): g for g in groups for p in g['params']}
        assert by_param[id(head.bias)].get('lars_exclude') is True
        assert not by_param[id(head.weight)].get('lars_exclude', False)
        assert all(g['nesterov'] for g in groups)
    # the frozen backbone still holds the checkpoint after training
    state = runner.model.backbone.state_dict()
    for key, value in ref.items():
        if not key.endswith('num_batches_tracked'):
            torch.testing.assert_close(state[key], value, msg=key)


def _knn_cfg(benchmark_config, tiny_cls, tmp_path):
    cfg = shrink(benchmark_config('classification', CONFIGS['sgd']),
                 tiny_cls)
    path = tmp_path / 'knn_cfg.py'
    cfg.dump(str(path))
    return str(path)


def test_knn_eval_single_process(tiny_cls, ssl_checkpoints, tmp_path,
                                 capsys, knn_tool, benchmark_config):
    cfg = _knn_cfg(benchmark_config, tiny_cls, tmp_path)
    out = tmp_path / 'knn.json'
    acc = knn_tool.main([cfg, ssl_checkpoints['full'], '--k', '1', '3',
                         '--out', str(out)])
    assert set(acc) == {'k1_top1', 'k1_top5', 'k3_top1', 'k3_top5'}
    saved = json.loads(out.read_text())
    assert saved['num_train'] == 12 and saved['num_val'] == 8
    assert saved['accuracy'] == acc
    # two classes: top-5 is always right
    assert acc['k3_top5'] == 100.
    assert 0. <= acc['k1_top1'] <= 100.
    assert 'extracting 12 images' in capsys.readouterr().out


def test_knn_eval_two_processes_match_one(tiny_cls, ssl_checkpoints,
                                          tmp_path, knn_tool,
                                          benchmark_config):
    """torchrun with 2 CPU processes (gloo) gives the same accuracies."""
    ckpt = ssl_checkpoints['full']
    cfg = _knn_cfg(benchmark_config, tiny_cls, tmp_path)
    one = knn_tool.main([cfg, ckpt, '--k', '1', '3'])
    out = tmp_path / 'knn2.json'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29731',
               OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', osp.join(TOOLS, 'dist_knn_eval.sh'), cfg, ckpt, '2',
         '--k', '1', '3', '--batch-size', '3', '--out', str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads(out.read_text())
    assert two['num_train'] == 12 and two['num_val'] == 8
    assert two['accuracy'] == pytest.approx(one)


def test_knn_eval_bad_config(tmp_path, knn_tool):
    cfg = Config(dict(model=dict(backbone=dict(type='ResNet', depth=18)),
                      val_dataloader=dict(dataset=dict(type='X'))))
    path = tmp_path / 'bad.py'
    cfg.dump(str(path))
    with pytest.raises(KeyError, match='no pipeline'):
        knn_tool.main([str(path), 'random'])
