# SCRL on the demo images, the pre-training of tools/demo/run_demo.py: the
# ResNet-50 recipe (model, views, LARS) scaled down -- ResNet-18 (C5 = 3x3 at
# 96 px), projector/predictor 512-1024-128, BN instead of SyncBN (1 CPU
# process), 10 box pairs per image, batch 32, 500 iterations.
_base_ = [
    '../_base_/models/scrl_r50.py',
    '../_base_/datasets/demo_scrl.py',
    '../_base_/schedules/lars_coslr-500i_demo.py',
    '../_base_/demo_runtime.py',
]

model = dict(
    base_momentum=0.03,  # 1 - tau_base (tau 0.97, official 200-ep value)
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, hid_channels=1024, out_channels=128,
              norm_cfg=dict(type='BN1d')),
    predictor=dict(in_channels=128, hid_channels=1024, out_channels=128,
                   norm_cfg=dict(type='BN1d')))
