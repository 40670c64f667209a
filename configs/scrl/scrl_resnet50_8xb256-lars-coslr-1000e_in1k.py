# SCRL ResNet-50, ImageNet-1k, 1000 epochs (official 1000-epoch recipe: lr 0.2
# per 256, wd 1.5e-6, tau_base 0.996), 8 GPUs x 256 images (2048).
_base_ = [
    '../_base_/models/scrl_r50.py',
    '../_base_/datasets/imagenet_scrl.py',
    '../_base_/schedules/lars_coslr-1000e_scrl.py',
    '../_base_/default_runtime.py',
]

model = dict(base_momentum=0.004)  # tau_base 0.996
train_dataloader = dict(batch_size=256)
optim_wrapper = dict(optimizer=dict(lr=0.2 * 2048 / 256))
auto_scale_lr = dict(base_batch_size=2048)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=3))
