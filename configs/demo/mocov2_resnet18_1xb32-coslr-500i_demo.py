# MoCo v2 baseline on the demo images, matched to the DenseCL demo
# (densecl_resnet18_1xb32-coslr-500i_demo.py) as the DenseCL paper's MoCo v2
# baseline is to DenseCL: same views (the official DenseCL/MoCo v2 views at
# 96 px), ResNet-18 with the official init, queue 1024 x 128, tau 0.2,
# m 0.999, SGD lr 0.12 with the 50-iteration warm-up, batch 32, 500
# iterations -- only the loss differs (global contrastive loss, no dense
# branch; mmpretrain's MoCo with MoCoV2Neck, as
# configs/_base_/models/mocov2_r50.py). No DenseCLHook (no lambda to warm up).
_base_ = ['./densecl_resnet18_1xb32-coslr-500i_demo.py']

# the DenseCL demo's backbone, queue, momentum, head and neck sizes/init
densecl = _base_.model
model = dict(
    _delete_=True,
    type='MoCo',
    queue_len=densecl.queue_len,
    feat_dim=densecl.feat_dim,
    momentum=densecl.momentum,
    backbone=densecl.backbone,
    neck=dict(
        type='MoCoV2Neck',
        in_channels=densecl.neck.in_channels,
        hid_channels=densecl.neck.hid_channels,
        out_channels=densecl.neck.out_channels,
        with_avg_pool=True,
        init_cfg=densecl.neck.init_cfg),
    head=densecl.head)
del densecl

custom_hooks = [
    hook for hook in _base_.custom_hooks if hook['type'] != 'DenseCLHook'
]
