# Protocol: MoCo/DenseCL/PixPro VOC07+12 C4 (detectron2 pascal_voc_R_50_C4_24k)
# (MoCo and DenseCL pascal_voc_R_50_C4_24k_moco.yaml, PixPro
# Pascal_VOC_R_50_C4_24k_PixPro.yaml, all on Base-RCNN-C4-BN.yaml).
#
# Faster R-CNN R50-C4 on PASCAL VOC07+12 trainval, tested on VOC07 test, the
# C4 protocol of ../_base_/transfer_c4.py (SyncBN, FREEZE_AT 0, res5 head
# with an extra SyncBN after res5); 24k iterations x 16 images, lr 0.02,
# warm-up 100 iterations, x0.1 at 18k and 22k; short side 480..800 (step 32)
# for training, 800 for testing; no weight decay on norms
# (WEIGHT_DECAY_NORM 0); PreciseBN (200 batches) after the last iteration.
#
# Differences from mmselfsup's faster-rcnn_r50-c4_ms-24k_voc0712.py:
# * the RGB data_preprocessor is set inside ``model`` (mmselfsup defines it at
#   the top level, where nothing reads it, so the caffe BGR one stays);
# * the metric is detectron2's PascalVOCDetectionEvaluator
#   (mmscrl.VOCCocoStyleMetric): ``pascal_voc/AP`` (VOC07 11-point AP
#   averaged over IoU 0.50:0.05:0.95), ``/AP50`` and ``/AP75`` in percent as
#   the papers, ``/mAP`` = AP50 as a fraction (mmselfsup's number);
# * the ConcatDataset ignores the differing ``dataset_type`` meta of VOC2007
#   and VOC2012 (mmdet's 18k config fails without it);
# * "difficult" objects are training instances, as in detectron2's VOC
#   loader (mmscrl.VOCKeepDifficultDataset; mmdet's VOCDataset ignores
#   them); the test set keeps them flagged, skipped by the metric.
# Left as mmselfsup does it: validation every 2k iterations (detectron2
# only at the end).
_base_ = [
    'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py',
    '../_base_/transfer_c4.py',
]

# the metric module is imported explicitly (mmscrl imports its evaluation
# package lazily)
custom_imports = dict(
    imports=[
        'mmscrl', 'mmpretrain.models.utils.res_layer_extra_norm',
        'mmscrl.evaluation.voc_coco_style_metric'
    ],
    allow_failed_imports=False)

norm_cfg = _base_.transfer_norm_cfg
model = dict(
    data_preprocessor=_base_.transfer_c4_preprocessor,
    backbone=_base_.transfer_c4_backbone,
    roi_head=dict(shared_head=_base_.transfer_c4_shared_head))

# VOC2007 and VOC2012 trainval with "difficult" objects as training
# instances, as detectron2's VOC loader (mmscrl/datasets/voc_detection.py);
# VOC07 test keeps them flagged for the metric
train_dataloader = dict(
    dataset=dict(
        ignore_keys=['dataset_type'],
        datasets=[
            dict(
                voc,
                type='mmscrl.VOCKeepDifficultDataset',
                keep_difficult=True)
            for voc in _base_.train_dataloader.dataset.datasets
        ]))

optim_wrapper = dict(paramwise_cfg=_base_.transfer_paramwise_cfg)
custom_hooks = [_base_.transfer_precise_bn]

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

# detectron2's VOC evaluation on VOC07 test: 11-point AP averaged over IoU
# 0.50:0.05:0.95, AP50, AP75 (mmscrl/evaluation/voc_coco_style_metric.py)
val_evaluator = dict(
    _delete_=True, type='mmscrl.VOCCocoStyleMetric', use_07_metric=True)
test_evaluator = val_evaluator
