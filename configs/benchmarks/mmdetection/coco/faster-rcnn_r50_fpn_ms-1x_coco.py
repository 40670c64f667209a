# Faster R-CNN R50-FPN, 1x, multi-scale training, COCO 2017: SCRL's headline
# setting (its Fig. 1 / README: "default Detectron2 config", SyncBN in all
# configurable layers). Detectron2's default FPN box head is 2fc without
# norms, so SyncBN goes into the backbone (all stages trained) and the FPN;
# short side 640..800 (step 32) as in Detectron2's Base-RCNN-FPN.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['mmscrl'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(
            _delete_=True, type='mmscrl.PretrainedBackbone',
            checkpoint=None)),
    neck=dict(norm_cfg=norm_cfg))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736),
                (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
