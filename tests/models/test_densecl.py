# Copyright (c) mmscrl contributors. All rights reserved.
"""DenseCLOfficial: cross-check with mmpretrain's DenseCL, init, modes,
queues, and a real Runner with the λ warm-up hook (CPU, ResNet-18)."""
import copy
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

import mmscrl  # noqa: F401
from mmscrl.registry import MODELS

QUEUE_LEN = 32
FEAT_DIM = 16


def _model_cfg(type_='DenseCLOfficial', **kwargs):
    cfg = dict(
        type=type_,
        queue_len=QUEUE_LEN,
        feat_dim=FEAT_DIM,
        momentum=0.001,
        loss_lambda=0.5,
        backbone=dict(type='ResNet', depth=18, norm_cfg=dict(type='BN'),
                      zero_init_residual=False),
        neck=dict(type='DenseCLNeck', in_channels=512, hid_channels=64,
                  out_channels=FEAT_DIM),
        head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
                  temperature=0.2))
    cfg.update(kwargs)
    return cfg


def _build(type_='DenseCLOfficial', init=True, **kwargs):
    with DefaultScope.overwrite_default_scope('mmscrl'):
        model = MODELS.build(_model_cfg(type_, **kwargs))
    if init:
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel('WARNING')  # init_weights logs every parameter
        try:
            model.init_weights()
        finally:
            logger.setLevel(level)
    return model


def _views(n=4, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, size, size, generator=g) for _ in range(2)]


def _query(model):
    return nn.Sequential(model.backbone, model.neck)


def test_registered_names_do_not_clash():
    from mmpretrain.models import DenseCL
    with DefaultScope.overwrite_default_scope('mmscrl'):
        assert MODELS.get('DenseCL') is DenseCL
        assert MODELS.get('DenseCLOfficial').__name__ == 'DenseCLOfficial'


def test_loss_and_queues_match_mmpretrain_densecl():
    """Same weights, queues, inputs and shuffle RNG: same losses, queue
    updates and momentum-encoder weights over 3 SGD steps."""
    ours = _build()
    ref = _build('DenseCL')
    ref.load_state_dict(ours.state_dict())
    opt_o = torch.optim.SGD(ours.parameters(), lr=0.5, momentum=0.9)
    opt_r = torch.optim.SGD(ref.parameters(), lr=0.5, momentum=0.9)
    for step in range(3):
        views = _views(seed=step)
        torch.manual_seed(100 + step)  # batch_shuffle_ddp's randperm
        lo = ours.loss(views, None)
        torch.manual_seed(100 + step)
        lr = ref.loss(views, None)
        assert set(lo) == set(lr) == {'loss_single', 'loss_dense'}
        for key in lo:
            torch.testing.assert_close(lo[key], lr[key], atol=1e-5, rtol=0)
        for name in ('queue', 'queue2'):
            torch.testing.assert_close(
                getattr(ours, name), getattr(ref, name), atol=1e-5, rtol=0)
        for name in ('queue_ptr', 'queue2_ptr'):
            assert torch.equal(getattr(ours, name), getattr(ref, name))
        assert int(ours.queue_ptr) == (step + 1) * 4 % QUEUE_LEN
        for opt, losses in ((opt_o, lo), (opt_r, lr)):
            opt.zero_grad()
            sum(losses.values()).backward()
            opt.step()
    for (name, p_o), p_r in zip(ours.encoder_k.named_parameters(),
                                ref.encoder_k.parameters()):
        torch.testing.assert_close(p_o, p_r, atol=1e-5, rtol=0, msg=name)


def _official_init_kwargs():
    """Backbone/neck of ``_model_cfg`` with the init_cfg of the config."""
    from mmengine.config import Config
    base = Config.fromfile(osp.join(
        osp.dirname(__file__), '..', '..',
        'configs/_base_/models/densecl_r50.py')).model
    cfg = _model_cfg()
    return dict(
        backbone=dict(cfg['backbone'], init_cfg=base.backbone.init_cfg),
        neck=dict(cfg['neck'], init_cfg=base.neck.init_cfg))


