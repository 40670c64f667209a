# Copyright (c) mmscrl contributors. All rights reserved.
"""Every transfer config against the official protocol it reproduces.

Each shipped transfer config is resolved and its protocol settings (box
head, norm of each part, frozen stages, weight decay on norms, PreciseBN,
warm-up, schedule, lr, batch, scales, pixel statistics, "difficult"
handling, metric; for linear probes optimizer, schedule, batch and crops)
are compared with ``OFFICIAL``, the values of the official code, written
here with their sources. A setting may differ only where ``KEPT`` lists the
config's value and the reason (the same list is docs/transfer.md's table of
remaining differences); a kept difference that no longer differs fails too,
so neither the configs nor the list can drift silently.
"""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCH = osp.join(REPO, 'configs', 'benchmarks')

GPUS = 8  # every config is written for 8 GPUs (4 for segmentation)
D2_COCO_TRAIN = list(range(640, 801, 32))  # Base-RCNN-FPN / C4 COCO
D2_VOC_TRAIN = list(range(480, 801, 32))  # pascal_voc_R_50_C4_24k
RGB = ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375], True)

# ----------------------------------------------------------- official ---
# detectron2 defaults (config/defaults.py) that every detection protocol
# keeps: SGD momentum 0.9, wd 1e-4, WEIGHT_DECAY_NORM 0, warm-up linear from
# lr/1000 (WARMUP_FACTOR) over WARMUP_ITERS, batch 16, lr 0.02 (the
# Base-RCNN configs), test short side 800 / long side 1333.
_D2 = dict(
    optimizer=('SGD', 0.02, 0.9, 1e-4),
    norm_decay_mult=0.,
    warmup=(0.001, 1000),
    batch=16,
    max_size=1333,
    test_short=800,
    pixels=RGB,
    style='pytorch',
    rpn_norm=None,
)
OFFICIAL = {
    # kakaobrain/scrl README: detectron2 faster/mask_rcnn_R_50_FPN_1x with
    # SyncBN "for all the configurable layers", defaults otherwise
    'scrl_fpn': dict(
        _D2,
        box_head='Shared2FCBBoxHead',
        backbone_norm='SyncBN',
        neck_norm='SyncBN',
        box_head_norm=None,  # 2fc: ROI_BOX_HEAD.NORM acts on convs only
        mask_head_norm='SyncBN',
        frozen_stages=1,  # MODEL.BACKBONE.FREEZE_AT 2 (stem + res2)
        precise_bn=None,  # TEST.PRECISE_BN.ENABLED False
        schedule=('iters', 90000, [60000, 80000]),
        train_short=D2_COCO_TRAIN,
        metric='CocoMetric',
    ),
    # DenseCL R_50_FPN_1x_infomin.yaml, ORL R_50_FPN_1x.yaml, PixPro
    # COCO_R_50_FPN_1x_PixPro.yaml: SyncBN in backbone, FPN, 4conv1fc box
    # head and mask head, FREEZE_AT 0, PRECISE_BN (NUM_ITER 200)
    'densecl_fpn': dict(
        _D2,
        box_head='Shared4Conv1FCBBoxHead',
        backbone_norm='SyncBN',
        neck_norm='SyncBN',
        box_head_norm='SyncBN',
        mask_head_norm='SyncBN',
        frozen_stages=-1,
        precise_bn=200,
        schedule=('iters', 90000, [60000, 80000]),
        train_short=D2_COCO_TRAIN,
        metric='CocoMetric',
    ),
    # the same at 2x (180k iterations, steps 120k/160k)
    'densecl_fpn_2x': dict(
        _D2,
        box_head='Shared4Conv1FCBBoxHead',
        backbone_norm='SyncBN',
        neck_norm='SyncBN',
        box_head_norm='SyncBN',
        mask_head_norm='SyncBN',
        frozen_stages=-1,
        precise_bn=200,
        schedule=('iters', 180000, [120000, 160000]),
        train_short=D2_COCO_TRAIN,
        metric='CocoMetric',
    ),
    # MoCo/DenseCL/PixPro Base-RCNN-C4-BN.yaml: Res5ROIHeadsExtraNorm (res5
    # + an extra norm), SyncBN, FREEZE_AT 0, PRECISE_BN; COCO 1x
    'moco_c4_coco': dict(
        _D2,
        box_head='BBoxHead',  # res5 + average pooling + predictors
        backbone_norm='SyncBN',
        res5_head='ResLayerExtraNorm',
        res5_norm='SyncBN',
        mask_head_norm=None,
        frozen_stages=-1,
        precise_bn=200,
        schedule=('iters', 90000, [60000, 80000]),
        train_short=D2_COCO_TRAIN,
        metric='CocoMetric',
    ),
    # pascal_voc_R_50_C4_24k(_moco/_PixPro).yaml on Base-RCNN-C4-BN.yaml;
    # detectron2's VOC loader keeps "difficult" objects for training, its
    # PascalVOCDetectionEvaluator reports VOC07 11-point AP over IoU
    # 0.50:0.95, AP50 and AP75
    'moco_c4_voc': dict(
        _D2,
        box_head='BBoxHead',
        backbone_norm='SyncBN',
        res5_head='ResLayerExtraNorm',
        res5_norm='SyncBN',
        frozen_stages=-1,
        precise_bn=200,
        warmup=(0.001, 100),
        schedule=('iters', 24000, [18000, 22000]),
        train_short=D2_VOC_TRAIN,
        difficult_in_training=True,
        metric='mmscrl.VOCCocoStyleMetric',
    ),
    # no published protocol: mmdet's RetinaNet 1x on the shared settings
    # (detectron2's Base-RetinaNet: lr 0.01, 90k iterations)
    'retinanet': dict(
        _D2,
        optimizer=('SGD', 0.01, 0.9, 1e-4),
        box_head='RetinaHead',
        backbone_norm='SyncBN',
        neck_norm='SyncBN',
        frozen_stages=-1,
        precise_bn=None,
        schedule=('iters', 90000, [60000, 80000]),
        train_short=D2_COCO_TRAIN,
        metric='CocoMetric',
    ),
}
DET = {  # config under configs/benchmarks/mmdetection/ -> protocol
    'coco/faster-rcnn_r50_fpn_ms-1x_coco.py': 'scrl_fpn',
    'coco/mask-rcnn_r50_fpn_2fc-ms-1x_coco.py': 'scrl_fpn',
    'coco/mask-rcnn_r50_fpn_ms-1x_coco.py': 'densecl_fpn',
    'coco/mask-rcnn_r50_fpn_ms-2x_coco.py': 'densecl_fpn_2x',
    'coco/mask-rcnn_r50-c4_ms-1x_coco.py': 'moco_c4_coco',
    'voc0712/faster-rcnn_r50-c4_ms-24k_voc0712.py': 'moco_c4_voc',
    'coco/retinanet_r50_fpn_ms-1x_coco.py': 'retinanet',
}
# the epoch schedules kept from mmselfsup (12 epochs of the 117,266 COCO
# train2017 images with annotations at batch 16 = 87,950 iterations, 2.3 %
# fewer than 90k; steps at 58,633 and 80,620)
_EPOCHS_1X = ('epochs', 12, [8, 11])
KEPT = {
    'coco/mask-rcnn_r50_fpn_ms-1x_coco.py': dict(schedule=_EPOCHS_1X),
    'coco/mask-rcnn_r50_fpn_ms-2x_coco.py': dict(
        schedule=('epochs', 24, [16, 22])),
    'coco/mask-rcnn_r50-c4_ms-1x_coco.py': dict(schedule=_EPOCHS_1X),
    'coco/retinanet_r50_fpn_ms-1x_coco.py': dict(schedule=_EPOCHS_1X),
}


