# PixPro two-view pipeline on ImageNet-1k train (labels unused), following
# zdaxie/PixPro contrast/data/transform.py get_transform('BYOL', crop=0.08,
# image_size=224) of the released scripts: per view RandomResizedCrop 224
# scale (0.08, 1) ratio (3/4, 4/3) PIL bilinear, flip 0.5, ColorJitter
# (0.4, 0.4, 0.2, 0.1) p 0.8, grayscale 0.2, Gaussian blur sigma U(0.1, 2)
# p 1.0 / 0.1, solarize (threshold 128) p 0.0 / 0.2. Each view's geometry
# (crop box, flip, original size) is recorded and packed: the model derives
# the official normalised crop coordinates from it.
dataset_type = 'ImageNet'  # mmpretrain's, resolved from the mmscrl scope
data_root = 'data/imagenet/'
img_size = 224

# View transforms: fast_views=True runs the fast versions of these ops
# (same random samplers and geometry as the reference ops from the same seed,
# uint8 OpenCV / lookup-table / torch pixel work, < 1 grey level mean
# difference); fast_views = False runs the reference ops as written. Without
# editing this file:
#   --cfg-options train_dataloader.dataset.pipeline.1.fast=False
fast_views = True

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)


def _view_pipeline(blur_prob, solarize_prob):
    return [
        dict(type='RandomResizedCropWithGeometry', scale=img_size,
             crop_ratio_range=(0.08, 1.),
             aspect_ratio_range=(3. / 4., 4. / 3.),
             interpolation='bilinear', backend='pillow'),
        dict(type='RandomFlipWithGeometry', prob=0.5),
        dict(type='RandomApply',
             transforms=[dict(type='ColorJitter', brightness=0.4,
                              contrast=0.4, saturation=0.2, hue=0.1)],
             prob=0.8),
        # images are BGR here (LoadImageFromFile); weights are B, G, R
        dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
             channel_weights=(0.114, 0.587, 0.2989)),
        # PIL ImageFilter.GaussianBlur(radius=sigma), sigma ~ U(0.1, 2.0)
        dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
             magnitude_std='inf', prob=blur_prob),
        dict(type='Solarize', thr=128, prob=solarize_prob),
    ]


view_pipeline1 = _view_pipeline(blur_prob=1.0, solarize_prob=0.)
view_pipeline2 = _view_pipeline(blur_prob=0.1, solarize_prob=0.2)
del _view_pipeline

train_pipeline = [
    dict(type='LoadImageForViews'),  # decoded once, by the views
    dict(type='MultiViewWithGeometry', num_views=[1, 1],
         transforms=[view_pipeline1, view_pipeline2], fast=fast_views),
    dict(type='PackInputs',
         algorithm_keys=['view_crop_bbox', 'view_homography'],
         meta_keys=['img_path', 'ori_shape']),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,  # official: drop_last=True
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
