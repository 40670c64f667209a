# PixPro ResNet-50, ImageNet-1k, 100 epochs, 8 GPUs x 128 images (1024), the
# released zdaxie/PixPro tools/pixpro_base_r50_100ep.sh: LARS lr 4.0
# (1.0 per 256), wd 1e-5, tau 0.99 -> 1, instance branch off. Other GPU
# counts: --auto-scale-lr (lr linear in the total batch).
_base_ = [
    '../_base_/models/pixpro_r50.py',
    '../_base_/datasets/imagenet_pixpro.py',
    '../_base_/schedules/lars_coslr-100e_pixpro.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=128)
optim_wrapper = dict(optimizer=dict(lr=1.0 * 1024 / 256))
auto_scale_lr = dict(base_batch_size=1024)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
