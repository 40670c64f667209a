# Copyright (c) mmscrl contributors. All rights reserved.
"""Every shipped config resolves to the same dict as before the configs were
layered (``tests/data/resolved_configs.json``, taken at commit 9778c2f),
except the changes listed in ``INTENDED_CHANGES`` and the top-level helper
variables listed in ``NEW_HELPER_VARIABLES``.

The snapshot holds, per config path (relative to ``configs/``), the config
resolved by ``mmengine.Config.fromfile`` (all ``_base_`` files merged, all
``{{_base_.x}}`` references substituted) and canonicalised by
:func:`canonical` (tuples tagged, so a tuple -> list change is a change).
Configs that were renamed or moved are listed in ``RENAMED`` (old -> new
path); a config of the snapshot that no longer exists under its old or new
name fails the test, so none is lost silently. Configs added after the
snapshot are only checked to resolve.

To accept the current configs as the new reference, regenerate the
snapshot and empty ``RENAMED``, ``INTENDED_CHANGES`` and
``NEW_HELPER_VARIABLES`` (the consistency test fails until they are)::

    python tests/test_configs_resolved.py --write
"""
import copy
import json
import os.path as osp
import sys
from glob import glob

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs')
SNAPSHOT = osp.join(REPO, 'tests', 'data', 'resolved_configs.json')

# old path -> new path (relative to configs/) of renamed or moved configs
RENAMED = {
    'densecl/densecl_resnet18_1xb8-coslr-20i_demo.py':
    'demo/densecl_resnet18_1xb8-coslr-20i_demo.py',
    'orl/stage1_byol_resnet50_8xb64-coslr-800e_coco.py':
    'orl/orl_resnet50_8xb64-stage1-coslr-800e_coco.py',
    'orl/stage3_orl_resnet50_8xb64-coslr-800e_coco.py':
    'orl/orl_resnet50_8xb64-stage3-coslr-800e_coco.py',
}

