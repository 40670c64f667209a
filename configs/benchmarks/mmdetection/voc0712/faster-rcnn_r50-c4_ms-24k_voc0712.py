# Faster R-CNN R50-C4 on PASCAL VOC07+12 trainval, tested on VOC07 test: the
# MoCo / DenseCL protocol (detectron2 pascal_voc_R_50_C4_24k_moco.yaml on
# Base-RCNN-C4-BN.yaml), the C4 protocol of ../_base_/transfer_c4.py;
# 24k iterations x 16 images, lr 0.02, warm-up 100 iterations, x0.1 at 18k
# and 22k; short side 480..800 (step 32) for training, 800 for testing.
#
# Differences from mmselfsup's faster-rcnn_r50-c4_ms-24k_voc0712.py:
# * the RGB data_preprocessor is set inside ``model`` (mmselfsup defines it at
#   the top level, where nothing reads it, so the caffe BGR one stays);
# * VOC07 11-point AP at IoU 0.50:0.05:0.95: ``pascal_voc/mAP`` is the
#   COCO-style AP of the papers, ``pascal_voc/AP50`` and ``/AP75`` are the
#   other two columns (detectron2's PascalVOCDetectionEvaluator);
# * the ConcatDataset ignores the differing ``dataset_type`` meta of VOC2007
#   and VOC2012 (mmdet's 18k config fails without it).
_base_ = [
    'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py',
    '../_base_/transfer_c4.py',
]

norm_cfg = _base_.transfer_norm_cfg
model = dict(
    data_preprocessor=_base_.transfer_c4_preprocessor,
    backbone=_base_.transfer_c4_backbone,
    roi_head=dict(shared_head=_base_.transfer_c4_shared_head))

train_dataloader = dict(dataset=dict(ignore_keys=['dataset_type']))

# 24k iterations, validation every 2k
max_iter = 24000
train_cfg = dict(max_iters=max_iter, val_interval=2000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iter,
        by_epoch=False,
        milestones=[18000, 22000],
        gamma=0.1)
]
# checkpoint every 2k iterations; stop a diverging run (NaN/Inf loss term,
# parameter or buffer) before it writes a checkpoint
# (mmscrl/engine/hooks/non_finite_check_hook.py)
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=2000),
    non_finite=dict(type='mmscrl.NonFiniteCheckHook'))

# COCO-style AP on VOC07 test: 11-point VOC AP averaged over IoU 0.5:0.95
val_evaluator = dict(
    type='VOCMetric',
    metric='mAP',
    eval_mode='11points',
    iou_thrs=[0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
test_evaluator = val_evaluator
