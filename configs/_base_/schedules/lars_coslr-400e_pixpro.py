# PixPro 400-epoch schedule (zdaxie/PixPro tools/pixpro_base_r50_400ep.sh):
# the 100-epoch schedule (lars_coslr-100e_pixpro.py) run for 400 epochs,
# the same 5-epoch warm-up, cosine over the remaining 395 epochs.
_base_ = ['./lars_coslr-100e_pixpro.py']

max_epochs = 400
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=_base_.warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - _base_.warmup_epochs,
         eta_min=1e-6, by_epoch=True, begin=_base_.warmup_epochs,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
