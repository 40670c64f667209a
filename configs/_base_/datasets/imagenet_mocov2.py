# MoCo-v2 two-view pipeline (DenseCL and MoCo-v2 pre-training) on ImageNet-1k
# train, 32 images per GPU. Same as mmpretrain's imagenet_bs32_mocov2.py and
# the official DenseCL configs (WXinlong/DenseCL configs/selfsup/densecl):
# RandomResizedCrop 224 scale (0.2, 1) -> ColorJitter(0.4, 0.4, 0.4, 0.1)
# p 0.8 -> Grayscale p 0.2 -> Gaussian blur sigma ~ U[0.1, 2] p 0.5 -> flip,
# identical for both views; ImageNet normalisation in the preprocessor.
dataset_type = 'ImageNet'
data_root = 'data/imagenet/'

# View transforms: fast_views=True runs the fast versions of these ops
# (same random samplers and geometry as the reference ops from the same seed,
# uint8 OpenCV / lookup-table / torch pixel work, < 1 grey level mean
# difference); fast_views = False runs the reference ops as written. Without
# editing this file: --cfg-options train_dataloader.dataset.pipeline.1.fast=False
fast_views = True

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

view_pipeline = [
    dict(type='RandomResizedCropWithGeometry', scale=224, crop_ratio_range=(0.2, 1.),
         backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    # images load as BGR: these are the RGB luma weights in BGR order
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
         magnitude_std='inf', prob=0.5),
    dict(type='RandomFlipWithGeometry', prob=0.5),
]

train_pipeline = [
    dict(type='LoadImageForViews'),  # decoded once, by the views
    # mmpretrain's MultiView, also recording each view's geometry
    dict(type='MultiViewWithGeometry', num_views=2,
         transforms=[view_pipeline], fast=fast_views),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    drop_last=True,  # the queue needs full global batches
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
