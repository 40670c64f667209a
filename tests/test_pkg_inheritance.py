# Copyright (c) mmscrl contributors. All rights reserved.
"""Every shipped config builds when inherited as ``_base_ = 'mmscrl::...'``.

``mim train mmdet child.py`` / ``mim train mmscrl child.py`` with
``_base_ = 'mmscrl::demo/faster-rcnn_r18_fpn_1xb8-300i_demo.py'`` failed
(issue 22, item 3): MMEngine stamps ``_scope_='mmscrl'`` on every outermost
dict with a ``type`` of a ``pkg::`` base that has no scope yet, so a class
of another library named without its scope (mmdet's ``PackDetInputs``,
``AspectRatioBatchSampler``, ``CocoMetric``) is then looked up in mmscrl's
registries, and a name that mmcv also registers (``RandomFlip``,
``Resize``, ``LoadAnnotations``) silently resolves to mmcv's class.

For every config under ``configs/`` the test loads a child config written
outside the repository, with ``_base_ = 'mmscrl::<path>'``, and also the
same file by path (``tools/train.py CONFIG``), and does what the Runner
does without data or training:

* builds the model in the config's default scope;
* resolves, through the registries and with the scope the Runner would
  use, the class of every ``type`` of the dataloaders (dataset, nested
  datasets, pipelines, samplers, collate function), hooks, optimizer
  wrapper, optimizer, schedulers, loops, evaluators, visualizer and log
  processor (datasets are not built: they need files);
* requires the same classes from both forms (and the same model dict, in
  the same effective scopes), so no name changes meaning when inherited.

``configs/_base_`` fragments are included: each is reachable as
``mmscrl::_base_/...`` for a user's own config, and a fragment's dicts get
the same stamp. Where a fragment has no ``default_scope`` (it takes its
including config's), ``'mmscrl'`` is used for the by-path form, the scope
of our runtime; the stamped (``mmscrl::``) form does not depend on it.
A config directly in ``configs/`` cannot be a ``pkg::`` base (MMEngine
requires ``pkg::folder/file``); each is checked to be an alias of a config
in a sub-folder, which is tested. Two tests run the documented command,
``mim train mmdet|mmscrl child.py``, for 2 iterations (about 30 s each on
two busy cores).
"""
import glob
import os
import os.path as osp

import pytest
from mmengine import registry as mmengine_registry
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

import mmscrl  # noqa: F401  (registers our classes; the configs import it)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs')

R = mmengine_registry


def all_configs():
    """Every ``*.py`` under ``configs/`` (relative paths), fragments too."""
    paths = glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
    return sorted(osp.relpath(p, CONFIGS) for p in paths)


# registry of a typed dict found under a key of a dataset / transform
_DATASET_KEYS = {'dataset': R.DATASETS, 'datasets': R.DATASETS,
                 'pipeline': R.TRANSFORMS}


def _children(node):
    """``(key, value)`` of a dict's items or a list's elements."""
    if isinstance(node, dict):
        return [(k, v) for k, v in node.items() if k != '_scope_']
    if isinstance(node, (list, tuple)):
        return [(f'[{i}]', v) for i, v in enumerate(node)]
    return []