# ------------------------------------------------------------ extract ---
def _norm(node):
    cfg = node.get('norm_cfg') if node is not None else None
    return cfg['type'] if cfg else None


def _resize_short_sides(pipeline):
    for t in pipeline:
        if t['type'] == 'RandomChoiceResize':
            return [min(s) for s in t['scales']], max(
                max(s) for s in t['scales'])
        if t['type'] == 'Resize':
            return [min(t['scale'])], max(t['scale'])
    raise AssertionError(f'no resize in {pipeline}')


def _train_datasets(cfg):
    ds = cfg.train_dataloader.dataset
    return list(ds.datasets) if ds.type == 'ConcatDataset' else [ds]


def _train_dataset(cfg):
    return _train_datasets(cfg)[0]


def _difficult_in_training(cfg):
    """Whether every VOC training dataset trains on "difficult" objects;
    None for COCO."""
    kinds = set()
    for ds in _train_datasets(cfg):
        if ds.type in ('VOCDataset', 'mmdet.VOCDataset'):
            # mmdet's XMLDataset sets ignore_flag=1 on every difficult object
            kinds.add(False)
        elif ds.type == 'mmscrl.VOCKeepDifficultDataset':
            kinds.add(ds.get('keep_difficult', True))
        elif 'VOC' in ds.type:
            raise AssertionError(f'unknown VOC dataset type {ds.type}')
    assert len(kinds) <= 1, f'VOC07 and VOC12 handled differently: {kinds}'
    return kinds.pop() if kinds else None