# new path -> list of (dotted key, old value, new value) of intended changes;
# a value of MISSING means the key is absent on that side
MISSING = '<missing>'
_DEMO_SCRL_LOADER = [
    # the ImageNet recipe pins memory (GPU); the CPU demo keeps the default
    ('train_dataloader.pin_memory', MISSING, False),
]
# ORL backbones: OpenSelfSup's ResNet init (Kaiming fan_in), not
# mmpretrain's default fan_out
_ORL_INIT = [
    ('model.backbone.init_cfg', MISSING, [
        dict(type='Kaiming', layer='Conv2d', mode='fan_in',
             nonlinearity='relu'),
        dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]),
]
# ORL loaders keep the last, smaller batch as the official code (the
# demos use an InfiniteSampler, where drop_last has no effect)
_ORL_LAST = [('train_dataloader.drop_last', True, False)]
# DenseCL: the official init moves from code (official_init=True) into the
# model config; the built model is initialised as before
_DENSECL_INIT = [
    ('model.official_init', True, MISSING),
    ('model.backbone.init_cfg', MISSING, [
        dict(type='Kaiming', layer='Conv2d', mode='fan_in',
             nonlinearity='relu'),
        dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]),
    ('model.neck.init_cfg', MISSING,
     dict(type='Kaiming', layer='Linear', mode='fan_in',
          nonlinearity='relu')),
]
_DET = 'benchmarks/mmdetection/'
# configs on OpenMMLab runtimes (mmdet/mmseg/mmpretrain default_hooks): the
# NonFiniteCheckHook that mmscrl's own runtime has, added as a default hook
# (issue 21, item 7: a diverging detector exited 0 with a NaN checkpoint)
_NON_FINITE = [
    ('default_hooks.non_finite', MISSING,
     dict(type='mmscrl.NonFiniteCheckHook')),
]
# COCO detection datasets: mmdet's CocoDataset, logging what it drops
# (issue 21, item 11: negative-size boxes were dropped without a count)
_CHECKED_COCO = [
    (f'{split}_dataloader.dataset.type', 'CocoDataset',
     'mmscrl.CheckedCocoDataset') for split in ('train', 'val', 'test')
]
# the demo detector's mmdet classes carry their scope, so that a config
# inheriting it as 'mmscrl::...' (dicts stamped _scope_='mmscrl') builds the
# same classes (issue 22, item 3)
_DEMO_DET_PIPES = {
    'train': ('LoadImageFromFile', 'LoadAnnotations', 'Resize', 'RandomFlip',
              'PackDetInputs'),
    'test': ('LoadImageFromFile', 'Resize', 'LoadAnnotations',
             'PackDetInputs'),
}
_MMDET_SCOPED = [
    (f'{prefix}.{i}.type', name, f'mmdet.{name}')
    for split, prefix in (('train', 'train_pipeline'),
                          ('train', 'train_dataloader.dataset.pipeline'),
                          ('test', 'test_pipeline'),
                          ('test', 'val_dataloader.dataset.pipeline'),
                          ('test', 'test_dataloader.dataset.pipeline'))
    for i, name in enumerate(_DEMO_DET_PIPES[split])
    if name != 'LoadImageFromFile'  # mmcv's, the same in every scope
] + [
    ('train_dataloader.batch_sampler.type', 'AspectRatioBatchSampler',
     'mmdet.AspectRatioBatchSampler'),
    ('val_evaluator.type', 'CocoMetric', 'mmdet.CocoMetric'),
    ('test_evaluator.type', 'CocoMetric', 'mmdet.CocoMetric'),
]
INTENDED_CHANGES = {
    _DET + 'coco/faster-rcnn_r50_fpn_ms-1x_coco.py':
    _NON_FINITE + _CHECKED_COCO,
    _DET + 'coco/retinanet_r50_fpn_ms-1x_coco.py':
    _NON_FINITE + _CHECKED_COCO,
    _DET + 'coco/mask-rcnn_r50_fpn_ms-1x_coco.py':
    _NON_FINITE + _CHECKED_COCO,
    _DET + 'coco/mask-rcnn_r50_fpn_ms-2x_coco.py':
    _NON_FINITE + _CHECKED_COCO,
    _DET + 'coco/mask-rcnn_r50-c4_ms-1x_coco.py':
    _NON_FINITE + _CHECKED_COCO,
    _DET + 'voc0712/faster-rcnn_r50-c4_ms-24k_voc0712.py': _NON_FINITE,
    'densecl/densecl_resnet50_8xb32-coslr-200e_in1k.py': _DENSECL_INIT,
    'densecl/densecl_resnet50_8xb32-coslr-800e_coco.py': _DENSECL_INIT,
    'demo/densecl_resnet18_1xb8-coslr-20i_demo.py': _DENSECL_INIT,
    'demo/densecl_resnet18_1xb32-coslr-500i_demo.py': _DENSECL_INIT,
    'orl/orl_resnet50_8xb64-stage1-coslr-800e_coco.py': _ORL_INIT + _ORL_LAST,
    'orl/orl_resnet50_8xb64-stage3-coslr-800e_coco.py': _ORL_INIT + _ORL_LAST,
    'demo/orl_resnet18_1xb32-coslr-500i_demo.py': _ORL_INIT + _ORL_LAST,
    'demo/scrl_resnet18_1xb32-coslr-500i_demo.py': _DEMO_SCRL_LOADER,
    'demo/byol_resnet18_1xb32-coslr-500i_demo.py': _DEMO_SCRL_LOADER + [
        # the SCRL demo's backbone dict, explicit default (4 stages)
        ('model.backbone.num_stages', MISSING, 4),
    ],
    # now inherits the SCRL LARS block: the defaults made explicit
    'demo/byol_resnet18_1xb8-coslr-20i_demo.py': [
        ('optim_wrapper.optimizer.eta', MISSING, 0.001),
        ('optim_wrapper.optimizer.eps', MISSING, 1e-8),
    ] + _ORL_LAST,  # data base: the ORL stage-1 views
    # mmdet's linear scaling rule at batch 8 (lr 0.02 let the fine-tuning
    # from the ORL demo backbone collapse with seed 0)
    'demo/faster-rcnn_r18_fpn_1xb8-300i_demo.py': [
        ('optim_wrapper.optimizer.lr', 0.02, 0.01),
        # the config builds mmscrl's hook and initializer by itself
        ('custom_imports', MISSING,
         dict(imports=['mmscrl'], allow_failed_imports=False)),
        ('dataset_type', 'CocoDataset', 'mmscrl.CheckedCocoDataset'),
        # the same RoIAlign as a sparse product on CPU (much faster than
        # mmcv's single-threaded CPU kernel; equal results, tested)
        ('model.roi_head.bbox_roi_extractor.type', 'SingleRoIExtractor',
         'mmscrl.SparseSingleRoIExtractor'),
    ] + _NON_FINITE + _CHECKED_COCO + _MMDET_SCOPED,
    # stale ImageNet helper values of the 200e parent replaced by the COCO
    # data base's (the dataloader was already COCO)
    'mocov2/mocov2_resnet50_8xb32-coslr-800e_coco.py': [
        ('data_root', 'data/imagenet/', 'data/coco/'),
        ('dataset_type', 'ImageNet', 'CustomDataset'),
    ],
}

