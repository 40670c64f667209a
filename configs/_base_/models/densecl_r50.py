# DenseCL ResNet-50 (official: queue 65536 x 128, tau 0.2, m 0.999, lambda
# 0.5, C5 only, DenseCLNeck 2048-2048-128, plain BN + shuffle-BN).
model = dict(
    type='DenseCLOfficial',
    queue_len=65536,
    feat_dim=128,
    momentum=0.001,  # MMEngine EMA convention: 1 - m, paper m = 0.999
    loss_lambda=0.5,
    official_init=True,  # Kaiming fan_in convs, Kaiming fan_in neck Linears
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(3, ),  # C5
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='DenseCLNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        num_grid=None),
    head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.2))
