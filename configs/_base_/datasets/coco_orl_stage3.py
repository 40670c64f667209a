# ORL stage 3 data (Jiahao000/ORL configs/selfsup/orl/coco/stage3/
# r50_bs512_ep800.py): per image and iteration, two 224 global views (the
# stage-1 BYOL pipelines), an intra-RoI pair (a filtered box + its jitter) and
# an inter-RoI pair (a mined RoI pair with a random kNN image), cut to 96x96
# (PIL bilinear) and augmented by the stage-1 pipelines without
# RandomResizedCrop. `ann_file` is the stage-2 correspondence file (our .npz
# or the official *_correspondence.json).
_base_ = ['./coco_orl_stage1.py']  # global views = the stage-1 pipelines

dataset_type = 'ORLDataset'
patch_size = 96
view_pipeline1 = _base_.view_pipeline1
view_pipeline2 = _base_.view_pipeline2
patch_pipeline1 = view_pipeline1[1:]  # no RandomResizedCrop
patch_pipeline2 = view_pipeline2[1:]

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ORLCropPatches', patch_size=patch_size, shift=(-0.5, 0.5),
         scale=(0.5, 2.), ratio=(0.5, 2.), iou_thr=0.5, max_attempts=200,
         fast=_base_.fast_views),  # pipeline.1.fast=False: reference resize
    dict(type='ORLMultiView',
         global_transforms=[view_pipeline1, view_pipeline2],
         patch_transforms=[patch_pipeline1, patch_pipeline2],
         fast=_base_.fast_views),  # pipeline.2.fast=False: reference ops
    # inputs: [img1, img2, ipatch1, ipatch2, kpatch1, kpatch2]
    dict(type='PackInputs', algorithm_keys=['inter_valid'],
         meta_keys=['sample_idx', 'img_path', 'knn_idx']),
]

train_dataloader = dict(  # loader settings of stage 1
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=_base_.data_root,
        ann_file='meta/train2017_10nn_instance_correspondence.npz',
        data_prefix='train2017/',
        topk_knn_image=10,
        pipeline=train_pipeline))
