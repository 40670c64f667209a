# ORL stage 3, ResNet-50 (Jiahao000/ORL configs/selfsup/orl/coco/stage3/
# r50_bs512_ep800.py): one online backbone + shared projector, three
# predictors (global, intra-RoI, inter-RoI), momentum target. Trained from
# scratch (official pretrained=None).
neck_init_cfg = [
    dict(type='Kaiming', layer='Linear', mode='fan_in',
         nonlinearity='relu', distribution='normal'),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
]
predictor = dict(
    type='NonLinearNeck',
    in_channels=256,
    hid_channels=4096,
    out_channels=256,
    num_layers=2,
    with_bias=True,
    with_last_bn=False,
    with_last_bias=False,
    with_avg_pool=False,
    init_cfg=neck_init_cfg)
model = dict(
    type='ORL',
    base_momentum=0.01,  # mmpretrain convention 1 - tau: tau 0.99 -> 1
    global_loss_weight=1.,
    local_intra_loss_weight=1.,
    local_inter_loss_weight=1.,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(3, ),
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=4096,
        out_channels=256,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_last_bias=False,
        with_avg_pool=True,
        init_cfg=neck_init_cfg),
    global_head=predictor,
    local_intra_head=predictor,
    local_inter_head=predictor)
