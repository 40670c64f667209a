# Protocol: none published; shared settings on mmdet's RetinaNet (mmdet 1x)
# (no paper in this repository reports a RetinaNet number).
#
# RetinaNet R50-FPN, 1x, multi-scale training, COCO 2017 (mmdet's recipe:
# SGD lr 0.01 for 8x2 images, as detectron2's Base-RetinaNet). SyncBN in the
# backbone (all stages trained, BN not frozen) and the FPN; the RetinaNet
# head has no norm layers, as in mmdet and Detectron2. Short side 640..800
# (step 32) as the other benchmarks; detectron2's warm-up (1000 iterations)
# and no weight decay on norms, as the other transfer configs.
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    '../_base_/transfer.py',
]

norm_cfg = _base_.transfer_norm_cfg
model = dict(
    backbone=_base_.transfer_backbone,
    neck=dict(norm_cfg=norm_cfg))

train_pipeline = _base_.transfer_box_train_pipeline
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

# stop a diverging run (NaN/Inf loss term, parameter or buffer) before it
# writes a checkpoint (mmscrl/engine/hooks/non_finite_check_hook.py); a
# default hook, merged with those of the base config
default_hooks = dict(non_finite=dict(type='mmscrl.NonFiniteCheckHook'))
