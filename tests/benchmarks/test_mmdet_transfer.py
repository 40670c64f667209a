# Copyright (c) mmscrl contributors. All rights reserved.
"""Transfer benchmarks: the shipped mmdet configs, shrunk, train and evaluate.

For every detector family (Mask R-CNN FPN, Mask R-CNN C4, Faster R-CNN C4 on
VOC, RetinaNet) the shipped config is loaded, shrunk (ResNet-18, BN instead of
SyncBN, ~128 px images, 2 iterations) and trained from a full mmscrl
checkpoint through ``tools/benchmarks/mmdetection/train.py``; the final
validation runs the real CocoMetric (bbox + segm) / VOCMetric on a tiny
dataset generated here. Loading tests check that every backbone key comes
from the checkpoint, that the C4 shared head receives layer4, and that a
converted checkpoint gives the same backbone outputs.
"""
import json
import math
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
import torch

import mmscrl  # noqa: F401

SHIPPED = {  # under configs/benchmarks/mmdetection/
    'mask_fpn': 'coco/mask-rcnn_r50_fpn_ms-1x_coco.py',
    'mask_fpn_2x': 'coco/mask-rcnn_r50_fpn_ms-2x_coco.py',
    'faster_fpn': 'coco/faster-rcnn_r50_fpn_ms-1x_coco.py',
    'mask_fpn_2fc': 'coco/mask-rcnn_r50_fpn_2fc-ms-1x_coco.py',
    'retinanet': 'coco/retinanet_r50_fpn_ms-1x_coco.py',
    'mask_c4': 'coco/mask-rcnn_r50-c4_ms-1x_coco.py',
    'voc_c4': 'voc0712/faster-rcnn_r50-c4_ms-24k_voc0712.py',
}
CLASSES = ('car', 'person')
SIZE = 128


@pytest.fixture(scope='module')
def bench_train(load_tool):
    return load_tool('benchmarks/mmdetection/train.py')


# ----------------------------------------------------------------- data ---
def _objects(rng, n):
    """n random boxes (x1, y1, x2, y2) inside a SIZE x SIZE image."""
    boxes = []
    for _ in range(n):
        w, h = rng.integers(30, 70, size=2)
        x, y = rng.integers(2, SIZE - 2 - w), rng.integers(2, SIZE - 2 - h)
        boxes.append((int(x), int(y), int(x + w), int(y + h)))
    return boxes


def _draw(rng, boxes, labels):
    img = rng.integers(0, 60, size=(SIZE, SIZE, 3)).astype(np.uint8)
    colours = [(40, 200, 240), (230, 90, 30)]
    for (x1, y1, x2, y2), label in zip(boxes, labels):
        # an ellipse inside the box: the instance mask
        cv2.ellipse(img, (((x1 + x2) / 2, (y1 + y2) / 2),
                          (x2 - x1, y2 - y1), 0), colours[label], -1)
    return img


def _scene(rng, i, path):
    """Image ``i`` of a tiny set: 1-2 instances, written to ``path``.
    Returns the boxes and their labels."""
    boxes = _objects(rng, 1 + i % 2)
    labels = [(i + j) % 2 for j in range(len(boxes))]
    cv2.imwrite(str(path), _draw(rng, boxes, labels))
    return boxes, labels


@pytest.fixture(scope='module')
def coco_data(tmp_path_factory):
    """4 images with 1-2 ellipse instances (polygon masks), COCO json."""
    root = tmp_path_factory.mktemp('tiny_coco')
    (root / 'images').mkdir()
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i in range(4):
        boxes, labels = _scene(rng, i, root / 'images' / f'{i}.jpg')
        images.append(
            dict(id=i + 1, file_name=f'{i}.jpg', width=SIZE, height=SIZE))
        for (x1, y1, x2, y2), label in zip(boxes, labels):
            cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (
                y2 - y1) / 2
            poly = []
            for t in np.linspace(0, 2 * math.pi, 16, endpoint=False):
                poly += [cx + rx * math.cos(t), cy + ry * math.sin(t)]
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=i + 1,
                    category_id=label + 1,
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    area=math.pi * rx * ry,
                    segmentation=[poly],
                    iscrowd=0))
    ann_file = root / 'instances.json'
    ann_file.write_text(
        json.dumps(
            dict(
                info=dict(description='mmscrl tiny transfer test'),
                licenses=[],
                images=images,
                annotations=anns,
                categories=[
                    dict(id=i + 1, name=n) for i, n in enumerate(CLASSES)
                ])))
    return root


