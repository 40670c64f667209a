# PixPro+ ("*" rows of the official README): the 100-epoch recipe plus the
# BYOL instance branch (dense projector 2048-4096-256 and predictor
# 256-4096-256 on the C5 map, average-pooled afterwards; the target has an
# EMA copy of the instance projector). The official repository ships no
# script for these rows, so the branch weight is not known; 1.0 (the two
# terms equally weighted) is used here. Change it with
# --cfg-options model.instance_loss_weight=<w>.
_base_ = ['./pixpro_resnet50_8xb128-lars-coslr-100e_in1k.py']

model = dict(
    instance_loss_weight=1.,
    instance_neck=dict(
        type='PixProMLP2d',
        in_channels=2048,
        hid_channels=4096,
        out_channels=256,
        norm_cfg=dict(type='SyncBN')),
    predictor=dict(
        type='PixProMLP2d',
        in_channels=256,
        hid_channels=4096,
        out_channels=256,
        norm_cfg=dict(type='SyncBN')))