def test_deliberate_difference_official_init():
    """Pinned: the DenseCL config gives the official init, mmpretrain's
    defaults do not."""
    torch.manual_seed(0)
    ours = _build(**_official_init_kwargs())
    torch.manual_seed(0)
    ref = _build('DenseCL')
    # layer3.0.conv1: 256x128x3x3, fan_in 1152, fan_out 2304
    w_o = ours.backbone.layer3[0].conv1.weight
    w_r = ref.backbone.layer3[0].conv1.weight
    assert abs(w_o.std().item() - math.sqrt(2 / 1152)) < 0.1 * math.sqrt(
        2 / 1152)
    assert abs(w_r.std().item() - math.sqrt(2 / 2304)) < 0.1 * math.sqrt(
        2 / 2304)
    # neck Linear: Kaiming fan_in with zero bias vs PyTorch default
    lin_o, lin_r = ours.neck.mlp[0], ref.neck.mlp[0]
    assert torch.count_nonzero(lin_o.bias) == 0
    assert torch.count_nonzero(lin_r.bias) > 0
    assert abs(lin_o.weight.std().item() - math.sqrt(2 / 512)) < 0.1 * \
        math.sqrt(2 / 512)
    # dense 1x1 convs keep the PyTorch default in both (official too)
    assert torch.count_nonzero(ours.neck.mlp2[0].bias) > 0
    assert ours.neck.mlp2[0].weight.abs().max() <= 1 / math.sqrt(512) + 1e-6
    # without the config's init_cfg: mmpretrain's init
    plain = _build()
    assert torch.count_nonzero(plain.neck.mlp[0].bias) > 0
    # an explicit init_cfg in the config wins
    custom = _build(neck=dict(
        type='DenseCLNeck', in_channels=512, hid_channels=64,
        out_channels=FEAT_DIM,
        init_cfg=dict(type='Constant', val=0.5, layer='Linear')))
    assert torch.all(custom.neck.mlp[0].weight == 0.5)


def test_deliberate_difference_key_copied_at_init_weights():
    """Pinned: our key encoder equals the initialised query right after
    init_weights (official); mmpretrain's only after its first update."""
    ours = _build()
    ref = _build('DenseCL')
    for p_k, p_q in zip(ours.encoder_k.module.parameters(),
                        _query(ours).parameters()):
        assert torch.equal(p_k, p_q)
    differs = any(not torch.equal(p_k, p_q) for p_k, p_q in zip(
        ref.encoder_k.module.parameters(), _query(ref).parameters()))
    assert differs
    # after the first loss() both have key == query
    for model in (ours, ref):
        model.loss(_views(), None)
        for p_k, p_q in zip(model.encoder_k.module.parameters(),
                            _query(model).parameters()):
            assert torch.equal(p_k, p_q)
    # a later init_weights call must not reset a trained key encoder
    with torch.no_grad():
        ours.backbone.conv1.weight.add_(1.)
    ours._is_init = False
    ours.init_weights()
    assert not torch.equal(ours.encoder_k.module[0].conv1.weight,
                           ours.backbone.conv1.weight)


def test_momentum_convention():
    model = _build()
    views = _views()
    model.loss(views, None)  # first update copies
    key_before = model.encoder_k.module[0].conv1.weight.clone()
    with torch.no_grad():
        model.backbone.conv1.weight.add_(1.)
    model.loss(views, None)
    expected = 0.999 * key_before + 0.001 * model.backbone.conv1.weight
    torch.testing.assert_close(model.encoder_k.module[0].conv1.weight,
                               expected, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match='momentum=0.999'):
        _build(init=False, momentum=0.999)


