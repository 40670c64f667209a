# ORL stage 1: BYOL views of unlabeled COCO train2017 images (Jiahao000/ORL
# configs/selfsup/orl/coco/stage1/r50_bs512_ep800.py). Asymmetric BYOL
# pipelines: blur p 1.0 / 0.1, solarization p 0.0 / 0.2. RandomResizedCrop
# uses PIL bilinear as official `interpolation=2` (mmpretrain's BYOL configs
# use bicubic). Normalisation is in the model's data preprocessor.
dataset_type = 'CustomDataset'  # mmpretrain's, unlabeled folder
data_root = 'data/coco/'
img_size = 224
# View transforms: fast_views=True runs the fast versions of these ops
# (same random samplers and geometry as the reference ops from the same seed,
# uint8 OpenCV / lookup-table / torch pixel work, < 1 grey level mean
# difference); fast_views = False runs the reference ops as written. Without
# editing this file: --cfg-options train_dataloader.dataset.pipeline.1.fast=False
fast_views = True


def _view_pipeline(blur_prob, solarize_prob):
    return [
        dict(type='RandomResizedCropWithGeometry', scale=img_size,
             crop_ratio_range=(0.08, 1.), interpolation='bilinear',
             backend='pillow'),
        dict(type='RandomFlipWithGeometry', prob=0.5),
        dict(type='RandomApply',
             transforms=[dict(type='ColorJitter', brightness=0.4,
                              contrast=0.4, saturation=0.2, hue=0.1)],
             prob=0.8),
        dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
             channel_weights=(0.114, 0.587, 0.2989)),
        dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
             magnitude_std='inf', prob=blur_prob),
        dict(type='Solarize', thr=128, prob=solarize_prob),
    ]


view_pipeline1 = _view_pipeline(blur_prob=1., solarize_prob=0.)
view_pipeline2 = _view_pipeline(blur_prob=0.1, solarize_prob=0.2)
del _view_pipeline

train_pipeline = [
    dict(type='LoadImageForViews'),  # decoded once, by the views
    # mmpretrain's MultiView, also recording each view's geometry
    dict(type='MultiViewWithGeometry', num_views=[1, 1],
         transforms=[view_pipeline1, view_pipeline2], fast=fast_views),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,  # x 8 GPUs = 512
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    # official: the last, smaller batch is kept (232 iterations per epoch
    # on train2017 at 8 x 64, 185.6k in 800 epochs)
    drop_last=False,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='train2017/',
        with_label=False,
        pipeline=train_pipeline))
