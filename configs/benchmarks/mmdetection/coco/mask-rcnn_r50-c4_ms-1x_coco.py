# Mask R-CNN R50-C4, 1x, multi-scale training, COCO 2017 (detectron2
# Base-RCNN-C4-BN / mmselfsup mask-rcnn_r50-c4_ms-1x_coco): pytorch-style
# ResNet (stride in the 3x3 conv) with RGB torchvision normalisation, SyncBN,
# all stages trained; the res5 RoI head is ``ResLayerExtraNorm`` (layer4 + an
# extra SyncBN, detectron2's Res5ROIHeadsExtraNorm) and is initialised with
# the pre-trained layer4; its extra norm starts at weight 1 / bias 0.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py'

custom_imports = dict(
    imports=['mmscrl', 'mmpretrain.models.utils.res_layer_extra_norm'],
    allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(
            _delete_=True, type='mmscrl.PretrainedBackbone',
            checkpoint=None)),
    roi_head=dict(
        shared_head=dict(
            type='ResLayerExtraNorm',
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            init_cfg=dict(
                type='mmscrl.PretrainedBackbone',
                checkpoint=None,
                allow_missing=['norm.*']))))

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