# new path -> top-level variables a config gained from a base it now
# inherits (helper variables such as ``max_epochs`` or ``train_pipeline``
# that the recipe uses to build its dicts; the Runner reads none of them)
_LARS = ('max_epochs', 'warmup_epochs')  # of lars_coslr-200e_scrl.py
# of configs/benchmarks/mmdetection/_base_/transfer.py and transfer_c4.py
_MMDET = ('transfer_norm_cfg', 'transfer_init_cfg', 'transfer_backbone',
          'transfer_ms_resize', 'transfer_box_train_pipeline',
          'transfer_mask_train_pipeline')
_MMDET_C4 = _MMDET + ('transfer_c4_preprocessor', 'transfer_c4_backbone',
                      'transfer_c4_shared_head')
NEW_HELPER_VARIABLES = {
    _DET + 'coco/faster-rcnn_r50_fpn_ms-1x_coco.py': _MMDET,
    _DET + 'coco/retinanet_r50_fpn_ms-1x_coco.py': _MMDET,
    _DET + 'coco/mask-rcnn_r50_fpn_ms-1x_coco.py': _MMDET,
    _DET + 'coco/mask-rcnn_r50_fpn_ms-2x_coco.py': _MMDET,
    _DET + 'coco/mask-rcnn_r50-c4_ms-1x_coco.py': _MMDET_C4,
    _DET + 'voc0712/faster-rcnn_r50-c4_ms-24k_voc0712.py': _MMDET_C4,
    'demo/scrl_resnet18_1xb32-coslr-500i_demo.py': _LARS,
    'demo/byol_resnet18_1xb32-coslr-500i_demo.py': _LARS,
    'demo/byol_resnet18_1xb8-coslr-20i_demo.py': _LARS + (
        'max_iters', 'warmup_iters'),
    'demo/orl_resnet18_1xb32-coslr-500i_demo.py': _LARS + (
        'data_root', 'dataset_type', 'train_pipeline', 'patch_pipeline1',
        'patch_pipeline2'),  # of coco_orl_stage3.py
}
RUNNER_KEYS = {
    'model', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks',
    'env_cfg', 'log_processor', 'visualizer', 'default_scope', 'randomness',
    'load_from', 'resume', 'launcher', 'auto_scale_lr', 'log_level',
    'custom_imports', 'work_dir', 'experiment_name', 'cfg',
    'find_unused_parameters', 'data_preprocessor',
}


def shipped_configs():
    """Paths (relative to ``configs/``) of every config file shipped."""
    paths = glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
    return sorted(
        osp.relpath(p, CONFIGS) for p in paths
        if f'{osp.sep}_base_{osp.sep}' not in p)


