# Protocol: mmpretrain's BYOL linear benchmark (not BYOL's own protocol)
#
# Linear probe on ImageNet-1k as mmpretrain's BYOL benchmark config: frozen
# ResNet-50, global average pooling, a linear classifier trained 90 epochs
# with LARS (lr 1.6, momentum 0.9, no weight decay) and cosine decay, batch
# 8 GPUs x 512; same augmentation and evaluation as the SGD probe. BYOL's own
# protocol (SGD Nesterov, lr 0.2 x B/256, 80 epochs, bicubic crops) is
# resnet50_linear-8xb128-nesterov-coslr-80e_in1k.py, SCRL's is
# resnet50_linear-8xb512-lars-nesterov-coslr-80e_in1k.py.
#
# The backbone comes from any mmscrl / released checkpoint through
# mmscrl.PretrainedBackbone (tools/benchmarks/classification/dist_train.sh).
_base_ = 'mmpretrain::byol/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py'  # noqa: E501

custom_imports = dict(imports=['mmscrl'], allow_failed_imports=False)

# zero_init_residual=False: mmpretrain's ResNet.init_weights otherwise zeroes
# the last BN weight of every block after any non-``Pretrained`` initializer
# has loaded it.
model = dict(
    backbone=dict(
        frozen_stages=4,
        zero_init_residual=False,
        init_cfg=dict(
            _delete_=True, type='mmscrl.PretrainedBackbone',
            checkpoint=None)))

# stop a diverging run (NaN/Inf loss term, parameter or buffer) before it
# writes a checkpoint (mmscrl/engine/hooks/non_finite_check_hook.py); a
# default hook, merged with those of the base config
default_hooks = dict(non_finite=dict(type='mmscrl.NonFiniteCheckHook'))