@pytest.fixture(scope='module')
def voc_data(tmp_path_factory):
    """A VOCdevkit/VOC2007 with 4 images (trainval = test)."""
    root = tmp_path_factory.mktemp('tiny_voc')
    voc = root / 'VOC2007'
    for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
        (voc / sub).mkdir(parents=True)
    rng = np.random.default_rng(1)
    ids = []
    for i in range(4):
        name = f'{i:06d}'
        ids.append(name)
        boxes, labels = _scene(rng, i, voc / 'JPEGImages' / f'{name}.jpg')
        ann = ET.Element('annotation')
        ET.SubElement(ann, 'filename').text = f'{name}.jpg'
        size = ET.SubElement(ann, 'size')
        for tag, v in (('width', SIZE), ('height', SIZE), ('depth', 3)):
            ET.SubElement(size, tag).text = str(v)
        for (x1, y1, x2, y2), label in zip(boxes, labels):
            obj = ET.SubElement(ann, 'object')
            ET.SubElement(obj, 'name').text = CLASSES[label]
            ET.SubElement(obj, 'difficult').text = '0'
            bb = ET.SubElement(obj, 'bndbox')
            # VOC boxes are 1-based inclusive
            for tag, v in (('xmin', x1 + 1), ('ymin', y1 + 1), ('xmax', x2),
                           ('ymax', y2)):
                ET.SubElement(bb, tag).text = str(v)
        ET.ElementTree(ann).write(voc / 'Annotations' / f'{name}.xml')
    for split in ('trainval', 'test'):
        (voc / 'ImageSets' / 'Main' / f'{split}.txt').write_text(
            '\n'.join(ids) + '\n')
    return root


# -------------------------------------------------------------- configs ---
def _small_scales(node):
    if node.get('type') == 'RandomChoiceResize':
        node['scales'] = [(160, 112), (160, 128)]
    elif node.get('type') == 'Resize':
        node['scale'] = (160, 128)


def _drop_null_backend_args(node):
    if 'backend_args' in node and node['backend_args'] is None:
        node.pop('backend_args')


def _set_dataset(ds, kind, data_root):
    if kind == 'voc':
        ds.update(data_root=str(data_root), data_prefix=dict(
            sub_data_root='VOC2007/'))
    else:
        ds.update(
            data_root=str(data_root),
            ann_file='instances.json',
            data_prefix=dict(img='images/'),
            metainfo=dict(classes=CLASSES))


@pytest.fixture(scope='module')
def shrink(walk_config, syncbn_to_bn):
    """``shrink(cfg, family, data_root, work_dir)``: the tiny-test
    variant of a shipped config."""

    def shrink(cfg, family, data_root, work_dir):
        model = cfg.model
        syncbn_to_bn(model)
        model.backbone.depth = 18
        if family in ('mask_fpn', 'retinanet', 'faster_fpn', 'mask_fpn_2fc'):
            model.neck.in_channels = [64, 128, 256, 512]
        if family in ('mask_c4', 'voc_c4'):
            model.roi_head.shared_head.depth = 18
            model.roi_head.bbox_roi_extractor.out_channels = 256
            model.roi_head.bbox_head.in_channels = 512
            model.rpn_head.in_channels = 256
            model.rpn_head.feat_channels = 256
            if 'mask_head' in model.roi_head:
                model.roi_head.mask_head.in_channels = 512
        if family != 'voc_c4':
            heads = [model.bbox_head] if family == 'retinanet' else [
                model.roi_head.bbox_head
            ] + ([model.roi_head.mask_head] if 'mask_head' in model.roi_head
                 else [])
            for head in heads:
                head.num_classes = len(CLASSES)
        if family != 'retinanet':
            # few RoIs: the 4conv head / C4 res5 on 512 RoIs dominate CPU time
            model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=64)
            model.train_cfg.rcnn.sampler.num = 32
            model.test_cfg.rpn.update(nms_pre=200, max_per_img=32)
            model.test_cfg.rcnn.max_per_img = 20
        else:
            # an untrained focal head scores ~0.01 < 0.05: keep every detection
            model.test_cfg.update(score_thr=0.0, nms_pre=100, max_per_img=20)

        kind = 'voc' if family == 'voc_c4' else 'coco'
        train_ds = cfg.train_dataloader.dataset
        if kind == 'voc':
            # VOC07+12 -> the single tiny VOC2007 trainval
            train_ds = train_ds.datasets[0]
            cfg.train_dataloader.dataset = train_ds
        _set_dataset(train_ds, kind, data_root)
        _set_dataset(cfg.val_dataloader.dataset, kind, data_root)
        if kind == 'voc':
            cfg.val_dataloader.dataset.ann_file = \
                'VOC2007/ImageSets/Main/test.txt'
        else:
            cfg.val_evaluator.ann_file = str(data_root / 'instances.json')
        for loader in (cfg.train_dataloader, cfg.val_dataloader):
            loader.update(num_workers=0, persistent_workers=False)
            walk_config(loader.dataset, _small_scales)
            walk_config(loader.dataset, _drop_null_backend_args)
        cfg.train_dataloader.batch_size = 2
        cfg.test_dataloader = None
        cfg.test_evaluator = None
        cfg.test_cfg = None
        cfg.train_cfg = dict(
            type='IterBasedTrainLoop', max_iters=2, val_interval=2)
        cfg.param_scheduler = [
            dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0,
                 end=2)
        ]
        cfg.optim_wrapper.optimizer.lr = 0.002
        cfg.default_hooks.checkpoint = dict(
            type='CheckpointHook', by_epoch=False, interval=2)
        cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
        cfg.log_processor = dict(by_epoch=False)
        for hook in cfg.get('custom_hooks', []):
            if hook['type'] == 'mmscrl.DetPreciseBNHook':
                hook['num_iters'] = 2  # after the 2nd (last) iteration
        cfg.env_cfg.dist_cfg = dict(backend='gloo')
        cfg.randomness = dict(seed=0)
        cfg.work_dir = str(work_dir)
        return cfg

    return shrink


