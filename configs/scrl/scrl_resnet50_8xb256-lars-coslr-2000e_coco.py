# SCRL ResNet-50 on unlabeled COCO train2017 (118k images), 2000 epochs, as
# the paper's appendix (Table A3, via kakaobrain/scrl issue #9). Its
# hyper-parameters were never published; following the authors' advice in
# issue #8 ("same config, only epochs and data path changed") this is the
# 200-epoch recipe (lr 0.45 per 256, wd 1e-6, tau_base 0.97, 10 warm-up
# epochs) with 2000 epochs: ~115k iterations at 2048, about the 125k of
# ImageNet 200 epochs.
_base_ = [
    '../_base_/models/scrl_r50.py',
    '../_base_/datasets/coco_scrl.py',
    '../_base_/schedules/lars_coslr-200e_scrl.py',
    '../_base_/default_runtime.py',
]

model = dict(base_momentum=0.03)  # tau_base 0.97
train_dataloader = dict(batch_size=256)
optim_wrapper = dict(optimizer=dict(lr=0.45 * 2048 / 256))
auto_scale_lr = dict(base_batch_size=2048)

max_epochs = 2000
warmup, cosine = _base_.param_scheduler
param_scheduler = [
    warmup,
    dict(cosine, T_max=max_epochs - _base_.warmup_epochs, end=max_epochs),
]
del warmup, cosine
train_cfg = dict(max_epochs=max_epochs)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=100, max_keep_ckpts=3))
