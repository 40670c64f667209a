# BYOL baseline on the demo images, matched to the SCRL demo
# (scrl_resnet18_1xb32-coslr-500i_demo.py): same views (SCRL's augmentations
# at 96 px), ResNet-18, projector/predictor 512-1024-128, LARS, batch 32,
# 500 iterations -- only the loss differs (image-level BYOL, mmpretrain's
# BYOL). Also ORL's stage 1 in tools/demo/run_all_demos.py.
_base_ = ['./scrl_resnet18_1xb32-coslr-500i_demo.py']

# the SCRL demo's backbone, projector (now on the pooled C5) and predictor
scrl = _base_.model
model = dict(
    _delete_=True,
    type='BYOL',
    base_momentum=scrl.base_momentum,  # 1 - tau (tau 0.97)
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=scrl.backbone,
    neck=dict(scrl.neck, with_avg_pool=True),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),
        predictor=scrl.predictor))
del scrl

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageForViews'),  # decoded once, by the views
        dict(type='MultiViewWithGeometry', num_views=[1, 1],
             transforms=[{{_base_.view_pipeline1}},
                         {{_base_.view_pipeline2}}],
             fast={{_base_.fast_views}}),
        dict(type='PackInputs'),
    ]))
