# Mask R-CNN R50-C4, 1x, multi-scale training, COCO 2017 (detectron2
# Base-RCNN-C4-BN / mmselfsup mask-rcnn_r50-c4_ms-1x_coco): the C4 protocol
# of ../_base_/transfer_c4.py (pytorch-style ResNet, RGB torchvision
# normalisation, SyncBN, all stages trained, res5 head ResLayerExtraNorm
# initialised with the pre-trained layer4) on mmdet's caffe C4 Mask R-CNN.
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

# stop a diverging run (NaN/Inf loss term, parameter or buffer) before it
# writes a checkpoint (mmscrl/engine/hooks/non_finite_check_hook.py); a
# default hook, merged with those of the base config
default_hooks = dict(non_finite=dict(type='mmscrl.NonFiniteCheckHook'))
