# DenseCL ResNet-50, unlabeled COCO train2017, 800 epochs, 8 GPUs x 32,
# lr 0.3 (official densecl_coco_800ep.py). See configs/densecl/README.md.
_base_ = [
    '../_base_/models/densecl_r50.py',
    '../_base_/datasets/coco_mocov2.py',
    '../_base_/schedules/sgd_coslr-800e_densecl.py',
    '../_base_/default_runtime.py',
]

find_unused_parameters = False
custom_hooks = [dict(type='QueueLenCheckHook')]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