def test_dense_queue_holds_normalized_pooled_dense_keys():
    model = _build()
    views = _views()
    model.loss(views, None)
    n = views[0].size(0)
    assert int(model.queue2_ptr) == n
    with torch.no_grad():
        k_c5 = model.encoder_k.module[0](views[1])[-1]
        k, k_grid, k2 = model.encoder_k.module[1]((k_c5, ))
    expected2 = F.normalize(k_grid.mean(dim=2), dim=1)  # pool, normalise
    torch.testing.assert_close(F.normalize(k2, dim=1), expected2, atol=1e-5,
                               rtol=0)
    # BN runs on batch statistics: the shuffle does not change the keys
    torch.testing.assert_close(model.queue2[:, :n].t(), expected2, atol=1e-4,
                               rtol=0)
    torch.testing.assert_close(model.queue[:, :n].t(),
                               F.normalize(k, dim=1), atol=1e-4, rtol=0)
    torch.testing.assert_close(model.queue2.norm(dim=0),
                               torch.ones(QUEUE_LEN))


def test_queue_len_not_divisible_fails_before_any_state_change():
    model = _build(queue_len=30)
    state = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError) as err:
        model.loss(_views(n=4), None)
    assert 'queue_len=30' in str(err.value)
    assert 'batch_size=4' in str(err.value)
    assert 'world_size=1' in str(err.value)
    for key, val in model.state_dict().items():
        assert torch.equal(val, state[key]), key


def test_tensor_and_predict_modes():
    model = _build()
    model.eval()
    views = _views(n=2, size=96)
    feats = model(views[0], mode='tensor')
    assert isinstance(feats, tuple) and feats[-1].shape == (2, 512, 3, 3)
    # identical views and key == query after init: identity matching
    samples = model([views[0], views[0]], mode='predict')
    assert len(samples) == 2
    s = samples[0]
    assert s.q_grid.shape == (512, 3, 3) and s.k_grid.shape == (512, 3, 3)
    torch.testing.assert_close(s.q_grid.norm(dim=0), torch.ones(3, 3))
    assert torch.equal(s.dense_match.reshape(-1), torch.arange(9))
    # one view: grid only, equals the normalised backbone C5
    single = model(views[1], mode='predict')
    torch.testing.assert_close(
        single[1].q_grid,
        F.normalize(model.backbone(views[1])[-1][1], dim=0))
    assert 'dense_match' not in single[1]
    with pytest.raises(RuntimeError, match='Invalid mode'):
        model(views[0], mode='bogus')


class _Recorder(Hook):
    priority = 'LOWEST'

    def __init__(self):
        self.lambdas, self.losses = [], []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = runner.model
        self.lambdas.append(model.loss_lambda)
        self.losses.append(
            {k: float(v.detach()) for k, v in outputs.items()})


def _runner_cfg(work_dir, data_root, queue_len=32, batch_size=4,
                max_iters=4, hooks=()):
    view = [
        dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.),
             backend='pillow'),
        dict(type='RandomFlip', prob=0.5),
    ]
    return dict(
        default_scope='mmscrl',
        work_dir=str(work_dir),
        model=_model_cfg(queue_len=queue_len),
        train_dataloader=dict(
            batch_size=batch_size,
            num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            drop_last=True,
            dataset=dict(
                type='mmpretrain.CustomDataset',
                data_root=str(data_root),
                data_prefix='unlabeled/',
                with_label=False,
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(type='MultiView', num_views=2, transforms=[view]),
                    dict(type='PackInputs'),
                ])),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.03, momentum=0.9,
                           weight_decay=1e-4)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook',
                                           interval=max_iters,
                                           by_epoch=False)),
        custom_hooks=list(hooks),
        log_processor=dict(by_epoch=False),
        randomness=dict(seed=0),
        env_cfg=dict(cudnn_benchmark=False),
    )


