# SCRL 1000-epoch schedule (kakaobrain/scrl config/scrl_1000ep.yaml, "the
# hyperparameters adopted in the official BYOL implementation"): lr 0.2 per
# 256, wd 1.5e-6; otherwise as the 200-epoch schedule.
_base_ = ['./scrl_lars_coslr-200e.py']

optim_wrapper = dict(optimizer=dict(lr=0.2, weight_decay=1.5e-6))

warmup_epochs = 10
max_epochs = 1000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0., by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
