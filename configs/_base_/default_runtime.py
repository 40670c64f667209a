# Runtime shared by every mmscrl config.
default_scope = 'mmscrl'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # stop a diverging run (NaN/Inf loss term, parameter or buffer) before
    # it writes a checkpoint; a default hook, so configs that set their own
    # custom_hooks keep it
    non_finite=dict(type='NonFiniteCheckHook'),
)

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_processor = dict(
    window_size=10,
    custom_cfg=[dict(data_src='', method='mean', window_size='global')],
)

log_level = 'INFO'
load_from = None
resume = False
# every rank and dataloader worker gets its own seed (official SCRL/ORL code
# correlated workers across GPUs; see the method READMEs)
randomness = dict(seed=None, deterministic=False, diff_rank_seed=True)
