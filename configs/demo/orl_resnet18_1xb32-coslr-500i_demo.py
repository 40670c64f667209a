# ORL stage 3 on the demo images for tools/demo/run_all_demos.py, after
# stage 1 = configs/demo/byol_resnet18_1xb32-coslr-500i_demo.py and stage 2
# (tools/orl/{extract_knn,selective_search,generate_correspondence}.py with
# sizes scaled to 128 px images). Same backbone, projector/predictor sizes,
# LARS schedule, batch and iterations as the BYOL/SCRL demos (official ORL:
# SGD lr 0.4 per 512; the demo keeps one optimizer for the BYOL family so
# the runs differ only in their losses/data); data: demo_orl.py.
_base_ = [
    '../_base_/models/orl_stage3_r50.py',
    '../_base_/datasets/demo_orl.py',
    '../_base_/schedules/lars_coslr-500i_demo.py',
    '../_base_/demo_runtime.py',
]

_pred = dict(in_channels=128, hid_channels=1024, out_channels=128,
             norm_cfg=dict(type='BN1d'))
model = dict(
    base_momentum=0.03,  # 1 - tau (tau 0.97), as the BYOL/SCRL demos
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, hid_channels=1024, out_channels=128,
              norm_cfg=dict(type='BN1d')),
    global_head=_pred,
    local_intra_head=_pred,
    local_inter_head=_pred)
del _pred