# ----------------------------------------------------------------- tests ---
@pytest.mark.parametrize('family', list(SHIPPED))
def test_shipped_config_protocol(family, benchmark_config):
    """The protocol settings that make the numbers comparable (all of them
    against the official values: test_transfer_protocols.py)."""
    cfg = benchmark_config('mmdetection', SHIPPED[family])
    m = cfg.model
    scrl = family in ('faster_fpn', 'mask_fpn_2fc')
    assert cfg.default_scope == 'mmdet'
    assert 'mmscrl' in cfg.custom_imports.imports
    assert m.backbone.depth == 50
    # detectron2 FREEZE_AT: 2 by default (SCRL), 0 in Base-RCNN-C4-BN and
    # the DenseCL/ORL/PixPro FPN configs
    assert m.backbone.frozen_stages == (1 if scrl else -1)
    assert m.backbone.norm_eval is False
    assert m.backbone.norm_cfg == dict(type='SyncBN', requires_grad=True)
    assert m.backbone.init_cfg == dict(
        type='mmscrl.PretrainedBackbone', checkpoint=None)
    assert cfg.optim_wrapper.paramwise_cfg == dict(norm_decay_mult=0.)
    # pytorch-style RGB normalisation inside the model (VOC fix included)
    dp = m.data_preprocessor
    assert dp.mean == [123.675, 116.28, 103.53]
    assert dp.std == [58.395, 57.12, 57.375] and dp.bgr_to_rgb
    precise = [h for h in cfg.get('custom_hooks', [])
               if h.type == 'mmscrl.DetPreciseBNHook']
    assert len(precise) == (0 if scrl or family == 'retinanet' else 1)
    if family in ('mask_c4', 'voc_c4'):
        assert m.backbone.style == 'pytorch'
        head = m.roi_head.shared_head
        assert head.type == 'ResLayerExtraNorm' and head.style == 'pytorch'
        assert head.norm_cfg.type == 'SyncBN' and head.norm_eval is False
        assert head.init_cfg.type == 'mmscrl.PretrainedBackbone'
    else:
        assert m.neck.norm_cfg.type == 'SyncBN'
    if family.startswith('mask_fpn'):
        box = 'Shared2FCBBoxHead' if scrl else 'Shared4Conv1FCBBoxHead'
        assert m.roi_head.bbox_head.type == box
        assert m.roi_head.bbox_head.norm_cfg.type == 'SyncBN'
        assert m.roi_head.mask_head.norm_cfg.type == 'SyncBN'
    if family == 'voc_c4':
        assert cfg.train_cfg.max_iters == 24000
        assert cfg.param_scheduler[1].milestones == [18000, 22000]
        assert cfg.val_evaluator.type == 'mmscrl.VOCCocoStyleMetric'
        assert cfg.val_evaluator.use_07_metric is True
        assert len(cfg.train_dataloader.dataset.datasets) == 2  # 07 + 12
    else:
        ms = [
            t for t in cfg.train_dataloader.dataset.pipeline
            if t.type == 'RandomChoiceResize'
        ]
        assert ms and [s[1] for s in ms[0].scales] == list(
            range(640, 801, 32))
        assert cfg.param_scheduler[0].end == 1000  # warm-up iterations
        if scrl:
            assert cfg.train_cfg.max_iters == 90000
            assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
        else:
            epochs = 24 if family == 'mask_fpn_2x' else 12
            assert cfg.train_cfg.max_epochs == epochs


