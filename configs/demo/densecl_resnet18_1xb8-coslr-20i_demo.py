# Tiny DenseCL on the demo images (tools/demo/generate_demo_data.py):
# ResNet-18, 64 px, queue 64, 20 iterations, lambda warm-up after 10 iters.
# A smoke run of the full stack on CPU (1 or 2 processes), not a recipe.
_base_ = ['../densecl/densecl_resnet50_8xb32-coslr-200e_in1k.py']

img_size = 64
data_root = 'data/demo/'

model = dict(
    queue_len=64,
    backbone=dict(depth=18),
    neck=dict(in_channels=512, hid_channels=256))

# the official DenseCL views (imagenet_mocov2.py) at img_size
view_pipeline = [dict(_base_.view_pipeline[0], scale=img_size),
                 *_base_.view_pipeline[1:]]
load, multi_view, pack = _base_.train_pipeline
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
        pipeline=[load, dict(multi_view, transforms=[view_pipeline]),
                  pack]))
del load, multi_view, pack

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
