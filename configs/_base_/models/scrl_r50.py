# SCRL ResNet-50 (kakaobrain/scrl models/backbone.py + heads.py):
# torchvision-style ResNet-50 (random init, no zero-init residual) -> C5;
# RoIAlign 1x1 at 1/32 (adaptive sampling, aligned=False) on K box pairs;
# projector 2048-4096-256 (BN+ReLU, no last bias/BN); predictor 256-4096-256.
_projector = dict(
    type='NonLinearNeck',
    in_channels=2048,
    hid_channels=4096,
    out_channels=256,
    num_layers=2,
    with_bias=True,
    with_last_bn=False,
    with_last_bias=False,
    with_avg_pool=False,
    norm_cfg=dict(type='SyncBN'))
model = dict(
    type='SCRL',
    base_momentum=0.03,  # CosineEMA convention: 1 - tau_base (tau 0.97)
    box_loss_weight=1.,
    image_loss_weight=0.,  # > 0 adds an image-level BYOL term
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=False),
    neck=_projector,
    predictor=dict(_projector, in_channels=256),  # same MLP on 256-d
    roi_layer=dict(
        type='RoIAlign',
        output_size=1,
        spatial_scale=1 / 32,
        sampling_ratio=0,
        aligned=False))
del _projector
