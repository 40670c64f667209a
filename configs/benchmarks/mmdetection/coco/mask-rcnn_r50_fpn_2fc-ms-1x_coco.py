# Protocol: SCRL, detectron2 defaults + SyncBN (kakaobrain/scrl README)
# ("synchronized BN for all the configurable layers", default hyper-parameters)
# Mask R-CNN R50-FPN 1x on COCO 2017, detectron2's default config
# (mask_rcnn_R_50_FPN_1x.yaml on Base-RCNN-FPN.yaml) setting by setting,
# with SyncBN wherever detectron2 lets a norm be configured. As
# faster-rcnn_r50_fpn_ms-1x_coco.py (backbone FREEZE_AT 2, SyncBN FPN, 2fc box
# head, 90k iterations, no PreciseBN, no weight decay on norms), plus
# detectron2's mask head (4 convs + deconv, ROI_MASK_HEAD.NORM SyncBN).
# The MoCo/DenseCL/ORL/PixPro protocol, with a 4conv1fc box head, is
# mask-rcnn_r50_fpn_ms-1x_coco.py.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/transfer.py',
]

norm_cfg = _base_.transfer_norm_cfg
model = dict(
    backbone=dict(_base_.transfer_backbone, frozen_stages=1),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared2FCBBoxHead', norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

train_pipeline = _base_.transfer_mask_train_pipeline
# mmdet's CocoDataset, logging the annotations it drops; an infinite sampler
# for the iteration-based schedule
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='mmscrl.CheckedCocoDataset', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='mmscrl.CheckedCocoDataset'))
test_dataloader = val_dataloader

optim_wrapper = dict(paramwise_cfg=_base_.transfer_paramwise_cfg)
# detectron2 1x: 90k iterations, evaluation at the end (TEST.EVAL_PERIOD 0)
max_iters = 90000
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
param_scheduler = [
    _base_.transfer_warmup,
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[60000, 80000],
        gamma=0.1)
]
# checkpoint every 5000 iterations (SOLVER.CHECKPOINT_PERIOD); stop a
# diverging run (NaN/Inf loss term, parameter or buffer) before it writes a
# checkpoint (mmscrl/engine/hooks/non_finite_check_hook.py)
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=5000),
    non_finite=dict(type='mmscrl.NonFiniteCheckHook'))
log_processor = dict(by_epoch=False)
