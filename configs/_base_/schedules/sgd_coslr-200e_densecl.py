# DenseCL / MoCo-v2 ImageNet schedule (official densecl_imagenet_200ep.py):
# SGD lr 0.03 for batch 256, momentum 0.9, weight decay 1e-4 on all
# parameters; cosine to 0 stepped per epoch, no warm-up; 200 epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4))

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=200, eta_min=0., by_epoch=True,
         begin=0, end=200)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
