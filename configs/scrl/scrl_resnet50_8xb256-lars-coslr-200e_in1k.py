# SCRL ResNet-50, ImageNet-1k, 200 epochs, 8 GPUs x 256 images (2048).
# Official: 32 V100 x 256 = 8192 at lr 14.4; here lr is scaled linearly from
# 0.45 per 256 (3.6 at 2048). Other GPU counts: --auto-scale-lr.
_base_ = [
    '../_base_/models/scrl_r50.py',
    '../_base_/datasets/imagenet_scrl.py',
    '../_base_/schedules/lars_coslr-200e_scrl.py',
    '../_base_/default_runtime.py',
]

model = dict(base_momentum=0.03)  # tau_base 0.97
train_dataloader = dict(batch_size=256)
optim_wrapper = dict(optimizer=dict(lr=0.45 * 2048 / 256))
auto_scale_lr = dict(base_batch_size=2048)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
