# COCO-format detection on the labeled demo split
# (tools/demo/generate_demo_data.py): 128 px synthetic scenes, 5 shape
# classes, bbox evaluation with mmdet's CocoMetric.
# mmdet's CocoDataset, logging the annotations it drops
dataset_type = 'mmscrl.CheckedCocoDataset'
data_root = 'data/demo/'
metainfo = dict(classes=('disk', 'square', 'triangle', 'star', 'cross'))
img_scale = (128, 128)
# mmdet's classes carry their scope: inherited as 'mmscrl::_base_/...' or
# through a config inheriting 'mmscrl::demo/...', these dicts are built in
# the mmscrl scope, where 'PackDetInputs' does not exist and 'RandomFlip',
# 'Resize', 'LoadAnnotations' would be mmcv's (boxes not flipped/resized).
# mmcv's LoadImageFromFile and mmengine's samplers are found in every scope.

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='mmdet.Resize', scale=img_scale, keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='mmdet.PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmdet.Resize', scale=img_scale, keep_ratio=True),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='mmdet.PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='mmdet.AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=1),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='mmdet.CocoMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    metric='bbox',
    format_only=False)
test_evaluator = val_evaluator