@pytest.mark.parametrize('family', ['mask_fpn', 'mask_c4', 'voc_c4',
                                    'retinanet'])
def test_train_and_evaluate(family, coco_data, voc_data, ssl_checkpoints,
                            tmp_path, shrink, bench_train, run_train_tool,
                            benchmark_config):
    """2 iterations from an mmscrl checkpoint, then the real metrics."""
    data_root = voc_data if family == 'voc_c4' else coco_data
    cfg = shrink(benchmark_config('mmdetection', SHIPPED[family]), family,
                 data_root, tmp_path)
    arch = 'c4' if family.endswith('c4') else 'fpn'
    runner = run_train_tool(bench_train, cfg, [
        '--pretrained', ssl_checkpoints['full'], '--arch', arch,
        '--work-dir', str(tmp_path / 'work')
    ])
    assert runner.iter == 2
    # PreciseBN ran after the last iteration where the protocol has it
    precise = [h for h in runner.hooks
               if type(h).__name__ == 'DetPreciseBNHook']
    if family == 'retinanet':
        assert not precise
    else:
        assert len(precise) == 1 and precise[0].updated_layers > 0
    metrics = runner.message_hub.log_scalars
    if family == 'voc_c4':
        for key in ('pascal_voc/AP', 'pascal_voc/AP50', 'pascal_voc/AP75'):
            value = metrics['val/' + key].current()
            assert 0.0 <= value <= 100.0, (key, value)
        # mmdet's name and unit for AP50
        assert abs(metrics['val/pascal_voc/mAP'].current() * 100 -
                   metrics['val/pascal_voc/AP50'].current()) < 1e-6
    else:
        keys = ['coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75']
        if family.startswith('mask'):
            keys += ['coco/segm_mAP', 'coco/segm_mAP_50']
        for key in keys:
            key = 'val/' + key
            assert key in metrics, f'{key} missing: {sorted(metrics)}'
            assert 0.0 <= metrics[key].current() <= 1.0, key


@pytest.fixture(scope='module')
def build_detector(bench_train, syncbn_to_bn, benchmark_config):
    """``build_detector(family, checkpoint)``: the shipped detector at
    ResNet-18 with BN, initialised from ``checkpoint``, in eval mode."""

    def build(family, checkpoint):
        import mmpretrain.models.utils.res_layer_extra_norm  # noqa: F401
        from mmdet.registry import MODELS as DET_MODELS
        from mmdet.utils import register_all_modules
        from mmengine.registry import DefaultScope
        register_all_modules(init_default_scope=False)
        cfg = benchmark_config('mmdetection', SHIPPED[family])
        bench_train.set_pretrained(cfg, checkpoint)
        syncbn_to_bn(cfg.model)
        cfg.model.backbone.depth = 18
        if family == 'mask_c4':
            cfg.model.roi_head.shared_head.depth = 18
        with DefaultScope.overwrite_default_scope('mmdet'):
            detector = DET_MODELS.build(cfg.model)
            detector.init_weights()
        return detector.eval()

    return build


def test_every_backbone_key_loaded(ssl_checkpoints, build_detector):
    """FPN: all backbone params/buffers equal the online backbone's."""
    ckpt, model = ssl_checkpoints['full'], ssl_checkpoints['model']
    det = build_detector('mask_fpn', ckpt)
    ref = model.backbone.state_dict()
    got = det.backbone.state_dict()
    assert set(got) == set(ref)
    for key in got:
        assert torch.equal(got[key], ref[key]), key
    # not the momentum target
    target = model.target_net.module[0].state_dict()
    assert not torch.equal(got['conv1.weight'], target['conv1.weight'])