class Resolver:
    """Resolve the ``type`` of a config's Runner parts as the Runner does.

    Args:
        cfg (Config): The loaded config.
        default_scope (str): The scope the Runner starts with
            (``cfg.default_scope``).
    """

    def __init__(self, cfg, default_scope):
        self.cfg = cfg
        self.default_scope = default_scope
        self.found = {}  # dotted path -> (registry name, scope, class)

    def lookup(self, path, registry, cfg, scope):
        """Resolve ``cfg['type']`` like ``build_from_cfg``: its ``_scope_``
        (else ``scope``) becomes the default scope, whose registry is
        searched. Returns the scope its nested parts are built in."""
        scope = cfg.get('_scope_') or scope
        obj_type = cfg['type']
        if not isinstance(obj_type, str):  # a class given directly
            self.found[path] = (registry.name, scope, obj_type)
            return scope
        with DefaultScope.overwrite_default_scope(scope):
            with registry.switch_scope_and_registry(scope) as reg:
                cls = reg.get(obj_type)
        assert cls is not None, (
            f'{path}: type={obj_type!r} is not in the "{registry.name}" '
            f'registry of scope "{scope}"')
        self.found[path] = (registry.name, scope, cls)
        return scope

    def walk_dataset(self, path, cfg, scope, registry=R.DATASETS):
        """A dataset (or transform) and the datasets / transforms in it."""
        if isinstance(cfg, (list, tuple)):
            for key, value in _children(cfg):
                self.walk_dataset(path + key, value, scope, registry)
            return
        if not isinstance(cfg, dict):
            return
        if 'type' in cfg:
            scope = self.lookup(path, registry, cfg, scope)
        for key, value in _children(cfg):
            # typed dicts inside a transform (RandomApply, MultiView ...)
            # are transforms, built by it in its scope
            sub = _DATASET_KEYS.get(
                key, R.TRANSFORMS if registry is R.TRANSFORMS else None)
            if sub is not None:
                self.walk_dataset(f'{path}.{key}', value, scope, sub)
            else:
                self._no_other_types(f'{path}.{key}', value)

    def _no_other_types(self, path, node):
        """Fail on a typed dict this resolver has no registry for."""
        if isinstance(node, dict):
            assert 'type' not in node, (
                f'{path}: typed dict {dict(node)} under a key this test does '
                'not know; add its registry to tests/test_pkg_inheritance.py')
        for key, value in _children(node):
            self._no_other_types(path + ('' if key[0] == '[' else '.') + key,
                                 value)

    def each_typed(self, path, node, registry):
        """One registry for a dict or a list / dict of typed dicts."""
        if isinstance(node, dict) and 'type' in node:
            self.lookup(path, registry, node, self.default_scope)
        else:
            for key, value in _children(node):
                if isinstance(value, dict) and 'type' in value:
                    self.lookup(f'{path}.{key}', registry, value,
                                self.default_scope)

    def resolve(self):
        """Look up every Runner part of the config; returns ``found``."""
        cfg, scope = self.cfg, self.default_scope
        if isinstance(cfg.get('model'), dict) and 'type' in cfg.model:
            self.lookup('model', R.MODELS, cfg.model, scope)
        for split in ('train', 'val', 'test'):
            loader = cfg.get(f'{split}_dataloader')
            if not isinstance(loader, dict):
                continue
            path = f'{split}_dataloader'
            for key in ('sampler', 'batch_sampler'):
                if isinstance(loader.get(key), dict):
                    self.lookup(f'{path}.{key}', R.DATA_SAMPLERS,
                                loader[key], scope)
            if isinstance(loader.get('dataset'), dict):
                self.walk_dataset(f'{path}.dataset', loader.dataset, scope)
            collate = loader.get('collate_fn')
            if isinstance(collate, dict):
                # Runner.build_dataloader: MMEngine's FUNCTIONS.get(type),
                # whatever the scopes
                cls = R.FUNCTIONS.get(collate['type'])
                assert cls is not None, (
                    f'{path}.collate_fn: {collate["type"]!r} not found')
                self.found[f'{path}.collate_fn'] = ('function', None, cls)
            self._no_other_types(path, {
                k: v for k, v in loader.items()
                if k not in ('sampler', 'batch_sampler', 'dataset',
                             'collate_fn')})
        self.each_typed('default_hooks', cfg.get('default_hooks', {}),
                        R.HOOKS)
        self.each_typed('custom_hooks', cfg.get('custom_hooks', []), R.HOOKS)
        wrapper = cfg.get('optim_wrapper')
        if isinstance(wrapper, dict):
            if 'type' in wrapper:
                self.lookup('optim_wrapper', R.OPTIM_WRAPPERS, wrapper, scope)
            # build_optim_wrapper builds the constructor, and it the
            # optimizer, in the default scope (their dicts have no _scope_)
            constructor = dict(
                type=wrapper.get('constructor',
                                 'DefaultOptimWrapperConstructor'))
            self.lookup('optim_wrapper.constructor',
                        R.OPTIM_WRAPPER_CONSTRUCTORS, constructor, scope)
            if isinstance(wrapper.get('optimizer'), dict):
                self.lookup('optim_wrapper.optimizer', R.OPTIMIZERS,
                            dict(wrapper.optimizer, _scope_=None), scope)
        self.each_typed('param_scheduler', cfg.get('param_scheduler', []),
                        R.PARAM_SCHEDULERS)
        for key in ('train_cfg', 'val_cfg', 'test_cfg'):
            loop = cfg.get(key)
            if isinstance(loop, dict) and 'type' in loop:
                self.lookup(key, R.LOOPS, loop, scope)
        for key in ('val_evaluator', 'test_evaluator'):
            self.each_typed(key, cfg.get(key, []), R.METRICS)
        visualizer = cfg.get('visualizer')
        if isinstance(visualizer, dict):
            vis_scope = scope
            if 'type' in visualizer:
                vis_scope = self.lookup('visualizer', R.VISUALIZERS,
                                        visualizer, scope)
            for key, backend in _children(visualizer.get('vis_backends',
                                                         [])):
                self.lookup(f'visualizer.vis_backends{key}', R.VISBACKENDS,
                            backend, vis_scope)
        processor = cfg.get('log_processor')
        if isinstance(processor, dict) and 'type' in processor:
            self.lookup('log_processor', R.LOG_PROCESSORS, processor, scope)
        return self.found


