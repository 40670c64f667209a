# DenseCL COCO schedule (official densecl_coco_800ep.py): SGD lr 0.3 for
# batch 256 (10x the ImageNet lr; the log in WXinlong/DenseCL#6 shows
# 3.000e-01), momentum 0.9, weight decay 1e-4; cosine to 0 per epoch, no
# warm-up; 800 epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.3, momentum=0.9, weight_decay=1e-4))

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=800, eta_min=0., by_epoch=True,
         begin=0, end=800)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=800)
auto_scale_lr = dict(base_batch_size=256)
