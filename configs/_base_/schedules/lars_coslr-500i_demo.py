# The SCRL LARS recipe (lars_coslr-200e_scrl.py) shrunk to the 500-iteration
# demo runs (BYOL/SCRL/ORL demos, batch 32): the same LARS parameter groups,
# fp32 (plain OptimWrapper; the demos run on CPU), lr 0.3 (official 0.45 per
# 256 would be 0.056 at batch 32, too slow for 500 iterations), linear
# warm-up for 50 iterations then cosine to 0, per iteration.
_base_ = ['./lars_coslr-200e_scrl.py']

max_iters = 500
warmup_iters = 50

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor=_base_.optim_wrapper.constructor,  # one line for target_net
    optimizer=dict(_base_.optim_wrapper.optimizer, lr=0.3),
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters,
         eta_min=0., by_epoch=False, begin=warmup_iters, end=max_iters),
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                 max_iters=max_iters)
auto_scale_lr = dict(base_batch_size=32)