def _model_scopes(node, scope, path='model'):
    """``(path, type, effective scope)`` of every typed dict of a model."""
    out = []
    if isinstance(node, dict):
        if 'type' in node:
            scope = node.get('_scope_') or scope
            out.append((path, str(node['type']), scope))
        for key, value in _children(node):
            out += _model_scopes(value, scope, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for key, value in _children(node):
            out += _model_scopes(value, scope, path + key)
    return out


def _unscoped(node):
    """``node`` without its ``_scope_`` keys (they are compared apart)."""
    if isinstance(node, dict):
        return {k: _unscoped(v) for k, v in node.items() if k != '_scope_'}
    if isinstance(node, (list, tuple)):
        return [_unscoped(v) for v in node]
    return node


def _load(path):
    cfg = Config.fromfile(path)
    default_scope = cfg.get('default_scope', None) or 'mmscrl'
    return cfg, default_scope


@pytest.fixture(scope='module')
def child_dir(tmp_path_factory):
    """A folder outside the repository for the child configs."""
    return tmp_path_factory.mktemp('pkg_children')


def test_configs_found():
    configs = all_configs()
    assert 'demo/faster-rcnn_r18_fpn_1xb8-300i_demo.py' in configs
    assert '_base_/datasets/demo_coco_detection.py' in configs
    assert len(configs) > 40


@pytest.mark.parametrize('rel_path',
                         [p for p in all_configs() if '/' in p])
def test_config_builds_when_inherited_from_package(rel_path, child_dir):
    child = child_dir / (rel_path.replace('/', '__'))
    child.write_text(f"_base_ = 'mmscrl::{rel_path}'\n")
    assert not str(child).startswith(REPO)
    pkg_cfg, pkg_scope = _load(str(child))
    path_cfg, path_scope = _load(osp.join(CONFIGS, rel_path))
    assert pkg_scope == path_scope

    # the same model dict, every part in the same effective scope
    if 'model' in path_cfg:
        assert _unscoped(pkg_cfg.model) == _unscoped(path_cfg.model)
        assert (_model_scopes(pkg_cfg.model, pkg_scope) == _model_scopes(
            path_cfg.model, path_scope)), rel_path

    # every Runner part resolves, to the same class in both forms
    by_path = Resolver(path_cfg, path_scope).resolve()
    from_pkg = Resolver(pkg_cfg, pkg_scope).resolve()
    assert set(from_pkg) == set(by_path)
    for key, (registry, scope, cls) in by_path.items():
        assert from_pkg[key][2] is cls, (
            f'{rel_path}: {key} is {cls.__module__}.{cls.__name__} by path '
            f'(scope {scope}) but {from_pkg[key][2].__module__}.'
            f'{from_pkg[key][2].__name__} through mmscrl:: (scope '
            f'{from_pkg[key][1]})')

    # the model builds (as Runner.build_model does; no weights loaded)
    if isinstance(pkg_cfg.get('model'), (dict, ConfigDict)) and (
            'type' in pkg_cfg.model):
        with DefaultScope.overwrite_default_scope(pkg_scope):
            model = R.MODELS.build(pkg_cfg.model)
        assert model is not None


def test_top_level_configs_are_aliases():
    """``configs/<name>.py`` (no sub-folder) cannot be a ``pkg::`` base:
    MMEngine requires ``pkg::folder/file``. Each such file is an alias of
    one config in a sub-folder, which the users inherit instead (as the
    docs do) and which is tested above."""
    top = [p for p in all_configs() if '/' not in p]
    assert top, 'no top-level config left: drop this test'
    for rel_path in top:
        with pytest.raises(ValueError, match='package name and relative'):
            Config._get_cfg_path(f'mmscrl::{rel_path}', __file__)
        bases = Config._get_base_files(osp.join(CONFIGS, rel_path))
        assert len(bases) == 1 and '::' not in bases[0], rel_path
        target = osp.normpath(osp.join(CONFIGS, bases[0]))
        assert osp.relpath(target, CONFIGS) in all_configs()
        alias = Config.fromfile(osp.join(CONFIGS, rel_path))
        assert alias.to_dict() == Config.fromfile(target).to_dict(), (
            f'{rel_path} is more than an alias of {target}')


def _tiny_backbone(path):
    """A random ResNet-18 backbone file for ``PretrainedBackbone``."""
    import torch
    from mmpretrain.models import ResNet
    torch.manual_seed(0)
    state = ResNet(depth=18).state_dict()
    torch.save({f'backbone.{k}': v for k, v in state.items()}, path)


@pytest.mark.parametrize('package', ['mmdet', 'mmscrl'])
def test_mim_train_inherited_demo_detector(package, tmp_path):
    """``mim train mmdet|mmscrl child.py`` from a folder outside the repo,
    the child inheriting ``mmscrl::demo/faster-rcnn_r18_fpn_1xb8-300i_demo.py``
    (issue 22, item 3), trains 2 iterations on a tiny demo set in the
    config's ``data/demo/``, evaluates, and writes its checkpoint."""
    import subprocess
    import sys

    from mmscrl.demo.generator import generate_demo_dataset
    pytest.importorskip('mim')
    generate_demo_dataset(str(tmp_path / 'data' / 'demo'), num_unlabeled=0,
                          num_train=4, num_val=2, img_size=64)
    _tiny_backbone(str(tmp_path / 'backbone.pth'))
    (tmp_path / 'my_detector.py').write_text(
        "_base_ = 'mmscrl::demo/faster-rcnn_r18_fpn_1xb8-300i_demo.py'\n"
        "model = dict(backbone=dict(init_cfg=dict(checkpoint='backbone.pth'"
        ')))\n')
    work = tmp_path / 'work'
    loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
    options = [f'{split}_dataloader.{k}={v}' for split in ('train', 'val')
               for k, v in loader.items()]
    out = subprocess.run([
        sys.executable, '-m', 'mim', 'train', package, 'my_detector.py',
        '-y', '--work-dir', str(work), '--cfg-options',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2'] + options,
        cwd=tmp_path, env=dict(os.environ, OMP_NUM_THREADS='1'),
        capture_output=True, text=True, timeout=300)
    log = out.stdout[-3000:] + out.stderr[-4000:]
    assert out.returncode == 0, log
    assert 'is not in the' not in log
    assert (work / 'iter_2.pth').is_file(), log
    assert 'coco/bbox_mAP' in out.stdout + out.stderr, log
