# SCRL on the demo images, the pre-training of tools/demo/run_demo.py:
# ResNet-18 (C5 = 3x3 at 96 px), projector/predictor 512-1024-128, 10 box
# pairs per image, batch 32, 500 iterations, LARS + cosine (as the official
# recipe, scaled down). BN instead of SyncBN (1 CPU process).
_base_ = [
    '../_base_/models/scrl_r50.py',
    '../_base_/datasets/demo_scrl.py',
    '../_base_/default_runtime.py',
]

model = dict(
    base_momentum=0.03,  # 1 - tau_base (tau 0.97, official 200-ep value)
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, hid_channels=1024, out_channels=128,
              norm_cfg=dict(type='BN1d')),
    predictor=dict(in_channels=128, hid_channels=1024, out_channels=128,
                   norm_cfg=dict(type='BN1d')))

max_iters = 500
warmup_iters = 50
# official: LARS, lr 0.45 per 256 images (batch 32 -> 0.056); the short
# demo schedule uses a larger rate (as the BYOL demo config).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=0.3, momentum=0.9, weight_decay=1e-6,
                   eta=0.001, eps=1e-8),
    paramwise_cfg=dict(custom_keys={
        'bn': dict(decay_mult=0, lars_exclude=True),
        'bias': dict(decay_mult=0, lars_exclude=True),
        'downsample.1': dict(decay_mult=0, lars_exclude=True)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters,
         eta_min=0., by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
custom_hooks = [dict(type='EMAMomentumLoggerHook')]  # logs the EMA momentum
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False,
                    max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
auto_scale_lr = dict(base_batch_size=32)
