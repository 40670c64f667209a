# MoCo-v2 baseline on unlabeled COCO train2017 with DenseCL's COCO recipe
# (800 epochs, lr 0.3, batch 256), as
# configs/densecl/densecl_resnet50_8xb32-coslr-800e_coco.py.
# See configs/densecl/README.md.
_base_ = [
    '../_base_/models/mocov2_r50.py',
    '../_base_/datasets/coco_mocov2.py',
    '../_base_/schedules/sgd_coslr-800e_densecl.py',
    '../_base_/default_runtime.py',
]

custom_hooks = [dict(type='QueueLenCheckHook')]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
