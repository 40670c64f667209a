# MoCo-v2 two-view pipeline on unlabeled COCO train2017 images (118k), as the
# official densecl_coco_800ep.py (labels and boxes unused).
_base_ = ['./imagenet_mocov2.py']

dataset_type = 'CustomDataset'  # mmpretrain's image-folder dataset
data_root = 'data/coco/'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        data_prefix='train2017/',
        with_label=False,
        pipeline={{_base_.train_pipeline}}))
