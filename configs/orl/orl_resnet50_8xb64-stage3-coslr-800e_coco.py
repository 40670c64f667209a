# ORL stage 3: object-level BYOL on COCO train2017 from scratch, 800 epochs,
# 8 x 64, with the stage-2 correspondence file (see README.md).
_base_ = [
    '../_base_/models/orl_stage3_r50.py',
    '../_base_/datasets/coco_orl_stage3.py',
    '../_base_/schedules/sgd_coslr-800e_orl.py',
    '../_base_/default_runtime.py',
]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10,
                                     max_keep_ckpts=3))
