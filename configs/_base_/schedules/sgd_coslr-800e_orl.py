# ORL stage 1 and stage 3 schedule (Jiahao000/ORL, identical in both):
# SGD lr 0.4 (batch 512), momentum 0.9, weight decay 1e-4 on ALL parameters
# (no paramwise options, no LARS); fp16 (official apex O1 -> native AMP).
# The constructor builds exactly this AmpOptimWrapper on a GPU; on a CPU
# it trains in fp32 with OptimWrapper, saying so in one log line
# (mmscrl/engine/optim_wrapper_constructor.py).
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='SelfSupOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=0.4, momentum=0.9, weight_decay=1e-4))

# mmcv 1.x CosineAnnealing (min_lr 0) stepped per EPOCH over all 800 epochs,
# multiplied during the first 4 epochs by a per-iteration linear warm-up from
# 1e-4 (mmcv `warmup_ratio`, `warmup_by_epoch`). Both schedulers are chained
# multiplicatively, which reproduces mmcv's
#     lr = cos_lr(epoch) * (1 - (1 - i / W) * (1 - 1e-4)),  i < W iterations,
# except that mmengine's LinearLR reaches factor 1 at i = W - 1 instead of W
# (at most W / (W - 1) higher during warm-up: +0.1% for COCO, W = 928).
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=4,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=800, eta_min=0., by_epoch=True,
         begin=0, end=800),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=800)
auto_scale_lr = dict(base_batch_size=512)
