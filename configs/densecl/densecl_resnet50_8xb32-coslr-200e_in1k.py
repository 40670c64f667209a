# DenseCL ResNet-50, ImageNet-1k, 200 epochs, 8 GPUs x 32 (official
# densecl_imagenet_200ep.py). See configs/densecl/README.md.
_base_ = [
    '../_base_/models/densecl_r50.py',
    '../_base_/datasets/imagenet_mocov2.py',
    '../_base_/schedules/sgd_coslr-200e_densecl.py',
    '../_base_/default_runtime.py',
]

# every query parameter gets a gradient (also at lambda = 0)
find_unused_parameters = False

custom_hooks = [
    # queue_len % (batch x GPUs) checked before the first iteration
    dict(type='QueueLenCheckHook'),
    # lambda warm-up of the paper, off like every released official config;
    # enable with e.g. dict(type='DenseCLHook', start_iters=1000) (mmpretrain
    # hook: lambda = 0 until start_iters, then the configured value)
]

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
