# MoCo v2 ResNet-50 as the DenseCL paper's baseline (mmpretrain's MoCo):
# queue 65536 x 128, tau 0.2, m 0.999, plain BN + shuffle-BN, and the
# official DenseCL init (Kaiming fan_in convs / Linears), so that DenseCL and
# MoCo v2 differ only in the dense branch.
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
