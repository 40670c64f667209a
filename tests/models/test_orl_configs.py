# Copyright (c) mmscrl contributors. All rights reserved.
"""configs/orl: the stage-1/3 recipe (optimizer, lr schedule, EMA, model
shapes, init, pipelines) against the official ORL values (Jiahao000/ORL
configs/selfsup/orl/coco/stage{1,3}/r50_bs512_ep800.py)."""
import copy
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

from mmscrl.registry import MODELS, PARAM_SCHEDULERS

STAGE1 = 'configs/orl/orl_resnet50_8xb64-stage1-coslr-800e_coco.py'
STAGE3 = 'configs/orl/orl_resnet50_8xb64-stage3-coslr-800e_coco.py'


@pytest.fixture(autouse=True)
def mmscrl_scope():
    init_default_scope('mmscrl')


@pytest.mark.parametrize('path', [STAGE1, STAGE3])
def test_shared_recipe(repo_root, path):
    cfg = Config.fromfile(f'{repo_root}/{path}')
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.4, momentum=0.9, weight_decay=1e-4)
    assert 'paramwise_cfg' not in cfg.optim_wrapper  # wd on all params
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'  # official apex O1
    assert cfg.train_cfg.max_epochs == 800
    assert cfg.train_dataloader.batch_size * 8 == 512
    assert not cfg.train_dataloader.drop_last  # official keeps the last
    assert cfg.model.base_momentum == 0.01  # tau 0.99 -> 1, never 0.99
    assert cfg.model.backbone.depth == 50
    assert not cfg.model.backbone.zero_init_residual
    neck = cfg.model.neck
    assert (neck.in_channels, neck.hid_channels, neck.out_channels) == \
        (2048, 4096, 256)
    rrc = cfg.view_pipeline1[0]
    # mmpretrain's RandomResizedCrop that also records the geometry
    assert rrc.type == 'RandomResizedCropWithGeometry' and rrc.scale == 224
    views = cfg.train_dataloader.dataset.pipeline[1]
    if views.type != 'ORLCropPatches':  # stage 1 (stage 3: below)
        assert views.type == 'MultiViewWithGeometry' and views.fast is True
    assert rrc.crop_ratio_range == (0.08, 1.)
    assert (rrc.interpolation, rrc.backend) == ('bilinear', 'pillow')
    blur = [t.prob for p in (cfg.view_pipeline1, cfg.view_pipeline2)
            for t in p if t.type == 'GaussianBlur']
    sol = [t.prob for p in (cfg.view_pipeline1, cfg.view_pipeline2)
           for t in p if t.type == 'Solarize']
    assert blur == [1., 0.1] and sol == [0., 0.2]


def test_stage3_data_and_patches(repo_root):
    cfg = Config.fromfile(f'{repo_root}/{STAGE3}')
    ds = cfg.train_dataloader.dataset
    assert ds.type == 'ORLDataset' and ds.topk_knn_image == 10
    crop = ds.pipeline[1]
    assert crop.type == 'ORLCropPatches' and crop.patch_size == 96
    assert (crop.shift, crop.scale, crop.ratio, crop.iou_thr,
            crop.max_attempts) == ((-0.5, 0.5), (0.5, 2.), (0.5, 2.), 0.5,
                                   200)
    views = ds.pipeline[2]
    # patch pipelines = view pipelines without RandomResizedCrop
    for g, p in zip(views.global_transforms, views.patch_transforms):
        assert g[0].type == 'RandomResizedCropWithGeometry' and g[1:] == p
    assert views.fast is True and crop.fast is True  # fast ops (default)
    assert not cfg.model.get('pretrained')  # stage 3 from scratch


def test_lr_schedule_matches_mmcv_cosine_with_warmup(repo_root):
    """mmengine LinearLR (per iter, 4 epochs) x CosineAnnealingLR (per
    epoch) == mmcv 1.x CosineAnnealing(min_lr 0) + linear warm-up
    (warmup_ratio 1e-4, warmup_by_epoch) of the official config."""
    cfg = Config.fromfile(f'{repo_root}/{STAGE3}')
    epoch_len, max_epochs, base_lr = 5, cfg.train_cfg.max_epochs, 0.4
    param = torch.nn.Parameter(torch.zeros(1))
    optim = OptimWrapper(torch.optim.SGD([param], lr=base_lr))
    schedulers = [
        PARAM_SCHEDULERS.build(
            s, default_args=dict(optimizer=optim, epoch_length=epoch_len))
        for s in cfg.param_scheduler
    ]
    warmup_iters = 4 * epoch_len
    for epoch in list(range(7)) + ['jump']:
        if epoch == 'jump':  # advance to the last epochs
            for _ in range(7, max_epochs - 1):
                for s in schedulers:
                    if s.by_epoch:
                        s.step()
            epoch = max_epochs - 1
        for i in range(epoch_len):
            it = epoch * epoch_len + i
            regular = 0.5 * base_lr * (1 + math.cos(math.pi * epoch /
                                                    max_epochs))
            lr = optim.get_lr()['lr'][0]
            if it < warmup_iters:
                # mmcv: factor 1 - (1 - it / W)(1 - 1e-4) reaches 1 at W;
                # mmengine's LinearLR reaches 1 at W - 1 (slope 1/(W-1)):
                # at most W / (W - 1) higher during warm-up (0.1% on COCO,
                # W = 928), exact afterwards.
                mmcv = regular * (1 - (1 - it / warmup_iters) * (1 - 1e-4))
                mmengine = regular * (1e-4 + (1 - 1e-4) * it /
                                      (warmup_iters - 1))
                assert lr == pytest.approx(min(mmengine, regular), rel=1e-6)
                assert 1 - 1e-9 <= lr / mmcv <= warmup_iters / (
                    warmup_iters - 1) + 1e-9
            else:
                assert lr == pytest.approx(regular, rel=1e-6), (epoch, i)
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
        for s in schedulers:
            if s.by_epoch:
                s.step()


@pytest.mark.parametrize('path, heads', [
    (STAGE1, ('head', )),
    (STAGE3, ('global_head', 'local_intra_head', 'local_inter_head')),
])
def test_full_models_build(repo_root, path, heads):
    cfg = Config.fromfile(f'{repo_root}/{path}')
    model = MODELS.build(cfg.model)
    for name in heads:
        head = getattr(model, name)
        pred = getattr(head, 'predictor', head)
        assert (pred.fc0.in_features, pred.fc0.out_features,
                pred.fc1.out_features) == (256, 4096, 256)
        assert pred.fc0.bias is not None and pred.fc1.bias is None
    assert model.neck.fc1.bias is None and model.neck.bn_names == [None]
    assert model.target_net.momentum == 0.01


@pytest.mark.parametrize('path', [STAGE1, STAGE3])
def test_backbone_init_is_official_kaiming_fan_in(repo_root, path):
    """OpenSelfSup's ResNet.init_weights: Kaiming-normal fan_in convs and
    norms at 1 / 0 (mmpretrain's ResNet default would be fan_out)."""
    cfg = Config.fromfile(f'{repo_root}/{path}')
    backbone = copy.deepcopy(cfg.model.backbone)
    backbone.update(depth=18, norm_cfg=dict(type='BN'))  # small, no dist
    torch.manual_seed(0)
    net = MODELS.build(backbone)
    net.init_weights()
    # layer3.0.conv1: 256x128x3x3 -> fan_in 1152, fan_out 2304
    std = net.layer3[0].conv1.weight.std().item()
    assert abs(std - math.sqrt(2 / 1152)) < 0.05 * math.sqrt(2 / 1152)
    bn = net.layer3[0].bn1
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
