# Mask R-CNN R50-FPN, 1x (12 epochs), multi-scale training, COCO 2017.
# The MoCo/DenseCL/ORL/SCRL transfer protocol (detectron2
# R_50_FPN_1x_infomin / mmselfsup mask-rcnn_r50_fpn_ms-1x_coco): SyncBN in the
# backbone (all stages trained, BN not frozen), FPN, 4conv1fc box head and mask
# head; short side 640..800 (step 32), long side <= 1333; 8 GPUs x 2 images.
# Pre-trained weights: tools/benchmarks/mmdetection/dist_train.sh CFG CKPT 8
# (CKPT = a full mmscrl checkpoint or a backbone-only file).
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/transfer.py',
]

norm_cfg = _base_.transfer_norm_cfg
model = dict(
    backbone=_base_.transfer_backbone,
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

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