def canonical(obj):
    """JSON-able copy of a resolved config value; tuples become
    ``{'__tuple__': [...]}`` so they stay distinct from lists."""
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return {'__tuple__': [canonical(v) for v in obj]}
    if isinstance(obj, list):
        return [canonical(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return {'__repr__': repr(obj)}


def resolve(rel_path):
    """The canonical resolved dict of ``configs/<rel_path>``."""
    cfg = Config.fromfile(
        osp.join(CONFIGS, rel_path), import_custom_modules=False)
    return canonical(cfg.to_dict())


def _set(tree, dotted, value):
    keys = dotted.split('.')
    for key in keys[:-1]:
        tree = tree[int(key)] if isinstance(tree, list) else tree[key]
    last = keys[-1]
    if isinstance(tree, list):
        tree[int(last)] = value
    elif value is MISSING:
        tree.pop(last, None)
    else:
        tree[last] = value


def _get(tree, dotted):
    for key in dotted.split('.'):
        if isinstance(tree, list):
            tree = tree[int(key)]
        elif key in tree:
            tree = tree[key]
        else:
            return MISSING
    return tree


# demo pre-training configs that run BoxKNNHook (appended to custom_hooks)
BOX_KNN_DEMOS = ('demo/scrl_resnet18_1xb32-coslr-500i_demo.py',
                 'demo/byol_resnet18_1xb32-coslr-500i_demo.py',
                 'demo/orl_resnet18_1xb32-coslr-500i_demo.py',
                 'demo/densecl_resnet18_1xb32-coslr-500i_demo.py')
# (its paths relative to the training dataset's data_root, issue 22 item 2)
BOX_KNN_DEMO_HOOK = dict(
    type='BoxKNNHook',
    ann_file='annotations/instances_train.json', img_dir='train/',
    val_ann_file='annotations/instances_val.json', val_img_dir='val/',
    interval=100, img_size=128)

# the demo configs whose model runs in the channels-last layout: the hook
# first in custom_hooks (a layout change only, issue 20's main-job time)
CHANNELS_LAST_DEMOS = BOX_KNN_DEMOS + (
    'demo/faster-rcnn_r18_fpn_1xb8-300i_demo.py', )


# SCRL packing: the view meta keys the model never reads are no longer
# packed (the boxes travel as ``scrl_boxes``/``scrl_box_valid``)
_SCRL_OLD_META = ['img_path', 'view_crop_bbox', 'view_flip',
                  'view_img_shape']


def _drop_scrl_meta(tree):
    """Apply the SCRL ``PackInputs`` meta-key change wherever it stands
    (the dataloader pipeline and the ``train_pipeline`` helper variable);
    returns how many were changed."""
    n = 0
    if isinstance(tree, dict):
        if (tree.get('type') == 'PackInputs'
                and tree.get('meta_keys') == _SCRL_OLD_META):
            tree['meta_keys'] = ['img_path']
            n += 1
        for v in tree.values():
            n += _drop_scrl_meta(v)
    elif isinstance(tree, list):
        for v in tree:
            n += _drop_scrl_meta(v)
    return n


# fast view transforms: the multi-view transforms of the pre-training
# configs run the fast ops (``fast=True``); mmpretrain's ``MultiView`` became
# ``MultiViewWithGeometry`` with the geometry-recording crop and flip (same
# sampling and pixels as mmpretrain's ``RandomResizedCrop``/mmcv's
# ``RandomFlip``), the JPEG is decoded by it (``LoadImageForViews``), and the
# data bases gained the ``fast_views`` switch
_WITH_GEOMETRY = {'RandomResizedCrop': 'RandomResizedCropWithGeometry',
                  'RandomFlip': 'RandomFlipWithGeometry'}
_VIEW_VARIABLES = ('view_pipeline', 'view_pipeline1', 'view_pipeline2',
                   'patch_pipeline1', 'patch_pipeline2')


def _geometry_ops(pipeline):
    for t in pipeline:
        if isinstance(t, dict) and t.get('type') in _WITH_GEOMETRY:
            t['type'] = _WITH_GEOMETRY[t['type']]


def _fast_views(tree, top=True):
    """Apply the fast-view change wherever a multi-view transform or a view
    pipeline variable stands; returns how many multi-view transforms."""
    n = 0
    if top and isinstance(tree, dict):
        for key in _VIEW_VARIABLES:
            if isinstance(tree.get(key), list):
                _geometry_ops(tree[key])
    if isinstance(tree, dict):
        if tree.get('type') in ('MultiView', 'MultiViewWithGeometry'):
            tree['type'] = 'MultiViewWithGeometry'
            for pipe in tree['transforms']:
                _geometry_ops(pipe)
            tree['fast'] = True
            n += 1
        elif tree.get('type') == 'ORLCropPatches':
            tree['fast'] = True
        elif tree.get('type') == 'ORLMultiView':
            for pipe in tree['global_transforms'] + tree[
                    'patch_transforms']:
                _geometry_ops(pipe)
            tree['fast'] = True
            n += 1
        for k, v in tree.items():
            if not (top and k in _VIEW_VARIABLES):
                n += _fast_views(v, top=False)
    elif isinstance(tree, list):
        for v in tree:
            n += _fast_views(v, top=False)
        if any(isinstance(t, dict) and t.get('type') in (
                'MultiView', 'MultiViewWithGeometry') for t in tree):
            for t in tree:  # the JPEG is decoded by the multi-view step
                if isinstance(t, dict) and t.get(
                        'type') == 'LoadImageFromFile':
                    t['type'] = 'LoadImageForViews'
    if top and n:
        tree['fast_views'] = True
    return n


def expected(old_resolved, new_path):
    """The snapshot of a config with its intended changes applied; checks
    that each change's old value is what the snapshot holds."""
    exp = copy.deepcopy(old_resolved)
    changes = list(INTENDED_CHANGES.get(new_path, []))
    if exp.get('default_scope') == 'mmscrl':  # on _base_/default_runtime.py
        changes.append(('default_hooks.non_finite', MISSING,
                        dict(type='NonFiniteCheckHook')))
    if new_path in BOX_KNN_DEMOS:  # the box/image kNN hook appended
        hooks = _get(exp, 'custom_hooks')
        changes.append(('custom_hooks', hooks, hooks + [BOX_KNN_DEMO_HOOK]))
    if new_path in CHANNELS_LAST_DEMOS:
        hooks = [h for d, _, h in changes if d == 'custom_hooks']
        hooks = hooks[-1] if hooks else _get(exp, 'custom_hooks')
        hooks = [] if hooks in (None, MISSING) else hooks
        scope = 'mmscrl.' if 'faster-rcnn' in new_path else ''
        changes.append(('custom_hooks', hooks if hooks else MISSING,
                        [dict(type=scope + 'ChannelsLastHook')] + hooks))
    if (_get(exp, 'optim_wrapper.type') == 'AmpOptimWrapper'
            or _get(exp, 'optim_wrapper.optimizer.type') == 'LARS'):
        # AMP falls back to fp32 without GPU; one line for frozen params
        # (issue 22, items 1 and 5)
        changes.append(('optim_wrapper.constructor', MISSING,
                        'SelfSupOptimWrapperConstructor'))
    if new_path == 'demo/faster-rcnn_r18_fpn_1xb8-300i_demo.py':
        changes.append(('model.backbone.init_cfg', None, dict(
            type='mmscrl.PretrainedBackbone', checkpoint=None)))
    _drop_scrl_meta(exp)
    _fast_views(exp)
    for dotted, old, new in changes:
        assert _get(exp, dotted) == canonical(old), (
            f'{new_path}: intended change of {dotted!r} expects old value '
            f'{old!r}, the snapshot holds {_get(exp, dotted)!r}')
        _set(exp, dotted, canonical(new) if new is not MISSING else new)
    return exp


def _snapshot():
    if not osp.isfile(SNAPSHOT):  # only while writing it
        return {}
    with open(SNAPSHOT) as f:
        return json.load(f)


def _diff(a, b, prefix=''):
    """Dotted paths at which two canonical trees differ (for messages)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k, MISSING), b.get(k, MISSING),
                         f'{prefix}{k}.')
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += _diff(x, y, f'{prefix}{i}.')
        return out
    return [] if a == b else [f'{prefix[:-1]}: {a!r} -> {b!r}']


@pytest.mark.parametrize('old_path', sorted(_snapshot()))
def test_resolved_config_unchanged(old_path):
    new_path = RENAMED.get(old_path, old_path)
    assert osp.isfile(osp.join(CONFIGS, new_path)), (
        f'configs/{old_path} of the snapshot is gone: add it to RENAMED '
        f'(old -> new path) in {__file__}')
    want = expected(_snapshot()[old_path], new_path)
    got = resolve(new_path)
    for name in NEW_HELPER_VARIABLES.get(new_path, ()):
        assert name not in want and name in got, (new_path, name)
        del got[name]
    diff = _diff(want, got)
    assert not diff, f'configs/{new_path} changed:\n' + '\n'.join(diff[:20])


def test_renames_and_changes_are_consistent():
    snap = _snapshot()
    assert snap, f'{SNAPSHOT} is missing or empty'
    assert set(RENAMED) <= set(snap), 'RENAMED lists unknown old configs'
    new_names = {RENAMED.get(p, p) for p in snap}
    assert set(INTENDED_CHANGES) <= new_names
    assert set(NEW_HELPER_VARIABLES) <= new_names
    for path, names in NEW_HELPER_VARIABLES.items():
        assert not set(names) & RUNNER_KEYS, (path, names)
    assert len(new_names) == len(snap), 'two configs renamed to one'
    # a renamed config's old file must not be left behind as a copy
    for old in RENAMED:
        assert not osp.exists(osp.join(CONFIGS, old)), old


def test_every_shipped_config_resolves():
    """Configs added after the snapshot are at least loadable."""
    snap_names = {RENAMED.get(p, p) for p in _snapshot()}
    for path in shipped_configs():
        if path not in snap_names:
            assert isinstance(resolve(path), dict), path


@pytest.mark.parametrize('path', [
    'scrl_r50_imagenet.py',
    'demo/scrl_resnet18_1xb32-coslr-500i_demo.py',
    'demo/orl_resnet18_1xb32-coslr-500i_demo.py',
    'benchmarks/mmdetection/voc0712/faster-rcnn_r50-c4_ms-24k_voc0712.py',
])
def test_layered_configs_dump_and_reload(path, tmp_path):
    """The demo/benchmark launchers dump configs and train from the dump:
    a layered config survives the round trip."""
    cfg = Config.fromfile(
        osp.join(CONFIGS, path), import_custom_modules=False)
    cfg.dump(str(tmp_path / 'dumped.py'))
    again = Config.fromfile(
        str(tmp_path / 'dumped.py'), import_custom_modules=False)
    assert canonical(again.to_dict()) == canonical(cfg.to_dict())


def test_canonical_distinguishes_tuples_and_diff_reports():
    assert canonical((1, 2)) != canonical([1, 2])
    assert _diff({'a': [1, {'b': 2}]}, {'a': [1, {'b': 3}]}) == \
        ['a.1.b: 2 -> 3']
    assert _diff({'a': 1}, {}) == [f"a: 1 -> {MISSING!r}"]


if __name__ == '__main__':
    if sys.argv[1:] != ['--write']:
        sys.exit(__doc__)
    snapshot = {p: resolve(p) for p in shipped_configs()}
    with open(SNAPSHOT, 'w') as f:
        json.dump(snapshot, f, indent=1, sort_keys=True)
        f.write('\n')
    print(f'wrote {len(snapshot)} configs to {SNAPSHOT}')
