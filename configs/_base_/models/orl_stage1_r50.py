# BYOL ResNet-50 as in ORL stage 1 (Jiahao000/ORL
# configs/selfsup/orl/coco/stage1/r50_bs512_ep800.py), on mmpretrain's BYOL.
# Projector/predictor: Linear(+bias) -> SyncBN -> ReLU -> Linear(no bias), no
# last BN; Kaiming-normal (fan_in) Linear init as the official
# init_weights(init_linear='kaiming'). Backbone init as OpenSelfSup's
# ResNet.init_weights (pretrained=None): Kaiming-normal fan_in convs, norms
# weight 1 / bias 0 (mmpretrain's ResNet default is Kaiming fan_out).
neck_init_cfg = [
    dict(type='Kaiming', layer='Linear', mode='fan_in',
         nonlinearity='relu', distribution='normal'),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
]
_projector = dict(
    type='NonLinearNeck',
    in_channels=2048,
    hid_channels=4096,
    out_channels=256,
    num_layers=2,
    with_bias=True,
    with_last_bn=False,
    with_last_bias=False,
    with_avg_pool=True,
    init_cfg=neck_init_cfg)
model = dict(
    type='BYOL',
    base_momentum=0.01,  # mmpretrain convention 1 - tau: tau 0.99 -> 1
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
        zero_init_residual=False,
        init_cfg=[
            dict(type='Kaiming', layer='Conv2d', mode='fan_in',
                 nonlinearity='relu'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
        ]),
    neck=_projector,
    head=dict(
        type='LatentPredictHead',
        # 1 - cos per direction; BYOL sums 2 * (l12 + l21) = official
        # (2 - 2cos) + (2 - 2cos), so logged losses compare 1:1.
        loss=dict(type='CosineSimilarityLoss', shift_factor=1.,
                  scale_factor=1.),
        # the projector's MLP on the 256-d projection, no pooling
        predictor=dict(_projector, in_channels=256, with_avg_pool=False)))
del _projector
