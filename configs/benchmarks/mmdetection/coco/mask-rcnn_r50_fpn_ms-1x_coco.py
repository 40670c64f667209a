# Mask R-CNN R50-FPN, 1x (12 epochs), multi-scale training, COCO 2017.
# The MoCo/DenseCL/ORL/SCRL transfer protocol (detectron2
# R_50_FPN_1x_infomin / mmselfsup mask-rcnn_r50_fpn_ms-1x_coco): SyncBN in the
# backbone (all stages trained, BN not frozen), FPN, 4conv1fc box head and mask
# head; short side 640..800 (step 32), long side <= 1333; 8 GPUs x 2 images.
# Pre-trained weights: tools/benchmarks/mmdetection/dist_train.sh CFG CKPT 8
# (CKPT = a full mmscrl checkpoint or a backbone-only file).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['mmscrl'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        # set by the launcher (--pretrained); None refuses to train
        init_cfg=dict(
            _delete_=True, type='mmscrl.PretrainedBackbone',
            checkpoint=None)),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736),
                (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
