# Copyright (c) mmscrl contributors. All rights reserved.
"""Segmentation transfer: the shipped mmseg configs, shrunk, train and
evaluate on the demo scenes' semantic maps.

The VOC12aug and Cityscapes FCN configs are loaded, shrunk (ResNet-18, BN
instead of SyncBN, 64 px demo images, 2 iterations) and trained through
``tools/benchmarks/mmsegmentation/train.py`` from a full mmscrl-layout
training checkpoint or from its ``extract_backbone.py`` output; the final
validation runs mmseg's real ``IoUMetric`` (whole-image inference for VOC,
sliding windows for Cityscapes).
"""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

import mmscrl  # noqa: F401
from mmscrl.demo.generator import (CLASSES, generate_demo_dataset,
                                   render_scene, semantic_map)

SHIPPED = {  # under configs/benchmarks/mmsegmentation/
    'voc12aug': 'voc12aug/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py',
    'cityscapes': 'cityscapes/fcn_r50-d8_4xb2-40k_cityscapes-769x769.py',
}
# the schedule and data protocol of each: iterations, crop, images per GPU,
# classes, inference mode
PROTOCOL = {
    'voc12aug': (20000, (512, 512), 4, 21, 'whole'),
    'cityscapes': (40000, (769, 769), 2, 19, 'slide'),
}
SIZE = 64


@pytest.fixture(scope='module')
def seg_train(load_tool):
    return load_tool('benchmarks/mmsegmentation/train.py')


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('seg') / 'demo'
    generate_demo_dataset(
        str(root), num_unlabeled=0, num_train=4, num_val=2, img_size=SIZE)
    return str(root)


def _shrink_node(node):
    if node.get('type') in ('RandomResize', 'Resize') and 'scale' in node:
        node['scale'] = (2 * SIZE, SIZE)
    elif node.get('type') == 'RandomCrop':
        node['crop_size'] = (SIZE, SIZE)
    elif node.get('type') == 'Pad':
        node['size'] = (SIZE, SIZE)


def _demo_dataset(root, split, pipeline):
    return dict(
        type='BaseSegDataset',
        data_root=root,
        data_prefix=dict(img_path=split, seg_map_path=f'semantic/{split}'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        metainfo=dict(classes=('background', ) + CLASSES),
        pipeline=pipeline)


@pytest.fixture(scope='module')
def shrink(walk_config, syncbn_to_bn):
    """``shrink(cfg, data_root)``: the tiny-test variant of a shipped
    config."""

    def shrink(cfg, data_root):
        syncbn_to_bn(cfg._cfg_dict)
        walk_config(cfg._cfg_dict, _shrink_node)
        model = cfg.model
        model.backbone.depth = 18
        model.data_preprocessor.size = (SIZE, SIZE)
        num_classes = len(CLASSES) + 1
        model.decode_head.update(
            in_channels=512, channels=16, num_classes=num_classes)
        model.auxiliary_head.update(
            in_channels=256, channels=8, num_classes=num_classes)
        if model.test_cfg.mode == 'slide':
            model.test_cfg.update(crop_size=(48, 48), stride=(32, 32))
        train_pipeline = cfg.train_dataloader.dataset.get(
            'pipeline', None) or cfg.train_pipeline
        cfg.train_dataloader.update(
            batch_size=2, num_workers=0, persistent_workers=False)
        cfg.train_dataloader.dataset = _demo_dataset(data_root, 'train',
                                                     train_pipeline)
        for name in ('val_dataloader', 'test_dataloader'):
            cfg[name].update(num_workers=0, persistent_workers=False)
            cfg[name].dataset = _demo_dataset(data_root, 'val',
                                              cfg.test_pipeline)
        cfg.train_cfg.update(max_iters=2, val_interval=2)
        cfg.param_scheduler[0].end = 2
        cfg.default_hooks.logger.interval = 1
        cfg.default_hooks.checkpoint.interval = 100
        cfg.env_cfg.cudnn_benchmark = False
        return cfg

    return shrink


@pytest.mark.parametrize('name', sorted(SHIPPED))
def test_shipped_config_protocol(name, benchmark_config):
    """The DenseCL FCN protocol on top of mmseg's FCN config."""
    cfg = benchmark_config('mmsegmentation', SHIPPED[name])
    assert cfg.default_scope == 'mmseg'
    model = cfg.model
    assert model.type == 'EncoderDecoder' and model.pretrained is None
    bb = model.backbone
    # plain 7x7 stem of self-supervised ResNets, not mmseg's ResNetV1c
    assert bb.type == 'ResNet' and bb.depth == 50
    assert tuple(bb.dilations) == (1, 1, 2, 4)
    assert tuple(bb.strides) == (1, 2, 1, 1)
    assert bb.norm_cfg.type == 'SyncBN' and not bb.norm_eval
    assert bb.init_cfg.type == 'mmscrl.PretrainedBackbone'
    assert model.decode_head.type == 'FCNHead'
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', 0.01,
                                                                  0.9, 5e-4)
    assert cfg.param_scheduler[0].type == 'PolyLR'
    assert cfg.param_scheduler[0].power == 0.9
    iters, crop, batch, classes, mode = PROTOCOL[name]
    assert cfg.train_cfg.max_iters == iters
    assert tuple(cfg.crop_size) == crop
    assert cfg.train_dataloader.batch_size == batch
    assert model.decode_head.num_classes == classes
    assert model.test_cfg.mode == mode
    if name == 'voc12aug':
        seg_dirs = {
            d.data_prefix.seg_map_path
            for d in cfg.train_dataloader.dataset.datasets
        }
        assert seg_dirs == {'SegmentationClass', 'SegmentationClassAug'}
    else:
        assert model.decode_head.align_corners


