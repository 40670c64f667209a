# Runtime of the 500-iteration demo pre-training runs (configs/demo): logs
# every 10 iterations, the EMA momentum and the box/image kNN accuracy, one
# checkpoint at the end, fixed seed, cudnn benchmark off (CPU),
# iteration-based logs, the model in the channels-last layout.
_base_ = ['./default_runtime.py']

custom_hooks = [
    # NHWC weights and activations: same computation, a faster CPU step
    # (1.2x for the SCRL demo step, tools/benchmarks/run.py --sections
    # channels_last); checkpoints are layout-free
    dict(type='ChannelsLastHook'),
    dict(type='EMAMomentumLoggerHook'),  # logs the EMA momentum
    # box-level + image-level kNN top-1 of the backbone (RoIAlign in the
    # ground-truth boxes): the labelled train split votes for the val split,
    # every 100 iterations and at the end (logged as knn/*). Its paths are
    # relative to the training dataset's data_root (the hook's default), so
    # train_dataloader.dataset.data_root moves the whole demo data folder
    dict(type='BoxKNNHook',
         ann_file='annotations/instances_train.json', img_dir='train/',
         val_ann_file='annotations/instances_val.json', val_img_dir='val/',
         interval=100, img_size=128),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=500, by_epoch=False,
                    max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
