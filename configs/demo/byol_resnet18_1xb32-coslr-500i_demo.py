# BYOL baseline on the demo images, matched to the SCRL demo
# (scrl_resnet18_1xb32-coslr-500i_demo.py): same views (SCRL's augmentations
# at 96 px), ResNet-18, projector/predictor 512-1024-128, LARS, batch 32,
# 500 iterations -- only the loss differs (image-level BYOL, mmpretrain's
# BYOL). Also ORL's stage 1 in tools/demo/run_all_demos.py.
_base_ = ['./scrl_resnet18_1xb32-coslr-500i_demo.py']

model = dict(
    _delete_=True,
    type='BYOL',
    base_momentum=0.03,  # 1 - tau (tau 0.97), as the SCRL demo
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='ResNet', depth=18, out_indices=(3, ),
                  norm_cfg=dict(type='BN'), zero_init_residual=False),
    neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=1024,
              out_channels=128, num_layers=2, with_bias=True,
              with_last_bn=False, with_last_bias=False, with_avg_pool=True,
              norm_cfg=dict(type='BN1d')),
    head=dict(
        type='LatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),
        predictor=dict(type='NonLinearNeck', in_channels=128,
                       hid_channels=1024, out_channels=128, num_layers=2,
                       with_bias=True, with_last_bn=False,
                       with_last_bias=False, with_avg_pool=False,
                       norm_cfg=dict(type='BN1d'))))

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MultiView', num_views=[1, 1],
             transforms=[{{_base_.view_pipeline1}},
                         {{_base_.view_pipeline2}}]),
        dict(type='PackInputs'),
    ]))
