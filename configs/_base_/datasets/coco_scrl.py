# SCRL pipeline on unlabeled COCO train2017 images (118k), as the paper's
# appendix COCO pre-training (kakaobrain/scrl issue #9: swap the ImageNet
# folder for an image folder). Same views and box sampler as ImageNet.
_base_ = ['./imagenet_scrl.py']

dataset_type = 'CustomDataset'  # mmpretrain's (no prefix: our
# transforms must resolve in the mmscrl scope)
data_root = 'data/coco/'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        data_prefix='train2017/',
        with_label=False,
        pipeline={{_base_.train_pipeline}}))
