# ORL stage-3 data of coco_orl_stage3.py on the demo images
# (tools/demo/generate_demo_data.py, stage 2 by tools/demo/run_all_demos.py):
# global views 96 px (official 224) with crop scale (0.2, 1) as the BYOL/SCRL
# demos, RoI patches 48 px (official 96: the same 224:96 ratio, rounded up),
# 5 kNN images, batch 32, 2 workers. `ann_file` (the stage-2 correspondence
# file) is set by run_all_demos.py.
_base_ = ['./coco_orl_stage3.py']

data_root = 'data/demo/'
img_size = 96
patch_size = 48


def _resized(pipeline):  # RandomResizedCrop to img_size
    return [dict(pipeline[0], scale=img_size, crop_ratio_range=(0.2, 1.)),
            *pipeline[1:]]


view_pipeline1 = _resized(_base_.view_pipeline1)
view_pipeline2 = _resized(_base_.view_pipeline2)
load, crop_patches, multi_view, pack = _base_.train_pipeline
train_pipeline = [
    load,
    dict(crop_patches, patch_size=patch_size),
    dict(multi_view, global_transforms=[view_pipeline1, view_pipeline2]),
    pack,
]
del load, crop_patches, multi_view, pack

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    sampler=dict(type='InfiniteSampler'),
    dataset=dict(
        data_root=data_root,
        ann_file='orl_correspondence.npz',
        data_prefix='unlabeled/',
        topk_knn_image=5,
        pipeline=train_pipeline))
