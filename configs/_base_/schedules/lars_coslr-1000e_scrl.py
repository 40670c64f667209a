# SCRL 1000-epoch schedule (kakaobrain/scrl config/scrl_1000ep.yaml, "the
# hyperparameters adopted in the official BYOL implementation"): lr 0.2 per
# 256, wd 1.5e-6; otherwise as the 200-epoch schedule.
_base_ = ['./lars_coslr-200e_scrl.py']

optim_wrapper = dict(optimizer=dict(lr=0.2, weight_decay=1.5e-6))

max_epochs = 1000
warmup, cosine = _base_.param_scheduler
param_scheduler = [
    warmup,
    dict(cosine, T_max=max_epochs - _base_.warmup_epochs, end=max_epochs),
]
del warmup, cosine
train_cfg = dict(max_epochs=max_epochs)
