# Protocol: MoCo/DenseCL/PixPro COCO C4 (detectron2 Base-RCNN-C4-BN configs)
# (MoCo coco_R_50_C4_*.yaml, PixPro COCO_R_50_C4_1x_PixPro.yaml; mmselfsup
# mask-rcnn_r50-c4_ms-1x_coco.py).
#
# Mask R-CNN R50-C4, 1x, multi-scale training, COCO 2017: the C4 protocol
# of ../_base_/transfer_c4.py (pytorch-style ResNet, RGB torchvision
# normalisation, SyncBN, FREEZE_AT 0, res5 head ResLayerExtraNorm = res5 + an
# extra SyncBN after it, initialised with the pre-trained layer4) on mmdet's
# caffe C4 Mask R-CNN; no weight decay on norms (WEIGHT_DECAY_NORM 0),
# warm-up 1000 iterations, PreciseBN (200 batches) after the last iteration.
# Kept from mmselfsup: 12 epochs, lr x0.1 at epochs 8 and 11 (detectron2:
# 90k iterations, steps 60k/80k).
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py',
    '../_base_/transfer_c4.py',
]

norm_cfg = _base_.transfer_norm_cfg
model = dict(
    data_preprocessor=dict(_base_.transfer_c4_preprocessor, pad_mask=True),
    backbone=_base_.transfer_c4_backbone,
    roi_head=dict(shared_head=_base_.transfer_c4_shared_head))

train_pipeline = _base_.transfer_mask_train_pipeline
# mmdet's CocoDataset, logging the annotations it drops
train_dataloader = dict(
    dataset=dict(type='mmscrl.CheckedCocoDataset', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='mmscrl.CheckedCocoDataset'))
test_dataloader = val_dataloader

optim_wrapper = dict(paramwise_cfg=_base_.transfer_paramwise_cfg)
max_epochs = 12
param_scheduler = [
    _base_.transfer_warmup,
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[8, 11],
        gamma=0.1)
]
custom_hooks = [_base_.transfer_precise_bn]

# stop a diverging run (NaN/Inf loss term, parameter or buffer) before it
# writes a checkpoint (mmscrl/engine/hooks/non_finite_check_hook.py); a
# default hook, merged with those of the base config
default_hooks = dict(non_finite=dict(type='mmscrl.NonFiniteCheckHook'))
