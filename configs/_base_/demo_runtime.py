# Runtime of the 500-iteration demo pre-training runs (configs/demo): logs
# every 10 iterations and the EMA momentum, one checkpoint at the end, fixed
# seed, cudnn benchmark off (CPU), iteration-based logs.
_base_ = ['./default_runtime.py']

custom_hooks = [dict(type='EMAMomentumLoggerHook')]  # logs the EMA momentum
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=500, by_epoch=False,
                    max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
