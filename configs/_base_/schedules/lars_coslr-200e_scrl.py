# SCRL 200-epoch schedule (kakaobrain/scrl config/scrl_200ep.yaml, optim/*):
# LARS (trust 0.001, eps 1e-8) on SGD momentum 0.9, wd 1e-6, lr 0.45 per 256
# (set lr = 0.45 * total_batch / 256 in the full config), 10-epoch linear
# warm-up then cosine to 0, both per iteration. All BN parameters and biases
# skip LARS and weight decay (the official substring rule misses some BN
# weights) and step with lr * g (the official code applies lr twice,
# lr^2 * g); see configs/scrl/README.md.
# Mixed precision as the official default (AMP + dynamic loss scale). The
# constructor (mmscrl/engine/optim_wrapper_constructor.py) builds exactly
# this AmpOptimWrapper on a GPU; without one it trains in fp32 with
# OptimWrapper and says so in one log line (mmengine's AmpOptimWrapper
# asserts a GPU), and optim_wrapper.type=OptimWrapper works as an override.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='SelfSupOptimWrapperConstructor',
    optimizer=dict(type='LARS', lr=0.45, momentum=0.9, weight_decay=1e-6,
                   eta=0.001, eps=1e-8),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            # ResNet shortcut BN (mmpretrain names it downsample.1)
            'downsample.1': dict(decay_mult=0, lars_exclude=True),
        }))

warmup_epochs = 10
max_epochs = 200
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0., by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
