# MoCo-v2 baseline on unlabeled COCO train2017 with DenseCL's COCO recipe
# (800 epochs, lr 0.3, batch 256; same data as _base_/datasets/
# coco_bs32_mocov2.py). See configs/densecl/README.md.
_base_ = ['./mocov2_resnet50_8xb32-coslr-200e_in1k.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='data/coco/',
        data_prefix='train2017/',
        with_label=False,
        pipeline={{_base_.train_pipeline}}))

optim_wrapper = dict(optimizer=dict(lr=0.3))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=800, eta_min=0., by_epoch=True,
         begin=0, end=800)
]
train_cfg = dict(max_epochs=800)
