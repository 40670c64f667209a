# Protocol: BYOL linear evaluation (deepmind-research byol/configs/eval.py)
#
# Linear probe on ImageNet-1k: frozen ResNet-50 (BN statistics in eval mode),
# global average pooling, a linear classifier trained 80 epochs on all
# 1,281,167 train images; SGD with Nesterov momentum 0.9, lr 0.2 x B / 256
# (B = 8 GPUs x 128 = 1024: lr 0.8), no weight decay, no warm-up, cosine
# decay to 0 per iteration; RandomResizedCrop 224 (scale 0.08-1) + flip,
# bicubic; test: short side 256 then centre crop 224, bicubic (BYOL crops
# 224/256 of the image, then resizes).
#
# The backbone comes from any mmscrl / released checkpoint through
# mmscrl.PretrainedBackbone (tools/benchmarks/classification/dist_train.sh).
_base_ = './resnet50_linear-8xb512-lars-nesterov-coslr-80e_in1k.py'

train_dataloader = dict(batch_size=128)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='mmscrl.SelfSupOptimWrapperConstructor',
    optimizer=dict(
        type='SGD',
        lr=0.2 * 1024 / 256,
        momentum=0.9,
        weight_decay=0.,
        nesterov=True))

max_epochs = 80
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=0.,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=5)
