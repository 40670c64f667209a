# SCRL two-view pipeline (as configs/_base_/datasets/imagenet_scrl.py) on
# the unlabeled demo images (tools/demo/generate_demo_data.py) at a small
# view size.
# The view size and the box minimum are scaled together from the official
# 224 px / 32 px (box_min_size = round(32 * img_size / 224)).
dataset_type = 'CustomDataset'
data_root = 'data/demo/'
img_size = 96
box_min_size = 14

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

view_pipeline1 = [
    dict(type='RandomResizedCropWithGeometry', scale=img_size,
         crop_ratio_range=(0.2, 1.), interpolation='bicubic',
         backend='pillow'),
    dict(type='RandomFlipWithGeometry', prob=0.5),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.2, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='ResizeBlur', factors=(1.1, 1.2, 1.5), prob=1.0),
    dict(type='Solarize', thr=128, prob=0.),
]
view_pipeline2 = [
    dict(type='RandomResizedCropWithGeometry', scale=img_size,
         crop_ratio_range=(0.2, 1.), interpolation='bicubic',
         backend='pillow'),
    dict(type='RandomFlipWithGeometry', prob=0.5),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.2, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='ResizeBlur', factors=(1.1, 1.2, 1.5), prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiViewWithGeometry', num_views=[1, 1],
         transforms=[view_pipeline1, view_pipeline2]),
    dict(type='SCRLBoxPairSampler', num_boxes=10, min_size=box_min_size,
         iou_thr=0.5, max_tries=50, fallback='keep_last'),
    dict(type='PackInputs',
         algorithm_keys=['scrl_boxes', 'scrl_box_valid'],
         meta_keys=['img_path', 'view_crop_bbox', 'view_flip',
                    'view_img_shape']),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='unlabeled/',
        with_label=False,
        pipeline=train_pipeline))