def det_settings(cfg):
    """The protocol settings of a resolved mmdet config."""
    m = cfg.model
    roi = m.get('roi_head')
    box = roi.bbox_head if roi else m.bbox_head
    opt = cfg.optim_wrapper.optimizer
    warm, steps = cfg.param_scheduler
    loop = cfg.train_cfg
    if loop.get('type') == 'IterBasedTrainLoop':
        assert not steps.by_epoch and steps.end == loop.max_iters
        schedule = ('iters', loop.max_iters, list(steps.milestones))
    else:
        assert steps.by_epoch and steps.end == loop.max_epochs
        schedule = ('epochs', loop.max_epochs, list(steps.milestones))
    assert warm.type == 'LinearLR' and not warm.by_epoch and warm.begin == 0
    precise = [
        h for h in cfg.get('custom_hooks', [])
        if h['type'] == 'mmscrl.DetPreciseBNHook'
    ]
    short, long = _resize_short_sides(_train_dataset(cfg).pipeline)
    test_short, test_long = _resize_short_sides(
        cfg.test_dataloader.dataset.pipeline)
    assert test_long == long
    dp = m.data_preprocessor
    out = dict(
        box_head=box.type,
        backbone_norm=_norm(m.backbone),
        rpn_norm=_norm(m.get('rpn_head')),
        frozen_stages=m.backbone.frozen_stages,
        norm_decay_mult=cfg.optim_wrapper.get('paramwise_cfg', {}).get(
            'norm_decay_mult', 1.),
        precise_bn=precise[0].get('num_iters', 200) if precise else None,
        warmup=(warm.start_factor, warm.end),
        schedule=schedule,
        optimizer=(opt.type, opt.lr, opt.momentum, opt.weight_decay),
        batch=cfg.train_dataloader.batch_size * GPUS,
        train_short=short,
        max_size=long,
        test_short=test_short[0],
        pixels=(list(dp.mean), list(dp.std), dp.bgr_to_rgb),
        style=m.backbone.style,
        metric=cfg.val_evaluator.type,
    )
    assert m.backbone.norm_eval is False
    if m.get('neck') is not None:
        out['neck_norm'] = _norm(m.neck)
    if roi is not None and 'shared_head' in roi:
        out['res5_head'] = roi.shared_head.type
        out['res5_norm'] = _norm(roi.shared_head)
        assert roi.shared_head.norm_eval is False
    elif roi is not None:
        # a norm only acts on a box head with convs (as detectron2's)
        convs = {'Shared2FCBBoxHead': 0, 'Shared4Conv1FCBBoxHead': 4}.get(
            box.type, box.get('num_shared_convs', 0))
        out['box_head_norm'] = _norm(box) if convs else None
    if roi is not None and 'mask_head' in roi:
        out['mask_head_norm'] = _norm(roi.mask_head)
    difficult = _difficult_in_training(cfg)
    if difficult is not None:
        out['difficult_in_training'] = difficult
        # the test split keeps them flagged, for the metric to skip them
        test = cfg.test_dataloader.dataset
        assert test.test_mode and test.type in (
            'VOCDataset', 'mmdet.VOCDataset',
            'mmscrl.VOCKeepDifficultDataset'), test
    return out


