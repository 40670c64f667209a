# PixPro on the demo images, the counterpart of the SCRL demo pre-training
# (scrl_resnet18_1xb32-coslr-500i_demo.py): the ResNet-50 recipe (model,
# views, LARS groups) scaled down -- ResNet-18 (C5 = 3x3 at 96 px), dense
# projector 512-1024-128, BN instead of SyncBN (1 CPU process), the PixPro
# views of imagenet_pixpro.py at 96 px, batch 32, 500 iterations of the
# shared demo LARS schedule (lr 0.3, 50 warm-up iterations) with PixPro's
# weight decay 1e-5 and tau 0.99 -> 1.
_base_ = [
    '../_base_/models/pixpro_r50.py',
    '../_base_/datasets/imagenet_pixpro.py',
    '../_base_/schedules/lars_coslr-500i_demo.py',
    '../_base_/demo_runtime.py',
]

model = dict(
    base_momentum=0.01,  # 1 - tau_base (tau 0.99, official)
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, hid_channels=1024, out_channels=128,
              norm_cfg=dict(type='BN')))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-5))

dataset_type = 'CustomDataset'
data_root = 'data/demo/'
img_size = 96


def _resized(pipeline):  # RandomResizedCropWithGeometry to img_size
    return [dict(pipeline[0], scale=img_size), *pipeline[1:]]


view_pipeline1 = _resized(_base_.view_pipeline1)
view_pipeline2 = _resized(_base_.view_pipeline2)
_load, _multi_view, _pack = _base_.train_pipeline
train_pipeline = [
    _load,
    dict(_multi_view, transforms=[view_pipeline1, view_pipeline2]),
    _pack,
]
del _load, _multi_view, _pack

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    pin_memory=False,
    sampler=dict(type='InfiniteSampler'),
    drop_last=True,
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        data_prefix='unlabeled/',
        with_label=False,
        pipeline=train_pipeline))
