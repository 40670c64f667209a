# The SCRL views of imagenet_scrl.py on the unlabeled demo images
# (tools/demo/generate_demo_data.py): only the view size and the box minimum
# differ, scaled together from the official 224 px / 32 px
# (box_min_size = round(32 * img_size / 224)); batch 32, 2 workers.
_base_ = ['./imagenet_scrl.py']

dataset_type = 'CustomDataset'
data_root = 'data/demo/'
img_size = 96
box_min_size = 14


def _resized(pipeline):  # RandomResizedCropWithGeometry to img_size
    return [dict(pipeline[0], scale=img_size), *pipeline[1:]]


view_pipeline1 = _resized(_base_.view_pipeline1)
view_pipeline2 = _resized(_base_.view_pipeline2)
load, multi_view, box_sampler, pack = _base_.train_pipeline
train_pipeline = [
    load,
    dict(multi_view, transforms=[view_pipeline1, view_pipeline2]),
    dict(box_sampler, min_size=box_min_size),
    pack,
]
del load, multi_view, box_sampler, pack

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
