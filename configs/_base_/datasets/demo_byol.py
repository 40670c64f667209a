# BYOL two-view pipeline on a folder of unlabeled demo images
# (tools/demo/generate_demo_data.py) at 64 px: the ORL stage-1 BYOL views
# (coco_orl_stage1.py) with mmpretrain's BYOL crop (scale (0.2, 1), bicubic);
# batch 8, 2 workers.
_base_ = ['./coco_orl_stage1.py']

dataset_type = 'mmpretrain.CustomDataset'
data_root = 'data/demo/'
img_size = 64

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)


def _resized(pipeline):  # RandomResizedCrop to img_size
    return [dict(pipeline[0], scale=img_size, crop_ratio_range=(0.2, 1.),
                 interpolation='bicubic'), *pipeline[1:]]


view_pipeline1 = _resized(_base_.view_pipeline1)
view_pipeline2 = _resized(_base_.view_pipeline2)
load, multi_view, pack = _base_.train_pipeline
train_pipeline = [
    load, dict(multi_view, transforms=[view_pipeline1, view_pipeline2]), pack]
del load, multi_view, pack

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='unlabeled/',
        pipeline=train_pipeline))