@pytest.mark.parametrize('path', sorted(DET))
def test_detection_protocol(path):
    cfg = Config.fromfile(osp.join(BENCH, 'mmdetection', path))
    got = det_settings(cfg)
    official = OFFICIAL[DET[path]]
    kept = KEPT.get(path, {})
    for key, value in kept.items():
        assert official[key] != value, (
            f'{path}: {key} is listed as a kept difference but equals the '
            'official value; remove it from KEPT and docs/transfer.md')
    want = dict(official, **kept)
    mask = 'mask_head' in cfg.model.get('roi_head', {})
    if not mask:
        want.pop('mask_head_norm', None)
    if DET[path] == 'moco_c4_coco':
        assert mask
    assert set(got) == set(want), (path, set(got) ^ set(want))
    diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not diff, f'{path}: (config, official) {diff}'


def test_every_transfer_config_has_a_protocol_header():
    """Line 1 of every transfer config names its protocol and source."""
    from glob import glob
    paths = [
        p for p in glob(osp.join(BENCH, '**', '*.py'), recursive=True)
        if '_base_' not in p
    ]
    assert len(paths) >= 13
    for path in paths:
        with open(path) as f:
            first = f.readline()
        assert first.startswith('# Protocol: ') and '(' in first, path
        assert len(first.rstrip('\n')) <= 79, path
    listed = {p for p in paths if 'mmdetection' in p}
    assert listed == {osp.join(BENCH, 'mmdetection', p) for p in DET}


def test_transfer_docs_list_every_config():
    with open(osp.join(REPO, 'docs', 'transfer.md')) as f:
        text = f.read()
    for path in DET:
        assert f'`{path}`' in text, path
    for key in ('Shared2FCBBoxHead', 'DetPreciseBNHook',
                'VOCCocoStyleMetric', 'norm_decay_mult'):
        assert key in text, key


# ------------------------------------------------------ segmentation ---
SEG = {
    # DenseCL's fork (WXinlong/mmsegmentation configs/densecl/): crop,
    # schedule, batch per GPU, SyncBN; the crops are padded with 0 after
    # normalisation (Normalize, then Pad(pad_val=0)), i.e. with the mean
    'voc12aug/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py': dict(
        crop=(512, 512), iters=20000, batch=4, norm='SyncBN', pad_val=0,
        seg_pad_val=255),
    'cityscapes/fcn_r50-d8_4xb2-40k_cityscapes-769x769.py': dict(
        crop=(769, 769), iters=40000, batch=2, norm='SyncBN', pad_val=0,
        seg_pad_val=255),
}


@pytest.mark.parametrize('path', sorted(SEG))
def test_segmentation_protocol(path):
    cfg = Config.fromfile(osp.join(BENCH, 'mmsegmentation', path))
    dp = cfg.model.data_preprocessor
    got = dict(
        crop=tuple(dp.size), iters=cfg.train_cfg.max_iters,
        batch=cfg.train_dataloader.batch_size,
        norm=cfg.model.backbone.norm_cfg.type, pad_val=dp.pad_val,
        seg_pad_val=dp.seg_pad_val)
    assert got == SEG[path]


def test_segmentation_pads_with_the_mean():
    """mmseg normalises before it pads (SegDataPreProcessor), so a pad
    value of 0 is the mean colour, as in DenseCL's fork."""
    from mmseg.models.data_preprocessor import SegDataPreProcessor
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    pre = SegDataPreProcessor(
        mean=mean, std=std, bgr_to_rgb=True, size=(8, 8), pad_val=0,
        seg_pad_val=255)
    img = torch.full((3, 4, 4), 255, dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(img_shape=(4, 4)))
    sample.gt_sem_seg = PixelData(data=torch.zeros(1, 4, 4, dtype=torch.long))
    out = pre(dict(inputs=[img], data_samples=[sample]), training=True)
    x = out['inputs'][0]
    assert x.shape == (3, 8, 8)
    assert torch.equal(x[:, 4:, :], torch.zeros(3, 4, 8))  # = the mean
    assert torch.allclose(x[:, 0, 0], (255 - torch.tensor(mean)) /
                          torch.tensor(std))


