# Protocol: SCRL, detectron2 defaults + SyncBN (kakaobrain/scrl README)
# ("synchronized BN for all the configurable layers", default hyper-parameters)
# Faster R-CNN R50-FPN 1x on COCO 2017, detectron2's default config
# (faster_rcnn_R_50_FPN_1x.yaml on Base-RCNN-FPN.yaml) setting by setting,
# with SyncBN wherever detectron2 lets a norm be configured:
# * backbone: SyncBN, detectron2's default MODEL.BACKBONE.FREEZE_AT 2 (stem
#   and res2 frozen with their BN statistics: mmdet frozen_stages=1),
#   res3-res5 trained with BN in training mode;
# * FPN: SyncBN (FPN.NORM); RPN head: no norm (detectron2 has none);
# * box head: detectron2's 2fc head (ROI_BOX_HEAD NUM_FC 2, FC_DIM 1024, no
#   conv): mmdet's Shared2FCBBoxHead; ROI_BOX_HEAD.NORM acts on convs only,
#   so the norm_cfg set here has no layer to act on, as in detectron2;
# * solver: batch 16 (8 GPUs x 2), SGD lr 0.02, momentum 0.9, wd 1e-4 and 0
#   on norm layers (WEIGHT_DECAY_NORM), 90k iterations, lr x0.1 at 60k and
#   80k, linear warm-up from lr/1000 over 1000 iterations, no PreciseBN;
# * input: RGB, torchvision mean/std, pytorch-style ResNet (the SCRL weights;
#   STRIDE_IN_1X1 False), short side 640..800 (step 32), long side <= 1333,
#   flip; test short side 800.
_base_ = [
    'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    '../_base_/transfer.py',
]

norm_cfg = _base_.transfer_norm_cfg
model = dict(
    backbone=dict(_base_.transfer_backbone, frozen_stages=1),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared2FCBBoxHead', norm_cfg=norm_cfg)))

train_pipeline = _base_.transfer_box_train_pipeline
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
