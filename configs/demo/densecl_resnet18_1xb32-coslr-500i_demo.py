# DenseCL on the demo images for tools/demo/run_all_demos.py: the DenseCL
# helper's demo (densecl_resnet18_1xb8-coslr-20i_demo.py:
# ResNet-18, official DenseCL views) at the size of the other demo runs --
# 96 px, batch 32, 500 iterations, queue 1024 (1000 images). Demo choice: SGD
# lr 0.12 (official 0.3 per 256 would give 0.0375 at batch 32, too slow for
# 500 iterations) with a 50-iteration warm-up; lambda warm-up (DenseCLHook)
# until iteration 50.
_base_ = ['./densecl_resnet18_1xb8-coslr-20i_demo.py']

img_size = 96
max_iters = 500

model = dict(queue_len=1024)
view_pipeline = [dict(_base_.view_pipeline[0], scale=img_size),
                 *_base_.view_pipeline[1:]]
load, multi_view, pack = _base_.train_dataloader.dataset.pipeline
train_dataloader = dict(
    batch_size=32,
    dataset=dict(pipeline=[
        load, dict(multi_view, transforms=[view_pipeline]), pack]))
del load, multi_view, pack
optim_wrapper = dict(optimizer=dict(lr=0.12))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters - 50, by_epoch=False,
         begin=50, end=max_iters),
]
train_cfg = dict(max_iters=max_iters)
custom_hooks = [
    dict(type='ChannelsLastHook'),  # as in _base_/demo_runtime.py
    dict(type='QueueLenCheckHook'),
    dict(type='DenseCLHook', start_iters=50),
    dict(type='EMAMomentumLoggerHook'),  # logs the (constant) EMA momentum
    # box-level + image-level kNN (as in _base_/demo_runtime.py; paths
    # relative to train_dataloader.dataset.data_root)
    dict(type='BoxKNNHook',
         ann_file='annotations/instances_train.json', img_dir='train/',
         val_ann_file='annotations/instances_val.json', val_img_dir='val/',
         interval=100, img_size=128),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False,
                    max_keep_ckpts=1))
randomness = dict(seed=0)
auto_scale_lr = dict(base_batch_size=32)
