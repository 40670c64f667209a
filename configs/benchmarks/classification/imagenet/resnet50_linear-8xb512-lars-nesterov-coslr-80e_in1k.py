# Protocol: SCRL linear evaluation (kakaobrain/scrl config/*.yaml ``eval``)
# (optim/getters.py, optim/scheduler.py, trainer/linear_eval.py,
# augment/getters.py).
#
# Linear probe on ImageNet-1k: frozen ResNet-50 (BN statistics in eval mode),
# global average pooling, a linear classifier trained 80 epochs; batch
# 4096 (8 GPUs x 512; SCRL: 128 per GPU on 32 GPUs); SGD with Nesterov
# momentum 0.9 wrapped in LARS (trust coefficient 0.001, eps 1e-8), lr
# 0.2 x 4096 / 256 = 3.2, no weight decay; the bias is excluded from LARS
# (SCRL's name rule "bn"/"bias"); linear warm-up over 5 epochs from ~0 then
# cosine to 0 over the other 75, both per iteration; RandomResizedCrop 224
# (scale 0.08-1) + flip, bicubic; test: short side 256 then centre crop
# 224, bicubic.
#
# The backbone comes from any mmscrl / released checkpoint through
# mmscrl.PretrainedBackbone (tools/benchmarks/classification/dist_train.sh).
_base_ = 'mmpretrain::byol/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py'  # noqa: E501

custom_imports = dict(imports=['mmscrl'], allow_failed_imports=False)

# zero_init_residual=False: mmpretrain's ResNet.init_weights otherwise zeroes
# the last BN weight of every block after any non-``Pretrained`` initializer
# has loaded it.
model = dict(
    backbone=dict(
        frozen_stages=4,
        zero_init_residual=False,
        init_cfg=dict(
            _delete_=True, type='mmscrl.PretrainedBackbone',
            checkpoint=None)))

# bicubic crops and resize (SCRL: PIL Image.BICUBIC)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.08, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=512, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# LARS around SGD-Nesterov; the bias gets no LARS scaling (and no decay).
# mmscrl's constructor logs the frozen backbone in one line instead of one
# warning per parameter (paramwise_cfg makes mmengine log each).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='mmscrl.SelfSupOptimWrapperConstructor',
    optimizer=dict(
        type='LARS',
        lr=0.2 * 4096 / 256,
        momentum=0.9,
        weight_decay=0.,
        nesterov=True,
        eta=0.001,
        eps=1e-8),
    paramwise_cfg=dict(
        custom_keys={'bias': dict(decay_mult=0., lars_exclude=True)}))

max_epochs = 80
warmup_epochs = 5
# 313 iterations per epoch at batch 4096: the first iteration's lr is
# 1/(5 x 313) of the peak, as SCRL's warm-up (lr x (i + 1) / T)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1. / (warmup_epochs * 313),
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=0.,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]
# SCRL validates every 5 epochs
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=5)

# stop a diverging run (NaN/Inf loss term, parameter or buffer) before it
# writes a checkpoint (mmscrl/engine/hooks/non_finite_check_hook.py); a
# default hook, merged with those of the base config
default_hooks = dict(non_finite=dict(type='mmscrl.NonFiniteCheckHook'))
