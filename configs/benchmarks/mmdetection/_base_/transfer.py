# Pieces shared by the transfer configs of this folder (the detectron2
# transfer protocols of SCRL, MoCo, DenseCL, ORL and PixPro; see
# docs/transfer.md for the protocol of each config). Each config also
# inherits an mmdet config, so these names must not exist in mmdet's configs
# (mmengine refuses duplicate keys among bases); the configs place them.
custom_imports = dict(imports=['mmscrl'], allow_failed_imports=False)

# SyncBN in all configurable layers of the transfer protocol
transfer_norm_cfg = dict(type='SyncBN', requires_grad=True)
# the pre-trained weights; checkpoint is set by the launcher
# (tools/benchmarks/mmdetection/train.py --pretrained); None refuses to train
transfer_init_cfg = dict(type='mmscrl.PretrainedBackbone', checkpoint=None)
# backbone: all stages trained, BN not frozen, pre-trained weights
transfer_backbone = dict(
    frozen_stages=-1,
    norm_cfg=transfer_norm_cfg,
    norm_eval=False,
    init_cfg=transfer_init_cfg)
# multi-scale training: short side 640..800 (step 32), long side <= 1333
transfer_ms_resize = dict(
    type='RandomChoiceResize',
    scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768),
            (1333, 800)],
    keep_ratio=True)
# multi-scale training pipelines (boxes; boxes and masks); backend_args as
# mmdet's COCO base (None: local files)
transfer_box_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    transfer_ms_resize,
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
transfer_mask_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    transfer_ms_resize,
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]

# detectron2 SOLVER.WEIGHT_DECAY_NORM = 0 (all four official transfers): no
# weight decay on the weight and bias of the norm layers; other biases keep
# it (WEIGHT_DECAY_BIAS = WEIGHT_DECAY)
transfer_paramwise_cfg = dict(norm_decay_mult=0.)
# detectron2's default warm-up: linear from lr/1000 over 1000 iterations
transfer_warmup = dict(
    type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000)
# detectron2 TEST.PRECISE_BN (ENABLED True, NUM_ITER 200) of the MoCo,
# DenseCL, ORL and PixPro configs: BN statistics recomputed over 200
# training batches after the last iteration
# (mmscrl/engine/hooks/precise_bn_hook.py)
transfer_precise_bn = dict(type='mmscrl.DetPreciseBNHook', num_iters=200)
