# MoCo v2 ResNet-50 as the DenseCL paper's baseline (mmpretrain's MoCo): the
# DenseCL model of densecl_r50.py without the dense branch -- same backbone
# and official init, queue 65536 x 128, tau 0.2, m 0.999, plain BN +
# shuffle-BN; MoCoV2Neck with the same Kaiming fan_in Linear init.
_base_ = ['./densecl_r50.py']

model = dict(
    _delete_=True,
    type='MoCo',
    queue_len=_base_.model.queue_len,
    feat_dim=_base_.model.feat_dim,
    momentum=_base_.model.momentum,
    backbone=_base_.model.backbone,
    neck=dict(
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        with_avg_pool=True,
        init_cfg=_base_.model.neck.init_cfg),
    head=_base_.model.head)
