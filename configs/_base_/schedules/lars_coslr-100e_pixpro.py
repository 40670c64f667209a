# PixPro 100-epoch schedule (zdaxie/PixPro tools/pixpro_base_r50_100ep.sh,
# main_pretrain.py, contrast/lars.py, contrast/lr_scheduler.py): LARS (trust
# 0.001, eps 1e-8) on SGD momentum 0.9, lr 1.0 per 256 (set lr =
# total_batch / 256 in the full config; 4.0 at 8 x 128), wd 1e-5. Every 1-D
# parameter (all BN weights/biases and all conv biases: projector, PPM g,
# instance heads) skips LARS and weight decay. 5-epoch linear warm-up from
# lr / 100, then cosine to 1e-6, both per iteration. Mixed precision (the
# official apex O1 -> AMP with dynamic loss scale).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    # AmpOptimWrapper on a GPU; fp32 OptimWrapper with one log line on CPU
    # (mmscrl/engine/optim_wrapper_constructor.py)
    constructor='SelfSupOptimWrapperConstructor',
    optimizer=dict(type='LARS', lr=1.0, momentum=0.9, weight_decay=1e-5,
                   eta=0.001, eps=1e-8),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            # ResNet shortcut BN (mmpretrain names it downsample.1)
            'downsample.1': dict(decay_mult=0, lars_exclude=True),
        }))

warmup_epochs = 5
max_epochs = 100
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=1e-6, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