def test_runner_trains_with_lambda_warmup(tmp_path, random_image_dir):
    from mmengine.runner import Runner
    recorder = _Recorder()
    cfg = _runner_cfg(
        tmp_path / 'work', random_image_dir,
        hooks=[dict(type='QueueLenCheckHook'),
               dict(type='DenseCLHook', start_iters=2)])
    runner = Runner.from_cfg(cfg)
    runner.register_hook(recorder)
    runner.train()
    assert recorder.lambdas == [0., 0., 0.5, 0.5]
    for i, losses in enumerate(recorder.losses):
        assert math.isfinite(losses['loss_single'])
        if i < 2:
            assert losses['loss_dense'] == 0.
        else:
            assert losses['loss_dense'] > 0.
    model = runner.model
    # 4 iterations x 4 images in a queue of 32
    assert int(model.queue_ptr) == int(model.queue2_ptr) == 16
    assert int(model.encoder_k.steps) == 4
    assert osp.isfile(tmp_path / 'work' / 'iter_4.pth')


def test_runner_refuses_bad_queue_len_before_training(tmp_path,
                                                      random_image_dir):
    from mmengine.runner import Runner
    cfg = _runner_cfg(tmp_path / 'bad', random_image_dir, queue_len=10,
                      hooks=[dict(type='QueueLenCheckHook')])
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as err:
        runner.train()
    msg = str(err.value)
    assert 'queue_len=10' in msg and 'batch_size=4' in msg
    assert 'world_size=1' in msg
    assert int(runner.model.encoder_k.steps) == 0


def test_shuffle_bn_across_two_processes(tmp_path, repo_root,
                                         random_image_dir):
    """tools/dist_train.sh with 2 CPU processes (gloo): shuffle-BN runs
    across ranks and each queue receives the gathered global batch."""
    import os
    import subprocess
    import sys
    work = tmp_path / 'ddp'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT='29623')
    out = subprocess.run([
        'bash', 'tools/dist_train.sh',
        'configs/demo/densecl_resnet18_1xb8-coslr-20i_demo.py', '2',
        '--work-dir', str(work), '--cfg-options',
        f'train_dataloader.dataset.data_root={random_image_dir}',
        'train_cfg.max_iters=3', 'default_hooks.checkpoint.interval=3',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False'
    ], cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-6000:]
    assert 'Distributed training: True' in out.stdout + out.stderr
    state = torch.load(work / 'iter_3.pth', map_location='cpu')['state_dict']
    # 3 iterations x (4 images x 2 processes) in a queue of 64
    assert int(state['queue_ptr']) == int(state['queue2_ptr']) == 24
    torch.testing.assert_close(state['queue2'].norm(dim=0), torch.ones(64))


def test_queue_check_hook_refuses_partial_last_batch():
    from types import SimpleNamespace

    from mmengine.dataset import DefaultSampler, InfiniteSampler

    from mmscrl.engine.hooks import QueueLenCheckHook
    hook = QueueLenCheckHook()

    def runner(sampler_cls, drop_last, num=10, queue_len=16):
        sampler = sampler_cls(list(range(num)), shuffle=False)
        loader = SimpleNamespace(batch_size=4, drop_last=drop_last,
                                 sampler=sampler)
        return SimpleNamespace(model=SimpleNamespace(queue_len=queue_len),
                               train_dataloader=loader)

    hook.before_train(runner(DefaultSampler, True))
    hook.before_train(runner(InfiniteSampler, False))
    hook.before_train(runner(DefaultSampler, False, num=12))
    with pytest.raises(ValueError, match='last batch of 2 images'):
        hook.before_train(runner(DefaultSampler, False))
    with pytest.raises(ValueError, match='no "queue_len"'):
        hook.before_train(SimpleNamespace(model=nn.Linear(1, 1)))


def test_loss_needs_two_views():
    model = _build(init=False)
    with pytest.raises(ValueError, match='got list of 1 views'):
        model.loss([torch.zeros(4, 3, 64, 64)], None)
    with pytest.raises(ValueError, match='got Tensor'):
        model.loss(torch.zeros(4, 3, 64, 64), None)
