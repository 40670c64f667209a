# MoCo-v2 baseline of the DenseCL paper: mmpretrain's MoCo with the same data,
# schedule, queue (65536 x 128), tau 0.2 and m 0.999 as
# configs/densecl/densecl_resnet50_8xb32-coslr-200e_in1k.py, and the same
# official init (Kaiming fan_in convs / Linears) so that the only difference
# is the dense branch. See configs/densecl/README.md.
_base_ = [
    '../_base_/models/mocov2_r50.py',
    '../_base_/datasets/imagenet_mocov2.py',
    '../_base_/schedules/sgd_coslr-200e_densecl.py',
    '../_base_/default_runtime.py',
]

custom_hooks = [dict(type='QueueLenCheckHook')]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
