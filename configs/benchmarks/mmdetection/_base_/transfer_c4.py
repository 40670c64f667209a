# The C4 transfer protocol on top of transfer.py (detectron2
# Base-RCNN-C4-BN, as MoCo/DenseCL): a pytorch-style ResNet (stride in the
# 3x3 conv) with RGB input and the torchvision mean/std instead of mmdet's
# caffe C4 defaults, and the res5 RoI head ``ResLayerExtraNorm`` (layer4 +
# an extra SyncBN, detectron2's Res5ROIHeadsExtraNorm) initialised with the
# pre-trained layer4; its extra norm starts at weight 1 / bias 0.
_base_ = ['./transfer.py']

custom_imports = dict(
    imports=['mmscrl', 'mmpretrain.models.utils.res_layer_extra_norm'],
    allow_failed_imports=False)

transfer_c4_preprocessor = dict(
    type='DetDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_size_divisor=32)
transfer_c4_backbone = dict(_base_.transfer_backbone, style='pytorch')
transfer_c4_shared_head = dict(
    type='ResLayerExtraNorm',
    norm_cfg=_base_.transfer_norm_cfg,
    norm_eval=False,
    style='pytorch',
    init_cfg=dict(_base_.transfer_init_cfg, allow_missing=['norm.*']))
