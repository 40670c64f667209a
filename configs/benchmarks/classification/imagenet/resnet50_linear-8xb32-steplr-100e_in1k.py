# Protocol: MoCo v2 / DenseCL linear probe (mmpretrain mocov2 benchmark)
#
# Linear probe on ImageNet-1k, the MoCo v2 / DenseCL protocol: frozen
# ResNet-50 (all 4 stages, BN in eval mode), global average pooling, a
# linear classifier trained 100 epochs with SGD lr 30 (momentum 0.9, no
# weight decay), lr x0.1 at epochs 60 and 80, batch 8 GPUs x 32,
# RandomResizedCrop 224 + flip; 224 center crop of the 256 short side at
# test; top-1/top-5 on val.
#
# The backbone comes from any mmscrl / released checkpoint through
# mmscrl.PretrainedBackbone (tools/benchmarks/classification/dist_train.sh
# CONFIG CHECKPOINT 8), instead of mmengine's Pretrained with the
# 'backbone.' prefix, which only reads full mmpretrain checkpoints.
_base_ = 'mmpretrain::mocov2/benchmarks/resnet50_8xb32-linear-steplr-100e_in1k.py'  # noqa: E501

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
