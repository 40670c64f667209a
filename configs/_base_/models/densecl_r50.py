# DenseCL ResNet-50 (official: queue 65536 x 128, tau 0.2, m 0.999, lambda
# 0.5, C5 only, DenseCLNeck 2048-2048-128, plain BN + shuffle-BN).
# Init as the official code (WXinlong/DenseCL, OpenSelfSup): backbone
# ResNet.init_weights -- Kaiming-normal fan_in convs, norms weight 1 / bias 0
# (mmpretrain's ResNet default is fan_out); neck
# init_weights(init_linear='kaiming') -- Kaiming-normal fan_in Linears with
# bias 0, the dense 1x1 convs keep PyTorch's default.
model = dict(
    type='DenseCLOfficial',
    queue_len=65536,
    feat_dim=128,
    momentum=0.001,  # MMEngine EMA convention: 1 - m, paper m = 0.999
    loss_lambda=0.5,
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(3, ),  # C5
        norm_cfg=dict(type='BN'),
        zero_init_residual=False,
        init_cfg=[
            dict(type='Kaiming', layer='Conv2d', mode='fan_in',
                 nonlinearity='relu'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
        ]),
    neck=dict(
        type='DenseCLNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        num_grid=None,
        init_cfg=dict(type='Kaiming', layer='Linear', mode='fan_in',
                      nonlinearity='relu')),
    head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.2))
