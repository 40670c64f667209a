# Protocol: DenseCL/ORL/PixPro COCO FPN, 2x (mmselfsup mask-rcnn_r50_fpn_ms-2x)
#
# Mask R-CNN R50-FPN, 2x (24 epochs): the 1x protocol of
# mask-rcnn_r50_fpn_ms-1x_coco.py (SyncBN, 4conv1fc, no weight decay on
# norms, PreciseBN) with mmselfsup's 2x schedule: warm-up 1000 iterations,
# lr x0.1 at epochs 16 and 22 (detectron2 2x: 180k iterations, steps
# 120k/160k).
_base_ = './mask-rcnn_r50_fpn_ms-1x_coco.py'

max_epochs = 24
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[16, 22],
        gamma=0.1)
]
