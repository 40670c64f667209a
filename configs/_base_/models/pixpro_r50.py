# PixPro ResNet-50 (zdaxie/PixPro contrast/models/PixPro.py, the released
# scripts' options): torchvision-style ResNet-50 -> C5 (zero-init last BN of
# every block, Kaiming fan_out convs, as the official resnet.py); dense
# projector 1x1 conv 2048-4096 (bias) -> BN -> ReLU -> 1x1 conv 4096-256
# (bias); PPM with one biased 1x1 conv g and similarity max(cos, 0) ** 2;
# positives at distance < 0.7 bin diagonals; momentum target tau 0.99 -> 1
# (CosineEMA convention base_momentum = 1 - tau). SyncBN everywhere.
model = dict(
    type='PixPro',
    base_momentum=0.01,  # tau 0.99 (--pixpro-momentum 0.99)
    pos_ratio=0.7,  # --pixpro-pos-ratio 0.7
    ppm_gamma=2.,  # --pixpro-p 2
    ppm_clamp_value=0.,  # --pixpro-clamp-value 0
    ppm_transform_layers=1,  # --pixpro-transform-layer 1
    instance_loss_weight=0.,  # --pixpro-ins-loss-weight 0 (PixPro+ off)
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch',
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=True),
    neck=dict(
        type='PixProMLP2d',
        in_channels=2048,
        hid_channels=4096,
        out_channels=256,
        norm_cfg=dict(type='SyncBN')))
