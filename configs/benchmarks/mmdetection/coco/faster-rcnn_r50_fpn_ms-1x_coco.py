# Faster R-CNN R50-FPN, 1x, multi-scale training, COCO 2017: SCRL's headline
# setting (its Fig. 1 / README: "default Detectron2 config", SyncBN in all
# configurable layers). Detectron2's default FPN box head is 2fc without
# norms, so SyncBN goes into the backbone (all stages trained) and the FPN;
# short side 640..800 (step 32) as in Detectron2's Base-RCNN-FPN.
_base_ = [
    'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
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

# stop a diverging run (NaN/Inf loss term, parameter or buffer) before it
# writes a checkpoint (mmscrl/engine/hooks/non_finite_check_hook.py); a
# default hook, merged with those of the base config
default_hooks = dict(non_finite=dict(type='mmscrl.NonFiniteCheckHook'))
