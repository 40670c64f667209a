# ORL stage 1: image-level BYOL on COCO train2017, 800 epochs, 8 x 64.
_base_ = [
    '../_base_/models/orl_stage1_r50.py',
    '../_base_/datasets/coco_orl_stage1.py',
    '../_base_/schedules/sgd_coslr-800e_orl.py',
    '../_base_/default_runtime.py',
]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10,
                                     max_keep_ckpts=3))