def test_c4_shared_head_receives_layer4(ssl_checkpoints, build_detector):
    ckpt, model = ssl_checkpoints['full'], ssl_checkpoints['model']
    det = build_detector('mask_c4', ckpt)
    ref = model.backbone.state_dict()
    head = det.roi_head.shared_head
    layer4 = {k: v for k, v in head.state_dict().items()
              if k.startswith('layer4.')}
    assert set(layer4) == {k for k in ref if k.startswith('layer4.')}
    for key, value in layer4.items():
        assert torch.equal(value, ref[key]), key
    # the extra norm is new (BN init), the backbone has layers 1-3 only
    assert torch.equal(head.norm.weight, torch.ones(512))
    assert torch.equal(head.norm.bias, torch.zeros(512))
    got = det.backbone.state_dict()
    assert set(got) == {k for k in ref if not k.startswith('layer4.')}
    for key in got:
        assert torch.equal(got[key], ref[key]), key


@pytest.mark.parametrize('fmt', ['mmdet', 'torchvision'])
def test_converted_checkpoint_same_outputs(ssl_checkpoints, tmp_path, fmt,
                                           load_tool, build_detector):
    ckpt, model = ssl_checkpoints['full'], ssl_checkpoints['model']
    out = str(tmp_path / f'r18_{fmt}.pth')
    converter = load_tool('model_converters/extract_backbone.py')
    converter.convert(ckpt, out, fmt)
    torch.load(out, weights_only=True)
    x = torch.rand(2, 3, 96, 96)
    det_full = build_detector('mask_fpn', ckpt)
    det_conv = build_detector('mask_fpn', out)
    model.backbone.eval()
    with torch.no_grad():
        ref = model.backbone(x)
        a = det_full.backbone(x)
        b = det_conv.backbone(x)
    assert torch.equal(a[-1], ref[-1])
    for u, v in zip(a, b):
        assert torch.equal(u, v)


def test_missing_pretrained_refuses_to_train(build_detector):
    with pytest.raises(ValueError, match='has no checkpoint'):
        build_detector('faster_fpn', None)


def test_set_pretrained_paths_and_arch_check(bench_train, benchmark_config):
    cfg = benchmark_config('mmdetection', SHIPPED['voc_c4'])
    paths = bench_train.set_pretrained(cfg, 'x.pth')
    assert paths == ['model.backbone', 'model.roi_head.shared_head']
    assert cfg.model.roi_head.shared_head.init_cfg.checkpoint == 'x.pth'
    bench_train.check_arch(paths, 'c4')
    with pytest.raises(ValueError, match='use --arch c4'):
        bench_train.check_arch(paths, 'fpn')
    cfg = benchmark_config('mmdetection', SHIPPED['retinanet'])
    paths = bench_train.set_pretrained(cfg, 'random')
    assert paths == ['model.backbone'] and cfg.model.backbone.init_cfg is None
    with pytest.raises(ValueError, match='no roi_head.shared_head'):
        bench_train.check_arch(paths, 'c4')


@pytest.mark.parametrize('family', list(SHIPPED))
def test_shipped_config_builds_unchanged(family, benchmark_config):
    """The real R50 detectors (SyncBN, ResLayerExtraNorm, scoped init)."""
    import mmpretrain.models.utils.res_layer_extra_norm  # noqa: F401
    from mmdet.registry import MODELS as DET_MODELS
    from mmdet.utils import register_all_modules
    from mmengine.registry import WEIGHT_INITIALIZERS, DefaultScope
    register_all_modules(init_default_scope=False)
    cfg = benchmark_config('mmdetection', SHIPPED[family])
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        det = DET_MODELS.build(cfg.model)
        init = WEIGHT_INITIALIZERS.build(det.backbone.init_cfg)
    assert type(init).__name__ == 'PretrainedBackbone'
    assert any(
        isinstance(m, torch.nn.SyncBatchNorm) for m in det.backbone.modules())
    if family in ('mask_c4', 'voc_c4'):
        head = det.roi_head.shared_head
        assert type(head).__name__ == 'ResLayerExtraNorm'
        assert isinstance(head.norm, torch.nn.SyncBatchNorm)
        assert head.norm.num_features == 2048
        assert not hasattr(det.backbone, 'layer4')
