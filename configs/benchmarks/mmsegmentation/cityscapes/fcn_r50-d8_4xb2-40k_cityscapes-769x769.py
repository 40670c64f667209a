# Protocol: DenseCL Cityscapes segmentation (WXinlong/mmsegmentation densecl)
#
# FCN R50-D8 on Cityscapes (2,975 fine train images, 500 val), DenseCL's
# segmentation protocol: 769x769 crops, 40k iterations, 4 GPUs x 2 images,
# SGD lr 0.01 (momentum 0.9, wd 5e-4), poly decay (power 0.9, to 1e-4),
# SyncBN, dilations (1, 1, 2, 4), align_corners, sliding-window inference
# (769x769 windows, stride 513), mIoU on val.
#
# The backbone is the plain ``ResNet`` (7x7 stem) that self-supervised
# checkpoints have, instead of mmseg's ResNetV1c deep stem; see
# ../voc12aug/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-769x769.py'

custom_imports = dict(imports=['mmscrl'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(
        type='ResNet',
        init_cfg=dict(type='mmscrl.PretrainedBackbone', checkpoint=None)))

# stop a diverging run (NaN/Inf loss term, parameter or buffer) before it
# writes a checkpoint (mmscrl/engine/hooks/non_finite_check_hook.py); a
# default hook, merged with those of the base config
default_hooks = dict(non_finite=dict(type='mmscrl.NonFiniteCheckHook'))
