# Protocol: DenseCL VOC12aug segmentation (WXinlong/mmsegmentation densecl)
#
# FCN R50-D8 on PASCAL VOC 2012 + SBD augmented (10,582 train images, 1,449
# val), DenseCL's segmentation protocol: 512x512 crops, 20k iterations, 4 GPUs
# x 4 images, SGD lr 0.01 (momentum 0.9, wd 5e-4), poly decay (power 0.9, to
# 1e-4), SyncBN, dilations (1, 1, 2, 4), mIoU on VOC12 val. Crops smaller
# than 512 are padded with 0 after normalisation (mmseg's SegDataPreprocessor
# normalises, then pads), i.e. with the mean colour, as the fork's
# Normalize -> Pad(pad_val=0).
#
# mmseg's FCN uses ResNetV1c (3-conv deep stem, open-mmlab://resnet50_v1c).
# Self-supervised checkpoints are standard ResNets (one 7x7 stem conv), as in
# the official DenseCL fork (its ``ResNetNormal``), so the backbone here is
# the plain ``ResNet`` and ``model.pretrained`` is cleared;
# mmscrl.PretrainedBackbone loads the weights (set by
# tools/benchmarks/mmsegmentation/train.py --pretrained).
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py'

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
