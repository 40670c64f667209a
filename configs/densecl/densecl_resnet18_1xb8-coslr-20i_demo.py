# Tiny DenseCL on the demo images (tools/demo/generate_demo_data.py):
# ResNet-18, 64 px, queue 64, 20 iterations, lambda warm-up after 10 iters.
# A smoke run of the full stack on CPU (1 or 2 processes), not a recipe.
_base_ = ['./densecl_resnet50_8xb32-coslr-200e_in1k.py']

img_size = 64
data_root = 'data/demo/'

model = dict(
    queue_len=64,
    backbone=dict(depth=18),
    neck=dict(in_channels=512, hid_channels=256))

view_pipeline = [
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.2, 1.),
         backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
         magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='unlabeled/',
        with_label=False,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
            dict(type='PackInputs'),
        ]))

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=20, by_epoch=False, begin=0,
         end=20)
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=20)
custom_hooks = [
    dict(type='QueueLenCheckHook'),
    dict(type='DenseCLHook', start_iters=10),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=10, by_epoch=False,
                    max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False)
auto_scale_lr = dict(base_batch_size=8)
