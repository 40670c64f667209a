# ORL stage 3, ResNet-50 (Jiahao000/ORL configs/selfsup/orl/coco/stage3/
# r50_bs512_ep800.py): the stage-1 BYOL network (orl_stage1_r50.py: online
# backbone + projector, momentum target) with three predictors of the
# stage-1 predictor's shape (global, intra-RoI, inter-RoI). Trained from
# scratch (official pretrained=None).
_base_ = ['./orl_stage1_r50.py']

predictor = _base_.model.head.predictor
model = dict(
    _delete_=True,
    type='ORL',
    base_momentum=_base_.model.base_momentum,
    global_loss_weight=1.,
    local_intra_loss_weight=1.,
    local_inter_loss_weight=1.,
    data_preprocessor=_base_.model.data_preprocessor,
    backbone=_base_.model.backbone,
    neck=_base_.model.neck,
    global_head=predictor,
    local_intra_head=predictor,
    local_inter_head=predictor)
