# ORL stage 3 on the demo images for tools/demo/run_all_demos.py, after
# stage 1 = configs/demo/byol_resnet18_1xb32-coslr-500i_demo.py and stage 2
# (tools/orl/{extract_knn,selective_search,generate_correspondence}.py with
# sizes scaled to 128 px images). Same backbone, projector/predictor sizes,
# LARS schedule, batch and iterations as the BYOL/SCRL demos (official ORL:
# SGD lr 0.4 per 512; the demo keeps one optimizer for the BYOL family so
# the runs differ only in their losses/data). Global views 96 px (official
# 224), RoI patches 48 px (official 96, same 224:96 ratio rounded up).
# `ann_file` (the stage-2 correspondence file) is set by run_all_demos.py.
_base_ = [
    '../_base_/models/orl_r50.py',
    '../_base_/default_runtime.py',
]

img_size = 96
patch_size = 48
max_iters = 500
warmup_iters = 50

_pred = dict(in_channels=128, hid_channels=1024, out_channels=128,
             norm_cfg=dict(type='BN1d'))
model = dict(
    base_momentum=0.03,  # 1 - tau (tau 0.97), as the BYOL/SCRL demos
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, hid_channels=1024, out_channels=128,
              norm_cfg=dict(type='BN1d')),
    global_head=_pred,
    local_intra_head=_pred,
    local_inter_head=_pred)


def _view_pipeline(blur_prob, solarize_prob):
    return [
        dict(type='RandomResizedCrop', scale=img_size,
             crop_ratio_range=(0.2, 1.), interpolation='bilinear',
             backend='pillow'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='RandomApply',
             transforms=[dict(type='ColorJitter', brightness=0.4,
                              contrast=0.4, saturation=0.2, hue=0.1)],
             prob=0.8),
        dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
             channel_weights=(0.114, 0.587, 0.2989)),
        dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
             magnitude_std='inf', prob=blur_prob),
        dict(type='Solarize', thr=128, prob=solarize_prob),
    ]


view_pipeline1 = _view_pipeline(blur_prob=1., solarize_prob=0.)
view_pipeline2 = _view_pipeline(blur_prob=0.1, solarize_prob=0.2)
del _view_pipeline, _pred

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,
    dataset=dict(
        type='ORLDataset',
        data_root='data/demo/',
        ann_file='orl_correspondence.npz',
        data_prefix='unlabeled/',
        topk_knn_image=5,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='ORLCropPatches', patch_size=patch_size,
                 shift=(-0.5, 0.5), scale=(0.5, 2.), ratio=(0.5, 2.),
                 iou_thr=0.5, max_attempts=200),
            dict(type='ORLMultiView',
                 global_transforms=[view_pipeline1, view_pipeline2],
                 patch_transforms=[view_pipeline1[1:], view_pipeline2[1:]]),
            dict(type='PackInputs', algorithm_keys=['inter_valid'],
                 meta_keys=['sample_idx', 'img_path', 'knn_idx']),
        ]))

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