def test_demo_semantic_maps_match_instances(demo_data):
    """Semantic maps = the union of the COCO visible masks, by category."""
    import json

    from pycocotools import mask as mask_utils
    with open(osp.join(demo_data, 'annotations', 'instances_val.json')) as f:
        coco = json.load(f)
    for img in coco['images']:
        seg = cv2.imread(
            osp.join(demo_data, 'semantic', 'val',
                     img['file_name'].replace('.jpg', '.png')),
            cv2.IMREAD_UNCHANGED)
        expected = np.zeros((SIZE, SIZE), np.uint8)
        for ann in coco['annotations']:
            if ann['image_id'] == img['id']:
                m = mask_utils.decode(ann['segmentation']).astype(bool)
                expected[m] = ann['category_id']
        np.testing.assert_array_equal(seg, expected)


def test_semantic_map_function():
    rng = np.random.default_rng(3)
    _, objects = render_scene(rng, 48)
    seg = semantic_map(objects, 48)
    assert seg.dtype == np.uint8 and seg.shape == (48, 48)
    for obj in objects:
        assert (seg[obj['mask']] == obj['category_id']).all()
    assert set(np.unique(seg)) <= set(range(len(CLASSES) + 1))
    with pytest.raises(ValueError, match='mask of shape'):
        semantic_map(objects, 32)


@pytest.mark.parametrize('name,source', [('voc12aug', 'extracted'),
                                         ('cityscapes', 'full')])
def test_train_and_evaluate(name, source, demo_data, ssl_checkpoints,
                            tmp_path, shrink, seg_train, run_train_tool,
                            benchmark_config):
    """2 iterations from an mmscrl checkpoint, then mmseg's IoUMetric."""
    cfg = shrink(benchmark_config('mmsegmentation', SHIPPED[name]),
                 demo_data)

    def holds_pretrained(runner):
        # the backbone holds the pre-trained weights before any step
        model = runner.model.module if hasattr(runner.model,
                                               'module') else runner.model
        model.init_weights()
        state = model.backbone.state_dict()
        for key, value in ssl_checkpoints['backbone'].items():
            if not key.endswith('num_batches_tracked'):
                torch.testing.assert_close(state[key], value, msg=key)

    runner = run_train_tool(seg_train, cfg, [
        '--pretrained', ssl_checkpoints[source], '--work-dir',
        str(tmp_path / 'work')
    ], before_train=holds_pretrained)
    assert runner.iter == 2
    metrics = runner.message_hub.log_scalars
    for key in ('val/mIoU', 'val/aAcc', 'val/mAcc'):
        assert key in metrics, f'{key} missing: {sorted(metrics)}'
        assert 0.0 <= metrics[key].current() <= 100.0, key


def test_pretrained_required_and_v1c_refused(tmp_path, seg_train,
                                             syncbn_to_bn, benchmark_config):
    """No checkpoint: refuse to train; a leftover model.pretrained: error."""
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS as SEG_MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = benchmark_config('mmsegmentation', SHIPPED['voc12aug'])
    cfg.model.backbone.depth = 18
    syncbn_to_bn(cfg.model)
    with DefaultScope.overwrite_default_scope('mmseg'):
        segmentor = SEG_MODELS.build(cfg.model)
        with pytest.raises(ValueError, match='has no checkpoint'):
            segmentor.init_weights()
    cfg = benchmark_config('mmsegmentation', SHIPPED['voc12aug'])
    cfg.model.pretrained = 'open-mmlab://resnet50_v1c'
    cfg_file = tmp_path / 'v1c.py'
    cfg.dump(str(cfg_file))
    with pytest.raises(ValueError, match='model.pretrained'):
        seg_train.main([str(cfg_file), '--pretrained', 'random'])


@pytest.mark.parametrize('reg_name', [
    'MODELS', 'TRANSFORMS', 'DATASETS', 'HOOKS', 'METRICS', 'OPTIMIZERS',
    'WEIGHT_INITIALIZERS'
])
def test_no_clash_with_mmseg(reg_name):
    """Our names are distinct from mmseg's (the seg configs mix scopes)."""
    import mmseg.registry as S
    from mmseg.utils import register_all_modules

    import mmscrl.registry as R
    register_all_modules(init_default_scope=False)
    R.MODELS.import_from_location()
    ours = set(getattr(R, reg_name).module_dict)
    theirs = set(getattr(S, reg_name).module_dict)
    if reg_name in ('MODELS', 'WEIGHT_INITIALIZERS'):
        assert ours, reg_name
    assert not ours & theirs, f'clashes with mmseg: {sorted(ours & theirs)}'
