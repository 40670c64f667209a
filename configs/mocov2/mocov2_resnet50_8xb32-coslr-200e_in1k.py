# MoCo-v2 baseline of the DenseCL paper: mmpretrain's MoCo with the same data,
# schedule, queue (65536 x 128), tau 0.2 and m 0.999 as
# configs/densecl/densecl_resnet50_8xb32-coslr-200e_in1k.py, and the same
# official init (Kaiming fan_in convs / Linears) so that the only difference
# is the dense branch. See configs/densecl/README.md.
_base_ = [
    '../_base_/datasets/imagenet_bs32_mocov2.py',
    '../_base_/schedules/sgd_coslr-200e_densecl.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='MoCo',
    queue_len=65536,
    feat_dim=128,
    momentum=0.001,  # MMEngine EMA convention: 1 - m, paper m = 0.999
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(3, ),
        norm_cfg=dict(type='BN'),
        zero_init_residual=False,
        init_cfg=[
            dict(type='Kaiming', layer='Conv2d', mode='fan_in',
                 nonlinearity='relu'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
        ]),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        with_avg_pool=True,
        init_cfg=dict(type='Kaiming', layer='Linear', mode='fan_in',
                      nonlinearity='relu')),
    head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.2))

custom_hooks = [dict(type='QueueLenCheckHook')]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
