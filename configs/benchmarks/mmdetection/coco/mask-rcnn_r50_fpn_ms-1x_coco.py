# Protocol: DenseCL/ORL/PixPro COCO FPN (their detectron2 R_50_FPN_1x configs)
# (DenseCL R_50_FPN_1x_infomin.yaml, ORL R_50_FPN_1x.yaml, PixPro
# COCO_R_50_FPN_1x_PixPro.yaml; mmselfsup mask-rcnn_r50_fpn_ms-1x_coco.py).
#
# Mask R-CNN R50-FPN, 1x (12 epochs), multi-scale training, COCO 2017:
# SyncBN in the backbone (FREEZE_AT 0: all stages trained, BN not frozen),
# FPN, 4conv1fc box head and mask head; short side 640..800 (step 32), long
# side <= 1333; 8 GPUs x 2 images, SGD lr 0.02, wd 1e-4 and 0 on norm layers
# (WEIGHT_DECAY_NORM), warm-up 1000 iterations, PreciseBN (200 batches) after
# the last iteration. Kept from mmselfsup: 12 epochs, lr x0.1 at epochs 8
# and 11 (detectron2: 90k iterations, steps 60k/80k; 12 epochs of the 117k
# COCO train images with annotations are 2.3 % fewer iterations).
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
