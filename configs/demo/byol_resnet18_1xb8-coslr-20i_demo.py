# Tiny BYOL (mmpretrain's algorithm) on the demo images: ResNet-18, 64 px,
# 20 iterations. Used by the foundation tests (CPU, 1 or 2 processes).
_base_ = [
    '../_base_/datasets/demo_byol.py',
    '../_base_/schedules/lars_coslr-500i_demo.py',  # LARS, lr 0.3
    '../_base_/default_runtime.py',
]

model = dict(
    type='BYOL',
    base_momentum=0.01,  # mmpretrain convention: 1 - tau (tau 0.99 -> 1)
    backbone=dict(type='ResNet', depth=18, norm_cfg=dict(type='BN'),
                  zero_init_residual=False),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=256,
              out_channels=64, num_layers=2, with_bias=True,
              with_last_bn=False, with_avg_pool=True,
              norm_cfg=dict(type='BN1d')),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),
        predictor=dict(type='NonLinearNeck', in_channels=64, hid_channels=256,
                       out_channels=64, num_layers=2, with_bias=True,
                       with_last_bn=False, with_avg_pool=False,
                       norm_cfg=dict(type='BN1d'))))

max_iters = 20
warmup_iters = 5
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters,
         by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=10, by_epoch=False,
                    max_keep_ckpts=2))
env_cfg = dict(cudnn_benchmark=False)
auto_scale_lr = dict(base_batch_size=8)
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=True))
log_processor = dict(by_epoch=False)