# ---------------------------------------------------------- linear ---
LINEAR = {
    # kakaobrain/scrl config eval: + optim/getters.py: SGD(nesterov,
    # momentum 0.9) in LARS (trust 0.001, eps 1e-8), lr 0.2 x 4096/256, wd
    # 0, bias excluded from LARS, 5 warm-up epochs then cosine, 80 epochs,
    # bicubic crops
    'imagenet/resnet50_linear-8xb512-lars-nesterov-coslr-80e_in1k.py': dict(
        optimizer=('LARS', 3.2, 0.9, 0., True), lars_excluded='bias',
        epochs=80, warmup_epochs=5, decay='CosineAnnealingLR', batch=4096,
        interpolation='bicubic'),
    # deepmind-research byol/configs/eval.py: SGD nesterov momentum 0.9,
    # lr 0.2 x B/256, no warm-up, cosine, 80 epochs, no weight decay;
    # bicubic resizing
    'imagenet/resnet50_linear-8xb128-nesterov-coslr-80e_in1k.py': dict(
        optimizer=('SGD', 0.8, 0.9, 0., True), lars_excluded=None,
        epochs=80, warmup_epochs=0, decay='CosineAnnealingLR', batch=1024,
        interpolation='bicubic'),
    # mmpretrain's BYOL benchmark (not BYOL's protocol): LARS 1.6, 90 ep
    'imagenet/resnet50_linear-8xb512-lars-coslr-90e_in1k.py': dict(
        optimizer=('LARS', 1.6, 0.9, 0., False), lars_excluded=None,
        epochs=90, warmup_epochs=0, decay='CosineAnnealingLR', batch=4096,
        interpolation='bilinear'),
    # MoCo v2 / DenseCL (mmpretrain mocov2 benchmark): SGD lr 30, steps
    'imagenet/resnet50_linear-8xb32-steplr-100e_in1k.py': dict(
        optimizer=('SGD', 30., 0.9, 0., False), lars_excluded=None,
        epochs=100, warmup_epochs=0, decay='MultiStepLR', batch=256,
        interpolation='bilinear'),
}


@pytest.mark.parametrize('path', sorted(LINEAR))
def test_linear_protocol(path):
    cfg = Config.fromfile(osp.join(BENCH, 'classification', path))
    opt = cfg.optim_wrapper.optimizer
    custom = cfg.optim_wrapper.get('paramwise_cfg', {}).get('custom_keys', {})
    excluded = [k for k, v in custom.items() if v.get('lars_exclude')]
    scheds = cfg.param_scheduler
    scheds = [scheds] if isinstance(scheds, dict) else scheds
    warm = [s for s in scheds if s.type == 'LinearLR']
    crop = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t.type == 'RandomResizedCrop'
    ][0]
    resize = [
        t for t in cfg.val_dataloader.dataset.pipeline
        if t.type == 'ResizeEdge'
    ][0]
    assert crop.get('interpolation', 'bilinear') == resize.get(
        'interpolation', 'bilinear')
    got = dict(
        optimizer=(opt.type, pytest.approx(opt.lr), opt.momentum,
                   opt.weight_decay, opt.get('nesterov', False)),
        lars_excluded=excluded[0] if excluded else None,
        epochs=cfg.train_cfg.max_epochs,
        warmup_epochs=warm[0].end if warm else 0,
        decay=scheds[-1].type,
        batch=cfg.train_dataloader.batch_size * GPUS,
        interpolation=crop.get('interpolation', 'bilinear'))
    assert got == LINEAR[path]
    assert cfg.model.backbone.frozen_stages == 4
    if warm:
        cos = scheds[-1]
        assert (cos.begin, cos.end, cos.T_max) == (
            warm[0].end, cfg.train_cfg.max_epochs,
            cfg.train_cfg.max_epochs - warm[0].end)
        assert cos.convert_to_iter_based and warm[0].convert_to_iter_based
        # SCRL's warm-up starts at lr / (5 epochs x 313 iterations)
        assert np.isclose(warm[0].start_factor, 1 / (5 * 313))
